//! Builds the tiny test kernels (guest/*.S) with binutils so tests and benchmarks can boot
//! them. If the assembler is missing the build continues; the KVM tests then skip and say why.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("guest");
    for f in [
        "guest/build.sh",
        "guest/pvh.S",
        "guest/long64.S",
        "guest/common.inc",
        "guest/guest.ld",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    let ok = Command::new("bash")
        .arg("guest/build.sh")
        .arg(&out)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        println!("cargo:rustc-env=RXL_KVM_GUEST_DIR={}", out.display());
    } else {
        println!(
            "cargo:warning=guest/build.sh failed (binutils missing?): tiny-guest tests will skip"
        );
        println!("cargo:rustc-env=RXL_KVM_GUEST_DIR=");
    }
}
