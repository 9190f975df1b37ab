//! Reading a checkpoint without trusting it: the first bytes, then only as many as the
//! header declares, and never more than the file holds.
//!
//! `fs::read` reads whatever is at the path before anything is checked: a 512 MiB file
//! that is not a checkpoint costs 512 MiB, and a stream that never ends (a FIFO, a device)
//! grows the buffer until memory runs out. The loaders instead read a small first block,
//! let the format check its magic and header against the file's size, and then read up
//! to the length the header declares (plus one byte, to notice a stream that goes on).
//! A regular file's size bounds every allocation; a stream's bytes are allocated as they
//! arrive, never ahead of them.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::CheckpointError;

/// The first read: enough for the native header and, for a file from a newer format
/// version, the metadata that names the kindling which wrote it.
pub(crate) const FIRST_READ: u64 = 64 * 1024;

/// An open file and the bytes read from its start so far.
pub(crate) struct Source<'p> {
    path: &'p Path,
    file: File,
    /// A regular file's size; `None` for a pipe, a device or anything else whose length
    /// is only known at its end.
    size: Option<u64>,
    /// The bytes read so far, from the file's first byte on.
    pub(crate) bytes: Vec<u8>,
    /// Whether the end of the file was reached.
    ended: bool,
}

impl<'p> Source<'p> {
    pub(crate) fn open(path: &'p Path) -> Result<Source<'p>, CheckpointError> {
        let file = File::open(path).map_err(|e| CheckpointError::io(path, "read", e))?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        Ok(Source {
            path,
            file,
            size,
            bytes: Vec::new(),
            ended: false,
        })
    }

    /// Reads until [`bytes`](Self::bytes) holds `n` bytes or the file ends.
    pub(crate) fn fill_to(&mut self, n: u64) -> Result<(), CheckpointError> {
        let have = self.bytes.len() as u64;
        if self.ended || n <= have {
            return Ok(());
        }
        let want = n - have;
        if let Some(size) = self.size {
            // Only what the file can deliver; it is on the disk, so this much memory is
            // what loading it costs anyway.
            let room = want.min(size.saturating_sub(have));
            self.bytes.reserve_exact(usize::try_from(room).unwrap_or(0));
        }
        let got = (&mut self.file)
            .take(want)
            .read_to_end(&mut self.bytes)
            .map_err(|e| CheckpointError::io(self.path, "read", e))?;
        if (got as u64) < want {
            self.ended = true;
        }
        Ok(())
    }

    /// The file's length, when it is known: a regular file's size, or, once the end was
    /// reached, what was read.
    pub(crate) fn known_len(&self) -> Option<u64> {
        if self.ended {
            Some(self.bytes.len() as u64)
        } else {
            self.size
        }
    }

    /// Reads one byte past `end` and fails if it is there: the header said the file ends
    /// at `end`. (A regular file's size was compared with `end` already; this catches a
    /// stream, or a file that grew since.)
    pub(crate) fn expect_end(mut self, end: u64) -> Result<Vec<u8>, CheckpointError> {
        self.fill_to(end.saturating_add(1))?;
        if self.bytes.len() as u64 > end {
            return Err(CheckpointError::corrupt(
                self.path,
                format!("the header says the file ends at byte {end}, but it goes on past it"),
            ));
        }
        Ok(self.bytes)
    }
}
