//! Prints the object diameter estimate (`samcell_pipeline::size`) of each image, read as
//! `samcell segment` reads it, one `path<TAB>diameter` line per file (`-` for none). Used by
//! `scripts/measure_size_rule.py` to measure the small-object rule (MODEL_CARD.md):
//!
//!   cargo run --release -p samcell-pipeline --example object_size -- IMAGE...

use samcell_io::{read_gray, ReadOptions};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for arg in std::env::args_os().skip(1) {
        let path = Path::new(&arg);
        let image = read_gray(path, &ReadOptions::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        match samcell_pipeline::size::estimate_object_diameter(&image) {
            Some(d) => println!("{}\t{d:.3}", path.display()),
            None => println!("{}\t-", path.display()),
        }
    }
    Ok(())
}
