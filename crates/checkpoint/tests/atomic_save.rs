//! What a save does to the files around it: it never touches another writer's temporary
//! file, keeps the replaced file's permissions, and writes through a symbolic link.

mod common;

use common::Scratch;
use kindling_checkpoint::{load, save, StateDict};
use kindling_core::Tensor;

fn state(v: f32) -> StateDict {
    let mut sd = StateDict::new();
    sd.insert("x", Tensor::full(&[3], v));
    sd
}

#[test]
fn another_writers_temporary_files_are_left_alone() {
    // Two containers on a shared volume can both be pid 1, and their saves then count
    // temporary names alike: a save must neither fail on a name it finds taken nor delete
    // the file it found there. Here, every `.NAME.PID.N.tmp` a save of this process could
    // pick is taken by "another writer".
    let dir = Scratch::new("atomic-others");
    let path = dir.path("m.kdl");
    let pid = std::process::id();
    let theirs: Vec<_> = (0..256)
        .map(|n| dir.path(&format!(".m.kdl.{pid}.{n}.tmp")))
        .collect();
    for p in &theirs {
        std::fs::write(p, b"another writer's bytes").unwrap();
    }
    save(&state(1.0), &path).unwrap();
    assert_eq!(
        load(&path).unwrap().get("x").unwrap().to_vec(),
        vec![1.0; 3]
    );
    for p in &theirs {
        assert_eq!(
            std::fs::read(p).unwrap(),
            b"another writer's bytes",
            "{} was changed or removed",
            p.display()
        );
    }
    // And the save left no file of its own.
    let count = std::fs::read_dir(&dir.0).unwrap().count();
    assert_eq!(count, theirs.len() + 1);
}

#[test]
#[cfg(unix)]
fn saving_over_a_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("atomic-mode");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for (name, wanted) in [("secret.kdl", 0o600), ("shared.safetensors", 0o664)] {
        let path = dir.path(name);
        let save_it = |v: f32| {
            if name.ends_with(".kdl") {
                save(&state(v), &path).unwrap()
            } else {
                kindling_checkpoint::save_safetensors(&state(v), &path).unwrap()
            }
        };
        save_it(1.0);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)).unwrap();
        save_it(2.0);
        assert_eq!(mode(&path), wanted, "{name}: {:o}", mode(&path));
    }
}
