//! `butterfly`: parses the command line, sets up logging, runs the command, and maps the
//! result to the exit codes every command shares (DESIGN.md): 0 done, 1 failed,
//! 2 done with something to report, 3 usage or configuration error.

use std::process::ExitCode;

use butterfly::cli::{self, Cli, Failure, Outcome};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 3 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&cli.log));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        cli::LogFormat::Json => logs.json().init(),
        cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match cli::run(cli) {
        Ok(Outcome::Done) => ExitCode::from(0),
        Ok(Outcome::Report) => ExitCode::from(2),
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(3)
        }
        Err(Failure::Failed(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
