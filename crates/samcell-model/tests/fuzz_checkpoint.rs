//! Property-based fuzzing of the checkpoint reader (`Checkpoint::read`, then `validate`): a tiny
//! safetensors file and a tiny `torch.save`-style zip (a pickle of `_rebuild_tensor_v2` calls and
//! its storages), built here, are mutated and read back. Every outcome must be `Ok` or `Err`: a
//! panic fails the test.
//!
//! Mutations: raw bytes of the whole file (bit flips, overwrites, truncation, 8-byte header
//! fields set to extreme values), and, for the zip, the pickle and the storage bytes *before*
//! zipping (so that they get past the zip's CRC checks and reach the pickle reader).
//!
//! CI runs 1,500 cases (a few seconds), after replaying the saved failures in
//! `fuzz_checkpoint.proptest-regressions`; `SAMCELL_FUZZ_CASES=50000 cargo test --release -p
//! samcell-model --test fuzz_checkpoint` runs a longer campaign.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use samcell_model::{Checkpoint, HeadOverrides};
use samcell_testdata::mutate::{self, Mutation};

/// A safetensors file with two small f32 tensors under Hugging Face-like keys.
fn safetensors_seed() -> Vec<u8> {
    let a: Vec<u8> = (0..6)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let b: Vec<u8> = (0..4)
        .flat_map(|i| (1.0 - i as f32).to_le_bytes())
        .collect();
    let views = vec![
        (
            "vision_encoder.neck.conv1.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &a)
                .expect("view"),
        ),
        (
            "mask_decoder.iou_token.weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1, 4], &b)
                .expect("view"),
        ),
    ];
    safetensors::tensor::serialize(views, None).expect("serialize")
}

fn unicode(p: &mut Vec<u8>, s: &str) {
    p.push(b'X');
    p.extend_from_slice(&(s.len() as u32).to_le_bytes());
    p.extend_from_slice(s.as_bytes());
}

fn int(p: &mut Vec<u8>, v: u32) {
    p.push(b'J');
    p.extend_from_slice(&v.to_le_bytes());
}

/// `archive/data.pkl` of `torch.save(state_dict)` (protocol 2) for `(key, storage, shape)`.
fn pickle(tensors: &[(&str, &str, &[u32])]) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'('];
    for (key, storage, shape) in tensors {
        unicode(&mut p, key);
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        // persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
        p.push(b'(');
        unicode(&mut p, "storage");
        p.extend_from_slice(b"ctorch\nFloatStorage\n");
        unicode(&mut p, storage);
        unicode(&mut p, "cpu");
        int(&mut p, shape.iter().product());
        p.extend_from_slice(b"tQ");
        int(&mut p, 0); // storage offset
        p.push(b'(');
        for &d in *shape {
            int(&mut p, d);
        }
        p.push(b't');
        p.push(b'(');
        let mut stride = 1;
        let mut strides = vec![0; shape.len()];
        for (i, &d) in shape.iter().enumerate().rev() {
            strides[i] = stride;
            stride *= d;
        }
        for s in strides {
            int(&mut p, s);
        }
        p.push(b't');
        p.push(0x89); // requires_grad False
        p.extend_from_slice(b"ccollections\nOrderedDict\n)R"); // backward hooks
        p.extend_from_slice(b"tR");
    }
    p.extend_from_slice(b"u.");
    p
}

const PT_TENSORS: [(&str, &str, &[u32]); 2] = [
    ("vision_encoder.neck.conv1.weight", "0", &[2, 3]),
    ("mask_decoder.iou_token.weight", "1", &[1, 4]),
];

fn storages() -> Vec<Vec<u8>> {
    vec![
        (0..6)
            .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
            .collect(),
        (0..4)
            .flat_map(|i| (i as f32 - 2.0).to_le_bytes())
            .collect(),
    ]
}

/// A `torch.save` zip: `archive/data.pkl`, `archive/data/<k>`, `archive/version` (stored).
fn torch_zip(pkl: &[u8], storages: &[Vec<u8>]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", opts).expect("zip");
    z.write_all(pkl).expect("zip");
    for (k, s) in storages.iter().enumerate() {
        z.start_file(format!("archive/data/{k}"), opts)
            .expect("zip");
        z.write_all(s).expect("zip");
    }
    z.start_file("archive/version", opts).expect("zip");
    z.write_all(b"3\n").expect("zip");
    z.finish().expect("zip").into_inner()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let extreme = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::from(u32::MAX)),
        Just(u64::MAX),
        Just(1 << 40),
        any::<u64>()
    ];
    // 8 bytes set to an extreme little-endian value (safetensors header length, offsets)
    let field = (0usize..160, extreme).prop_map(|(at, value)| Mutation::Field {
        at,
        bytes: value.to_le_bytes().to_vec(),
    });
    prop_oneof![
        mutate::flip(),
        mutate::set(),
        mutate::truncate(),
        mutate::insert(12),
        field
    ]
}

fn apply(b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    mutate::apply(b, m, &[])
}

/// Reads (and, if that works, validates) a checkpoint file; returns whether it was read.
fn read(path: &Path) -> bool {
    match Checkpoint::read(path) {
        Ok(c) => {
            let _ = c.validate(path, HeadOverrides::default());
            true
        }
        Err(_) => false,
    }
}

fn cases() -> u32 {
    std::env::var("SAMCELL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

#[test]
fn seeds_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let st = dir.path().join("seed.safetensors");
    std::fs::write(&st, safetensors_seed()).expect("write");
    let pt = dir.path().join("seed.pt");
    std::fs::write(&pt, torch_zip(&pickle(&PT_TENSORS), &storages())).expect("write");
    for p in [&st, &pt] {
        let c = Checkpoint::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(c.tensors.len(), 2, "{}", p.display());
        // not a whole SAM: validation says so, without panicking
        assert!(c.validate(p, HeadOverrides::default()).is_err());
    }
}

/// Defect found by this harness: a storage id tuple with 4 fields instead of 5 made candle's
/// pickle reader panic (`Vec::remove` out of range) instead of giving an error.
#[test]
fn short_storage_id_is_an_error_not_a_panic() {
    let good = pickle(&PT_TENSORS);
    let cpu = b"X\x03\x00\x00\x00cpu";
    let mut bad = Vec::new();
    let mut i = 0;
    while i < good.len() {
        if good[i..].starts_with(cpu) {
            bad.extend_from_slice(cpu);
            i += cpu.len() + 5; // drop the `J <numel>` that follows
        } else {
            bad.push(good[i]);
            i += 1;
        }
    }
    assert_eq!(bad.len(), good.len() - 10, "both storage ids shortened");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short_id.pt");
    std::fs::write(&path, torch_zip(&bad, &storages())).expect("write");
    let e = Checkpoint::read(&path)
        .err()
        .expect("a malformed archive must be refused")
        .to_string();
    assert!(e.contains("short_id.pt") && e.contains("malformed"), "{e}");
}

/// Defect found by this harness: a pickle whose shape claims a tensor far larger than its
/// storage (here 60000 x 60000 f32, 14.4 GB, over 24 bytes) made candle's loader allocate the
/// declared size before reading, so the process aborted for lack of memory instead of refusing
/// the file.
#[test]
fn a_shape_larger_than_its_storage_is_refused_before_allocating() {
    let tensors: [(&str, &str, &[u32]); 2] = [
        ("vision_encoder.neck.conv1.weight", "0", &[60000, 60000]),
        ("mask_decoder.iou_token.weight", "1", &[1, 4]),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge_shape.pt");
    std::fs::write(&path, torch_zip(&pickle(&tensors), &storages())).expect("write");
    let e = Checkpoint::read(&path)
        .err()
        .expect("a tensor larger than its storage must be refused")
        .to_string();
    assert!(
        e.contains("huge_shape.pt")
            && e.contains("vision_encoder.neck.conv1.weight")
            && e.contains("needs more bytes than its storage"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..Config::default()
    })]

    #[test]
    fn mutated_checkpoints_never_panic(kind in 0u8..4, muts in prop::collection::vec(mutation(), 1..4)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ckpt");
        let bytes = match kind {
            // the safetensors file, raw
            0 => muts.iter().fold(safetensors_seed(), apply),
            // the zip, raw
            1 => muts.iter().fold(torch_zip(&pickle(&PT_TENSORS), &storages()), apply),
            // the pickle, then zipped
            2 => torch_zip(&muts.iter().fold(pickle(&PT_TENSORS), apply), &storages()),
            // a storage, then zipped (sizes that no longer match the shapes)
            _ => {
                let mut s = storages();
                s[0] = muts.iter().fold(s[0].clone(), apply);
                torch_zip(&pickle(&PT_TENSORS), &s)
            }
        };
        std::fs::write(&path, &bytes).expect("write");
        let _ = read(&path);
    }
}
