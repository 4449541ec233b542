//! Entry point: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = modeldeck::cli::Cli::parse();
    modeldeck::cli::run(cli)
}
