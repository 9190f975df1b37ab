//! Exact counters through every file format: a `num_batches_tracked` past 2²⁴, where an
//! f32 can no longer count, survives the native format and safetensors unchanged.

use kindling_checkpoint::{load, load_safetensors, load_safetensors_into, save, save_safetensors};
use kindling_core::Tensor;
use kindling_nn::{BatchNorm1d, Module, Sequential};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kindling-counts-{}-{name}", std::process::id()))
}

/// 2²⁴ + 1 = 16,777,217: the first count an f32 cannot hold (it rounds to 16,777,216).
const PAST_F32: u64 = (1 << 24) + 1;

fn model_at(count: u64) -> Sequential {
    let model = Sequential::new().add(BatchNorm1d::new(2));
    model.named_children()[0]
        .1
        .set_own_count("num_batches_tracked", count);
    model
}

#[test]
fn native_format_keeps_a_count_past_two_to_the_24() {
    let path = temp("native.kdl");
    save(&model_at(PAST_F32).state_dict(), &path).unwrap();
    let sd = load(&path).unwrap();
    assert_eq!(sd.count("0.num_batches_tracked"), Some(PAST_F32));
    let mut fresh = model_at(0);
    fresh.load_state_dict(&sd).unwrap();
    assert_eq!(
        fresh.state_dict().count("0.num_batches_tracked"),
        Some(PAST_F32)
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn safetensors_keeps_a_count_past_two_to_the_24_as_int64() {
    let path = temp("model.safetensors");
    save_safetensors(&model_at(PAST_F32).state_dict(), &path).unwrap();
    // The bytes PyTorch reads: an I64 holding exactly 16,777,217.
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.contains(r#""0.num_batches_tracked":{"dtype":"I64""#),
        "{header}"
    );
    assert_eq!(
        load_safetensors(&path)
            .unwrap()
            .count("0.num_batches_tracked"),
        Some(PAST_F32)
    );
    let mut fresh = model_at(0);
    load_safetensors_into(&mut fresh, &path).unwrap();
    assert_eq!(
        fresh.state_dict().count("0.num_batches_tracked"),
        Some(PAST_F32)
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_whole_number_scalar_parameter_stays_f32_in_safetensors() {
    // Only counters become I64: a scalar tensor that happens to hold 3.0 stays a float.
    let mut sd = kindling_nn::StateDict::new();
    sd.insert("scale", Tensor::scalar(3.0));
    let path = temp("scalar.safetensors");
    save_safetensors(&sd, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains(r#""scale":{"dtype":"F32""#), "{header}");
    std::fs::remove_file(path).unwrap();
}
