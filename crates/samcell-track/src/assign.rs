//! Optimal one-to-one assignment between the cells of two frames: the candidate pairs split into
//! connected components (cells linked by a candidate pair), and each component is solved
//! exactly with the Kuhn–Munkres algorithm (`pathfinding::kuhn_munkres`, maximum total weight).
//! Components are solved in the order of their smallest row, rows and columns in ascending order,
//! so the result is deterministic. Pairs that are not candidates are never returned.

use pathfinding::prelude::{kuhn_munkres, Matrix};

/// A candidate pair: row, column, weight.
type Pair = (usize, usize, i64);

/// Weight of a pair with intersection over union `iou` (integer weights keep Kuhn–Munkres
/// exact): one millionth of IoU per unit.
pub(crate) fn weight(iou: f64) -> i64 {
    (iou * 1e6).round() as i64
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// For each of `rows` rows, its column in the assignment of largest total weight over the
/// `candidates` `(row, column, weight > 0)`, or `None`.
pub(crate) fn assign(rows: usize, cols: usize, candidates: &[Pair]) -> Vec<Option<usize>> {
    let mut out = vec![None; rows];
    let mut parent: Vec<usize> = (0..rows + cols).collect();
    for &(r, c, _) in candidates {
        let (a, b) = (find(&mut parent, r), find(&mut parent, rows + c));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    // component root -> its candidate pairs
    let mut groups: Vec<(usize, Vec<Pair>)> = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for &(r, c, w) in candidates {
        let root = find(&mut parent, r);
        let s = *slot.entry(root).or_insert_with(|| {
            groups.push((root, Vec::new()));
            groups.len() - 1
        });
        groups[s].1.push((r, c, w));
    }
    groups.sort_by_key(|g| g.0);
    for (_, pairs) in groups {
        let mut rs: Vec<usize> = pairs.iter().map(|p| p.0).collect();
        let mut cs: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        rs.sort_unstable();
        rs.dedup();
        cs.sort_unstable();
        cs.dedup();
        if pairs.len() == 1 {
            out[pairs[0].0] = Some(pairs[0].1);
            continue;
        }
        let pos = |v: &[usize], x: usize| v.binary_search(&x).unwrap_or(0);
        // kuhn_munkres needs no more rows than columns
        let transpose = rs.len() > cs.len();
        let (n, m) = if transpose {
            (cs.len(), rs.len())
        } else {
            (rs.len(), cs.len())
        };
        let mut w = Matrix::new(n, m, 0i64);
        for &(r, c, x) in &pairs {
            let (i, j) = (pos(&rs, r), pos(&cs, c));
            if transpose {
                w[(j, i)] = x;
            } else {
                w[(i, j)] = x;
            }
        }
        let (_, a) = kuhn_munkres(&w);
        for (i, &j) in a.iter().enumerate() {
            if w[(i, j)] <= 0 {
                continue;
            }
            if transpose {
                out[rs[j]] = Some(cs[i]);
            } else {
                out[rs[i]] = Some(cs[j]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_total_wins_over_the_greedy_choice() {
        // greedy would give row 0 column 0 (0.9) and leave row 1 with nothing
        let c = [(0, 0, 90), (0, 1, 80), (1, 0, 70)];
        assert_eq!(assign(2, 2, &c), vec![Some(1), Some(0)]);
    }

    #[test]
    fn more_rows_than_columns_and_separate_components() {
        let c = [(0, 0, 10), (1, 0, 20), (2, 1, 5)];
        assert_eq!(assign(4, 2, &c), vec![None, Some(0), Some(1), None]);
    }
}
