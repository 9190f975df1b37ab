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

#[test]
#[cfg(unix)]
fn saving_through_a_symbolic_link_writes_the_file_it_points_to() {
    use std::os::unix::fs::symlink;
    let dir = Scratch::new("atomic-link");
    let runs = dir.path("runs");
    std::fs::create_dir(&runs).unwrap();
    let real = runs.join("epoch-7.kdl");
    save(&state(1.0), &real).unwrap();
    // last.kdl -> runs/epoch-7.kdl (relative), and latest.kdl -> last.kdl (a chain).
    let last = dir.path("last.kdl");
    symlink("runs/epoch-7.kdl", &last).unwrap();
    let latest = dir.path("latest.kdl");
    symlink(&last, &latest).unwrap();

    for (link, v) in [(&last, 2.0), (&latest, 3.0)] {
        save(&state(v), link).unwrap();
        assert!(
            std::fs::symlink_metadata(link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{} was replaced by a file",
            link.display()
        );
        assert_eq!(load(&real).unwrap().get("x").unwrap().to_vec(), vec![v; 3]);
    }
    assert_eq!(
        std::fs::read_link(&last).unwrap(),
        std::path::Path::new("runs/epoch-7.kdl")
    );

    // A link to a file that does not exist yet: the file is created where it points.
    let dangling = dir.path("next.kdl");
    symlink("runs/epoch-8.kdl", &dangling).unwrap();
    save(&state(4.0), &dangling).unwrap();
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        load(runs.join("epoch-8.kdl"))
            .unwrap()
            .get("x")
            .unwrap()
            .to_vec(),
        vec![4.0; 3]
    );

    // A loop of links is an error that says so, not a hang.
    symlink("loop-b.kdl", dir.path("loop-a.kdl")).unwrap();
    symlink("loop-a.kdl", dir.path("loop-b.kdl")).unwrap();
    let err = save(&state(5.0), dir.path("loop-a.kdl")).unwrap_err();
    assert!(
        err.to_string()
            .contains("more than 40 symbolic links in a chain (a loop?)"),
        "{err}"
    );

    // No temporary file left anywhere.
    for d in [&dir.0, &runs] {
        for entry in std::fs::read_dir(d).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().ends_with(".tmp"),
                "{name:?} left behind"
            );
        }
    }
}
