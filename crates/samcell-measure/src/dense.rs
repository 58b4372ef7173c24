//! Dense re-indexing of arbitrary `u32` labels: label values need not be consecutive and may be as
//! large as `u32::MAX`; the per-label accumulators are indexed 1..=N in ascending label order.

use rayon::prelude::*;
use std::collections::HashMap;

/// Labels of one image, re-indexed.
pub(crate) struct Dense {
    /// The distinct non-zero labels, ascending.
    pub ids: Vec<u32>,
    /// Per pixel: 0 for background, `k + 1` for label `ids[k]`.
    pub index: Vec<u32>,
}

impl Dense {
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

const CHUNK: usize = 1 << 16;

/// Re-indexes `labels` (row-major pixels).
pub(crate) fn densify(labels: &[u32]) -> Dense {
    let max = labels
        .par_chunks(CHUNK)
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .max()
        .unwrap_or(0);
    if max == 0 {
        return Dense {
            ids: Vec::new(),
            index: vec![0; labels.len()],
        };
    }
    // a lookup table when it is not much larger than the image, a hash map otherwise
    if (max as usize) <= labels.len().saturating_mul(2).max(1 << 20) {
        let mut seen = vec![false; max as usize + 1];
        for &v in labels {
            seen[v as usize] = true;
        }
        seen[0] = false;
        let mut lut = vec![0u32; max as usize + 1];
        let mut ids = Vec::new();
        for (v, &s) in seen.iter().enumerate() {
            if s {
                ids.push(v as u32);
                lut[v] = ids.len() as u32;
            }
        }
        let index = labels.par_iter().map(|&v| lut[v as usize]).collect();
        Dense { ids, index }
    } else {
        let mut ids: Vec<u32> = labels
            .par_chunks(CHUNK)
            .map(|c| {
                let mut v: Vec<u32> = c.iter().copied().filter(|&x| x != 0).collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            });
        ids.sort_unstable();
        ids.dedup();
        let map: HashMap<u32, u32> = ids
            .iter()
            .enumerate()
            .map(|(k, &v)| (v, k as u32 + 1))
            .collect();
        let map = &map;
        let index = labels
            .par_chunks(CHUNK)
            .flat_map_iter(|c| {
                let mut last = (0u32, 0u32);
                c.iter().map(move |&v| {
                    if v == 0 {
                        0
                    } else if v == last.0 {
                        last.1
                    } else {
                        let k = map[&v];
                        last = (v, k);
                        k
                    }
                })
            })
            .collect();
        Dense { ids, index }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_keeps_order_and_handles_huge_labels() {
        let d = densify(&[0, 9, 3, 9, 0, 3]);
        assert_eq!(d.ids, vec![3, 9]);
        assert_eq!(d.index, vec![0, 2, 1, 2, 0, 1]);
        let d = densify(&[u32::MAX, 0, 7, u32::MAX - 1]);
        assert_eq!(d.ids, vec![7, u32::MAX - 1, u32::MAX]);
        assert_eq!(d.index, vec![3, 0, 1, 2]);
        assert_eq!(densify(&[0, 0]).len(), 0);
    }
}
