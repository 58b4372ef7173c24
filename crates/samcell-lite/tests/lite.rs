//! samcell-lite: weights round trip, shapes, the predictor seam and the built-in model's hash.

use candle_core::{Device, Tensor};
use samcell_imaging::GrayU8;
use samcell_lite::{
    builtin_nuclei_weights, builtin_weights, encode, init_params, param_count, param_specs,
    sha256_hex, to_safetensors_bytes, LiteConfig, LiteError, LiteModel, LitePredictor,
    BUILTIN_SHA256, NUCLEI_SHA256,
};
use samcell_pipeline::{DistanceMapPredictor, SegmentConfig, Segmenter};
use std::sync::Arc;

/// A small network for fast tests.
fn small() -> LiteConfig {
    LiteConfig {
        base_width: 4,
        levels: 2,
        norm_groups: 2,
        crop: 96,
        overlap: 16,
    }
}

fn gradient_crop(w: usize, h: usize, phase: usize) -> GrayU8 {
    let data = (0..w * h)
        .map(|i| (((i % w) * 7 + (i / w) * 3 + phase) % 256) as u8)
        .collect();
    GrayU8::from_vec(w, h, data).expect("crop")
}

#[test]
fn config_default_round_trips_and_counts() {
    let c = LiteConfig::default();
    assert_eq!(LiteConfig::from_json(&c.to_json()).expect("parse"), c);
    assert!(
        c.crop % c.multiple() == 0,
        "the default crop needs no padding"
    );
    // Parameter count from the specs equals the sum over the initialised tensors.
    let params = init_params(&c, 1, &Device::Cpu).expect("init");
    let n: usize = params.iter().map(|(_, t)| t.elem_count()).sum();
    assert_eq!(n, param_count(&c));
    assert!(
        n < 1_000_000,
        "the shipped model must stay a few MB: {n} parameters"
    );
    // The two full-resolution encoder convs alone are 9 * (1 * w0 + w0 * w0) MACs per pixel;
    // the total (all levels, decoder, 1x1 convs) is larger but below 3x the per-level bound.
    let w0 = c.base_width as u64;
    let full = 9 * (w0 + w0 * w0) * 576 * 576;
    assert!(
        c.macs(576, 576) > full && c.macs(576, 576) < 20 * full,
        "{} vs {full}",
        c.macs(576, 576)
    );
    assert_eq!(
        c.macs(570, 570),
        c.macs(576, 576),
        "sizes are padded to a multiple of 2^levels"
    );
    assert!(LiteConfig::from_json(
        r#"{"base_width":6,"levels":2,"norm_groups":4,"crop":64,"overlap":8}"#
    )
    .is_err());
    assert!(LiteConfig::from_json(
        r#"{"base_width":8,"levels":2,"norm_groups":0,"crop":64,"overlap":32}"#
    )
    .is_err());
}

#[test]
fn init_is_seeded_and_kaiming_scaled() {
    let c = small();
    let a = init_params(&c, 42, &Device::Cpu).expect("init");
    let b = init_params(&c, 42, &Device::Cpu).expect("init");
    let d = init_params(&c, 43, &Device::Cpu).expect("init");
    let get = |p: &[(String, Tensor)], k: &str| -> Vec<f32> {
        p.iter()
            .find(|(n, _)| n == k)
            .expect(k)
            .1
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    assert_eq!(get(&a, "mid.conv2.weight"), get(&b, "mid.conv2.weight"));
    assert_ne!(get(&a, "mid.conv2.weight"), get(&d, "mid.conv2.weight"));
    // mid.conv2: 16 -> 16 channels 3x3, fan_in 144, std sqrt(2/144) = 0.118 (within 15 %).
    let w = get(&a, "mid.conv2.weight");
    let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
    assert!(
        (std - (2.0f32 / 144.0).sqrt()).abs() < 0.15 * 0.118,
        "std {std}"
    );
    assert!(get(&a, "mid.conv2.bias").iter().all(|&v| v == 0.0));
    assert!(get(&a, "mid.norm1.weight").iter().all(|&v| v == 1.0));
}

#[test]
fn weights_round_trip_and_are_self_describing() {
    let c = small();
    let params = init_params(&c, 5, &Device::Cpu).expect("init");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lite.safetensors");
    samcell_lite::save_safetensors(&path, &c, &params).expect("save");
    let bytes = std::fs::read(&path).expect("read back");
    let model = LiteModel::load(&path).expect("load");
    assert_eq!(model.config, c, "the config comes from the file's metadata");
    assert_eq!(model.sha256, sha256_hex(&bytes));
    let direct = LiteModel::from_params(&c, &params).expect("from params");
    let x = encode(&[gradient_crop(40, 36, 0)], &Device::Cpu).expect("encode");
    let a: Vec<f32> = model
        .net
        .forward_logits(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = direct
        .net
        .forward_logits(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(a, b, "saved and loaded weights give bit-identical logits");
    assert_eq!(a.len(), 40 * 36);
    assert!(samcell_lite::is_lite_file(&path));
    let other = dir.path().join("other.bin");
    std::fs::write(&other, b"\x10\0\0\0\0\0\0\0{\"a\":1}").expect("write");
    assert!(!samcell_lite::is_lite_file(&other));
    assert!(!samcell_lite::is_lite_file(&dir.path().join("missing")));
    assert_eq!(
        samcell_lite::untrained_file_bytes(&c, 5).expect("bytes"),
        bytes,
        "same seed, same file"
    );
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    let c = small();
    let params = init_params(&c, 5, &Device::Cpu).expect("init");
    // Missing tensor.
    let fewer: Vec<(String, Tensor)> = params.iter().skip(1).cloned().collect();
    assert!(to_safetensors_bytes(&c, &fewer).is_err());
    // Tensors of another configuration.
    let bigger = LiteConfig {
        base_width: 8,
        ..c.clone()
    };
    assert!(to_safetensors_bytes(&bigger, &params).is_err());
    // A safetensors file that is not ours (no metadata).
    let foreign = safetensors::tensor::serialize(
        Vec::<(&str, &safetensors::tensor::TensorView)>::new(),
        None,
    )
    .expect("empty file");
    match LiteModel::from_bytes(&foreign) {
        Err(LiteError::Format(m)) => assert!(m.contains("samcell-lite"), "{m}"),
        other => panic!("expected a format error, got {other:?}"),
    }
    match LiteModel::from_bytes(b"not a file at all") {
        Err(LiteError::Format(m)) => assert!(m.contains("safetensors"), "{m}"),
        other => panic!("expected a format error, got {other:?}"),
    }
    assert!(param_specs(&c)
        .iter()
        .all(|s| params.iter().any(|(n, _)| *n == s.name)));
}

#[test]
fn predictor_maps_have_crop_size_and_unit_range_for_ragged_batches() {
    let c = small();
    let model = LiteModel::from_params(&c, &init_params(&c, 9, &Device::Cpu).expect("init"))
        .expect("model");
    let pred = LitePredictor::new(model, 2);
    // Sizes that need padding (not multiples of 4), mixed within one call.
    let crops = vec![
        gradient_crop(96, 96, 0),
        gradient_crop(50, 96, 1),
        gradient_crop(96, 96, 2),
        gradient_crop(33, 17, 3),
    ];
    let maps = pred.predict(&crops).expect("predict");
    assert_eq!(maps.len(), 4);
    for (m, c) in maps.iter().zip(&crops) {
        assert_eq!((m.width(), m.height()), (c.width(), c.height()));
        assert!(m
            .data()
            .iter()
            .all(|v| (0.0..=1.0).contains(v) && v.is_finite()));
    }
    // Order is kept: crop 2 predicted alone gives the same map as within the batch.
    let alone = pred.predict(&crops[2..3]).expect("predict");
    let diff = alone[0]
        .data()
        .iter()
        .zip(maps[2].data())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        diff < 1e-5,
        "batching changed the map by {diff} (tolerance 1e-5)"
    );
    assert!(pred.describe().contains("samcell-lite"));
}

#[test]
fn segmenter_runs_end_to_end_with_the_model_tiling() {
    let c = small();
    let model = LiteModel::from_params(&c, &init_params(&c, 3, &Device::Cpu).expect("init"))
        .expect("model");
    let tiling = model.config.tiling();
    let seg = Segmenter::new(
        Arc::new(LitePredictor::new(model, 4)),
        SegmentConfig::default(),
    );
    // the predictor asks for the tiling stored in its weights, and the segmenter uses it
    assert_eq!(seg.predictor().tiling(), tiling);
    assert_eq!(seg.tiling(), tiling);
    let img = gradient_crop(200, 150, 0);
    let out = seg.segment(&img).expect("segment");
    assert_eq!(
        (out.distance_map.width(), out.distance_map.height()),
        (200, 150)
    );
    assert_eq!((out.labels.width(), out.labels.height()), (200, 150));
}

#[test]
fn builtin_model_matches_its_recorded_hash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let file = root.join("samcell-lite.safetensors");
    match builtin_weights() {
        Some(bytes) => {
            let recorded = std::fs::read_to_string(root.join("samcell-lite.sha256"))
                .expect("the .sha256 file");
            let recorded = recorded.split_whitespace().next().expect("a hash");
            assert_eq!(
                sha256_hex(bytes),
                recorded,
                "embedded bytes vs models/samcell-lite.sha256"
            );
            assert_eq!(BUILTIN_SHA256, Some(recorded));
            let m = LiteModel::builtin().expect("the built-in model loads");
            assert_eq!(m.sha256, recorded);
        }
        None => {
            assert!(
                !file.exists(),
                "{} exists but was not embedded",
                file.display()
            );
            assert!(matches!(LiteModel::builtin(), Err(LiteError::NoBuiltin)));
            assert!(LiteError::NoBuiltin.to_string().contains("no lite model"));
        }
    }
}

#[test]
fn builtin_nuclei_model_matches_its_recorded_hash() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let file = root.join("samcell-lite-nuclei.safetensors");
    match builtin_nuclei_weights() {
        Some(bytes) => {
            let recorded = std::fs::read_to_string(root.join("samcell-lite-nuclei.sha256"))
                .expect("the .sha256 file");
            let recorded = recorded.split_whitespace().next().expect("a hash");
            assert_eq!(sha256_hex(bytes), recorded);
            assert_eq!(NUCLEI_SHA256, Some(recorded));
            let m = LiteModel::builtin_nuclei().expect("the built-in nuclei model loads");
            assert_eq!(m.sha256, recorded);
            // trained on SAMCell's 256 + 32 tiles (MODEL_CARD.md)
            assert_eq!((m.config.crop, m.config.overlap), (256, 32));
        }
        None => {
            assert!(
                !file.exists(),
                "{} exists but was not embedded",
                file.display()
            );
            assert!(matches!(
                LiteModel::builtin_nuclei(),
                Err(LiteError::NoBuiltinNuclei)
            ));
        }
    }
}
