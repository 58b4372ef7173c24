//! Large test images made at run time from the real Usiigaci phase-contrast images
//! (`$SAMCELL_DATA/usiigaci-phc/train/images/*.tif`, 1024 x 1022, 16-bit): each is read as the
//! CLI reads it (min-max to 8 bits), and the mosaic places them in a grid, every other column
//! mirrored left-right and every other row mirrored top-bottom, cycling through the images in
//! sorted order. Nothing is stored in the repository; the bench writes the mosaic to a
//! temporary folder.

use anyhow::{Context, Result};
use samcell_imaging::GrayU8;
use std::path::{Path, PathBuf};

/// The Usiigaci training images, sorted by name.
pub fn usiigaci_images() -> Result<Vec<PathBuf>> {
    let dir = samcell_testdata::data_dir().join("usiigaci-phc/train/images");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("tif")))
        .collect();
    v.sort();
    anyhow::ensure!(!v.is_empty(), "no .tif images in {}", dir.display());
    Ok(v)
}

/// Reads the tiles (at most `max` of them), as 8-bit images.
pub fn load_tiles(max: usize) -> Result<Vec<GrayU8>> {
    usiigaci_images()?
        .iter()
        .take(max.max(1))
        .map(|p| {
            samcell_io::read_gray(p, &samcell_io::ReadOptions::default())
                .with_context(|| format!("cannot read {}", p.display()))
        })
        .collect()
}

/// A `width x height` mosaic of `tiles` (all of one size), see the module doc.
pub fn mosaic(tiles: &[GrayU8], width: usize, height: usize) -> GrayU8 {
    let mut out = GrayU8::filled(width, height, 0);
    let Some(first) = tiles.first() else {
        return out;
    };
    let (tw, th) = (first.width(), first.height());
    let cols = width.div_ceil(tw);
    for y in 0..height {
        let (ty, ly) = (y / th, y % th);
        let sy = if ty % 2 == 1 { th - 1 - ly } else { ly };
        let row = out.row_mut(y);
        for (tx, chunk) in row.chunks_mut(tw).enumerate() {
            let tile = &tiles[(ty * cols + tx) % tiles.len()];
            let src = tile.row(sy.min(tile.height() - 1));
            for (lx, d) in chunk.iter_mut().enumerate() {
                let sx = if tx % 2 == 1 { tw - 1 - lx } else { lx };
                *d = src[sx.min(src.len() - 1)];
            }
        }
    }
    out
}

/// Writes an 8-bit grey image as an uncompressed TIFF (fast to write and to read back).
pub fn write_gray_tiff(path: &Path, img: &GrayU8) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut enc = tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(file))?;
    enc.write_image::<tiff::encoder::colortype::Gray8>(
        img.width() as u32,
        img.height() as u32,
        img.data(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosaic_mirrors_alternate_tiles() {
        let a = GrayU8::from_vec(3, 2, vec![1, 2, 3, 4, 5, 6]).expect("a");
        let b = GrayU8::from_vec(3, 2, vec![10, 20, 30, 40, 50, 60]).expect("b");
        let m = mosaic(&[a, b], 7, 5);
        // Row 0: tile a, then b mirrored, then a (cut to 1 px).
        assert_eq!(m.row(0), &[1, 2, 3, 30, 20, 10, 1]);
        // Row 2 is tile row 1, mirrored vertically: a's row 1 ... with the cycle continuing
        // (3 columns per tile row: tiles 3, 4, 5 -> b, a, b).
        assert_eq!(m.row(2), &[40, 50, 60, 6, 5, 4, 40]);
        assert_eq!(m.row(4), &[1, 2, 3, 30, 20, 10, 1]);
    }
}
