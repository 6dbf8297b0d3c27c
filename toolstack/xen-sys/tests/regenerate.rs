//! Proves `src/generated.rs` is exactly what bindgen makes of the installed Xen headers.
//!
//! `XEN_SYS_BLESS=1 cargo test -p xen-sys --test regenerate` (or `gen/regenerate.sh`) rewrites
//! the file instead of comparing; commit the result together with the header change.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs bindgen over `gen/wrapper.h` with the options the checked-in file was made with.
fn generate() -> String {
    let wrapper = crate_dir().join("gen/wrapper.h");
    let bindings = bindgen::Builder::default()
        .header(wrapper.to_str().expect("crate path is UTF-8"))
        // Only Xen's own headers: keep libc's stdint out of the bindings.
        .allowlist_file(r".*/xen/.*\.h")
        .derive_default(true)
        .derive_debug(true)
        .derive_copy(true)
        .layout_tests(true)
        .generate_comments(false)
        // A fixed formatter keeps the output independent of the toolchain's rustfmt.
        .formatter(bindgen::Formatter::Prettyplease)
        .generate()
        .expect("bindgen failed on gen/wrapper.h (are libxen-dev and libclang-dev installed?)");
    bindings.to_string()
}

fn check_or_bless(path: &Path, fresh: &str) {
    if std::env::var_os("XEN_SYS_BLESS").is_some() {
        let tmp = path.with_extension("rs.tmp");
        std::fs::write(&tmp, fresh).expect("write temporary bindings");
        std::fs::rename(&tmp, path).expect("replace generated.rs");
        return;
    }
    let old = std::fs::read_to_string(path).expect("read src/generated.rs");
    if old != fresh {
        let line = old
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| old.lines().count().min(fresh.lines().count()))
            + 1;
        panic!(
            "{}: differs from bindgen's output from line {line}; the Xen headers or bindgen \
             changed. Run toolstack/xen-sys/gen/regenerate.sh and commit the result.",
            path.display()
        );
    }
}

#[test]
fn generated_bindings_are_fresh() {
    let fresh = generate();
    assert!(fresh.contains("XEN_DOMCTL_INTERFACE_VERSION"));
    check_or_bless(&crate_dir().join("src/generated.rs"), &fresh);
}
