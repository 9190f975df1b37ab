//! The corruption suite: every damaged or foreign file must give an `Err` of the right
//! variant, never a panic and never a partial result. Truncation at every byte offset,
//! 1,000 seeded single-bit flips, random garbage, an empty file, a directory, a file from
//! a future format version, a checkpoint of another architecture loaded into a model
//! (which must stay unchanged), and the same for training checkpoints and safetensors.
//! Last, a property-style run of mutated files whose checksum is recomputed, so that the
//! mutations reach the metadata and payload parsers behind the checksum.

mod common;

use std::path::Path;

use common::*;
use kindling_checkpoint::fuzzing;
use kindling_checkpoint::{
    load, load_into, load_safetensors, load_training, save, save_safetensors, save_training,
    CheckpointError, TrainingCheckpoint, FORMAT_VERSION, HEADER_LEN, MAGIC,
};
use kindling_core::rng::Xoshiro256;
use kindling_nn::{BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Sequential};
use kindling_optim::{Optimizer, Sgd};
use rand::RngCore;

fn variant(e: &CheckpointError) -> &'static str {
    match e {
        CheckpointError::Io { .. } => "Io",
        CheckpointError::Truncated { .. } => "Truncated",
        CheckpointError::BadChecksum { .. } => "BadChecksum",
        CheckpointError::BadMagic { .. } => "BadMagic",
        CheckpointError::UnsupportedVersion { .. } => "UnsupportedVersion",
        CheckpointError::Corrupt { .. } => "Corrupt",
        CheckpointError::WrongKind { .. } => "WrongKind",
        CheckpointError::UnsupportedDtype { .. } => "UnsupportedDtype",
        CheckpointError::Mismatch { .. } => "Mismatch",
        CheckpointError::Optimizer { .. } => "Optimizer",
        _ => "other",
    }
}

/// A training checkpoint of the small CNN with SGD momentum state.
fn saved_training(path: &Path) {
    let mut model = small_cnn(5);
    train_one_step(&mut model);
    let mut opt = Sgd::new(model.parameters(), 0.1).momentum(0.9);
    model.forward(&inputs(2)).sum().backward();
    opt.step();
    let ckpt = TrainingCheckpoint::capture(&model, &opt, 1, 2).with_extra("k", "v");
    save_training(&ckpt, path).unwrap();
}

/// The error of loading `bytes` written to `path`, through `load` and `load_training`;
/// both must fail with the same variant.
fn load_err(path: &Path, bytes: &[u8]) -> CheckpointError {
    std::fs::write(path, bytes).unwrap();
    let e1 = load(path).expect_err("load accepted a damaged file");
    let e2 = load_training(path).expect_err("load_training accepted a damaged file");
    assert_eq!(variant(&e1), variant(&e2), "{e1} / {e2}");
    assert_eq!(e1.path(), Some(path), "the error names the file");
    e1
}

#[test]
fn truncation_at_every_offset_is_truncated() {
    let dir = Scratch::new("trunc");
    for (name, kind) in [("model.kdl", "model"), ("train.kdl", "training")] {
        let good = dir.path(name);
        if kind == "model" {
            saved_small_cnn(&good);
        } else {
            saved_training(&good);
        }
        let bytes = std::fs::read(&good).unwrap();
        assert!(bytes.len() > 1000, "{name}: {} bytes", bytes.len());
        let cut = dir.path("cut.kdl");
        for n in 0..bytes.len() {
            match load_err(&cut, &bytes[..n]) {
                CheckpointError::Truncated {
                    expected, found, ..
                } => {
                    assert_eq!(found, n as u64);
                    assert!(expected > found);
                }
                other => panic!("{kind} cut at {n}: expected Truncated, got {other}"),
            }
        }
    }
}

#[test]
fn a_thousand_bit_flips_are_all_detected() {
    let dir = Scratch::new("flips");
    let good = dir.path("model.kdl");
    saved_small_cnn(&good);
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path("flipped.kdl");
    let mut rng = Xoshiro256::seed_from(2024);
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..1000 {
        let bit = (rng.next_u64() % (bytes.len() as u64 * 8)) as usize;
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let err = load_err(&bad, &flipped);
        let at = bit / 8;
        let v = variant(&err);
        // Which check catches it depends on where the flip lands.
        let ok = match at {
            0..=7 => v == "BadMagic",
            8..=11 => v == "UnsupportedVersion" || v == "Corrupt", // 1 -> 0 is Corrupt
            16..=31 => v == "Truncated" || v == "Corrupt",         // the lengths
            _ => v == "BadChecksum", // kind, the checksum itself, metadata, payload
        };
        assert!(ok, "flip of bit {bit} (byte {at}) gave {v}: {err}");
        *counts.entry(v).or_insert(0) += 1;
    }
    println!("1000 bit flips: {counts:?}");
}

#[test]
fn garbage_empty_files_and_directories() {
    let dir = Scratch::new("garbage");
    let path = dir.path("g.kdl");
    let mut rng = Xoshiro256::seed_from(7);
    for i in 0..200 {
        let len = (rng.next_u64() % 5000) as usize;
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        if len > 0 && bytes[0] == MAGIC[0] {
            bytes[0] = 0; // keep this case about garbage, not about a cut-off magic
        }
        let err = load_err(&path, &bytes);
        let expected = if len == 0 { "Truncated" } else { "BadMagic" };
        assert_eq!(variant(&err), expected, "garbage #{i} ({len} bytes): {err}");
        // The same bytes as safetensors: an error, whatever it is.
        std::fs::write(&path, &bytes).unwrap();
        assert!(load_safetensors(&path).is_err());
    }

    // An empty file.
    let err = load_err(&path, b"");
    assert!(
        matches!(err, CheckpointError::Truncated { found: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("is empty (0 bytes)"), "{err}");

    // A directory.
    let err = load(&dir.0).unwrap_err();
    match &err {
        CheckpointError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::IsADirectory, "{err}")
        }
        other => panic!("expected Io, got {other}"),
    }
    assert!(matches!(
        load_training(&dir.0),
        Err(CheckpointError::Io { .. })
    ));
    assert!(matches!(
        load_safetensors(&dir.0),
        Err(CheckpointError::Io { .. })
    ));

    // A missing file.
    let err = load(dir.path("missing.kdl")).unwrap_err();
    match &err {
        CheckpointError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("expected Io, got {other}"),
    }
}

#[test]
fn foreign_formats_are_named() {
    let dir = Scratch::new("foreign");
    let path = dir.path("f");
    // A safetensors file given to the native loader, and the other way round.
    let st = dir.path("m.safetensors");
    save_safetensors(&small_cnn(1).state_dict(), &st).unwrap();
    let err = load(&st).unwrap_err();
    assert!(
        err.to_string()
            .contains("it looks like a safetensors file: load it with load_safetensors"),
        "{err}"
    );
    let native = dir.path("m.kdl");
    save(&small_cnn(1).state_dict(), &native).unwrap();
    let err = load_safetensors(&native).unwrap_err();
    assert!(matches!(err, CheckpointError::BadMagic { .. }));
    assert!(
        err.to_string()
            .contains("a kindling native checkpoint: load it with load"),
        "{err}"
    );

    for (bytes, what) in [
        (&b"PK\x03\x04\x14\x00\x00\x00"[..], "zip archive"),
        (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8", "Python pickle"),
        (b"{\"weights\": [1, 2, 3]}", "JSON text file"),
        (b"\x89KDL\n\x1a\n\x01\x00\x00\x00", "text-mode transfer"),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}

#[test]
fn a_file_from_the_future_names_both_versions() {
    let dir = Scratch::new("future");
    let path = dir.path("future.kdl");
    // What a kindling of the future might write: the same preamble with version + 1.
    let meta = br#"{"kindling_version":"0.9.0","something_new":true}"#;
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes[..8].copy_from_slice(&MAGIC);
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
    bytes[16..24].copy_from_slice(&(meta.len() as u64).to_le_bytes());
    bytes.extend_from_slice(meta);
    let err = load_err(&path, &bytes);
    match &err {
        CheckpointError::UnsupportedVersion {
            found,
            supported,
            written_by,
            ..
        } => {
            assert_eq!(*found, FORMAT_VERSION + 1);
            assert_eq!(*supported, FORMAT_VERSION);
            assert_eq!(written_by.as_deref(), Some("0.9.0"));
        }
        other => panic!("expected UnsupportedVersion, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "format version {} (written by kindling 0.9.0)",
            FORMAT_VERSION + 1
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("this is kindling {}", env!("CARGO_PKG_VERSION"))),
        "{msg}"
    );

    // And a real file with only its version bumped.
    let good = dir.path("good.kdl");
    saved_small_cnn(&good);
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert!(matches!(
        load_err(&path, &bytes),
        CheckpointError::UnsupportedVersion { .. }
    ));
}

#[test]
fn another_architecture_is_refused_and_the_model_is_unchanged() {
    let dir = Scratch::new("arch");
    let path = dir.path("model.kdl");
    saved_small_cnn(&path);
    // Wider conv without bias, so: mismatched shapes, an unexpected key (the checkpoint's
    // conv bias) and missing keys (a layer the checkpoint lacks).
    kindling_core::manual_seed(9);
    let mut other = Sequential::new()
        .add(Conv2d::new(1, 8, 3).padding(1).bias(false))
        .add(BatchNorm2d::new(8))
        .add(ReLU::new())
        .add(Flatten::new())
        .add(Linear::new(8 * 5 * 5, 3))
        .add(ReLU::new())
        .add(Linear::new(3, 2));
    let before = other.state_dict().deep_copy();

    let err = load_into(&mut other, &path).unwrap_err();
    let CheckpointError::Mismatch { report, .. } = &err else {
        panic!("expected Mismatch, got {err}");
    };
    assert_eq!(report.missing, vec!["6.weight", "6.bias"]);
    assert_eq!(report.unexpected, vec!["0.bias"]);
    let mismatched: Vec<_> = report
        .mismatched
        .iter()
        .map(|m| (m.key.as_str(), m.expected.clone(), m.found.clone()))
        .collect();
    assert!(mismatched.contains(&("0.weight", vec![8, 1, 3, 3], vec![4, 1, 3, 3])));
    assert!(mismatched.contains(&("1.running_var", vec![8], vec![4])));
    assert!(mismatched.contains(&("4.weight", vec![3, 200], vec![3, 100])));
    let msg = err.to_string();
    assert!(
        msg.contains("missing keys (in the model, not in the checkpoint): 6.weight, 6.bias"),
        "{msg}"
    );
    assert!(
        msg.contains("unexpected keys (in the checkpoint, not in the model): 0.bias"),
        "{msg}"
    );
    assert!(msg.contains("shape mismatch for 0.weight: the model has [8, 1, 3, 3], the checkpoint has [4, 1, 3, 3]"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert_same_state(&other.state_dict(), &before);

    // The same through a training checkpoint's restore: model and optimizer unchanged.
    let tpath = dir.path("train.kdl");
    saved_training(&tpath);
    let ckpt = load_training(&tpath).unwrap();
    let mut opt = Sgd::new(other.parameters(), 0.3);
    let opt_before = opt.state_dict();
    let rng_before = kindling_core::rng::get_rng_state();
    assert!(matches!(
        ckpt.restore(&mut other, &mut opt),
        Err(CheckpointError::Mismatch { .. })
    ));
    assert_same_state(&other.state_dict(), &before);
    assert_eq!(opt.state_dict(), opt_before);
    let _ = rng_before; // other tests draw from the global generator concurrently

    // Right architecture, wrong optimizer kind: refused, nothing changed.
    let mut same = small_cnn(11);
    let same_before = same.state_dict().deep_copy();
    let mut adam = kindling_optim::Adam::new(same.parameters(), 1e-3);
    let adam_before = adam.state_dict();
    let err = ckpt.restore(&mut same, &mut adam).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Optimizer {
                part: "optimizer",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the state was saved by sgd, not adam"),
        "{err}"
    );
    assert_same_state(&same.state_dict(), &same_before);
    assert_eq!(adam.state_dict(), adam_before);
}

#[test]
fn wrong_kind_is_named() {
    let dir = Scratch::new("kind");
    let path = dir.path("model.kdl");
    saved_small_cnn(&path);
    let err = load_training(&path).unwrap_err();
    assert!(matches!(err, CheckpointError::WrongKind { .. }), "{err}");
    assert!(
        err.to_string().contains("holds model weights only"),
        "{err}"
    );
}

#[test]
fn damaged_safetensors_never_panic() {
    let dir = Scratch::new("st-damage");
    let good = dir.path("m.safetensors");
    let mut model = small_cnn(1);
    train_one_step(&mut model);
    save_safetensors(&model.state_dict(), &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path("bad.safetensors");
    for n in 0..bytes.len() {
        std::fs::write(&bad, &bytes[..n]).unwrap();
        let err = load_safetensors(&bad).expect_err("a truncated safetensors file loaded");
        assert!(
            matches!(
                err,
                CheckpointError::Truncated { .. } | CheckpointError::Corrupt { .. }
            ),
            "cut at {n}: {err}"
        );
    }
    // safetensors has no checksum: a flip in the data loads (with a different value), a
    // flip in the header fails; either way, no panic.
    let mut rng = Xoshiro256::seed_from(99);
    for _ in 0..1000 {
        let bit = (rng.next_u64() % (bytes.len() as u64 * 8)) as usize;
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let _ = fuzzing::decode_safetensors(&flipped);
    }
    // Eight contiguous 2^61-byte tensors: their end offset plus the header size overflows
    // u64, which makes safetensors 0.8.0 itself panic ("attempt to add with overflow",
    // tensor.rs:420) in builds with overflow checks; the guard refuses it first.
    let size: u64 = (1 << 61) - 1;
    let tensors: Vec<String> = (0..8u64)
        .map(|i| {
            format!(
                "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{size}],\"data_offsets\":[{},{}]}}",
                i * size,
                (i + 1) * size
            )
        })
        .collect();
    let overflowing = format!("{{{}}}", tensors.join(","));
    let mut b = (overflowing.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(overflowing.as_bytes());
    let err = fuzzing::decode_safetensors(&b).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");

    // More crafted headers: huge, reversed, overflowing or unknown-dtype entries.
    for header in [
        r#"{"a":{"dtype":"U8","shape":[2305843009213693951],"data_offsets":[0,2305843009213693951]}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#,
        r#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#,
        r#"{"a":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]}}"#,
        r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#,
        r#"{"__metadata__":{"kindling_key_order":"[\"zz\"]"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
    ] {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&[0; 4]);
        std::fs::write(&bad, &b).unwrap();
        let r = load_safetensors(&bad);
        if header.contains("kindling_key_order") {
            assert_eq!(r.unwrap().keys(), vec!["a"], "a bad key order is ignored");
        } else {
            assert!(r.is_err(), "{header}");
        }
    }
}

/// Mutations of valid files with the checksum recomputed afterwards: they get past the
/// checksum and exercise the metadata checks and the training-state decoder, which an
/// honest file never reaches with bad data. (The fuzz target in fuzz/ does the same,
/// longer; CI runs this instead.)
#[test]
fn mutated_files_with_valid_checksums_never_panic() {
    let dir = Scratch::new("mutate");
    let model_file = dir.path("m.kdl");
    saved_small_cnn(&model_file);
    let train_file = dir.path("t.kdl");
    saved_training(&train_file);
    let seeds = [
        std::fs::read(&model_file).unwrap(),
        std::fs::read(&train_file).unwrap(),
    ];
    let mut rng = Xoshiro256::seed_from(31337);
    let mut outcomes = std::collections::BTreeMap::new();
    for i in 0..20_000 {
        let mut bytes = seeds[i % 2].clone();
        let meta_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
        // Mostly aim at the metadata and the training state (the tail), sometimes anywhere.
        let region = match rng.next_u64() % 3 {
            0 => HEADER_LEN..HEADER_LEN + meta_len,
            1 => bytes.len().saturating_sub(400)..bytes.len(),
            _ => 0..bytes.len(),
        };
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = region.start + (rng.next_u64() as usize) % region.len().max(1);
            match rng.next_u64() % 4 {
                0 => bytes[at] ^= 1 << (rng.next_u64() % 8),
                1 => bytes[at] = b"0123456789{}[],:\"-e.ab"[(rng.next_u64() % 22) as usize],
                2 => bytes[at] = rng.next_u64() as u8,
                _ => bytes[at] = 0xff,
            }
        }
        fuzzing::fix_checksum(&mut bytes);
        let r1 = fuzzing::decode_model(&bytes).err().map(|e| variant(&e));
        let r2 = fuzzing::decode_training(&bytes).err().map(|e| variant(&e));
        *outcomes.entry((r1, r2)).or_insert(0) += 1;
    }
    println!("outcomes (load, load_training): {outcomes:?}");
}

/// Writes the seed corpus of the fuzz target (fuzz/seeds/load): one small file of each
/// kind, so the fuzzer starts from valid structure; and those of the safetensors target
/// (fuzz/seeds/safetensors). Run by hand:
/// `cargo test -p kindling-checkpoint --test corruption -- --ignored write_fuzz_seeds`.
/// The training checkpoint is written as `training-vN.kdl`, N the current format version,
/// next to the older versions' seeds, which stay: their decoders are fuzzed too.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let out = seeds.join("load");
    std::fs::create_dir_all(&out).unwrap();
    kindling_core::manual_seed(0);
    let mut model = Sequential::new()
        .add(Linear::new(3, 2))
        .add(kindling_nn::BatchNorm1d::new(2))
        .add(ReLU::new())
        .add(Linear::new(2, 2));
    model.train();
    let mut opt = kindling_optim::Adam::new(model.parameters(), 1e-3);
    model
        .forward(&kindling_core::Tensor::randn(&[4, 3]))
        .sum()
        .backward();
    opt.step();
    let mut sched = kindling_optim::StepLr::new(2, 0.5);
    kindling_optim::LrScheduler::attach(&mut sched, &mut opt);
    save(&model.state_dict(), out.join("model.kdl")).unwrap();
    let ckpt = TrainingCheckpoint::capture(&model, &opt, 1, 7)
        .with_scheduler(&sched)
        .with_extra("seed", "0");
    save_training(&ckpt, out.join(format!("training-v{FORMAT_VERSION}.kdl"))).unwrap();
    save_safetensors(&model.state_dict(), out.join("model.safetensors")).unwrap();

    // The safetensors target reads each input whole, and as a JSON header and a payload
    // split at the first zero byte (fuzz/fuzz_targets/safetensors.rs): seeds of both.
    let st = seeds.join("safetensors");
    std::fs::create_dir_all(&st).unwrap();
    let ours = std::fs::read(out.join("model.safetensors")).unwrap();
    std::fs::write(st.join("kindling.safetensors"), &ours).unwrap();
    let header_len = u64::from_le_bytes(ours[..8].try_into().unwrap()) as usize;
    let mut split = ours[8..8 + header_len].to_vec();
    split.push(0);
    split.extend_from_slice(&ours[8 + header_len..]);
    std::fs::write(st.join("kindling.split"), &split).unwrap();
    // As PyTorch writes one (no kindling metadata), with F64 and I64 tensors, a scalar
    // and an empty tensor.
    let header = r#"{"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"w":{"dtype":"F64","shape":[2,1],"data_offsets":[16,32]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[32,32]}}"#;
    let mut torch = (header.len() as u64).to_le_bytes().to_vec();
    torch.extend_from_slice(header.as_bytes());
    for v in [0.5f32, -1.0] {
        torch.extend_from_slice(&v.to_le_bytes());
    }
    torch.extend_from_slice(&7i64.to_le_bytes());
    for v in [0.25f64, 3.0] {
        torch.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(fuzzing::decode_safetensors(&torch).unwrap().len(), 4);
    std::fs::write(st.join("torch.safetensors"), &torch).unwrap();
}

/// One real message per error kind, each naming the file; printed with `--nocapture`
/// (docs/checkpoints.md quotes them).
#[test]
fn error_messages_name_the_file_and_the_problem() {
    let dir = Scratch::new("messages");
    let good = dir.path("model.kdl");
    saved_small_cnn(&good);
    let bytes = std::fs::read(&good).unwrap();
    let path = dir.path("damaged.kdl");
    let mut messages = vec![
        load(dir.path("missing.kdl")).unwrap_err(),
        load(&dir.0).unwrap_err(),
        load_err(&path, b""),
        load_err(&path, &bytes[..bytes.len() - 100]),
    ];
    let mut flipped = bytes.clone();
    flipped[bytes.len() - 10] ^= 4;
    messages.push(load_err(&path, &flipped));
    let st = dir.path("model.safetensors");
    save_safetensors(&small_cnn(1).state_dict(), &st).unwrap();
    messages.push(load(&st).unwrap_err());
    messages.push(load_err(&path, b"PK\x03\x04\x14\x00\x00\x00\x08\x00"));
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    messages.push(load_err(&path, &future));
    let mut dup = bytes.clone();
    let at = dup.windows(8).position(|w| w == b"\"1.bias\"").unwrap();
    dup[at..at + 8].copy_from_slice(b"\"0.bias\"");
    fuzzing::fix_checksum(&mut dup);
    messages.push(load_err(&path, &dup));
    messages.push(load_training(&good).unwrap_err());
    let mut wider = Sequential::new()
        .add(Conv2d::new(1, 8, 3).padding(1))
        .add(BatchNorm2d::new(8))
        .add(ReLU::new())
        .add(Flatten::new())
        .add(Linear::new(8 * 5 * 5, 3));
    messages.push(load_into(&mut wider, &good).unwrap_err());

    for e in &messages {
        let text = e.to_string();
        println!("{:<18} {text}", variant(e));
        assert!(
            text.contains(&e.path().unwrap().display().to_string()),
            "{text}"
        );
        assert!(std::error::Error::source(e).is_some() == matches!(e, CheckpointError::Io { .. }));
    }
}

/// Key names and other strings come from the file: printed raw, a crafted file could send
/// escape sequences to the terminal that shows the error (clear the screen, set the
/// window title, hide text). Every message must show them escaped.
#[test]
fn strings_from_a_file_are_escaped_in_messages() {
    let dir = Scratch::new("escape");
    const EVIL: &str = "w\x1b[2J\x1b]0;owned\x07\u{202e}";
    let assert_clean = |what: &str, err: &CheckpointError| {
        let text = err.to_string();
        assert!(
            !text.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{what}: a raw control character in {text:?}"
        );
        text
    };

    // Unexpected keys in a native file and in a safetensors file.
    let mut sd = Linear::new(2, 2).state_dict();
    sd.insert(EVIL, kindling_core::Tensor::zeros(&[1]));
    let native = dir.path("evil.kdl");
    save(&sd, &native).unwrap();
    let st = dir.path("evil.safetensors");
    save_safetensors(&sd, &st).unwrap();
    for (what, err) in [
        (
            "native",
            load_into(&mut Linear::new(2, 2), &native).unwrap_err(),
        ),
        (
            "safetensors",
            kindling_checkpoint::load_safetensors_into(&mut Linear::new(2, 2), &st).unwrap_err(),
        ),
    ] {
        let text = assert_clean(what, &err);
        assert!(
            text.contains(r"unexpected keys (in the checkpoint, not in the model): w\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}"),
            "{what}: {text}"
        );
    }

    // A buffer name in a training checkpoint's optimizer state.
    let model = Linear::new(2, 2);
    let opt = Sgd::new(model.parameters(), 0.1);
    let mut ckpt = TrainingCheckpoint::capture(&model, &opt, 0, 0);
    ckpt.optimizer.params[0]
        .buffers
        .insert(EVIL.to_string(), vec![0.0; 4]);
    let path = dir.path("evil-buffer.kdl");
    save_training(&ckpt, &path).unwrap();
    let ckpt = load_training(&path).unwrap();
    let mut opt = Sgd::new(model.parameters(), 0.1);
    let err = ckpt.restore(&mut Linear::new(2, 2), &mut opt).unwrap_err();
    let text = assert_clean("optimizer", &err);
    assert!(text.contains(r"SGD keeps no w\u{1b}[2J"), "{text}");

    // The kindling version a file from the future claims to be written by.
    let meta = r#"{"kindling_version":"9\u001b[31m\u0007"}"#;
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes[..8].copy_from_slice(&MAGIC);
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    bytes[16..24].copy_from_slice(&(meta.len() as u64).to_le_bytes());
    bytes.extend_from_slice(meta.as_bytes());
    let err = load_err(&dir.path("future.kdl"), &bytes);
    let text = assert_clean("written_by", &err);
    assert!(
        text.contains(r"(written by kindling 9\u{1b}[31m\u{7})"),
        "{text}"
    );

    // An error of the safetensors crate that quotes a tensor's name: this tensor's bytes
    // do not start where the previous one's end.
    let header = "{\"a\\u001b[2J\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(&[0; 8]);
    let bad = dir.path("offsets.safetensors");
    std::fs::write(&bad, &b).unwrap();
    let err = load_safetensors(&bad).unwrap_err();
    let text = assert_clean("safetensors crate", &err);
    assert!(text.contains(r"a\u{1b}[2J"), "{text}");
}
