//! Embeds the catalogue (`schemas/**`), the compliance rules (`rules/**`) and the fixture orgs
//! (`fixtures/orgs/<name>/okta/**` and `secrets.json`) into the binary: writes tables of
//! `include_str!(…)` entries to `$OUT_DIR/embedded_schemas.rs`, `embedded_rules.rs` and
//! `embedded_fixtures.rs`.

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

/// `fixtures/orgs/<name>/` for every fixture org: its `okta/**.json` files and `secrets.json`.
fn write_fixtures(root: &Path, out_dir: &Path) -> std::io::Result<()> {
    let orgs = root.join("fixtures/orgs");
    println!("cargo:rerun-if-changed=fixtures/orgs");
    let mut names: Vec<PathBuf> = fs::read_dir(&orgs)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("okta").is_dir())
        .collect();
    names.sort();
    let mut w = fs::File::create(out_dir.join("embedded_fixtures.rs"))?;
    writeln!(w, "pub static FIXTURES: &[(&str, &str, &str)] = &[")?;
    for dir in names {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut files = Vec::new();
        collect(&dir.join("okta"), &mut files)?;
        let secrets = dir.join("secrets.json");
        if secrets.is_file() {
            files.push(secrets);
        }
        files.retain(|f| f.extension().is_some_and(|e| e == "json"));
        files.sort();
        for file in files {
            if let Some(parent) = file.parent() {
                println!("cargo:rerun-if-changed={}", parent.display());
            }
            let relative = file.strip_prefix(&dir).expect("under the fixture dir");
            let relative = relative.to_string_lossy().replace('\\', "/");
            writeln!(
                w,
                "    ({name:?}, {relative:?}, include_str!({:?})),",
                file.display().to_string()
            )?;
        }
    }
    writeln!(w, "];")?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    write_fixtures(&root, &out_dir)?;
    write_table(&root, "schemas", &out_dir.join("embedded_schemas.rs"))?;
    write_table(&root, "rules", &out_dir.join("embedded_rules.rs"))
}

/// `pub static FILES: &[(path, text)]` of every `.toml` and `.json` file under `root/folder`.
fn write_table(root: &Path, folder: &str, out: &Path) -> std::io::Result<()> {
    println!("cargo:rerun-if-changed={folder}");
    let mut files = Vec::new();
    collect(&root.join(folder), &mut files)?;
    files.sort();
    let mut w = fs::File::create(out)?;
    writeln!(w, "pub static FILES: &[(&str, &str)] = &[")?;
    for file in files {
        // Directories must be watched one by one for new files to trigger a rebuild.
        if let Some(parent) = file.parent() {
            println!("cargo:rerun-if-changed={}", parent.display());
        }
        let relative = file.strip_prefix(root).expect("under the manifest dir");
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
