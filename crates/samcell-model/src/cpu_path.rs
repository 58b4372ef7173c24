//! One CPU dispatch for the model's hand-written kernels, decided once per process.
//!
//! The paths, fastest first: [`CpuPath::Avx512Bf16`] (bf16 matrix products with
//! `vdpbf16ps`, f32 accumulation), [`CpuPath::Avx512`] and [`CpuPath::Avx2Fma`] (f32 products
//! through `matrixmultiply`, whose own kernels pick the widest units they know; explicit AVX2
//! softmax and GELU), and [`CpuPath::Portable`] (no explicit SIMD in this crate's kernels).
//!
//! The path is the best the CPU supports, lowered by the environment variable
//! `SAMCELL_CPU_PATH` (`avx512-bf16`, `avx512`, `avx2`, `portable`) for tests and for users who
//! hit a problem; asking for a path above what the CPU has is lowered to what it has (a kernel
//! is never entered on a CPU without its instructions). [`describe`] gives the one line the log
//! and `run.json` show.
//!
//! AMX (`amx-tile`/`amx-bf16`, CPUID leaf 7 EDX bits 24/22) is detected and reported, but this
//! build has no AMX kernel: such CPUs run the AVX512-BF16 path.

use std::sync::OnceLock;

/// A family of kernels; ordered from the most portable to the fastest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuPath {
    /// Plain Rust loops (any CPU).
    Portable,
    /// f32 with AVX2 and FMA.
    Avx2Fma,
    /// f32 with AVX-512F.
    Avx512,
    /// bf16 products (`vdpbf16ps`) accumulated in f32, for the `bf16` precision; f32 otherwise.
    Avx512Bf16,
}

impl CpuPath {
    /// Every path, fastest first.
    pub const ALL: [CpuPath; 4] = [
        CpuPath::Avx512Bf16,
        CpuPath::Avx512,
        CpuPath::Avx2Fma,
        CpuPath::Portable,
    ];

    /// The name used in logs, `run.json` and `SAMCELL_CPU_PATH`.
    pub fn name(self) -> &'static str {
        match self {
            CpuPath::Portable => "portable",
            CpuPath::Avx2Fma => "avx2",
            CpuPath::Avx512 => "avx512",
            CpuPath::Avx512Bf16 => "avx512-bf16",
        }
    }

    /// Parses a `SAMCELL_CPU_PATH` value (case-insensitive; `avx2-fma` and `avx512bf16` too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "portable" | "scalar" => Some(CpuPath::Portable),
            "avx2" | "avx2-fma" | "avx2+fma" => Some(CpuPath::Avx2Fma),
            "avx512" | "avx512f" | "avx-512" => Some(CpuPath::Avx512),
            "avx512-bf16" | "avx512bf16" | "bf16" => Some(CpuPath::Avx512Bf16),
            _ => None,
        }
    }

    /// Whether this CPU can run the path's instructions.
    pub fn supported(self) -> bool {
        self <= detected()
    }
}

/// What the CPU has, as far as this crate's kernels care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    /// AVX2 and FMA together (the `Avx2Fma` path's kernels need both).
    pub avx2_fma: bool,
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// AVX512-BF16 (`vdpbf16ps`), reported only together with AVX-512F.
    pub avx512_bf16: bool,
    /// AMX tiles with bf16 products (reported only; no AMX kernel in this build).
    pub amx_bf16: bool,
}

impl CpuFeatures {
    /// Reads the CPU's feature flags.
    pub fn read() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2_fma = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            let avx512f = std::arch::is_x86_feature_detected!("avx512f");
            let avx512_bf16 = avx512f && std::arch::is_x86_feature_detected!("avx512bf16");
            Self {
                avx2_fma,
                avx512f,
                avx512_bf16,
                amx_bf16: amx_bf16_cpuid(),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self {
                avx2_fma: false,
                avx512f: false,
                avx512_bf16: false,
                amx_bf16: false,
            }
        }
    }

    /// The fastest path these features allow.
    pub fn best(&self) -> CpuPath {
        if self.avx512_bf16 && self.avx2_fma {
            CpuPath::Avx512Bf16
        } else if self.avx512f && self.avx2_fma {
            CpuPath::Avx512
        } else if self.avx2_fma {
            CpuPath::Avx2Fma
        } else {
            CpuPath::Portable
        }
    }
}

/// CPUID leaf 7, sub-leaf 0, EDX bits 24 (amx-tile) and 22 (amx-bf16).
#[cfg(target_arch = "x86_64")]
fn amx_bf16_cpuid() -> bool {
    // CPUID exists on every x86_64 CPU; leaf 0 gives the highest supported leaf, and leaf 7 is
    // only queried when it is supported.
    let max_leaf = std::arch::x86_64::__cpuid(0).eax;
    if max_leaf < 7 {
        return false;
    }
    let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
    edx & (1 << 24) != 0 && edx & (1 << 22) != 0
}

/// The best path of this CPU (ignoring `SAMCELL_CPU_PATH`).
pub fn detected() -> CpuPath {
    static DETECTED: OnceLock<CpuPath> = OnceLock::new();
    *DETECTED.get_or_init(|| CpuFeatures::read().best())
}

/// The path requested through `SAMCELL_CPU_PATH`, if set and valid.
fn requested() -> Option<CpuPath> {
    std::env::var("SAMCELL_CPU_PATH")
        .ok()
        .and_then(|v| CpuPath::parse(&v))
}

/// The path this process runs: the detected one, lowered by `SAMCELL_CPU_PATH`. Decided once.
pub fn selected() -> CpuPath {
    static SELECTED: OnceLock<CpuPath> = OnceLock::new();
    *SELECTED.get_or_init(|| requested().map_or(detected(), |r| r.min(detected())))
}

/// A complaint about `SAMCELL_CPU_PATH`, if its value is not a path name or asks for more than
/// the CPU has (the caller logs it once).
pub fn request_warning() -> Option<String> {
    let raw = std::env::var("SAMCELL_CPU_PATH").ok()?;
    match CpuPath::parse(&raw) {
        None => Some(format!(
            "SAMCELL_CPU_PATH={raw:?} is not one of avx512-bf16, avx512, avx2, portable; using {}",
            detected().name()
        )),
        Some(p) if p > detected() => Some(format!(
            "SAMCELL_CPU_PATH={} asks for more than this CPU has; using {}",
            p.name(),
            detected().name()
        )),
        Some(_) => None,
    }
}

/// One line for logs and `run.json`: the path that runs, what the CPU has, and whether it was
/// lowered on request.
pub fn describe() -> String {
    let f = CpuFeatures::read();
    let (sel, det) = (selected(), detected());
    let forced = if sel < det {
        format!(", lowered from {} by SAMCELL_CPU_PATH", det.name())
    } else {
        String::new()
    };
    let amx = if f.amx_bf16 {
        "; AMX-BF16 present (no AMX kernel in this build)"
    } else {
        ""
    };
    format!("{}{forced}{amx}", sel.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for p in CpuPath::ALL {
            assert_eq!(CpuPath::parse(p.name()), Some(p));
        }
        assert_eq!(CpuPath::parse("AVX2"), Some(CpuPath::Avx2Fma));
        assert_eq!(CpuPath::parse("sse9"), None);
    }

    #[test]
    fn selection_never_exceeds_the_cpu() {
        assert!(selected() <= detected());
        assert!(detected().supported());
        let f = CpuFeatures::read();
        if detected() == CpuPath::Avx512Bf16 {
            assert!(f.avx512_bf16 && f.avx512f);
        }
        println!("cpu path: {} (features {f:?})", describe());
    }
}
