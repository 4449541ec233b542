//! Entry point: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match modeldeck::cli::parse() {
        Ok(cli) => modeldeck::cli::run(cli),
        Err(code) => code,
    }
}
