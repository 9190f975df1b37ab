//! Loaders read a file's header before the rest, and then only as much as the header
//! declares: a large file that is not a checkpoint costs one small read, and a stream that
//! never ends (a FIFO, a device) cannot make a loader grow its memory without bound.
//!
//! The tests feed named pipes from a thread that counts what the loader took: the writer
//! gets "broken pipe" as soon as the loader stops reading and closes its end.

#![cfg(unix)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;

use common::{saved_small_cnn, Scratch};
use kindling_checkpoint::{
    load, load_safetensors, load_training, save_safetensors, CheckpointError,
};
use kindling_nn::{Linear, Module};

/// What the writer offers at most: far more than a correct loader takes.
const OFFERED: usize = 32 << 20;
/// What a loader may take beyond the bytes it needs: its first read (64 KiB), the pipe's
/// buffer (64 KiB on Linux) and one chunk of the writer (64 KiB), with room to spare.
const SLACK: usize = 1 << 20;

fn fifo(dir: &Scratch, name: &str) -> PathBuf {
    let path = dir.path(name);
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
    path
}

/// Writes `head`, then zeros, into the FIFO at `path` until `OFFERED` bytes are written
/// or the reader closes its end; returns how many bytes went in.
fn feed(path: &Path, head: Vec<u8>) -> JoinHandle<usize> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // Blocks until the loader opens the other end.
        let mut pipe = OpenOptions::new().write(true).open(&path).unwrap();
        let mut written = 0;
        if pipe.write_all(&head).is_err() {
            return written;
        }
        written += head.len();
        let zeros = vec![0u8; 64 << 10];
        while written < OFFERED {
            match pipe.write(&zeros) {
                Ok(n) => written += n,
                Err(_) => break, // broken pipe: the loader is done
            }
        }
        written
    })
}

#[test]
fn a_never_ending_stream_of_garbage_costs_one_small_read() {
    let dir = Scratch::new("bounded-garbage");
    type Loader = fn(&Path) -> Option<CheckpointError>;
    let loaders: [(&str, Loader); 3] = [
        ("load", |p| load(p).err()),
        ("load_training", |p| load_training(p).err()),
        ("load_safetensors", |p| load_safetensors(p).err()),
    ];
    for (name, loader) in loaders {
        let path = fifo(&dir, name);
        let writer = feed(&path, Vec::new());
        let err = loader(&path).expect("zeros are no checkpoint");
        assert!(
            matches!(err, CheckpointError::BadMagic { .. }),
            "{name}: {err}"
        );
        let taken = writer.join().unwrap();
        assert!(
            taken < SLACK,
            "{name} read {taken} bytes of a stream that was not a checkpoint"
        );
    }
}

#[test]
fn a_stream_is_read_only_as_far_as_its_header_declares() {
    let dir = Scratch::new("bounded-declared");
    let native = dir.path("m.kdl");
    saved_small_cnn(&native);
    let native = std::fs::read(&native).unwrap();
    let st = dir.path("m.safetensors");
    save_safetensors(&Linear::new(3, 2).state_dict(), &st).unwrap();
    let st = std::fs::read(&st).unwrap();

    // A whole file through a pipe loads.
    let path = fifo(&dir, "exact.kdl");
    let writer = std::thread::spawn({
        let (path, bytes) = (path.clone(), native.clone());
        move || {
            let mut pipe = OpenOptions::new().write(true).open(&path).unwrap();
            pipe.write_all(&bytes).unwrap();
        }
    });
    assert_eq!(load(&path).unwrap().len(), 9);
    writer.join().unwrap();

    // A file followed by more bytes than it declares: refused, and read no further.
    for (name, head) in [("native", native.clone()), ("safetensors", st.clone())] {
        let path = fifo(&dir, &format!("longer-{name}"));
        let writer = feed(&path, head.clone());
        let err = if name == "native" {
            load(&path).unwrap_err()
        } else {
            load_safetensors(&path).unwrap_err()
        };
        assert!(
            matches!(err, CheckpointError::Corrupt { .. }),
            "{name}: {err}"
        );
        let taken = writer.join().unwrap();
        assert!(
            taken < head.len() + SLACK,
            "{name}: read {taken} bytes of a stream whose header declares {}",
            head.len()
        );
    }
}

/// Bytes this thread has read through `read` calls so far (Linux's per-thread I/O count).
#[cfg(target_os = "linux")]
fn bytes_read_by_this_thread() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("rchar:")).unwrap();
    line["rchar:".len()..].trim().parse().unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn a_large_file_that_is_not_a_checkpoint_costs_one_small_read() {
    let dir = Scratch::new("bounded-large");
    let path = dir.path("big.bin");
    // 512 MiB of zeros, sparse: it takes no disk space, but reading it all would take
    // 512 MiB of memory.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(512 << 20).unwrap();
    drop(file);
    for name in ["load", "load_training", "load_safetensors"] {
        let before = bytes_read_by_this_thread();
        let err = match name {
            "load" => load(&path).unwrap_err(),
            "load_training" => load_training(&path).unwrap_err(),
            _ => load_safetensors(&path).unwrap_err(),
        };
        let taken = bytes_read_by_this_thread() - before;
        assert!(
            matches!(err, CheckpointError::BadMagic { .. }),
            "{name}: {err}"
        );
        assert!(
            taken < SLACK as u64,
            "{name} read {taken} bytes of a 512 MiB non-checkpoint"
        );
    }
}
