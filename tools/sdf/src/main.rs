//! `sevio-sdf check|info <system.xml>`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sevio_sdf::{LoadError, System};

/// Reads and checks Microkit system descriptions (system.xml).
#[derive(Parser)]
#[command(name = "sevio-sdf", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a system description: every error one per line (exit 1), or a
    /// one-line summary.
    Check {
        /// The system description.
        file: PathBuf,
    },
    /// List protection domains, channels, IRQs and memory regions.
    Info {
        /// The system description.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (Command::Check { file } | Command::Info { file }) = &cli.command;
    let system = match sevio_sdf::load(file) {
        Ok(system) => system,
        Err(LoadError::Invalid(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errors.len());
            return ExitCode::from(1);
        }
        Err(e @ LoadError::Io { .. }) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    print_warnings(&system, file);
    match cli.command {
        Command::Check { .. } => println!(
            "ok: {} PDs, {} channels, {} memory regions",
            system.pds.len(),
            system.channels.len(),
            system.memory_regions.len()
        ),
        Command::Info { .. } => print!("{}", sevio_sdf::describe(&system)),
    }
    ExitCode::SUCCESS
}

fn print_warnings(system: &System, file: &std::path::Path) {
    for mut w in sevio_sdf::lint(system) {
        w.file = file.display().to_string();
        eprintln!("{w}");
    }
}
