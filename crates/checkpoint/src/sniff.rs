//! A guess at what a file is from its first bytes, so that "not a kindling checkpoint" can
//! go on to say "it looks like a safetensors file: use load_safetensors".
//!
//! Most binary formats open with a fixed signature ("magic number") for exactly this
//! reason; safetensors has none, but its first 8 bytes are a header length followed by
//! `{`, which is distinctive enough.

use crate::format::MAGIC;

/// What `bytes` (a file's start) looks like, or `None` when nothing matches.
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 4 && bytes[..4] == MAGIC[..4] {
        // The first four bytes are kindling's but the rest are not: the `\r\n`, `\x1a` and
        // `\n` in the magic are there to catch exactly this.
        return Some(
            "a kindling checkpoint damaged by a text-mode transfer (line endings were \
             converted); copy it again in binary mode",
        );
    }
    if looks_like_safetensors(bytes) {
        return Some("a safetensors file: load it with load_safetensors");
    }
    let table: &[(&[u8], &'static str)] = &[
        (
            b"PK\x03\x04",
            "a zip archive, which is what PyTorch's torch.save writes: load it in Python and \
             re-save it with safetensors (see tools/interop), then use load_safetensors",
        ),
        (b"\x93NUMPY", "a NumPy .npy array"),
        (b"\x1f\x8b", "a gzip-compressed file: decompress it first"),
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras?)"),
        (b"\x00\x00\x08\x01", "an MNIST IDX label file"),
        (b"\x00\x00\x08\x03", "an MNIST IDX image file"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    ];
    for (signature, what) in table {
        if bytes.starts_with(signature) {
            return Some(what);
        }
    }
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Some(
            "a Python pickle (a legacy torch.save file?): load it in Python and re-save it \
             with safetensors",
        );
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Some("a JSON text file");
    }
    if !text.is_empty() && !text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Some("a text file");
    }
    None
}

/// An 8-byte little-endian header length that fits in the file, followed by `{`.
pub(crate) fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(n);
    n >= 2 && n <= (bytes.len() as u64 - 8) && bytes[8] == b'{'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_common_formats() {
        assert!(sniff(b"PK\x03\x04rest").unwrap().contains("zip"));
        assert!(sniff(b"\x80\x02\x8a\x0a").unwrap().contains("pickle"));
        assert!(sniff(b"{\"a\": 1}").unwrap().contains("JSON"));
        assert!(sniff(b"hello world\n").unwrap().contains("text"));
        assert!(sniff(b"\x89KDL\n\x1a\n\0").unwrap().contains("text-mode"));
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        assert!(sniff(&st).unwrap().contains("safetensors"));
        assert_eq!(sniff(&[0xff, 0x00, 0x13, 0x07]), None);
    }
}
