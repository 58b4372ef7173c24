//! Distance-map targets against the Python reference (`reference/gen_target_fixtures.py`):
//! chamfer3 = the harness's `dist_target.py` (cv2.distanceTransform DIST_L2 mask 3, OpenCV 4.12),
//! edt = scipy.ndimage.distance_transform_edt per cell. Tolerance: 1e-6 absolute. EDT is
//! bit-identical; chamfer3 differs by at most 1 f32 ulp on a few pixels (cv2 runs Intel IPP's
//! f32 chamfer, whose addition order differs; see `samcell_data::target`), max measured 6e-8.
//! The max difference and the number of differing pixels are printed.

use samcell_data::{distance_target, read_labels, TargetMethod};
use samcell_imaging::Labels;
use std::path::PathBuf;

const TOL: f32 = 1e-6;

fn npy<T: samcell_testdata::npy::Deserialize>(name: &str) -> (Vec<usize>, Vec<T>) {
    npy_in(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        name,
    )
}

fn npy_in<T: samcell_testdata::npy::Deserialize>(
    dir: &std::path::Path,
    name: &str,
) -> (Vec<usize>, Vec<T>) {
    samcell_testdata::npy::read(&dir.join(format!("{name}.npy")))
}

fn max_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "length");
    let n = got.iter().zip(want).filter(|(a, b)| a != b).count();
    if n > 0 {
        println!("  {n} of {} pixels differ", got.len());
    }
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn check_case(case: &str, methods: &[TargetMethod]) {
    let (shape, lab) = npy::<u32>(&format!("target_{case}_labels"));
    let labels = Labels::from_vec(shape[1], shape[0], lab).unwrap();
    for &m in methods {
        let (s, want) = npy::<f32>(&format!("target_{case}_{}", m.name()));
        assert_eq!(s, shape);
        let got = distance_target(&labels, m);
        let d = max_diff(got.data(), &want);
        println!("{case} {}: max |diff| = {d:e}", m.name());
        assert!(
            d <= TOL,
            "{case} {}: max |diff| {d} > {TOL} (tolerance 1e-6)",
            m.name()
        );
    }
}

#[test]
fn synthetic_shapes_match_opencv_and_scipy() {
    // touching cells, cells on the border, a ring with a cell in its hole, one-pixel cells,
    // a non-convex U, one-pixel-wide border cells
    check_case("shapes", &[TargetMethod::Chamfer3, TargetMethod::Edt]);
}

#[test]
fn voronoi_cells_with_large_labels_match() {
    check_case("voronoi", &[TargetMethod::Chamfer3, TargetMethod::Edt]);
}

#[test]
fn cell_without_background_matches_opencv() {
    // OpenCV gives FLT_MAX everywhere (outside is not background), so the target is 1.
    check_case("full", &[TargetMethod::Chamfer3]);
    let l = Labels::filled(7, 5, 3);
    assert!(distance_target(&l, TargetMethod::Edt)
        .data()
        .iter()
        .all(|&v| v == 1.0));
}

/// The real-data golden: its expected outputs are derived from the shared data, so they are not
/// committed. Run with
/// `SAMCELL_REAL_GOLDEN=DIR <venv>/bin/python reference/gen_target_fixtures.py` then
/// `SAMCELL_REAL_GOLDEN=DIR cargo test -p samcell-data --test golden_target -- --ignored`.
#[test]
#[ignore = "needs SAMCELL_REAL_GOLDEN (outputs of reference/gen_target_fixtures.py on the shared data)"]
fn usiigaci_crop_matches_reference() {
    let golden = PathBuf::from(
        std::env::var_os("SAMCELL_REAL_GOLDEN")
            .expect("set SAMCELL_REAL_GOLDEN to the folder reference/gen_target_fixtures.py wrote the real-data goldens to"),
    );
    let Some(usiigaci) = samcell_testdata::require_data("usiigaci-phc") else {
        return;
    };
    let path = usiigaci.join("train/masks/set1.png");
    let full = read_labels(&path).unwrap_or_else(|e| panic!("{e} (SAMCELL_DATA)"));
    let crop = full.crop(384, 384, 256, 256).unwrap();
    let cells: Vec<usize> = (0..crop.data().len())
        .filter(|&i| crop.data()[i] != 0)
        .collect();
    assert!(cells.len() > 10_000, "crop should be mostly cells");
    for m in [TargetMethod::Chamfer3, TargetMethod::Edt] {
        let (_, want) = npy_in::<f32>(&golden, &format!("target_usiigaci_{}", m.name()));
        let t = distance_target(&crop, m);
        let got: Vec<f32> = cells.iter().map(|&i| t.data()[i]).collect();
        assert!(
            cells.iter().all(|&i| t.data()[i] > 0.0),
            "every cell pixel is > 0"
        );
        assert_eq!(
            t.data().iter().filter(|&&v| v != 0.0).count(),
            cells.len(),
            "background is 0"
        );
        let d = max_diff(&got, &want);
        println!("usiigaci {}: max |diff| = {d:e}", m.name());
        assert!(
            d <= TOL,
            "usiigaci {}: max |diff| {d} > {TOL} (tolerance 1e-6)",
            m.name()
        );
    }
}

#[test]
fn edt_and_chamfer_differ_but_agree_on_peaks() {
    // Guards against both methods silently computing the same thing.
    let (shape, lab) = npy::<u32>("target_voronoi_labels");
    let labels = Labels::from_vec(shape[1], shape[0], lab).unwrap();
    let a = distance_target(&labels, TargetMethod::Chamfer3);
    let b = distance_target(&labels, TargetMethod::Edt);
    assert!(max_diff(a.data(), b.data()) > 0.01);
    let ones = |m: &samcell_imaging::MapF32| m.data().iter().filter(|&&v| v == 1.0).count();
    assert!(ones(&a) >= 14 && ones(&b) >= 14, "each cell reaches 1");
}
