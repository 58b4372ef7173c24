//! `cargo bench -p samcell-bench [-- --only cpu,memory,scaling ...]`: the same program as
//! `cargo run --release -p samcell-bench -- ...` (see the crate docs for the options).

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    std::process::exit(samcell_bench::main_with_args(
        std::env::args().skip(1).collect(),
    ));
}
