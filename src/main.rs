//! `qf`: the Quantforge command line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// The system allocator with live-byte accounting: a sandbox worker (this binary in its
/// `sandbox-worker` mode) sets a ceiling on it so tenant code gets a `MemoryError`, or the
/// worker exits with a known code, instead of exhausting the machine. With no ceiling set
/// (every other command) it only counts.
#[global_allocator]
static ALLOCATOR: monty_alloc::LimitedAllocator = monty_alloc::LimitedAllocator;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: what failed and why.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
