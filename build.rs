//! Embeds the catalogue (`schemas/**`) into the binary: writes a table of
//! `(path, include_str!(…))` pairs to `$OUT_DIR/embedded_schemas.rs`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("toml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let schemas = root.join("schemas");
    println!("cargo:rerun-if-changed=schemas");
    let mut files = Vec::new();
    collect(&schemas, &mut files)?;
    files.sort();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_schemas.rs");
    let mut w = fs::File::create(out)?;
    writeln!(w, "pub static FILES: &[(&str, &str)] = &[")?;
    for file in files {
        // Directories must be watched one by one for new files to trigger a rebuild.
        if let Some(parent) = file.parent() {
            println!("cargo:rerun-if-changed={}", parent.display());
        }
        let relative = file.strip_prefix(&root).expect("under the manifest dir");
        let relative = relative.to_string_lossy().replace('\\', "/");
        writeln!(
            w,
            "    ({relative:?}, include_str!({:?})),",
            file.display().to_string()
        )?;
    }
    writeln!(w, "];")?;
    Ok(())
}
