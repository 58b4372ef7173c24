//! Reading `.npy` arrays in tests: the golden fixtures that the Python reference writes
//! (`reference/gen_*_fixtures.py` in the repository root). Each function panics with the file's
//! path on any problem, so a test needs no error handling of its own.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// The element types that can be read (npyz's trait), so that tests need no npyz of their own.
pub use npyz::Deserialize;

fn open(path: &Path) -> npyz::NpyFile<BufReader<File>> {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npyz::NpyFile::new(BufReader::new(f)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shape_of<R: std::io::Read>(file: &npyz::NpyFile<R>) -> Vec<usize> {
    file.shape().iter().map(|&d| d as usize).collect()
}

/// Shape and values (C order) of a `.npy` file.
pub fn read<T: Deserialize>(path: &Path) -> (Vec<usize>, Vec<T>) {
    let file = open(path);
    let shape = shape_of(&file);
    let data = file
        .into_vec()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (shape, data)
}

/// A 2-D array: `(height, width, values row by row)`.
pub fn read_2d<T: Deserialize>(path: &Path) -> (usize, usize, Vec<T>) {
    let (shape, data) = read(path);
    match shape[..] {
        [h, w] => (h, w, data),
        _ => panic!(
            "{}: expected a 2-D array, got shape {shape:?}",
            path.display()
        ),
    }
}

/// An unsigned integer array of any width up to 32 bits (label images are stored as the
/// smallest that fits), widened to u32: shape and values.
pub fn read_u32(path: &Path) -> (Vec<usize>, Vec<u32>) {
    let file = open(path);
    let shape = shape_of(&file);
    let fail = |e: std::io::Error| -> Vec<u32> { panic!("{}: {e}", path.display()) };
    let data = match file.dtype().num_bytes() {
        Some(1) => file
            .into_vec::<u8>()
            .map(|v| v.into_iter().map(u32::from).collect())
            .unwrap_or_else(fail),
        Some(2) => file
            .into_vec::<u16>()
            .map(|v| v.into_iter().map(u32::from).collect())
            .unwrap_or_else(fail),
        Some(4) => file.into_vec::<u32>().unwrap_or_else(fail),
        n => panic!(
            "{}: unsigned integers of {n:?} bytes, not 1, 2 or 4",
            path.display()
        ),
    };
    (shape, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;

    fn write<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
        let f = std::io::BufWriter::new(File::create(path).expect("create"));
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(f)
            .begin_nd()
            .expect("header");
        w.extend(data.iter().copied()).expect("data");
        w.finish().expect("finish");
    }

    #[test]
    fn arrays_read_back_with_shape_and_widened_labels() {
        let dir = std::env::temp_dir().join(format!("samcell-testdata-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f.npy");
        write(&f, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            read::<f32>(&f),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        let (h, w, v) = read_2d::<f32>(&f);
        assert_eq!((h, w, v.len()), (2, 3, 6));
        let l = dir.join("l.npy");
        write(&l, &[3], &[0u16, 7, 65535]);
        assert_eq!(read_u32(&l), (vec![3], vec![0, 7, 65535]));
        let r = std::panic::catch_unwind(|| read_2d::<u16>(&l));
        assert!(r.is_err(), "a 1-D array is not 2-D");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
