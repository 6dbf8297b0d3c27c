//! Helpers shared by the tiny-guest tests: skipping without /dev/kvm, the built test kernels,
//! and a console that captures the guest's UART output.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Why KVM tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if env!("RXL_KVM_GUEST_DIR").is_empty() {
        return Some(
            "the tiny guest kernels were not built (binutils missing at build time)".into(),
        );
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => None,
        Err(e) => Some(format!("/dev/kvm is not usable: {e}")),
    }
}

/// Returns early from a test, printing why, when KVM tests cannot run.
#[macro_export]
macro_rules! require_kvm {
    () => {
        if let Some(why) = common::skip_reason() {
            eprintln!("SKIP {}: {why}", module_path!());
            return;
        }
    };
}

/// Path of a built test kernel.
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("RXL_KVM_GUEST_DIR")).join(name)
}

/// A console sink the test can read back.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything the guest printed so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The value printed after `key=` on its own line.
    pub fn field(&self, key: &str) -> Option<String> {
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
    }
}

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
