//! kindling's native container: how a [`StateDict`] (plus, for a training checkpoint, an
//! encoded training state) becomes bytes on disk, and how those bytes are checked and
//! turned back into tensors.
//!
//! ```text
//! offset  size  field
//!      0     8  magic: 89 4B 44 4C 0D 0A 1A 0A  ("\x89KDL\r\n\x1a\n")
//!      8     4  format version, u32 little-endian (3)
//!     12     4  kind, u32 LE: 1 = model weights (save), 2 = training checkpoint
//!     16     8  metadata length M, u64 LE
//!     24     8  payload length P, u64 LE
//!     32    32  SHA-256 of every other byte of the file: bytes 0..32, then 64..end
//!     64     M  metadata: JSON {kindling_version, kind, tensors: [{key, dtype, shape}],
//!               tensor_bytes, state_encoding, state_bytes}
//!   64+M     P  payload: each tensor's values, little-endian, row-major, in key order,
//!               back to back (tensor_bytes): f32 for "F32", and one i64 for an "I64"
//!               counter such as num_batches_tracked; then the training state (state_bytes)
//! ```
//!
//! Versions: 1 stored each parameter's optimizer state as one struct with a field for
//! every buffer any optimizer keeps; 2 stores PyTorch's shape, named buffers per
//! parameter (`kindling::optim::ParamState`). Only the postcard-encoded training state
//! differs; a version 1 file still loads (`crate::v1` converts its state).
//!
//! Decoding checks, in this order, and builds nothing until every check has passed: the
//! magic, the version, that the file is exactly as long as the header says, the checksum,
//! then the metadata (every length, shape and key) against the payload. The first three
//! need only the header and the file's size, so a file is read header first ([`read`]):
//! a file that fails them costs one small read. Every length read from the file is
//! compared with the file's real size before anything is allocated, with checked
//! arithmetic, so a corrupt length can never make the loader allocate more than the file
//! holds or panic on an overflow.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use kindling_core::Tensor;
use kindling_nn::StateDict;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::read::{Source, FIRST_READ};
use crate::sniff::sniff;
use crate::CheckpointError;

/// The first 8 bytes of every native checkpoint. As in PNG's signature, the non-ASCII
/// first byte and the `\r\n`, `\x1a`, `\n` that follow make a text-mode transfer (which
/// rewrites line endings) or a `type` on an old terminal detectable.
///
/// ```
/// assert_eq!(&kindling::checkpoint::MAGIC[1..4], b"KDL");
/// ```
pub const MAGIC: [u8; 8] = *b"\x89KDL\r\n\x1a\n";

/// The native format version this kindling writes, and the newest it reads. A file with a
/// larger number is refused with [`CheckpointError::UnsupportedVersion`]; every older
/// version still loads.
///
/// | version | what changed |
/// |---|---|
/// | 1 | the first |
/// | 2 | the optimizer state of a training checkpoint: per parameter, PyTorch's named buffers |
/// | 3 | counters (BatchNorm's `num_batches_tracked`) as one exact I64 instead of an F32 |
///
/// ```
/// assert_eq!(kindling::checkpoint::FORMAT_VERSION, 3);
/// ```
pub const FORMAT_VERSION: u32 = 3;

/// The size of the fixed header, in bytes: magic, version, kind, two lengths, checksum.
///
/// ```
/// assert_eq!(kindling::checkpoint::HEADER_LEN, 64);
/// ```
pub const HEADER_LEN: usize = 64;

/// kindling's tensors are all `f32`.
const DTYPE_F32: &str = "F32";
/// A state dict's exact counters (`StateDict::insert_count`), from version 3 on: a
/// one-element entry stored as a little-endian i64.
const DTYPE_I64: &str = "I64";
/// How the training state after the tensors is encoded.
pub(crate) const STATE_ENCODING: &str = "postcard";

/// What a native file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A model's state dict, from [`crate::save`].
    Model,
    /// A [`crate::TrainingCheckpoint`], from [`crate::save_training`].
    Training,
}

impl Kind {
    fn code(self) -> u32 {
        match self {
            Kind::Model => 1,
            Kind::Training => 2,
        }
    }

    fn from_code(code: u32) -> Option<Kind> {
        match code {
            1 => Some(Kind::Model),
            2 => Some(Kind::Training),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Training => "training",
        }
    }

    /// For error messages: what a file of this kind holds.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Model => "model weights only (a file written by save)",
            Kind::Training => "a training checkpoint (a file written by save_training)",
        }
    }
}

/// The JSON metadata block.
#[derive(Serialize, Deserialize)]
struct Meta {
    kindling_version: String,
    kind: String,
    tensors: Vec<TensorMeta>,
    tensor_bytes: u64,
    state_encoding: Option<String>,
    state_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct TensorMeta {
    key: String,
    dtype: String,
    shape: Vec<u64>,
}

/// Feeds everything written through it to a SHA-256 hasher.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a whole native file to `file` (a fresh temporary file), streaming the tensors
/// so that saving never holds a second copy of the model in memory. The checksum is only
/// known at the end, so its field is written as zeros first and filled in last.
pub(crate) fn write(file: &mut File, kind: Kind, sd: &StateDict, state: &[u8]) -> io::Result<()> {
    let mut tensors = Vec::with_capacity(sd.len());
    let mut tensor_bytes: u64 = 0;
    for (key, t) in sd.iter() {
        let counter = sd.is_count(key);
        tensors.push(TensorMeta {
            key: key.to_string(),
            dtype: if counter { DTYPE_I64 } else { DTYPE_F32 }.to_string(),
            shape: t.shape().iter().map(|&d| d as u64).collect(),
        });
        tensor_bytes += if counter { 8 } else { t.numel() as u64 * 4 };
    }
    let (state_encoding, state_bytes) = match kind {
        Kind::Model => (None, 0),
        Kind::Training => (Some(STATE_ENCODING.to_string()), state.len() as u64),
    };
    let meta = Meta {
        kindling_version: crate::KINDLING_VERSION.to_string(),
        kind: kind.name().to_string(),
        tensors,
        tensor_bytes,
        state_encoding,
        state_bytes,
    };
    let meta_bytes = serde_json::to_vec(&meta).map_err(io::Error::other)?;

    let mut header = [0u8; HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&kind.code().to_le_bytes());
    header[16..24].copy_from_slice(&(meta_bytes.len() as u64).to_le_bytes());
    header[24..32].copy_from_slice(&(tensor_bytes + state_bytes).to_le_bytes());

    let mut hasher = Sha256::new();
    hasher.update(&header[..32]);
    let mut out = BufWriter::with_capacity(1 << 20, &mut *file);
    out.write_all(&header)?;
    let mut out = Hashing { inner: out, hasher };
    out.write_all(&meta_bytes)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    for (key, t) in sd.iter() {
        if let (true, Some(n)) = (sd.is_count(key), sd.count(key)) {
            out.write_all(&(n.min(i64::MAX as u64) as i64).to_le_bytes())?;
            continue;
        }
        let data = t.data();
        for chunk in data.chunks(16 * 1024) {
            buf.clear();
            for v in chunk {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            out.write_all(&buf)?;
        }
    }
    if kind == Kind::Training {
        out.write_all(state)?;
    }
    let Hashing { inner, hasher } = out;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(32))?;
    file.write_all(&hasher.finalize())?;
    Ok(())
}

/// A decoded native file: its format version, its kind, its tensors and the (still
/// encoded) training state.
pub(crate) struct Decoded<'a> {
    pub(crate) version: u32,
    pub(crate) kind: Kind,
    pub(crate) tensors: StateDict,
    pub(crate) state: &'a [u8],
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// SHA-256 of every byte except the checksum field itself (bytes 32..64).
fn checksum(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&bytes[..32]);
    h.update(&bytes[HEADER_LEN..]);
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// See [`crate::fuzzing::fix_checksum`].
pub(crate) fn fix_checksum(bytes: &mut [u8]) {
    if bytes.len() >= HEADER_LEN {
        let sum = checksum(bytes);
        bytes[32..64].copy_from_slice(&sum);
    }
}

/// Best effort, for the message about a file from the future: the kindling version in its
/// metadata, if the metadata is where versions 1 and 2 put it and says so.
fn peek_written_by(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Peek {
        kindling_version: String,
    }
    let meta_len = usize::try_from(u64_at(bytes, 16)).ok()?;
    let end = HEADER_LEN.checked_add(meta_len)?;
    let meta = bytes.get(HEADER_LEN..end)?;
    let peek: Peek = serde_json::from_slice(meta).ok()?;
    // A version string is short; anything else is not worth quoting.
    (peek.kindling_version.len() <= 32).then_some(peek.kindling_version)
}

/// The number of elements of `shape`, or `None` if it does not fit in `usize`. Zero-sized
/// dims are skipped in the overflow check as well, so that no product of any subset of
/// the dims (the strides that later code computes) can overflow either.
pub(crate) fn checked_numel(shape: &[usize]) -> Option<usize> {
    let mut nonzero: usize = 1;
    let mut has_zero = false;
    for &d in shape {
        if d == 0 {
            has_zero = true;
        } else {
            nonzero = nonzero.checked_mul(d)?;
        }
    }
    Some(if has_zero { 0 } else { nonzero })
}

/// Reads a native file: a first block, the header checked against the file's size, then
/// only the bytes the header declares (see `read.rs`). The caller decodes them.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let mut source = Source::open(path)?;
    source.fill_to(FIRST_READ)?;
    let total = check_header(&source.bytes, source.known_len(), path)?;
    source.expect_end(total)
}

/// Checks a native file's header: steps 1 to 3 of [`decode`], on `prefix`, the file's
/// first bytes (all of them, or at least the header when the file is longer), and
/// `file_len`, the file's length if known. Returns the length the header declares.
pub(crate) fn check_header(
    prefix: &[u8],
    file_len: Option<u64>,
    path: &Path,
) -> Result<u64, CheckpointError> {
    // A prefix shorter than a header is the whole file: its length is known.
    let short_len = file_len.unwrap_or(prefix.len() as u64);
    // 1. The magic. A short file that is a prefix of it was cut off, anything else is
    //    another kind of file.
    if prefix.len() < MAGIC.len() {
        if prefix == &MAGIC[..prefix.len()] {
            return Err(CheckpointError::truncated(
                path,
                HEADER_LEN as u64,
                short_len,
            ));
        }
        return Err(bad_magic(path, prefix));
    }
    if prefix[..MAGIC.len()] != MAGIC {
        return Err(bad_magic(path, prefix));
    }
    if prefix.len() < HEADER_LEN {
        return Err(CheckpointError::truncated(
            path,
            HEADER_LEN as u64,
            short_len,
        ));
    }

    // 2. The version, before anything whose layout a later version may change.
    let version = u32_at(prefix, 8);
    if version == 0 {
        return Err(CheckpointError::corrupt(
            path,
            "the header gives format version 0, which does not exist",
        ));
    }
    if version > FORMAT_VERSION {
        return Err(CheckpointError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
            written_by: peek_written_by(prefix),
        });
    }

    // 3. The lengths: the file must be exactly as long as the header says.
    let meta_len = u64_at(prefix, 16);
    let payload_len = u64_at(prefix, 24);
    let Some(total) = (HEADER_LEN as u64)
        .checked_add(meta_len)
        .and_then(|n| n.checked_add(payload_len))
    else {
        return Err(CheckpointError::corrupt(
            path,
            format!(
                "the header's lengths (metadata {meta_len}, payload {payload_len} bytes) \
                 overflow"
            ),
        ));
    };
    if let Some(len) = file_len {
        if total > len {
            return Err(CheckpointError::truncated(path, total, len));
        }
        if total < len {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "the header says the file ends at byte {total}, but {} more bytes follow",
                    len - total
                ),
            ));
        }
    }
    Ok(total)
}

/// Checks `bytes` as a native file and decodes its tensors. `path` is for messages only.
pub(crate) fn decode<'a>(bytes: &'a [u8], path: &Path) -> Result<Decoded<'a>, CheckpointError> {
    // 1-3. Magic, version, lengths.
    check_header(bytes, Some(bytes.len() as u64), path)?;
    let version = u32_at(bytes, 8);
    let meta_len = u64_at(bytes, 16);
    let payload_len = u64_at(bytes, 24);
    // Both fit in the file, hence in usize.
    let meta_len = meta_len as usize;
    let payload_len = payload_len as usize;

    // 4. The checksum: after it, every byte is as it was written.
    let computed = checksum(bytes);
    if computed[..] != bytes[32..64] {
        return Err(CheckpointError::BadChecksum {
            path: path.to_path_buf(),
            stored: hex(&bytes[32..64]),
            computed: hex(&computed),
        });
    }

    // 5. The metadata, checked against the header and the payload.
    let kind_code = u32_at(bytes, 12);
    let Some(kind) = Kind::from_code(kind_code) else {
        return Err(CheckpointError::corrupt(
            path,
            format!("unknown kind code {kind_code} in the header (1 = model, 2 = training)"),
        ));
    };
    let meta_bytes = &bytes[HEADER_LEN..HEADER_LEN + meta_len];
    let payload = &bytes[HEADER_LEN + meta_len..];
    let meta: Meta = serde_json::from_slice(meta_bytes)
        .map_err(|e| CheckpointError::corrupt(path, format!("the metadata is not valid: {e}")))?;
    if meta.kind != kind.name() {
        return Err(CheckpointError::corrupt(
            path,
            format!(
                "the header says kind {:?} but the metadata says {:?}",
                kind.name(),
                meta.kind
            ),
        ));
    }
    match (kind, meta.state_encoding.as_deref()) {
        (Kind::Model, None) if meta.state_bytes == 0 => {}
        (Kind::Model, _) => {
            return Err(CheckpointError::corrupt(
                path,
                "a model file with a training state",
            ))
        }
        (Kind::Training, Some(STATE_ENCODING)) => {}
        (Kind::Training, other) => {
            return Err(CheckpointError::corrupt(
                path,
                format!("unknown training state encoding {other:?} (expected \"postcard\")"),
            ))
        }
    }

    let mut seen = HashSet::with_capacity(meta.tensors.len());
    let mut layout = Vec::with_capacity(meta.tensors.len());
    let mut sum: u64 = 0;
    for t in &meta.tensors {
        let width = match t.dtype.as_str() {
            DTYPE_F32 => 4,
            DTYPE_I64 if version >= 3 => 8,
            _ => {
                let known = if version >= 3 {
                    "F32 and I64"
                } else {
                    "only F32"
                };
                return Err(CheckpointError::corrupt(
                    path,
                    format!(
                        "tensor {:?} has dtype {:?}; version {version} files hold {known}",
                        t.key, t.dtype
                    ),
                ));
            }
        };
        if !seen.insert(t.key.as_str()) {
            return Err(CheckpointError::corrupt(
                path,
                format!("the key {:?} appears twice", t.key),
            ));
        }
        let shape: Option<Vec<usize>> = t.shape.iter().map(|&d| usize::try_from(d).ok()).collect();
        let numel = shape.as_deref().and_then(checked_numel);
        let nbytes = numel.and_then(|n| n.checked_mul(width));
        let (Some(shape), Some(numel), Some(nbytes)) = (shape, numel, nbytes) else {
            return Err(CheckpointError::corrupt(
                path,
                format!("tensor {:?} has an impossible shape {:?}", t.key, t.shape),
            ));
        };
        if width == 8 && numel != 1 {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "counter {:?} has shape {:?}; a counter holds one value",
                    t.key, t.shape
                ),
            ));
        }
        sum = sum.checked_add(nbytes as u64).ok_or_else(|| {
            CheckpointError::corrupt(path, "the tensors' sizes overflow when added up")
        })?;
        if sum > payload_len as u64 {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "the tensors up to {:?} need {sum} bytes but the payload has {payload_len}",
                    t.key
                ),
            ));
        }
        layout.push((t.key.as_str(), shape, numel, width));
    }
    if sum != meta.tensor_bytes {
        return Err(CheckpointError::corrupt(
            path,
            format!(
                "the tensors' shapes add up to {sum} bytes but the metadata says {}",
                meta.tensor_bytes
            ),
        ));
    }
    if meta.tensor_bytes.checked_add(meta.state_bytes) != Some(payload_len as u64) {
        return Err(CheckpointError::corrupt(
            path,
            format!(
                "the metadata's sizes (tensors {} + state {} bytes) do not match the header's \
                 payload length {payload_len}",
                meta.tensor_bytes, meta.state_bytes
            ),
        ));
    }

    // 6. Everything is consistent: build the tensors. Each allocation is for data that is
    //    in the file, because the sizes were checked against the payload above.
    let mut tensors = StateDict::new();
    let mut at = 0usize;
    for (key, shape, numel, width) in layout {
        if width == 8 {
            let mut le = [0u8; 8];
            le.copy_from_slice(&payload[at..at + 8]);
            let n = i64::from_le_bytes(le);
            let Ok(n) = u64::try_from(n) else {
                return Err(CheckpointError::corrupt(
                    path,
                    format!("counter {key:?} is negative ({n})"),
                ));
            };
            tensors.insert_count(key, n);
            at += 8;
            continue;
        }
        let raw = &payload[at..at + numel * 4];
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(key, Tensor::from_vec(values, &shape));
        at += numel * 4;
    }
    Ok(Decoded {
        version,
        kind,
        tensors,
        state: &payload[at..],
    })
}

fn bad_magic(path: &Path, bytes: &[u8]) -> CheckpointError {
    CheckpointError::BadMagic {
        path: path.to_path_buf(),
        expected: "a kindling checkpoint",
        looks_like: sniff(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::checked_numel;

    #[test]
    fn numel_is_checked() {
        assert_eq!(checked_numel(&[]), Some(1));
        assert_eq!(checked_numel(&[2, 3]), Some(6));
        assert_eq!(checked_numel(&[0, 5]), Some(0));
        assert_eq!(checked_numel(&[usize::MAX, 2]), None);
        // A zero does not excuse an overflow elsewhere: strides would still overflow.
        assert_eq!(checked_numel(&[usize::MAX, 2, 0]), None);
    }
}
