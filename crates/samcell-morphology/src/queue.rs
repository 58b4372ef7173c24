//! The exact priority queue of scikit-image 0.25's watershed (`_watershed_cy.pyx` with its
//! `heap_general.pxi`): smallest value first, equal values by age (push counter).
//!
//! [`FloodHeap`] simulates skimage's array binary heap step for step, so that it also
//! reproduces the one order the keys leave open: markers (all pushed with age 0) with equal
//! values leave in whatever order the heap's arrangement gives. Push appends and swaps with the
//! parent while strictly smaller; pop takes the root, moves the last item to the root and swaps
//! it with the smaller child while that child is strictly smaller (left child first, the right
//! child only if strictly smaller than the chosen one). The key is the `f32` value itself, or
//! its rank among the image's values (same order, same ties, see `crate::ranked`).

/// One queued pixel: its priority key (an `f32` value, or the rank of one), its age (push
/// counter) and its raveled index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item<K> {
    pub key: K,
    pub age: u32,
    pub index: u32,
}

impl<K: PartialOrd> Item<K> {
    /// skimage's `smaller`: by key, ties by age; with NaN neither is smaller.
    #[inline]
    fn smaller(&self, other: &Self) -> bool {
        if self.key != other.key {
            self.key < other.key
        } else {
            self.age < other.age
        }
    }
}

/// Array binary min-heap with skimage's exact sift rules (see the module docs).
pub(crate) struct FloodHeap<K> {
    items: Vec<Item<K>>,
}

impl<K: PartialOrd + Copy> FloodHeap<K> {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            items: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, key: K, age: u32, index: u32) {
        let items = &mut self.items;
        let mut child = items.len();
        items.push(Item { key, age, index });
        while child > 0 {
            let parent = (child - 1) / 2;
            if items[child].smaller(&items[parent]) {
                items.swap(child, parent);
                child = parent;
            } else {
                break;
            }
        }
    }

    pub fn pop(&mut self) -> Option<Item<K>> {
        let items = &mut self.items;
        let last = items.pop()?;
        if items.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut items[0], last);
        let n = items.len();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            if l >= n {
                break;
            }
            let mut smallest = i;
            if items[l].smaller(&items[i]) {
                smallest = l;
            }
            if r < n && items[r].smaller(&items[smallest]) {
                smallest = r;
            }
            if smallest == i {
                break;
            }
            items.swap(i, smallest);
            i = smallest;
        }
        Some(top)
    }

    /// The items still queued, in no particular order.
    pub fn into_items(self) -> Vec<Item<K>> {
        self.items
    }
}

/// Order-preserving map of a non-NaN `f32` to `u32` (`a < b` iff `key(a) < key(b)`), with
/// `-0.0` and `0.0` mapped together because they compare equal.
#[inline]
pub(crate) fn ordered_key(v: f32) -> u32 {
    let bits = if v == 0.0 { 0 } else { v.to_bits() };
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_key_preserves_order() {
        let vals = [
            f32::NEG_INFINITY,
            -3.5,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            0.25,
            7.0,
            f32::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(ordered_key(w[0]) <= ordered_key(w[1]), "{w:?}");
            assert_eq!(
                ordered_key(w[0]) == ordered_key(w[1]),
                w[0] == w[1],
                "{w:?}"
            );
        }
    }
}
