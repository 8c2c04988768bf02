//! `train` binary: parses the command line ([`train::cli`]) and prints one error line.

use clap::Parser;

/// Large training buffers are backed by transparent huge pages (see `kann_models::hugepages`).
#[global_allocator]
static ALLOC: kann_models::hugepages::HugePageAlloc = kann_models::hugepages::HugePageAlloc;

fn main() {
    kann_models::hugepages::retain_freed_memory();
    if let Err(e) = train::cli::run(train::cli::Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
