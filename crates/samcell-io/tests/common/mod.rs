//! Shared helpers for the samcell-io integration tests.
#![allow(dead_code)]

use npyz::WriterBuilder;
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A u8 2-D `.npy` as (height, width, data).
pub fn load_u8(name: &str) -> (usize, usize, Vec<u8>) {
    samcell_testdata::npy::read_2d(&fixture(name))
}

/// One line of tests/fixtures/goldens.txt (written by reference/gen_io_fixtures.py).
#[derive(Debug, Clone)]
pub struct Case {
    pub input: String,
    pub scaling: String,
    pub page: usize,
    pub golden: String,
}

pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("goldens.txt")).expect("goldens.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "bad manifest line {l:?}");
            Case {
                input: f[0].to_string(),
                scaling: f[1].to_string(),
                page: f[2].parse().expect("page"),
                golden: f[3].to_string(),
            }
        })
        .collect()
}

/// Writes a u8/u16/u32/f32 array as a 2-D `.npy` (for the Python-side check of written TIFFs).
pub fn save_npy<T: npyz::AutoSerialize + Copy>(
    path: &std::path::Path,
    h: usize,
    w: usize,
    data: &[T],
) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).expect("create npy"));
    let mut wr = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[h as u64, w as u64])
        .writer(f)
        .begin_nd()
        .expect("npy header");
    wr.extend(data.iter().copied()).expect("npy data");
    wr.finish().expect("npy finish");
}
