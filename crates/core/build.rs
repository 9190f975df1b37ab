//! Notes whether kindling-core itself is being compiled without optimisation, so that it can
//! say so at run time: an unoptimised build runs a training step some 66x slower
//! (docs/own-project.md), which a learner would otherwise take for the framework's real
//! speed. Cargo tells build scripts the opt-level
//! the package is built with (`OPT_LEVEL`); a crate that depends on kindling builds it at 0
//! in its dev profile unless that crate's own Cargo.toml raises it.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(kindling_unoptimized)");
    println!("cargo::rerun-if-env-changed=OPT_LEVEL");
    if std::env::var("OPT_LEVEL").as_deref() == Ok("0") {
        println!("cargo::rustc-cfg=kindling_unoptimized");
    }
}
