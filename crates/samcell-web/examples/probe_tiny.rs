//! How the browser and API tests' thresholds for the tiny random-weight reference model were
//! chosen: prints the distance map's range and the cell counts over a small (peak, fill) grid
//! for each image given.
//!
//! `cargo run -p samcell-web --example probe_tiny -- IMAGE...` (reads the checkpoint from
//! `$SAMCELL_SHARED/reference`, see samcell-testdata).

use std::path::Path;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ck = samcell_testdata::reference_file("sam_tiny_scaled.safetensors");
    let heads = samcell_model::HeadOverrides {
        vision_heads: Some(2),
        decoder_heads: Some(2),
    };
    let model = samcell_model::SamModel::load(&ck, Some(heads))?;
    let seg = samcell_pipeline::Segmenter::new(
        Arc::new(samcell_model::SamPredictor::new(model, 4)),
        Default::default(),
    );
    for arg in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        let img = samcell_io::read_gray(Path::new(&arg), &Default::default())?;
        let map = seg.distance_map(&img)?;
        let mut v = map.data().to_vec();
        v.sort_by(f32::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
        println!(
            "{arg}: {}x{} in {:.1?}; map min {:.4} p50 {:.4} p90 {:.4} max {:.4}",
            img.width(),
            img.height(),
            t.elapsed(),
            q(0.0),
            q(0.5),
            q(0.9),
            q(1.0)
        );
        for fill in [0.48f32, 0.49, 0.50] {
            print!("  fill {fill:.2}:");
            for peak in [0.50f32, 0.51, 0.52, 0.53, 0.54] {
                let (_, n) = samcell_pipeline::labels_from_distance_map(&map, peak, fill)?;
                print!("  peak {peak:.2} -> {n:5}");
            }
            println!();
        }
    }
    Ok(())
}
