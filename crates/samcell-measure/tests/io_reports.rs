//! Label reading (TIFF/PNG of several integer types), CSV writers, file pairing and the
//! evaluation report writers.

use image::ImageEncoder;
use samcell_imaging::{GrayU8, Labels};
use samcell_measure::eval::{eval_csv_string, write_eval_csv, write_eval_json};
use samcell_measure::{
    evaluate_dirs, measure_labels, pair_by_stem, read_labels, write_cells_csv, write_summary_csv,
    Intensity, MeasureConfig,
};
use std::io::Cursor;
use std::path::Path;
use tiff::encoder::{colortype, TiffEncoder};

fn tiff_bytes<C: colortype::ColorType>(w: u32, h: u32, data: &[C::Inner]) -> Vec<u8>
where
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut cur = Cursor::new(Vec::new());
    TiffEncoder::new(&mut cur)
        .expect("encoder")
        .write_image::<C>(w, h, data)
        .expect("tiff");
    cur.into_inner()
}

fn png_bytes(w: u32, h: u32, data: &[u8], color: image::ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(data, w, h, color)
        .expect("png");
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn reads_integer_label_images_of_every_type() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let want = |v: &[u32]| Labels::from_vec(3, 2, v.to_vec()).expect("labels");
    let p = write(
        d,
        "u8.tif",
        &tiff_bytes::<colortype::Gray8>(3, 2, &[0, 1, 2, 3, 255, 0]),
    );
    assert_eq!(
        read_labels(&p).expect("u8 tiff"),
        want(&[0, 1, 2, 3, 255, 0])
    );
    let p = write(
        d,
        "u16.tif",
        &tiff_bytes::<colortype::Gray16>(3, 2, &[0, 1, 65535, 3, 4, 0]),
    );
    assert_eq!(
        read_labels(&p).expect("u16 tiff"),
        want(&[0, 1, 65535, 3, 4, 0])
    );
    let p = write(
        d,
        "u32.tif",
        &tiff_bytes::<colortype::Gray32>(3, 2, &[0, 70_000, u32::MAX, 3, 4, 0]),
    );
    assert_eq!(
        read_labels(&p).expect("u32 tiff"),
        want(&[0, 70_000, u32::MAX, 3, 4, 0])
    );
    let p = write(
        d,
        "i32.tif",
        &tiff_bytes::<colortype::GrayI32>(3, 2, &[0, 1, 2, 3, 100_000, 0]),
    );
    assert_eq!(
        read_labels(&p).expect("i32 tiff"),
        want(&[0, 1, 2, 3, 100_000, 0])
    );
    let p = write(
        d,
        "f32.tif",
        &tiff_bytes::<colortype::Gray32Float>(3, 2, &[0.0, 1.0, 2.0, 3.0, 4.0, 0.0]),
    );
    assert_eq!(
        read_labels(&p).expect("integral f32 tiff"),
        want(&[0, 1, 2, 3, 4, 0])
    );
    let p = write(
        d,
        "neg.tif",
        &tiff_bytes::<colortype::GrayI32>(3, 2, &[0, -1, 2, 3, 4, 0]),
    );
    let e = read_labels(&p).expect_err("negative").to_string();
    assert!(e.contains("neg.tif") && e.contains("-1"), "{e}");
    let p = write(
        d,
        "frac.tif",
        &tiff_bytes::<colortype::Gray32Float>(3, 2, &[0.0, 1.5, 2.0, 3.0, 4.0, 0.0]),
    );
    assert!(read_labels(&p)
        .expect_err("fraction")
        .to_string()
        .contains("1.5"));
    let p = write(
        d,
        "l8.png",
        &png_bytes(3, 2, &[0, 1, 2, 3, 4, 5], image::ExtendedColorType::L8),
    );
    assert_eq!(read_labels(&p).expect("png L8"), want(&[0, 1, 2, 3, 4, 5]));
    let l16: Vec<u8> = [0u16, 1, 300, 65535, 4, 5]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let p = write(
        d,
        "l16.png",
        &png_bytes(3, 2, &l16, image::ExtendedColorType::L16),
    );
    assert_eq!(
        read_labels(&p).expect("png L16"),
        want(&[0, 1, 300, 65535, 4, 5])
    );
    let p = write(
        d,
        "rgb.png",
        &png_bytes(1, 1, &[1, 2, 3], image::ExtendedColorType::Rgb8),
    );
    assert!(read_labels(&p)
        .expect_err("rgb")
        .to_string()
        .contains("not a label image"));
    let p = write(d, "x.jpg", &[0xff, 0xd8, 0xff, 0xe0, 0, 0]);
    assert!(read_labels(&p)
        .expect_err("jpeg")
        .to_string()
        .contains("JPEG"));
    let e = read_labels(&d.join("missing.tif"))
        .expect_err("missing")
        .to_string();
    assert!(e.contains("missing.tif"), "{e}");
}

#[test]
fn csv_files_have_units_nan_and_one_row_per_cell() {
    let l = Labels::from_vec(4, 2, vec![1, 1, 0, 9, 1, 1, 0, 0]).expect("labels");
    let inten = GrayU8::from_vec(4, 2, vec![10, 20, 0, 7, 30, 40, 0, 0]).expect("image");
    let m = measure_labels(&l, Some(Intensity::U8(&inten)), &MeasureConfig::default())
        .expect("measure");
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("img_cells.csv");
    write_cells_csv(&p, &m).expect("cells csv");
    let text = std::fs::read_to_string(&p).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 cells");
    let header: Vec<&str> = lines[0].split(',').collect();
    for col in [
        "Area_px2",
        "Perimeter_px",
        "Orientation_deg",
        "MeanIntensity",
        "NumberOfNeighbors_5",
        "FirstClosestDistance_px",
    ] {
        assert!(header.contains(&col), "{col} in {header:?}");
    }
    let row: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(row.len(), header.len());
    let get = |r: &[&str], name: &str| {
        r[header.iter().position(|h| *h == name).expect("column")].to_string()
    };
    assert_eq!(get(&row, "label"), "9");
    assert_eq!(get(&row, "Eccentricity"), "NaN", "one-pixel cell");
    let first: Vec<&str> = lines[1].split(',').collect();
    // CellProfiler's 0..1 convention (8-bit / 255), the stored values in the _raw columns
    assert_eq!(get(&first, "MeanIntensity"), format!("{}", 25.0 / 255.0));
    assert_eq!(get(&first, "MeanIntensity_raw"), "25");
    assert_eq!(get(&first, "IntegratedIntensity_raw"), "100");
    assert_eq!(get(&first, "MaxIntensity"), format!("{}", 40.0 / 255.0));
    assert_eq!(
        get(&first, "StdIntensity_raw"),
        format!("{}", 125f64.sqrt()),
        "population std of 10,20,30,40"
    );
    let s = m.summary("img, with comma");
    let p = dir.path().join("summary.csv");
    write_summary_csv(&p, &[s.clone(), s]).expect("summary");
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.starts_with(
        "image,width_px,height_px,cell_count,mean_area_px2,median_area_px2,confluency_fraction,"
    ));
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.lines()
            .nth(1)
            .expect("row")
            .starts_with("\"img, with comma\",4,2,2,2.5,2.5,0.625,"),
        "{text}"
    );
    // writing into a missing folder fails with the path in the message
    let e = write_cells_csv(&dir.path().join("no/such/dir/x.csv"), &m)
        .expect_err("missing dir")
        .to_string();
    assert!(e.contains("x.csv"), "{e}");
}

#[test]
fn pairing_by_stem_and_directory_evaluation() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pred, gt) = (dir.path().join("pred"), dir.path().join("gt"));
    std::fs::create_dir_all(&pred).expect("mkdir");
    std::fs::create_dir_all(&gt).expect("mkdir");
    let a = Labels::from_vec(4, 2, vec![1, 1, 0, 2, 1, 1, 0, 2]).expect("labels");
    let b = Labels::from_vec(4, 2, vec![0, 0, 0, 0, 0, 3, 3, 0]).expect("labels");
    samcell_io::write_labels_tiff(&pred.join("a_masks.tif"), &a).expect("w");
    samcell_io::write_labels_tiff(&pred.join("b_masks.tif"), &b).expect("w");
    std::fs::write(pred.join("a_overlay.png"), b"not read").expect("w");
    std::fs::write(pred.join("notes.txt"), b"ignored").expect("w");
    samcell_io::write_labels_tiff(&gt.join("a.tif"), &a).expect("w");
    samcell_io::write_labels_tiff(&gt.join("b.tif"), &Labels::filled(4, 2, 0)).expect("w");
    let pairs = pair_by_stem(&pred, &gt).expect("pairs");
    assert_eq!(
        pairs.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert!(pairs[0].pred.ends_with("a_masks.tif") && pairs[0].gt.ends_with("a.tif"));
    let r = evaluate_dirs(&pred, &gt).expect("evaluate");
    assert_eq!(r.images.len(), 2);
    assert_eq!(r.images[0].scores.seg, 1.0);
    assert!(
        r.images[1].scores.seg.is_nan(),
        "b has an empty ground truth"
    );
    assert_eq!(r.pooled.seg, 1.0);
    assert_eq!(
        r.pooled.det,
        1.0 - 1.0 / 20.0,
        "b's one prediction is a pooled false positive"
    );
    let table = r.table();
    assert!(
        table.contains("pooled (2 images)") && table.contains("OP_CSB"),
        "{table}"
    );
    let csv = eval_csv_string(&r);
    assert_eq!(csv.lines().count(), 4, "header, 2 images, pooled");
    assert!(
        csv.lines()
            .nth(2)
            .expect("b")
            .starts_with("b,0,1,NaN,NaN,NaN,"),
        "{csv}"
    );
    write_eval_csv(&dir.path().join("eval.csv"), &r).expect("csv");
    write_eval_json(&dir.path().join("eval.json"), &r).expect("json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("eval.json")).expect("read"))
            .expect("parse");
    assert!(v["images"][1]["scores"]["seg"].is_null());
    assert_eq!(v["pooled"]["seg"], 1.0);

    // CTC names pair by frame number
    let (p2, g2) = (dir.path().join("res"), dir.path().join("SEG"));
    std::fs::create_dir_all(&p2).expect("mkdir");
    std::fs::create_dir_all(&g2).expect("mkdir");
    samcell_io::write_labels_tiff(&p2.join("mask004.tif"), &a).expect("w");
    samcell_io::write_labels_tiff(&g2.join("man_seg004.tif"), &a).expect("w");
    assert_eq!(pair_by_stem(&p2, &g2).expect("ctc pairs")[0].key, "004");

    // unpaired files are listed on both sides
    samcell_io::write_labels_tiff(&pred.join("c_masks.tif"), &a).expect("w");
    samcell_io::write_labels_tiff(&gt.join("d.tif"), &a).expect("w");
    let e = pair_by_stem(&pred, &gt).expect_err("unpaired").to_string();
    assert!(
        e.contains("c_masks.tif")
            && e.contains("d.tif")
            && e.contains("without ground truth")
            && e.contains("without prediction"),
        "{e}"
    );
    // duplicate keys
    samcell_io::write_labels_tiff(&gt.join("d_labels.tif"), &a).expect("w");
    std::fs::remove_file(gt.join("d.tif")).expect("rm");
    samcell_io::write_labels_tiff(&gt.join("c_label.png"), &a).expect("w");
    samcell_io::write_labels_tiff(&gt.join("c_mask.tif"), &a).expect("w");
    let e = pair_by_stem(&pred, &gt).expect_err("duplicate").to_string();
    assert!(
        e.contains("same key") && e.contains("c_label.png") && e.contains("c_mask.tif"),
        "{e}"
    );
}
