//! Memory stays flat across many training steps: each step's graph, and every buffer it
//! saved, is freed. In a file of its own so that no other test shares the process's RSS.

use kindling_core::Tensor;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn memory_stays_flat_over_5000_training_steps() {
    let w1 = Tensor::randn(&[32, 64]).requires_grad(true);
    let w2 = Tensor::randn(&[64, 10]).requires_grad(true);
    let x = Tensor::randn(&[16, 32]);
    let step = || {
        let h = x.matmul(&w1).relu();
        let loss = h.matmul(&w2).log_softmax(1).nll_loss(&[3; 16]);
        loss.backward();
        w1.set_grad(None);
        w2.set_grad(None);
    };
    for _ in 0..500 {
        step();
    }
    let Some(before) = rss_kib() else { return }; // not Linux: nothing to read
    for _ in 0..5000 {
        step();
    }
    let after = rss_kib().unwrap();
    // The graph of one step holds about 100 KiB; a leak of it per step would be 500 MiB.
    assert!(
        after < before + 4 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 5000 steps"
    );
}
