//! pl-doctor: a thin entry point. Parsing is in `cli`, the run in `app`, output in
//! `render`, and the exit-code policy in `exit`.

mod app;
mod cli;
mod collect;
mod evaluated;
mod exit;
#[allow(dead_code)] // called by the live collector once it is wired in
mod netprobe;
mod render;
mod watch;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; real errors become one line.
            if !e.use_stderr() {
                let _ = e.print();
                return exit::code(exit::NO_FAILURE);
            }
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid usage");
            eprintln!(
                "pl-doctor: {} (see pl-doctor --help)",
                first.trim_start_matches("error: ")
            );
            return exit::code(exit::BAD_INPUT);
        }
    };
    match app::run(cli) {
        Ok(code) => exit::code(code),
        Err(failure) => {
            eprintln!("pl-doctor: {failure}");
            exit::code(failure.code())
        }
    }
}
