//! A host program that wants kindling to leave its process alone: allocator tuning and the
//! buffer pool are turned off before the first tensor exists, and every PyTorch fixture
//! still matches (only speed may change). A `harness = false` test, so `main` runs first.

#[path = "ops_fixtures.rs"]
#[allow(dead_code)] // the file's own #[test] wrappers are compiled only under the harness
mod ops_fixtures;

fn main() {
    kindling_core::kernels::set_allocator_tuning(false);
    kindling_core::kernels::set_buffer_pool_bytes(0);
    ops_fixtures::forward_and_backward_match_pytorch();
    ops_fixtures::gradcheck_passes_everywhere();
    println!("host_defaults_off: every op fixture matches with tuning and the pool off");
}
