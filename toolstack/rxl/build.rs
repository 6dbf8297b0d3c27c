//! Links `rxl` as a position-dependent executable.
//!
//! Why: in a PV dom0 under emulation every page fault costs about a millisecond, and a PIE
//! binary makes the dynamic loader apply ~6000 relative relocations at every start, writing
//! (and so faulting in) every page of `.data.rel.ro` and `.got` before `main`. A fixed-address
//! executable has those resolved at link time. The code itself is unchanged (rustc still
//! compiles position-independent code; the linker resolves it statically).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
