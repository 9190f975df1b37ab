//! The kill test: a child process (this test binary, re-run with an environment variable)
//! saves a large checkpoint in a loop, alternating two contents, and is killed with
//! SIGKILL at several moments. After each kill the checkpoint must load and equal one of
//! the two contents: the atomic save never leaves a half-written file behind.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;
use kindling_checkpoint::{load, save, StateDict};
use kindling_core::rng::Xoshiro256;
use kindling_core::Tensor;
use rand::RngCore;

const CHILD_ENV: &str = "KINDLING_KILL_TEST_CHILD";
/// 4 Mi floats: a 16 MiB file, long enough to write that kills land mid-save.
const BIG: usize = 4 << 20;

/// Content number `which` (1 or 2): a large tensor whose values depend on `which`, and a
/// small marker tensor saying which one it is.
fn content(which: u32) -> StateDict {
    let big: Vec<f32> = (0..BIG)
        .map(|i| (i as f32) * if which == 1 { 1.0 } else { -0.5 })
        .collect();
    let mut sd = StateDict::new();
    sd.insert("big", Tensor::from_vec(big, &[BIG]));
    sd.insert("marker", Tensor::full(&[3], which as f32));
    sd
}

/// Which content `sd` is, checking every value; panics if it is neither.
fn which_content(sd: &StateDict) -> u32 {
    let which = sd.get("marker").expect("marker").to_vec()[0] as u32;
    assert!(which == 1 || which == 2, "marker {which}");
    let expected = content(which);
    assert_eq!(
        sd.get("big").unwrap().to_vec(),
        expected.get("big").unwrap().to_vec(),
        "the big tensor does not match marker {which}"
    );
    which
}

/// The child: saves content 1, 2, 1, 2, ... until killed.
fn child_loop(path: &Path) -> ! {
    let contents = [content(1), content(2)];
    let mut i = 0usize;
    loop {
        save(&contents[i % 2], path).unwrap();
        i += 1;
        if i == 1 {
            println!("saving");
        }
    }
}

#[test]
fn killed_mid_save_leaves_a_valid_checkpoint() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child_loop(Path::new(&path));
    }
    let dir = Scratch::new("kill");
    let path = dir.path("big.kdl");
    save(&content(1), &path).unwrap();

    // How long one save takes here, to spread the kills over several saves.
    let t = Instant::now();
    save(&content(2), &path).unwrap();
    let one_save = t.elapsed();
    println!("one save of a 16 MiB checkpoint: {one_save:?}");

    let exe = std::env::current_exe().unwrap();
    let mut rng = Xoshiro256::seed_from(5);
    let mut seen = [0usize; 3];
    for round in 0..8 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "killed_mid_save_leaves_a_valid_checkpoint",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill anywhere from the child's start-up to several saves in.
        let delay = Duration::from_millis(20)
            + one_save.mul_f64((rng.next_u64() % 1000) as f64 / 1000.0 * 6.0);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, nothing
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child ended by itself: {status}");

        let sd = load(&path).unwrap_or_else(|e| panic!("round {round}: after the kill: {e}"));
        let which = which_content(&sd);
        seen[which as usize] += 1;
        println!("round {round}: killed after {delay:?}, the file holds content {which}");
    }
    // Killed children leave their temporary files behind (nothing can clean up after
    // SIGKILL); they never shadow the checkpoint and the next save uses a new name.
    let leftovers = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    println!(
        "contents seen: 1 x{}, 2 x{}; temporary files left by kills: {leftovers}",
        seen[1], seen[2]
    );
}
