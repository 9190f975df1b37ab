//! Fuzz target for safetensors import (`load_safetensors`), on two readings of each input:
//! as a whole file, and as a JSON header and a payload separated by the first zero byte,
//! with the 8-byte header length put in front here. The second reading lets mutations of
//! the header's JSON (names, dtypes, shapes, offsets) reach the checks behind the length
//! prefix, which a random mutation of a whole file almost always breaks first. Any panic,
//! any allocation over `-malloc_limit_mb`, or any out-of-bounds access is a bug.

#![no_main]

use kindling_checkpoint::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::decode_safetensors(data);
    let (header, payload) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(payload);
    if let Ok(sd) = fuzzing::decode_safetensors(&file) {
        // Whatever loads is a state dict whose every tensor can be read in full.
        for (_, t) in sd.iter() {
            assert_eq!(t.to_vec().len(), t.numel());
        }
    }
});
