//! Shared test helpers: the data folder, the perturbation recipes of
//! `reference/gen_measure_fixtures.py` (same operations, same order) and hashing.
#![allow(dead_code)]

use samcell_imaging::{GrayU8, Labels};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The data folder holding the image sets the fixtures name (Usiigaci and DSB2018 labels), or
/// `None` after a skip line when one is absent (see samcell-testdata).
pub fn data_dir() -> Option<PathBuf> {
    let sets = samcell_testdata::require(&[], &["usiigaci-phc", "dsb2018-train"])?;
    sets[0].parent().map(PathBuf::from)
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// SHA-256 of the labels as little-endian u32, hex.
pub fn sha256(l: &Labels) -> String {
    let mut h = Sha256::new();
    for v in l.data() {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The synthetic intensity image of the fixtures: (3 x^2 + 7 y + x y) mod 253.
pub fn intensity_image(w: usize, h: usize) -> GrayU8 {
    let mut d = Vec::with_capacity(w * h);
    for y in 0..h as u64 {
        for x in 0..w as u64 {
            d.push(((3 * x * x + 7 * y + x * y) % 253) as u8);
        }
    }
    GrayU8::from_vec(w, h, d).expect("intensity image")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as u32)
        .collect()
}

/// The labels of a fixture case: `gt` itself for the variant "gt", otherwise `gt` with the recipe
/// of the variant named `variant` of fixture image `img` applied.
pub fn variant_labels(gt: &Labels, img: &Value, variant: &str) -> Labels {
    if variant == "gt" {
        return gt.clone();
    }
    let v = img["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["name"] == variant)
        .unwrap_or_else(|| panic!("variant {variant}"));
    apply_ops(gt, &v["ops"])
}

/// Applies a recipe (list of operations) to a copy of `gt`.
pub fn apply_ops(gt: &Labels, ops: &Value) -> Labels {
    let (w, h) = (gt.width(), gt.height());
    let mut lab = gt.clone();
    for op in ops.as_array().expect("ops") {
        let src = lab.clone();
        let at = |x: isize, y: isize| -> u32 {
            if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
                0
            } else {
                src.get(x as usize, y as usize)
            }
        };
        match op["op"].as_str().expect("op name") {
            "erode" => {
                for y in 0..h {
                    for x in 0..w {
                        let c = src.get(x, y);
                        let (xi, yi) = (x as isize, y as isize);
                        let keep = [(1, 0), (-1, 0), (0, 1), (0, -1)]
                            .iter()
                            .all(|&(dx, dy)| at(xi + dx, yi + dy) == c);
                        lab.set(x, y, if keep { c } else { 0 });
                    }
                }
            }
            "dilate" => {
                for y in 0..h {
                    for x in 0..w {
                        if src.get(x, y) == 0 {
                            let (xi, yi) = (x as isize, y as isize);
                            let m = [(1, 0), (-1, 0), (0, 1), (0, -1)]
                                .iter()
                                .map(|&(dx, dy)| at(xi + dx, yi + dy))
                                .max()
                                .unwrap_or(0);
                            lab.set(x, y, m);
                        }
                    }
                }
            }
            "drop" => {
                let drop = u32s(&op["labels"]);
                for v in lab.data_mut() {
                    if drop.contains(v) {
                        *v = 0;
                    }
                }
            }
            "merge" => {
                for p in op["pairs"].as_array().expect("pairs") {
                    let p = u32s(p);
                    for v in lab.data_mut() {
                        if *v == p[1] {
                            *v = p[0];
                        }
                    }
                }
            }
            "split" => {
                for c in op["cells"].as_array().expect("cells") {
                    let c = u32s(c);
                    for y in 0..h {
                        for x in c[1] as usize..w {
                            if lab.get(x, y) == c[0] {
                                lab.set(x, y, c[2]);
                            }
                        }
                    }
                }
            }
            "spurious" => {
                for b in op["boxes"].as_array().expect("boxes") {
                    let b = u32s(b);
                    let (x0, y0, bw, bh, l) = (
                        b[0] as usize,
                        b[1] as usize,
                        b[2] as usize,
                        b[3] as usize,
                        b[4],
                    );
                    for y in y0..(y0 + bh).min(h) {
                        for x in x0..(x0 + bw).min(w) {
                            if lab.get(x, y) == 0 {
                                lab.set(x, y, l);
                            }
                        }
                    }
                }
            }
            "relabel" => {
                let (m, a) = (
                    op["mul"].as_u64().expect("mul"),
                    op["add"].as_u64().expect("add"),
                );
                for v in lab.data_mut() {
                    if *v != 0 {
                        *v = u32::try_from(u64::from(*v) * m + a).expect("relabel fits u32");
                    }
                }
            }
            other => panic!("unknown perturbation {other}"),
        }
    }
    lab
}
