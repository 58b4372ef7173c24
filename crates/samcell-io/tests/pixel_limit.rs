//! Decompression bombs: small files whose header claims 65500 x 65500 pixels are refused from
//! the header, before any pixel buffer exists, by every reader, with an error naming the file
//! and the limit. The bound on memory is checked by counting the bytes allocated (this test
//! binary's global allocator), not by timing.
//!
//! Defect covered: a 1.2 MB PNG and a 631-byte JPEG claiming 65500x65500 took `samcell segment`
//! to 5-6 GB before failing.

mod craft;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use samcell_io::{labels, read_f32_tiff, read_gray, IoError, ReadOptions, DEFAULT_MAX_PIXELS};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes held now and the most held since the last reset.
struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc`
// contract; the counters are plain atomics and do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout as given to us, forwarded to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (all allocations go through us).
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr`/`layout` come from a previous allocation of ours, forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = CURRENT.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at most above the level before `f` ran.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// 64 MB: generous for parsing a header, far below the gigabytes a decoded bomb needs.
const HEADER_BUDGET: usize = 64 << 20;

fn refused<T: std::fmt::Debug>(
    what: &str,
    path: &Path,
    r: Result<T, IoError>,
    peak: usize,
    limit: u64,
) {
    let msg = match r {
        Ok(v) => panic!("{what}: a bomb was accepted: {v:?}"),
        Err(e) => e.to_string(),
    };
    eprintln!("{what}: {msg} (peak {peak} bytes)");
    assert!(
        msg.starts_with(&path.display().to_string()),
        "{what}: error does not name the file: {msg}"
    );
    assert!(
        msg.contains("65500x65500") && msg.contains(&limit.to_string()),
        "{what}: error does not give size and limit: {msg}"
    );
    assert!(
        peak < HEADER_BUDGET,
        "{what}: {peak} bytes allocated while refusing a bomb"
    );
}

/// Everything in one test: the pixel limit is process-wide state, and the allocation counter
/// sees every thread.
#[test]
fn header_bombs_are_refused_before_decoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bombs = [
        ("bomb.png", craft::png_claiming(65500, 65500)),
        ("bomb.jpg", craft::jpeg_claiming(65500, 65500)),
        ("bomb.tif", craft::tiff_claiming(65500, 65500)),
        ("bomb.bmp", craft::bmp_claiming(65500, 65500)),
        ("topdown.bmp", craft::bmp_claiming(65500, -65500)),
    ];
    let opts = ReadOptions::default();
    for (name, bytes) in &bombs {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let (r, peak) = peak_during(|| read_gray(&path, &opts).map(|i| (i.width(), i.height())));
        refused(
            &format!("read_gray {name}"),
            &path,
            r,
            peak,
            DEFAULT_MAX_PIXELS,
        );
        if name.ends_with(".png") || name.ends_with(".tif") {
            let (r, peak) =
                peak_during(|| labels::read_labels(&path).map(|l| (l.width(), l.height())));
            refused(
                &format!("read_labels {name}"),
                &path,
                r,
                peak,
                DEFAULT_MAX_PIXELS,
            );
        }
        if name.ends_with(".tif") {
            let (r, peak) = peak_during(|| read_f32_tiff(&path).map(|m| (m.width(), m.height())));
            refused(
                &format!("read_f32_tiff {name}"),
                &path,
                r,
                peak,
                DEFAULT_MAX_PIXELS,
            );
        }
    }

    // The limit is one number: per read through ReadOptions, or process-wide.
    let small = dir.path().join("small.png");
    std::fs::write(&small, craft::png(100, 80, 1)).expect("write");
    let at = |n: u64| ReadOptions {
        max_pixels: Some(n),
        ..ReadOptions::default()
    };
    let e = read_gray(&small, &at(7_999))
        .expect_err("over the limit")
        .to_string();
    assert!(e.contains("100x80") && e.contains("7999"), "{e}");
    read_gray(&small, &at(8_000)).expect("at the limit");
    samcell_io::set_max_pixels(7_999).expect("set");
    assert!(
        read_gray(&small, &ReadOptions::default()).is_err(),
        "process-wide limit not used"
    );
    assert!(
        labels::read_labels(&small).is_err(),
        "label reader ignores the process-wide limit"
    );
    assert!(
        read_gray(&small, &at(8_000)).is_ok(),
        "ReadOptions does not override the process-wide limit"
    );
    samcell_io::set_max_pixels(DEFAULT_MAX_PIXELS).expect("reset");
    assert!(samcell_io::set_max_pixels(0).is_err());
    read_gray(&small, &ReadOptions::default()).expect("default limit again");
}
