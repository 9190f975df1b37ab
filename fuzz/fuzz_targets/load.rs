//! Fuzz target for every checkpoint decoder: the native model loader, the training
//! checkpoint loader and the safetensors loader, on the raw input, and the two native
//! loaders again after the input's checksum is recomputed, so that mutations get past the
//! SHA-256 check into the metadata and training-state parsers. Any panic, any allocation
//! over `-malloc_limit_mb`, or any out-of-bounds access is a bug.

#![no_main]

use kindling_checkpoint::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::decode_model(data);
    let _ = fuzzing::decode_training(data);
    let _ = fuzzing::decode_safetensors(data);
    let mut fixed = data.to_vec();
    fuzzing::fix_checksum(&mut fixed);
    let _ = fuzzing::decode_model(&fixed);
    let _ = fuzzing::decode_training(&fixed);
});
