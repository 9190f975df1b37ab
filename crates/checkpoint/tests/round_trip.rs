//! Round trips: a small CNN with BatchNorm, trained one step so that its running
//! statistics are non-trivial, saved and loaded into a model initialised differently, in
//! the native format and as safetensors; the eval-mode outputs must be bit-identical.
//! Also: training checkpoints keep every field, and safetensors dtypes follow PyTorch.

mod common;

use std::collections::BTreeMap;

use common::*;
use kindling_checkpoint::{
    load, load_into, load_safetensors, load_safetensors_into, load_training, save,
    save_safetensors, save_training, CheckpointError, TrainingCheckpoint,
};
use kindling_core::rng::Xoshiro256;
use kindling_core::Tensor;
use kindling_nn::{BatchNorm2d, Module, StateDict};
use kindling_optim::{Adam, LrScheduler, Optimizer, StepLr};
use safetensors::tensor::{Dtype, SafeTensors};

#[test]
fn native_round_trip_is_bit_exact() {
    let dir = Scratch::new("rt-native");
    let path = dir.path("model.kdl");
    let mut model = small_cnn(1);
    train_one_step(&mut model);
    // The running statistics really moved.
    let sd = model.state_dict();
    assert_ne!(sd.get("1.running_mean").unwrap().to_vec(), vec![0.0; 4]);
    assert_eq!(sd.get("1.num_batches_tracked").unwrap().item(), 1.0);
    let expected = eval_output(&mut model);

    save(&model.state_dict(), &path).unwrap();
    let mut fresh = small_cnn(2);
    assert_ne!(
        eval_output(&mut fresh),
        expected,
        "the seeds must give different models"
    );
    load_into(&mut fresh, &path).unwrap();
    assert_eq!(eval_output(&mut fresh), expected);
    assert_same_state(&load(&path).unwrap(), &model.state_dict());
}

#[test]
fn safetensors_round_trip_is_bit_exact() {
    let dir = Scratch::new("rt-st");
    let path = dir.path("model.safetensors");
    let mut model = small_cnn(1);
    train_one_step(&mut model);
    let expected = eval_output(&mut model);

    save_safetensors(&model.state_dict(), &path).unwrap();
    let mut fresh = small_cnn(2);
    load_safetensors_into(&mut fresh, &path).unwrap();
    assert_eq!(eval_output(&mut fresh), expected);
    // The key order survives too (kindling records it in the metadata).
    assert_same_state(&load_safetensors(&path).unwrap(), &model.state_dict());
}

#[test]
fn safetensors_uses_pytorch_dtypes_and_names() {
    let dir = Scratch::new("rt-dtypes");
    let path = dir.path("bn.safetensors");
    let mut model = small_cnn(3);
    train_one_step(&mut model);
    save_safetensors(&model.state_dict(), &path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let nbt = st.tensor("1.num_batches_tracked").unwrap();
    assert_eq!(nbt.dtype(), Dtype::I64);
    assert_eq!(nbt.shape(), &[] as &[usize]);
    assert_eq!(nbt.data(), &1i64.to_le_bytes());
    let w = st.tensor("0.weight").unwrap();
    assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[4usize, 1, 3, 3][..]));
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
}

/// Writes a safetensors file by hand, as PyTorch would (no kindling metadata).
fn write_foreign(path: &std::path::Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    struct V<'a>(Dtype, &'a [usize], &'a [u8]);
    impl safetensors::tensor::View for V<'_> {
        fn dtype(&self) -> Dtype {
            self.0
        }
        fn shape(&self) -> &[usize] {
            self.1
        }
        fn data(&self) -> std::borrow::Cow<'_, [u8]> {
            std::borrow::Cow::Borrowed(self.2)
        }
        fn data_len(&self) -> usize {
            self.2.len()
        }
    }
    let bytes = safetensors::tensor::serialize(
        tensors
            .iter()
            .map(|(k, d, s, b)| (k.to_string(), V(*d, s, b))),
        None,
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn safetensors_import_converts_f64_and_i64_and_rejects_others() {
    let dir = Scratch::new("rt-import");
    let path = dir.path("foreign.safetensors");
    let f64s: Vec<u8> = [0.5f64, -1.25, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_foreign(
        &path,
        &[
            ("weight", Dtype::F64, vec![3], f64s.clone()),
            (
                "bias",
                Dtype::F32,
                vec![3],
                [1f32, 2.0, 3.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
            ("running_mean", Dtype::F32, vec![3], vec![0; 12]),
            (
                "running_var",
                Dtype::F32,
                vec![3],
                [1f32; 3].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            (
                "num_batches_tracked",
                Dtype::I64,
                vec![],
                7i64.to_le_bytes().to_vec(),
            ),
        ],
    );
    let sd = load_safetensors(&path).unwrap();
    assert_eq!(sd.get("weight").unwrap().to_vec(), vec![0.5, -1.25, 3.0]);
    assert_eq!(sd.get("num_batches_tracked").unwrap().item(), 7.0);
    // Loads into kindling's BatchNorm (which keeps the count as f32).
    let mut bn = kindling_nn::BatchNorm1d::new(3);
    load_safetensors_into(&mut bn, &path).unwrap();
    assert_eq!(bn.num_batches_tracked(), 7);

    for dtype in [Dtype::BF16, Dtype::F16, Dtype::I32, Dtype::U8, Dtype::BOOL] {
        let size = match dtype {
            Dtype::BF16 | Dtype::F16 => 2,
            Dtype::I32 => 4,
            _ => 1,
        };
        write_foreign(
            &path,
            &[
                ("a", Dtype::F32, vec![1], vec![0; 4]),
                ("b", dtype, vec![2], vec![0; 2 * size]),
            ],
        );
        let err = load_safetensors(&path).unwrap_err();
        match &err {
            CheckpointError::UnsupportedDtype { key, dtype: d, .. } => {
                assert_eq!(key, "b");
                assert_eq!(d, &dtype.to_string());
            }
            other => panic!("{dtype}: expected UnsupportedDtype, got {other:?}"),
        }
        assert!(
            err.to_string().contains("kindling reads F32, F64 and I64"),
            "{err}"
        );
    }
}

#[test]
fn training_checkpoint_keeps_every_field() {
    let dir = Scratch::new("rt-training");
    let path = dir.path("train.kdl");
    let mut model = small_cnn(4);
    train_one_step(&mut model);
    let mut opt = Adam::new(model.parameters(), 1e-3).amsgrad(true);
    let mut sched = StepLr::new(2, 0.5);
    sched.attach(&mut opt);
    let loss = model.forward(&inputs(2)).sum();
    loss.backward();
    opt.step();
    sched.step(&mut opt);
    // NaN and infinities in the optimizer state survive (JSON would turn them into null).
    let mut opt_state = opt.state_dict();
    let exp_avg = opt_state.params[0].buffers.get_mut("exp_avg").unwrap();
    exp_avg[0] = f32::NAN;
    exp_avg[1] = f32::NEG_INFINITY;

    let ckpt = TrainingCheckpoint {
        model: model.state_dict().deep_copy(),
        optimizer: opt_state.clone(),
        scheduler: Some(sched.state_dict()),
        epoch: 3,
        step: 1234,
        rng: Xoshiro256::seed_from(77),
        extra: BTreeMap::from([("best".to_string(), "0.5".to_string())]),
    };
    save_training(&ckpt, &path).unwrap();
    let back = load_training(&path).unwrap();
    assert_same_state(&back.model, &ckpt.model);
    // OptimizerState's PartialEq fails on NaN, so compare through the bits.
    let a = back.optimizer.params[0].buffer("exp_avg").unwrap();
    assert!(a[0].is_nan() && a[1] == f32::NEG_INFINITY);
    let original = opt.state_dict().params[0].buffers["exp_avg"].clone();
    let mut cleaned = back.optimizer.clone();
    cleaned.params[0]
        .buffers
        .insert("exp_avg".into(), original.clone());
    let mut expected = opt_state;
    expected.params[0]
        .buffers
        .insert("exp_avg".into(), original);
    assert_eq!(cleaned, expected);
    assert_eq!(back.scheduler, ckpt.scheduler);
    assert_eq!((back.epoch, back.step), (3, 1234));
    assert_eq!(back.rng, Xoshiro256::seed_from(77));
    assert_eq!(back.extra, ckpt.extra);

    // `load` on a training checkpoint gives its model.
    assert_same_state(&load(&path).unwrap(), &ckpt.model);
}

#[test]
fn empty_and_scalar_and_zero_sized_tensors_round_trip() {
    let dir = Scratch::new("rt-edge");
    let mut sd = StateDict::new();
    sd.insert("scalar", Tensor::scalar(2.5));
    sd.insert("empty", Tensor::from_vec(vec![], &[0, 3]));
    sd.insert(
        "odd",
        Tensor::from_vec(
            vec![f32::NAN, -0.0, f32::INFINITY, f32::MIN_POSITIVE / 2.0],
            &[2, 2],
        ),
    );
    type Save = fn(&StateDict, &std::path::Path) -> Result<(), CheckpointError>;
    type Load = fn(&std::path::Path) -> Result<StateDict, CheckpointError>;
    let formats: [(Save, Load, &str); 2] = [
        (|sd, p| save(sd, p), |p| load(p), "x.kdl"),
        (
            |sd, p| save_safetensors(sd, p),
            |p| load_safetensors(p),
            "x.safetensors",
        ),
    ];
    for (save_fn, load_fn, name) in formats {
        let path = dir.path(name);
        save_fn(&sd, &path).unwrap();
        assert_same_state(&load_fn(&path).unwrap(), &sd);
    }
    // An empty state dict too.
    let path = dir.path("empty.kdl");
    save(&StateDict::new(), &path).unwrap();
    assert!(load(&path).unwrap().is_empty());
}

#[test]
fn saving_replaces_the_previous_file_and_leaves_no_temporary_file() {
    let dir = Scratch::new("rt-replace");
    let path = dir.path("m.kdl");
    let a = BatchNorm2d::new(2);
    save(&a.state_dict(), &path).unwrap();
    let mut sd = StateDict::new();
    sd.insert("x", Tensor::ones(&[5]));
    save(&sd, &path).unwrap();
    assert_eq!(load(&path).unwrap().keys(), vec!["x"]);
    let names: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.kdl")]);

    // Saving onto a directory fails and names it.
    let err = save(&sd, &dir.0).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
    // Saving into a missing directory fails too.
    let err = save(&sd, dir.path("no/such/dir/m.kdl")).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
}

#[test]
fn a_key_safetensors_reserves_is_refused_on_save() {
    // safetensors keeps the file's own metadata under "__metadata__" in its header: a
    // tensor of that name would be written, then be unreadable.
    let dir = Scratch::new("rt-reserved");
    let path = dir.path("m.safetensors");
    let mut sd = StateDict::new();
    sd.insert("weight", Tensor::ones(&[2]));
    sd.insert("__metadata__", Tensor::ones(&[1]));
    let err = save_safetensors(&sd, &path).unwrap_err();
    assert!(matches!(err, CheckpointError::InvalidKey { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot save {}: the key \"__metadata__\" is reserved by safetensors for the \
             file's own metadata; rename the tensor",
            path.display()
        )
    );
    assert!(!path.exists(), "nothing is written");
    // The native format has no reserved key.
    save(&sd, dir.path("m.kdl")).unwrap();
    assert_same_state(&load(dir.path("m.kdl")).unwrap(), &sd);
}
