//! `cargo run --release -p samcell-bench -- [--only cpu,memory,scaling] [--model PATH] ...`;
//! see the crate docs (`samcell_bench`) for the options and what each section measures.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    std::process::exit(samcell_bench::main_with_args(
        std::env::args().skip(1).collect(),
    ));
}
