//! The fast flooding path, exact for any input without NaN in the mask: priorities replaced
//! by value ranks, a bucket queue for the flooding, and an exact heap phase first when markers
//! share values.
//!
//! Why it gives scikit-image 0.25's order: a priority is always some in-mask pixel's value
//! (markers: their own; pushed pixels: `max(own value, parent's priority)`), so it can be
//! replaced by the rank of that value among the distinct in-mask values (`-0.0` and `0.0`
//! share a rank, as they compare equal): every comparison skimage's heap makes comes out the
//! same. skimage pops by `(value, age)`; ages grow with every push, so inside one rank the age
//! order is the push order, which a FIFO list per rank keeps, and pushes never go below the
//! rank being popped, so one forward-moving cursor finds the next item.
//!
//! The one order `(value, age)` leaves open is between markers with equal values (all age 0):
//! skimage's heap arrangement decides it. So while any such marker is still queued, the flood
//! runs on `crate::queue::FloodHeap` (skimage's heap, step for step, on ranks); once the last
//! of them has left, the items still in the heap move to the FIFO lists in `(rank, age)` order
//! and the bucket queue takes over. With distinct marker values there is no heap phase. In
//! samcell's maps tied seeds are likeliest on saturated peaks (1.0, the lowest `-dist`), which
//! leave the heap first, so the heap phase is then short; in the worst case (tied markers at
//! the highest level) it covers the whole flood and costs what skimage's heap costs.
//!
//! Cost: a 3-pass LSD radix sort of the in-mask keys (4 bytes each, plus as much scratch),
//! deduplicated, and a table lookup per pixel for the ranks, then O(1) per pixel (plus
//! O(log f) per pixel during a heap phase). Each pixel is queued at most once, so the FIFO
//! links live in one per-pixel array; a pixel's rank and label share one 8-byte slot, so
//! visiting a neighbour touches one cache line. Peak working memory: 12 bytes per pixel (slots
//! and links) during the flood, 8 bytes per in-mask pixel before it.

use crate::queue::FloodHeap;

const NIL: u32 = u32::MAX;
/// Rank of a pixel outside the mask.
const OUTSIDE: u32 = u32::MAX;

/// log2 of the ranks per block of the two-level bucket queue.
const BLOCK_BITS: u32 = 10;

/// A monotone bucket queue over ranks with FIFO order inside each rank, in two levels so that
/// a push never touches a random place in a big array: ranks in later blocks of `2^bits` ranks
/// are appended to their block's list (push order = age order); the current block has one
/// FIFO list per rank (`ends[r mod 2^bits]` = first and last pixel, linked through the
/// per-pixel `next`). Entering a block moves its list into the FIFO lists in order.
struct Buckets {
    bits: u32,
    later: Vec<Vec<[u32; 2]>>,
    ends: Vec<[u32; 2]>,
    next: Vec<u32>,
    /// Current block and the rank the next pop starts looking at (never decreases).
    block: usize,
    cur: usize,
}

impl Buckets {
    fn new(ranks: usize, pixels: usize, bits: u32) -> Self {
        let blocks = (ranks >> bits) + 1;
        Self {
            bits,
            later: vec![Vec::new(); blocks],
            ends: vec![[NIL, NIL]; 1 << bits],
            next: vec![NIL; pixels],
            block: 0,
            cur: 0,
        }
    }

    /// Moves the floor up to `rank` (after a heap phase); no queued item may be below it.
    fn start_at(&mut self, rank: usize) {
        debug_assert!(
            self.ends.iter().all(|e| e[0] == NIL) && self.later.iter().all(Vec::is_empty)
        );
        self.block = rank >> self.bits;
        self.cur = rank;
    }

    #[inline(always)]
    fn push(&mut self, rank: usize, i: usize) {
        debug_assert!(rank >= self.cur, "bucket queue needs monotone pushes");
        let mask = (1 << self.bits) - 1;
        if rank >> self.bits == self.block {
            self.push_fine(rank & mask, i as u32);
        } else {
            self.later[rank >> self.bits].push([rank as u32, i as u32]);
        }
    }

    #[inline(always)]
    fn push_fine(&mut self, slot: usize, i: u32) {
        let e = &mut self.ends[slot];
        if e[1] == NIL {
            e[0] = i;
        } else {
            self.next[e[1] as usize] = i;
        }
        e[1] = i;
    }

    /// The oldest pixel of the lowest non-empty rank, with that rank.
    #[inline(always)]
    fn pop(&mut self) -> Option<(u32, usize)> {
        let (size, mask) = (1usize << self.bits, (1usize << self.bits) - 1);
        loop {
            let mut slot = self.cur & mask;
            while slot < size && self.ends[slot][0] == NIL {
                slot += 1;
            }
            if slot < size {
                self.cur = (self.block << self.bits) + slot;
                let e = &mut self.ends[slot];
                let i = e[0];
                if i == e[1] {
                    *e = [NIL, NIL]; // the only item: no need to read its link
                } else {
                    e[0] = self.next[i as usize];
                }
                return Some((self.cur as u32, i as usize));
            }
            // Current block drained: enter the next block with queued items.
            self.block += 1;
            while self.block < self.later.len() && self.later[self.block].is_empty() {
                self.block += 1;
            }
            let items = std::mem::take(self.later.get_mut(self.block)?);
            self.cur = self.block << self.bits;
            for &[r, i] in &items {
                self.push_fine(r as usize & mask, i);
            }
        }
    }
}

/// Floods from `seeds` (`(raveled index, label)`, raster order; those outside the mask are
/// dropped) in skimage's order; `value(i)` is pixel `i`'s priority, `in_mask(i)` whether it
/// may be flooded. Precondition (checked by the caller): no in-mask value is NaN.
pub(crate) fn flood_ranked(
    width: usize,
    height: usize,
    value: &impl Fn(usize) -> f32,
    seeds: &[(u32, u32)],
    in_mask: &impl Fn(usize) -> bool,
) -> Vec<u32> {
    flood_ranked_blocks(width, height, value, seeds, in_mask, BLOCK_BITS)
}

/// [`flood_ranked`] with `2^bits` ranks per block (tests use tiny blocks).
fn flood_ranked_blocks(
    width: usize,
    height: usize,
    value: &impl Fn(usize) -> f32,
    seeds: &[(u32, u32)],
    in_mask: &impl Fn(usize) -> bool,
    bits: u32,
) -> Vec<u32> {
    let n = width * height;
    // px[i] = [rank of pixel i's value (OUTSIDE if not in the mask), label so far].
    let (mut px, ranks) = pixel_states(n, value, in_mask, seeds);
    let mut buckets = Buckets::new(ranks, n, bits);

    // Markers sharing a rank need the heap phase.
    let mut marker_ranks: Vec<u32> = (0..n)
        .filter(|&i| px[i][1] != 0)
        .map(|i| px[i][0])
        .collect();
    marker_ranks.sort_unstable();
    let mut tied: Vec<u32> = marker_ranks
        .windows(2)
        .filter(|p| p[0] == p[1])
        .map(|p| p[0])
        .collect();
    tied.dedup();
    let is_tied = |r: u32| tied.binary_search(&r).is_ok();
    let mut tied_left = marker_ranks.iter().filter(|&&r| is_tied(r)).count();

    if tied_left == 0 {
        for (i, &[rank, label]) in px.iter().enumerate() {
            if label != 0 {
                buckets.push(rank as usize, i);
            }
        }
    } else {
        let mut heap = FloodHeap::with_capacity(1024);
        for (i, &[rank, label]) in px.iter().enumerate() {
            if label != 0 {
                heap.push(rank, 0, i as u32);
            }
        }
        let mut age = 1u32;
        let mut floor = 0;
        while tied_left > 0 {
            let Some(item) = heap.pop() else { break };
            let i = item.index as usize;
            if item.age == 0 && is_tied(item.key) {
                tied_left -= 1;
            }
            let label = px[i][1];
            for j in crate::watershed::neighbours(i, width, height) {
                let [r, l] = px[j];
                if r != OUTSIDE && l == 0 {
                    age += 1;
                    px[j][1] = label;
                    heap.push(r.max(item.key), age, j as u32);
                }
            }
            floor = item.key as usize;
        }
        buckets.start_at(floor);
        let mut rest = heap.into_items();
        rest.sort_unstable_by_key(|it| (it.key, it.age));
        for it in rest {
            buckets.push(it.key as usize, it.index as usize);
        }
    }

    while let Some((cur, i)) = buckets.pop() {
        let label = px[i][1];
        let (y, x) = (i / width, i % width);
        // skimage's neighbour order: up, left, right, down. A neighbour's priority is raised
        // to the popped pixel's (`max(rank, cur)`), exactly skimage's `if new < parent`.
        for (inside, j) in [
            (y > 0, i.wrapping_sub(width)),
            (x > 0, i.wrapping_sub(1)),
            (x + 1 < width, i + 1),
            (y + 1 < height, i + width),
        ] {
            if inside {
                let s = &mut px[j];
                if s[0] != OUTSIDE && s[1] == 0 {
                    s[1] = label;
                    buckets.push(s[0].max(cur) as usize, j);
                }
            }
        }
    }
    // The links go before the labels are copied out: 12 bytes per pixel at most at any time.
    drop(buckets);
    let mut out = Vec::with_capacity(n);
    out.extend(px.iter().map(|s| s[1]));
    out
}

/// `[rank, label]` per pixel: the rank of its value among the distinct in-mask values
/// (0 = smallest; OUTSIDE for pixels outside the mask) and its seed label (0 if none); plus the
/// number of distinct values.
///
/// The ranks come from the sorted distinct order-preserving keys of the in-mask values (LSD
/// radix sort of 4-byte keys, then dedup) and a coarse table over the key range that narrows
/// each lookup to a short binary search; 8 bytes per in-mask pixel while sorting, freed before
/// the flood.
fn pixel_states(
    n: usize,
    value: &impl Fn(usize) -> f32,
    in_mask: &impl Fn(usize) -> bool,
    seeds: &[(u32, u32)],
) -> (Vec<[u32; 2]>, usize) {
    let mut keys: Vec<u32> = (0..n)
        .filter(|&i| in_mask(i))
        .map(|i| crate::queue::ordered_key(value(i)))
        .collect();
    radix_sort_u32(&mut keys);
    keys.dedup();
    keys.shrink_to_fit();
    let lookup = RankLookup::new(&keys);
    let mut px: Vec<[u32; 2]> = vec![[OUTSIDE, 0]; n];
    for (i, p) in px.iter_mut().enumerate() {
        if in_mask(i) {
            p[0] = lookup.rank(crate::queue::ordered_key(value(i)));
        }
    }
    for &(i, label) in seeds {
        let p = &mut px[i as usize];
        if p[0] != OUTSIDE {
            p[1] = label;
        }
    }
    (px, keys.len())
}

/// Stable LSD radix sort of `u32`s, 11/11/10-bit digits, passes whose digit is the same for
/// every key skipped.
fn radix_sort_u32(items: &mut Vec<u32>) {
    let mut scratch = vec![0u32; items.len()];
    for (shift, bits) in [(0u32, 11u32), (11, 11), (22, 10)] {
        let digits = 1usize << bits;
        let digit = |v: u32| ((v >> shift) as usize) & (digits - 1);
        let mut count = vec![0usize; digits];
        for &v in items.iter() {
            count[digit(v)] += 1;
        }
        if count.contains(&items.len()) {
            continue; // every key has the same digit here: the pass would change nothing
        }
        let mut pos = 0;
        for c in count.iter_mut() {
            let here = *c;
            *c = pos;
            pos += here;
        }
        for &v in items.iter() {
            let d = digit(v);
            scratch[count[d]] = v;
            count[d] += 1;
        }
        std::mem::swap(items, &mut scratch);
    }
}

/// Rank of a key among sorted distinct keys: a table of `2^TABLE_BITS` buckets over the key
/// range gives the slice to binary-search.
struct RankLookup<'a> {
    keys: &'a [u32],
    low: u32,
    shift: u32,
    /// `start[b]`: index of the first key whose bucket is `>= b`; one extra entry at the end.
    start: Vec<u32>,
}

const TABLE_BITS: u32 = 20;

impl<'a> RankLookup<'a> {
    fn new(keys: &'a [u32]) -> Self {
        let (low, high) = match (keys.first(), keys.last()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        let span = u64::from(high - low) + 1;
        let mut shift = 0;
        while (span >> shift) > (1u64 << TABLE_BITS) {
            shift += 1;
        }
        let buckets = ((u64::from(high - low) >> shift) + 1) as usize;
        let mut start = vec![0u32; buckets + 1];
        let mut k = 0usize;
        for (b, s) in start.iter_mut().enumerate() {
            while k < keys.len() && (((keys[k] - low) >> shift) as usize) < b {
                k += 1;
            }
            *s = k as u32;
        }
        Self {
            keys,
            low,
            shift,
            start,
        }
    }

    /// Rank of `key`, which must be one of the keys.
    #[inline]
    fn rank(&self, key: u32) -> u32 {
        let b = ((key - self.low) >> self.shift) as usize;
        let (lo, hi) = (self.start[b] as usize, self.start[b + 1] as usize);
        (lo + self.keys[lo..hi].partition_point(|&k| k < key)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiny blocks (1, 2, 4 ranks) force block changes, also right after a heap phase; the
    /// result must equal skimage's heap simulation on `f32` values.
    #[test]
    fn block_size_does_not_change_the_result() {
        let mut state = 99u64;
        let mut rnd = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for case in 0..300 {
            let (w, h) = (1 + rnd(14) as usize, 1 + rnd(14) as usize);
            let n = w * h;
            let levels = 1 + rnd(12) as u32;
            let values: Vec<f32> = (0..n)
                .map(|_| rnd(u64::from(levels)) as f32 / levels as f32)
                .collect();
            let mask: Vec<bool> = (0..n).map(|_| rnd(10) < 8).collect();
            let markers: Vec<u32> = (0..n)
                .map(|i| {
                    if mask[i] && rnd(10) == 0 {
                        1 + rnd(4) as u32
                    } else {
                        0
                    }
                })
                .collect();
            let value = |i: usize| values[i];
            let in_mask = |i: usize| mask[i];
            let expected =
                crate::watershed::flood_f32_heap(w, h, &value, markers.clone(), &in_mask);
            let seeds = crate::watershed::seed_list(&markers);
            for bits in [0, 1, 2, BLOCK_BITS] {
                let got = flood_ranked_blocks(w, h, &value, &seeds, &in_mask, bits);
                assert_eq!(got, expected, "case {case}, {w}x{h}, block bits {bits}");
            }
        }
    }
}
