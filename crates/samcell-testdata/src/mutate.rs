//! Byte-level mutations of a valid file, for the property-based fuzz tests of the decoders and
//! the checkpoint reader: one [`Mutation`] enum, [`apply`], and the proptest strategies of the
//! mutations that do not depend on the format. Each test composes its own
//! `prop_oneof![flip(), set(), truncate(), insert(n), <its header fields>, ...]`.

use proptest::prelude::*;

/// One mutation of a file's bytes. Positions are taken modulo the file's length, so any
/// `usize` is valid.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Invert one bit of one byte.
    Flip {
        /// Byte position (modulo the length).
        at: usize,
        /// Bit within the byte, 0 (least significant) to 7.
        bit: u8,
    },
    /// Overwrite one byte.
    Set {
        /// Byte position (modulo the length).
        at: usize,
        /// The byte written there.
        value: u8,
    },
    /// Cut the file short.
    Truncate {
        /// Bytes kept from the start (modulo the length, so at least one byte goes).
        keep: usize,
    },
    /// Insert bytes, growing the file.
    Insert {
        /// Position the bytes go before (modulo the length).
        at: usize,
        /// The inserted bytes.
        bytes: Vec<u8>,
    },
    /// Overwrite bytes with an encoded value, e.g. an extreme size, offset or count of a header
    /// (`at` is not wrapped: it is moved back so that the value fits when the file is long
    /// enough; bytes past the end are dropped).
    Field {
        /// Byte position of the value's first byte, before it is moved back to fit.
        at: usize,
        /// The encoded value (e.g. a little-endian `u32`).
        bytes: Vec<u8>,
    },
    /// Replace a range with up to `len` bytes of the donor `from` (see [`apply`]).
    Splice {
        /// Where the copied bytes go in the file (modulo its length); they replace as many
        /// bytes as they are long, up to the end of the file.
        at: usize,
        /// Which donor to copy from (modulo the number of donors).
        from: usize,
        /// Where in the donor the copy starts (modulo the donor's length).
        src_at: usize,
        /// Most bytes copied; fewer when the donor ends first.
        len: usize,
    },
}

/// A bit flipped anywhere.
pub fn flip() -> impl Strategy<Value = Mutation> {
    (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit })
}

/// A byte set to any value anywhere.
pub fn set() -> impl Strategy<Value = Mutation> {
    (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value })
}

/// The file cut anywhere.
pub fn truncate() -> impl Strategy<Value = Mutation> {
    any::<usize>().prop_map(|keep| Mutation::Truncate { keep })
}

/// 1 to `max_len - 1` random bytes inserted anywhere.
pub fn insert(max_len: usize) -> impl Strategy<Value = Mutation> {
    (
        any::<usize>(),
        prop::collection::vec(any::<u8>(), 1..max_len),
    )
        .prop_map(|(at, bytes)| Mutation::Insert { at, bytes })
}

/// A range replaced by 1 to `max_len - 1` bytes of one of the donors given to [`apply`].
pub fn splice(max_len: usize) -> impl Strategy<Value = Mutation> {
    (any::<usize>(), any::<usize>(), any::<usize>(), 1..max_len).prop_map(
        |(at, from, src_at, len)| Mutation::Splice {
            at,
            from,
            src_at,
            len,
        },
    )
}

/// `b` mutated by `m`; `donors` are the files a [`Mutation::Splice`] copies from (none: the
/// splice does nothing). An empty file stays empty.
pub fn apply(mut b: Vec<u8>, m: &Mutation, donors: &[Vec<u8>]) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    let n = b.len();
    match m {
        Mutation::Flip { at, bit } => b[at % n] ^= 1 << bit,
        Mutation::Set { at, value } => b[at % n] = *value,
        Mutation::Truncate { keep } => b.truncate(keep % n),
        Mutation::Insert { at, bytes } => {
            let at = at % n;
            b.splice(at..at, bytes.iter().copied());
        }
        Mutation::Field { at, bytes } => {
            let at = (*at).min(n.saturating_sub(bytes.len()));
            for (i, &x) in bytes.iter().enumerate() {
                if let Some(d) = b.get_mut(at + i) {
                    *d = x;
                }
            }
        }
        Mutation::Splice {
            at,
            from,
            src_at,
            len,
        } => {
            if donors.is_empty() {
                return b;
            }
            let src = &donors[from % donors.len()];
            if src.is_empty() {
                return b;
            }
            let s = src_at % src.len();
            let part = &src[s..(s + len).min(src.len())];
            let at = at % n;
            let end = (at + part.len()).min(n);
            b.splice(at..end, part.iter().copied());
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_what_they_say() {
        let b = vec![0u8; 8];
        assert_eq!(
            apply(b.clone(), &Mutation::Flip { at: 9, bit: 3 }, &[])[1],
            8
        );
        assert_eq!(
            apply(b.clone(), &Mutation::Set { at: 2, value: 7 }, &[])[2],
            7
        );
        assert_eq!(
            apply(b.clone(), &Mutation::Truncate { keep: 11 }, &[]).len(),
            3
        );
        assert_eq!(
            apply(
                b.clone(),
                &Mutation::Insert {
                    at: 0,
                    bytes: vec![1, 2]
                },
                &[]
            )[..3],
            [1, 2, 0]
        );
        let f = apply(
            b.clone(),
            &Mutation::Field {
                at: 100,
                bytes: vec![9; 4],
            },
            &[],
        );
        assert_eq!(f, [0, 0, 0, 0, 9, 9, 9, 9]);
        let s = Mutation::Splice {
            at: 1,
            from: 0,
            src_at: 1,
            len: 2,
        };
        assert_eq!(
            apply(b.clone(), &s, &[vec![5, 6, 7]]),
            [0, 6, 7, 0, 0, 0, 0, 0]
        );
        assert_eq!(apply(b.clone(), &s, &[]), b);
        assert!(apply(Vec::new(), &Mutation::Set { at: 0, value: 1 }, &[]).is_empty());
    }
}
