//! Thread count: `--threads` sizes rayon's pool and candle's kernels alike
//! (`samcell_batch::threads`, shared with the Python bindings).

pub use samcell_batch::threads::configure;
