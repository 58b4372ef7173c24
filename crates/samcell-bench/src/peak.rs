//! The machine's f32 peak, measured: every bench thread runs a loop of independent fused
//! multiply-adds on the widest vectors the CPU has (AVX-512: 16 lanes, else AVX2+FMA: 8 lanes,
//! else scalar `mul_add`), long enough dependency-free chains (12 accumulators) to keep every
//! FMA unit busy; FLOPs = 2 x lanes x FMAs. The theoretical figure is
//! `threads x GHz x FMA units per core x lanes x 2`, with the clock from `/proc/cpuinfo`
//! (nominal; turbo and AVX-512 down-clocking make the measured value differ) and 2 FMA units
//! assumed (server cores with AVX-512; some have 1).

use std::time::{Duration, Instant};

/// Result of [`measure`].
#[derive(Clone, Debug)]
pub struct Peak {
    /// Measured FLOP/s over all threads.
    pub flops: f64,
    /// Vector width used ("AVX-512", "AVX2+FMA", "scalar").
    pub isa: &'static str,
    /// f32 lanes per FMA.
    pub lanes: usize,
    /// Threads that ran the loop at the same time.
    pub threads: usize,
    /// Nominal clock in GHz, if known.
    pub ghz: Option<f64>,
}

impl Peak {
    /// `threads x GHz x 2 units x lanes x 2`.
    pub fn theoretical(&self) -> Option<f64> {
        self.ghz
            .map(|g| self.threads as f64 * g * 1e9 * 2.0 * self.lanes as f64 * 2.0)
    }

    /// The formula with its numbers.
    pub fn formula(&self) -> String {
        match self.ghz {
            Some(g) => format!(
                "{} threads x {g:.2} GHz x 2 FMA units x {} lanes x 2 = {:.1} GFLOP/s",
                self.threads,
                self.lanes,
                self.theoretical().unwrap_or(0.0) / 1e9
            ),
            None => "clock unknown (no cpu MHz in /proc/cpuinfo)".into(),
        }
    }
}

/// Nominal clock from `/proc/cpuinfo` ("cpu MHz" of the first CPU).
pub fn cpu_ghz() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu MHz"))?;
    line.split(':')
        .nth(1)?
        .trim()
        .parse::<f64>()
        .ok()
        .map(|mhz| mhz / 1000.0)
}

/// Runs the FMA loop on `threads` threads for about `time`.
pub fn measure(threads: usize, time: Duration) -> Peak {
    let threads = threads.max(1);
    let (isa, lanes) = isa();
    Peak {
        flops: flops_on_threads(threads, time, kernel),
        isa,
        lanes,
        threads,
        ghz: cpu_ghz(),
    }
}

/// FLOP/s of `kernel` run on `threads` threads for about `time` each.
fn flops_on_threads(threads: usize, time: Duration, kernel: fn(usize) -> (f64, f32)) -> f64 {
    let start = Instant::now();
    let total: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| s.spawn(move || run_for(time, kernel)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    total / start.elapsed().as_secs_f64()
}

fn isa() -> (&'static str, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return ("AVX-512", 16);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return ("AVX2+FMA", 8);
        }
    }
    ("scalar", 1)
}

/// Runs rounds of `kernel` until `time` has passed; returns the FLOPs done.
fn run_for(time: Duration, kernel: fn(usize) -> (f64, f32)) -> f64 {
    let start = Instant::now();
    let mut flops = 0.0;
    let mut sink = 0.0f32;
    while start.elapsed() < time {
        let (f, s) = kernel(1 << 20);
        flops += f;
        sink += s;
    }
    std::hint::black_box(sink);
    flops
}

/// `iters` rounds of 12 independent FMAs per lane; returns (FLOPs, a value to keep).
fn kernel(iters: usize) -> (f64, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked above).
            return unsafe { x86::fma512(iters) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            return unsafe { x86::fma256(iters) };
        }
    }
    let mut acc = [1.0f32; 12];
    let (a, b) = (
        std::hint::black_box(0.999_99f32),
        std::hint::black_box(1e-6f32),
    );
    for _ in 0..iters {
        for x in &mut acc {
            *x = x.mul_add(a, b);
        }
    }
    ((iters * 12 * 2) as f64, acc.iter().sum())
}

/// The bf16 peak: every thread runs 12 independent `vdpbf16ps` chains (32 bf16 products and
/// sums into 16 f32 lanes each: 64 FLOPs per instruction) for about `time`. `None` when the
/// CPU has no AVX512-BF16.
pub fn measure_bf16(threads: usize, time: Duration) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
        {
            // SAFETY: the CPU supports AVX-512F and AVX512-BF16 (checked just above).
            return Some(flops_on_threads(threads, time, |iters| unsafe {
                x86::dpbf16(iters)
            }));
        }
    }
    let _ = (threads, time);
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must have AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma512(iters: usize) -> (f64, f32) {
        let a = _mm512_set1_ps(std::hint::black_box(0.999_99));
        let b = _mm512_set1_ps(std::hint::black_box(1e-6));
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        ((iters * 12 * 16 * 2) as f64, _mm512_reduce_add_ps(s))
    }

    /// # Safety
    /// The CPU must have AVX-512F and AVX512-BF16.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn dpbf16(iters: usize) -> (f64, f32) {
        // SAFETY: 512-bit vectors read as 32 bf16 values (1.0 and about 6e-8).
        let (a, b) = unsafe {
            (
                std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi16(std::hint::black_box(
                    0x3f80,
                ))),
                std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi16(std::hint::black_box(
                    0x3380,
                ))),
            )
        };
        let mut acc = [_mm512_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_dpbf16_ps(*x, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        ((iters * 12 * 32 * 2) as f64, _mm512_reduce_add_ps(s))
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma256(iters: usize) -> (f64, f32) {
        let a = _mm256_set1_ps(std::hint::black_box(0.999_99));
        let b = _mm256_set1_ps(std::hint::black_box(1e-6));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for x in acc {
            s = _mm256_add_ps(s, x);
        }
        let mut out = [0f32; 8];
        // SAFETY: `out` holds the 8 lanes.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
        ((iters * 12 * 8 * 2) as f64, out.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_peak_is_measured_where_the_cpu_has_it() {
        match measure_bf16(1, Duration::from_millis(50)) {
            Some(f) => assert!(f > 1e8, "vdpbf16ps loop too slow: {f} FLOP/s"),
            None => println!("bf16 peak: this CPU has no AVX512-BF16"),
        }
    }

    #[test]
    fn measured_peak_is_positive_and_formula_has_numbers() {
        let p = measure(1, Duration::from_millis(50));
        assert!(p.flops > 1e8, "FMA loop too slow: {} FLOP/s", p.flops);
        assert!(p.lanes >= 1);
        if p.ghz.is_some() {
            assert!(p.formula().contains("GFLOP/s"));
        }
    }
}
