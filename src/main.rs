use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    ccbridge::cli::run(ccbridge::cli::Cli::parse())
}
