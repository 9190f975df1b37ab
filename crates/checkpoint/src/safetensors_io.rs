//! safetensors export and import, for exchanging weights with PyTorch (and the wider
//! Hugging Face ecosystem): `safetensors.torch.load_file(path)` gives a dict that
//! `model.load_state_dict` takes, for the same architecture, and back.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header mapping
//! each key to its dtype, shape and byte range, then the raw little-endian data. kindling
//! already uses PyTorch's key names (`"0.weight"`, `"1.running_mean"`) and row-major
//! layouts, so the tensors go across unchanged, with one exception: PyTorch keeps
//! BatchNorm's `num_batches_tracked` as an int64, and so does kindling, as an exact count
//! entry of the state dict (`StateDict::insert_count`): that key is written as I64 and
//! read back from I64 exactly, or from F32 or F64 (older files).
//!
//! Reading guards the crate: the header length and every byte range are checked against
//! the file's real size, with checked arithmetic, before the `safetensors` crate parses
//! the file, so no crafted header can make it overflow, index out of bounds or allocate.
//! The file itself is read in the same order (see `read.rs`): its first bytes, the JSON
//! header, then only as far as the tensors' byte ranges reach.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use kindling_core::Tensor;
use kindling_nn::{Module, StateDict};
use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::Deserialize;

use crate::atomic::write_atomic;
use crate::format::{checked_numel, MAGIC};
use crate::native::load_checked;
use crate::read::{Source, FIRST_READ};
use crate::sniff::sniff;
use crate::CheckpointError;

/// The safetensors crate refuses headers over 100 MB; so does the guard, with a message.
const MAX_HEADER: u64 = 100_000_000;
/// The header entry safetensors keeps the file's metadata under; no tensor may have it.
const METADATA_KEY: &str = "__metadata__";
/// Metadata key holding kindling's key order, so that a round trip keeps the order of the
/// state dict (safetensors itself stores tensors sorted by dtype and name).
const ORDER_KEY: &str = "kindling_key_order";

/// PyTorch keeps this buffer as int64.
fn is_int64_key(key: &str) -> bool {
    key == "num_batches_tracked" || key.ends_with(".num_batches_tracked")
}

/// One tensor, already converted to its bytes on disk.
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Entry {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Saves a state dict as a safetensors file, atomically, with PyTorch's dtypes: F32 for
/// everything except `num_batches_tracked`, which is I64. In Python,
/// `model.load_state_dict(safetensors.torch.load_file(path))` then loads it.
///
/// # Errors
/// [`CheckpointError::Io`] when the file cannot be written;
/// [`CheckpointError::InvalidKey`] for a tensor named `"__metadata__"`, the header entry
/// safetensors reserves for the file's metadata (nothing is written then).
///
/// ```
/// use kindling::checkpoint::{load_safetensors, save_safetensors};
/// use kindling::nn::{BatchNorm1d, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-sst-{}.safetensors", std::process::id()));
/// let bn = BatchNorm1d::new(3);
/// save_safetensors(&bn.state_dict(), &path).unwrap();
/// let back = load_safetensors(&path).unwrap();
/// assert_eq!(back.keys(), bn.state_dict().keys());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_safetensors(sd: &StateDict, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    if sd.get(METADATA_KEY).is_some() {
        return Err(CheckpointError::InvalidKey {
            path: path.to_path_buf(),
            key: METADATA_KEY.to_string(),
            reason: "is reserved by safetensors for the file's own metadata; rename the tensor",
        });
    }
    let entries: Vec<(String, Entry)> = sd
        .iter()
        .map(|(key, t)| {
            let data = t.data();
            let exact = sd.count(key).filter(|_| sd.is_count(key));
            let (dtype, bytes) = if let Some(n) = exact {
                (
                    Dtype::I64,
                    (n.min(i64::MAX as u64) as i64).to_le_bytes().to_vec(),
                )
            } else if is_int64_key(key) {
                // Not a whole number (set by hand): round, as a cast to int64 would.
                let bytes = data
                    .iter()
                    .flat_map(|v| (v.round() as i64).to_le_bytes())
                    .collect();
                (Dtype::I64, bytes)
            } else {
                (
                    Dtype::F32,
                    data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            };
            let entry = Entry {
                dtype,
                shape: t.shape().to_vec(),
                bytes,
            };
            (key.to_string(), entry)
        })
        .collect();
    let order: Vec<&str> = sd.iter().map(|(k, _)| k).collect();
    let metadata = HashMap::from([
        // What `safetensors.torch.save_file` writes; Hugging Face loaders check it.
        ("format".to_string(), "pt".to_string()),
        (
            "kindling_version".to_string(),
            crate::KINDLING_VERSION.to_string(),
        ),
        (
            ORDER_KEY.to_string(),
            serde_json::to_string(&order).unwrap_or_default(),
        ),
    ]);
    let bytes = safetensors::tensor::serialize(
        entries.iter().map(|(k, e)| (k.as_str(), e)),
        Some(metadata),
    )
    .map_err(|e| CheckpointError::io(path, "encode", std::io::Error::other(e)))?;
    write_atomic(path, |file| file.write_all(&bytes))
}

/// Loads a safetensors file (from [`save_safetensors`] or from PyTorch's
/// `safetensors.torch.save_file`) as a state dict. F32 tensors are taken as they are; F64
/// and I64 ones (PyTorch's `num_batches_tracked`) are converted to f32. The key order is
/// kindling's if kindling wrote the file, else the file's.
///
/// # Errors
/// [`CheckpointError::Io`]; [`Truncated`](CheckpointError::Truncated) when the header
/// or a tensor reaches past the end of the file; [`BadMagic`](CheckpointError::BadMagic)
/// when the file is not safetensors at all; [`Corrupt`](CheckpointError::Corrupt) when
/// its header is malformed; [`UnsupportedDtype`](CheckpointError::UnsupportedDtype) for
/// any other dtype (BF16, F16, integer types, ...). Never a panic.
///
/// ```
/// use kindling::checkpoint::{load_safetensors, CheckpointError};
/// let path = std::env::temp_dir().join(format!("kindling-doc-lst-{}.safetensors", std::process::id()));
/// // An 8-byte header length, the JSON header, then the data: one BF16 value.
/// let header = br#"{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#;
/// let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
/// bytes.extend_from_slice(header);
/// bytes.extend_from_slice(&[0, 0]);
/// std::fs::write(&path, &bytes).unwrap();
/// let err = load_safetensors(&path).unwrap_err();
/// assert!(matches!(err, CheckpointError::UnsupportedDtype { .. }));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<StateDict, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    decode(&bytes, path)
}

/// Loads a safetensors file into `module`, strictly, as [`load_into`](crate::load_into)
/// does for native files; the module is unchanged on any error.
///
/// # Errors
/// Everything [`load_safetensors`] returns, and [`CheckpointError::Mismatch`] listing
/// missing, unexpected and shape-mismatched keys.
///
/// ```
/// use kindling::checkpoint::{load_safetensors_into, save_safetensors};
/// use kindling::nn::{Linear, Module};
/// let path = std::env::temp_dir().join(format!("kindling-doc-lsti-{}.safetensors", std::process::id()));
/// let a = Linear::new(2, 2);
/// save_safetensors(&a.state_dict(), &path).unwrap();
/// let mut b = Linear::new(2, 2);
/// load_safetensors_into(&mut b, &path).unwrap();
/// assert_eq!(a.weight().to_vec(), b.weight().to_vec());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_safetensors_into(
    module: &mut dyn Module,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let sd = load_safetensors(path)?;
    load_checked(module, &sd, Some(path))
}

/// The part of a tensor's header entry the guard needs.
#[derive(Deserialize)]
struct RawInfo {
    data_offsets: (u64, u64),
}

/// How far a safetensors file reaches, as far as its first bytes tell.
enum Extent {
    /// The JSON header ends at this byte: read that far, then check again.
    HeaderEnd(u64),
    /// The file ends at this byte.
    FileEnd(u64),
}

/// Checks the header length and every byte range against the file's size, so that the
/// crate's own arithmetic cannot overflow on a crafted header. `prefix` is the file's
/// first bytes (at least 9 unless the file is shorter), `file_len` its length if known.
fn check_prefix(
    prefix: &[u8],
    file_len: Option<u64>,
    path: &Path,
) -> Result<Extent, CheckpointError> {
    if prefix.starts_with(&MAGIC) {
        return Err(CheckpointError::BadMagic {
            path: path.to_path_buf(),
            expected: "a safetensors file",
            looks_like: Some("a kindling native checkpoint: load it with load"),
        });
    }
    if prefix.len() < 8 {
        // The first read stops short only at the end of the file.
        let len = file_len.unwrap_or(prefix.len() as u64);
        return Err(CheckpointError::truncated(path, 8, len));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&prefix[..8]);
    let n = u64::from_le_bytes(n);
    if prefix.len() > 8 && prefix[8] != b'{' {
        return Err(CheckpointError::BadMagic {
            path: path.to_path_buf(),
            expected: "a safetensors file",
            looks_like: sniff(prefix),
        });
    }
    if n > MAX_HEADER {
        return Err(CheckpointError::corrupt(
            path,
            format!("the header length {n} is over safetensors' limit of {MAX_HEADER} bytes"),
        ));
    }
    let header_end = 8 + n; // n <= 1e8: no overflow
    if let Some(len) = file_len {
        if header_end > len {
            return Err(CheckpointError::truncated(path, header_end, len));
        }
    }
    if (prefix.len() as u64) < header_end {
        return Ok(Extent::HeaderEnd(header_end));
    }
    let header: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&prefix[8..header_end as usize]).map_err(|e| {
            CheckpointError::corrupt(path, format!("the safetensors header is not valid: {e}"))
        })?;
    let mut end: u64 = 0;
    for (key, value) in header {
        if key == METADATA_KEY {
            continue;
        }
        let info: RawInfo = serde_json::from_value(value).map_err(|e| {
            CheckpointError::corrupt(
                path,
                format!("the header entry for {key:?} is not valid: {e}"),
            )
        })?;
        let (start, stop) = info.data_offsets;
        if start > stop {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "tensor {key:?} has byte range [{start}, {stop}), which ends before it starts"
                ),
            ));
        }
        end = end.max(stop);
    }
    let needed = header_end
        .checked_add(end)
        .ok_or_else(|| CheckpointError::corrupt(path, "the tensors' byte ranges overflow"))?;
    if let Some(len) = file_len {
        if needed > len {
            return Err(CheckpointError::truncated(path, needed, len));
        }
        // The format has no room for anything after the last tensor.
        if needed < len {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "the tensors' byte ranges end at byte {needed}, but {} more bytes follow",
                    len - needed
                ),
            ));
        }
    }
    Ok(Extent::FileEnd(needed))
}

/// Reads a safetensors file: a first block, its JSON header (whose length is bounded by
/// `MAX_HEADER` and the file's size), then only the bytes its tensors' ranges reach.
fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let mut source = Source::open(path)?;
    source.fill_to(FIRST_READ)?;
    loop {
        match check_prefix(&source.bytes, source.known_len(), path)? {
            // After this, either the header is in, or the file ended (and the next check
            // reports it as truncated): the loop runs at most twice.
            Extent::HeaderEnd(end) => source.fill_to(end)?,
            Extent::FileEnd(end) => return source.expect_end(end),
        }
    }
}

/// Decodes the bytes of a safetensors file; `path` is for messages.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<StateDict, CheckpointError> {
    let len = bytes.len() as u64;
    if let Extent::HeaderEnd(end) = check_prefix(bytes, Some(len), path)? {
        // Not reached: with the whole file at hand, a header that does not fit in it is
        // reported as truncated by the check itself.
        return Err(CheckpointError::truncated(path, end, len));
    }
    let invalid = |e: safetensors::SafeTensorError| {
        CheckpointError::corrupt(path, format!("not a valid safetensors file: {e}"))
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(invalid)?;

    let mut order = metadata.offset_keys();
    if let Some(saved) = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(ORDER_KEY))
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
    {
        // Only a permutation of the file's keys is taken; the metadata is advisory.
        let ours: HashSet<&String> = order.iter().collect();
        let theirs: HashSet<&String> = saved.iter().collect();
        if saved.len() == order.len() && ours == theirs {
            order = saved;
        }
    }

    // Check every dtype before converting anything, so that an error leaves nothing half
    // done (and names the first bad key in the file's order).
    let mut views = Vec::with_capacity(order.len());
    for key in &order {
        let view = tensors.tensor(key).map_err(invalid)?;
        match view.dtype() {
            Dtype::F32 | Dtype::F64 | Dtype::I64 => {}
            other => {
                return Err(CheckpointError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    key: key.clone(),
                    dtype: other.to_string(),
                })
            }
        }
        let shape = view.shape().to_vec();
        let numel = checked_numel(&shape).ok_or_else(|| {
            CheckpointError::corrupt(
                path,
                format!("tensor {key:?} has an impossible shape {shape:?}"),
            )
        })?;
        let width = if view.dtype() == Dtype::F32 { 4 } else { 8 };
        if numel.checked_mul(width) != Some(view.data().len()) {
            return Err(CheckpointError::corrupt(
                path,
                format!(
                    "tensor {key:?} of shape {shape:?} has {} bytes of data instead of {numel}×{width}",
                    view.data().len()
                ),
            ));
        }
        views.push((key, shape, view));
    }

    // Everything checked: convert.
    let mut sd = StateDict::new();
    for (key, shape, view) in views {
        let data = view.data();
        if view.dtype() == Dtype::I64 && data.len() == 8 {
            let mut le = [0u8; 8];
            le.copy_from_slice(data);
            if let Ok(n) = u64::try_from(i64::from_le_bytes(le)) {
                sd.insert_count(key.clone(), n);
                continue;
            }
        }
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            _ => data
                .chunks_exact(8)
                .map(|c| {
                    i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        };
        sd.insert(key.clone(), Tensor::from_vec(values, &shape));
    }
    Ok(sd)
}
