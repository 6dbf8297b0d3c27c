//! Conformance: Debian's real xenstore-utils clients (linked to libxenstore, which honours
//! XENSTORED_PATH) against `rxenstored`, asserting their output; and `rxenstore` compared
//! byte for byte with them. Skips, saying why, when the tools are not installed (suite
//! 40-xenstore installs them, so CI always runs this).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Xsd;

fn have_tools() -> bool {
    let ok = Command::new("sh").args(["-c", "command -v xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-chmod xenstore-watch xenstore-exists xenstore-list"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: Debian's xenstore-utils are not installed (apt-get install xenstore-utils, or run tests/suites/40-xenstore.sh)"
        );
    }
    ok
}

fn run(sock: &Path, prog: &str, args: &[&str]) -> Output {
    let mut cmd = if prog == "rxenstore" {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rxenstore"));
        c.arg(args[0]);
        c.args(&args[1..]);
        c
    } else {
        let mut c = Command::new(format!("xenstore-{}", args[0]));
        c.args(&args[1..]);
        c
    };
    cmd.env("XENSTORED_PATH", sock)
        .env_remove("XENSTORED_RUNDIR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn out(sock: &Path, args: &[&str]) -> (String, i32) {
    let o = run(sock, "xenstore", args);
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn debian_clients_against_rxenstored() {
    if !have_tools() {
        return;
    }
    let x = Xsd::start(&[], &[]);
    let s = x.sock.as_path();
    assert_eq!(
        out(s, &["write", "/vm/name", "hello", "/vm/esc", "a\\tb\\x01"]),
        (String::new(), 0)
    );
    assert_eq!(
        out(s, &["read", "/vm/name", "/vm/esc"]),
        ("hello\na\\tb\\001\n".into(), 0)
    );
    assert_eq!(
        out(s, &["read", "-p", "/vm/name"]),
        ("/vm/name: hello\n".into(), 0)
    );
    assert_eq!(out(s, &["read", "-R", "/vm/esc"]).0, "a\tb\u{1}");
    let (o, rc) = out(s, &["read", "/vm/none"]);
    assert_eq!((o.as_str(), rc), ("", 1));
    assert_eq!(out(s, &["exists", "/vm/name"]).1, 0);
    assert_eq!(out(s, &["exists", "/vm/none"]).1, 1);
    assert_eq!(
        out(s, &["ls", "/vm"]),
        ("name = \"hello\"\nesc = \"a\\tb\\001\"\n".into(), 0)
    );
    assert_eq!(
        out(s, &["list", "-p", "/vm"]),
        ("/vm/name\n/vm/esc\n".into(), 0)
    );
    assert_eq!(out(s, &["chmod", "/vm/name", "r0", "b5"]).1, 0);
    let (ls, _) = out(s, &["ls", "-p", "/vm"]);
    assert!(ls.starts_with("name = \"hello\" . . ."), "{ls}");
    assert!(ls.contains("(r0,b5)\nesc"), "{ls}");
    assert_eq!(
        out(s, &["ls", "-f", "/vm"]).0,
        "/vm/name = \"hello\"\n/vm/esc = \"a\\tb\\001\"\n"
    );
    // Long values are cut at 80 columns when stdout is not a terminal.
    out(s, &["write", "/long", &"v".repeat(200)]);
    let (ls, _) = out(s, &["ls", "/"]);
    let long = ls.lines().find(|l| l.starts_with("long")).unwrap();
    assert_eq!(long, format!("long = \"{}\\...\"", "v".repeat(68)));
    assert_eq!(out(s, &["rm", "/vm/esc"]).1, 0);
    assert_eq!(out(s, &["list", "/vm"]).0, "name\n");
    out(s, &["write", "/tidy/a/b/c", "x"]);
    assert_eq!(out(s, &["rm", "-t", "/tidy/a/b/c"]).1, 0);
    assert_eq!(
        out(s, &["exists", "/tidy"]).1,
        1,
        "-t removed empty parents"
    );
    // A directory larger than one payload: libxenstore falls back to DIRECTORY_PART.
    let names: Vec<String> = (0..600)
        .map(|i| format!("/big/a-rather-long-child-name-{i:04}"))
        .collect();
    let mut args = vec!["write"];
    for n in &names {
        args.push(n);
        args.push("");
    }
    assert_eq!(out(s, &args).1, 0);
    let (list, rc) = out(s, &["list", "/big"]);
    assert_eq!((list.lines().count(), rc), (600, 0));
    assert_eq!(list.lines().last(), Some("a-rather-long-child-name-0599"));
}

#[test]
fn debian_watch_prints_initial_and_later_events() {
    if !have_tools() {
        return;
    }
    let x = Xsd::start(&[], &[]);
    let mut child = Command::new("xenstore-watch")
        .args(["-n", "3", "/w"])
        .env("XENSTORED_PATH", &x.sock)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The initial event proves the watch is registered; only then change things.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "/w\n");
    out(&x.sock, &["write", "/w/a", "1"]);
    out(&x.sock, &["write", "/other", "1"]);
    out(&x.sock, &["rm", "/w"]);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(format!("{first}{rest}"), "/w\n/w/a\n/w\n");
}

#[test]
fn rxenstore_output_matches_debian_byte_for_byte() {
    if !have_tools() {
        return;
    }
    let x = Xsd::start(&[], &[]);
    let s = x.sock.as_path();
    out(
        s,
        &[
            "write",
            "/vm/name",
            "hello",
            "/vm/x",
            "a\\tb\\\\c\\x7f",
            "/local/domain/1/name",
            "g1",
            "/local/domain/1/long",
            &"z".repeat(300),
        ],
    );
    out(s, &["chmod", "-r", "/local", "r0", "b1"]);
    let cases: &[&[&str]] = &[
        &["read", "/vm/name", "/vm/x"],
        &["read", "-p", "/vm/name"],
        &["read", "-R", "/vm/x"],
        &["read", "/vm/none"],
        &["ls"],
        &["ls", "-p"],
        &["ls", "-f"],
        &["ls", "-fp", "/local"],
        &["ls", "/none"],
        &["list", "/"],
        &["list", "-p", "/vm"],
        &["exists", "/vm"],
        &["exists", "/vm/none"],
    ];
    for args in cases {
        let a = run(s, "xenstore", args);
        let b = run(s, "rxenstore", args);
        assert_eq!(
            String::from_utf8_lossy(&b.stdout),
            String::from_utf8_lossy(&a.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(b.status.code(), a.status.code(), "exit code of {args:?}");
    }
    // Mutations: same effect either way.
    for prog in ["xenstore", "rxenstore"] {
        let base = format!("/m-{prog}/t");
        run(s, prog, &["write", &format!("{base}/a/b"), "v\\n"]);
        run(
            s,
            prog,
            &["chmod", "-u", &format!("{base}/a/b"), "n0", "r3"],
        );
        run(s, prog, &["rm", "-t", &format!("{base}/a/b")]);
        run(s, prog, &["write", &format!("{base}/c"), "1"]);
    }
    let a = out(s, &["ls", "-p", "/m-xenstore"]);
    let b = out(s, &["ls", "-p", "/m-rxenstore"]);
    assert!(a.0.contains("c = \"1\""), "{a:?}");
    assert_eq!(a, b);
}

#[test]
fn xen_test_xenstore_passes() {
    let bin = std::env::var("RXL_TEST_XENSTORE")
        .unwrap_or_else(|_| "/usr/lib/xen-4.17/bin/test-xenstore".into());
    if !Path::new(&bin).exists() {
        eprintln!(
            "SKIPPED: {bin} not found (xen-utils-4.17; suite 40-xenstore unpacks it and sets RXL_TEST_XENSTORE)"
        );
        return;
    }
    let x = Xsd::start(&[], &[]);
    let o = Command::new(&bin)
        .env("XENSTORED_PATH", &x.sock)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("failed"), "{text}");
    assert_eq!(
        text.lines().count(),
        12,
        "all 12 cases ran, including 'ta err' (conflict → EAGAIN): {text}"
    );
}
