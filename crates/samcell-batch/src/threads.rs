//! Thread count: one setting for both thread pools segmentation uses (the `samcell` command line
//! and the Python bindings).
//!
//! - rayon's global pool (crop enhancement, input encoding, post-processing) is built with `n`
//!   threads;
//! - candle 0.11's CPU kernels size their own parallelism from `RAYON_NUM_THREADS`
//!   (`candle_core::utils::get_num_threads`), so the variable is set to `n` as well.
//!
//! Must run before anything touches rayon or candle (the first thing `samcell segment` does, while
//! the process has a single thread). The global pool can be sized once per process: a later call
//! with another count logs a warning and leaves it as it is. Without a count, an existing
//! `RAYON_NUM_THREADS` is respected and otherwise every core is used.

/// Applies `threads` (if given) and returns the number of threads in effect.
pub fn configure(threads: Option<usize>) -> usize {
    if let Some(n) = threads {
        // edition 2021: set_var is safe; callers do this before starting threads of their own
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            tracing::warn!("could not size the thread pool to {n}: {e}");
        }
    }
    rayon::current_num_threads()
}
