//! The verbs' dispatch over a fake [`Backend`] (in addition to the real ones: the Xen lab and
//! the KVM suites drive the same code on real hypervisors): one code path per verb, typed data
//! rendered by the CLI, and a clear `Unsupported` error where a backend lacks a capability.

use std::cell::RefCell;
use std::time::Duration;

use clap::Parser;
use rxl_config::DomainConfig;
use rxl_hypervisor::{
    Backend, BackendError, BackendKind, Console, CreateOptions, Created, DomainId, DomainState,
    DomainSummary, HostInfo, ShutdownKind, ShutdownWait,
};

use crate::{Cli, Verb};

/// A backend with dom0-like domain 0 and guests 3 ("web") and 5 ("db"), recording each call.
struct Fake {
    calls: RefCell<Vec<String>>,
    wait: ShutdownWait,
}

impl Fake {
    fn new() -> Self {
        Fake {
            calls: RefCell::new(Vec::new()),
            wait: ShutdownWait::ShutDown,
        }
    }

    fn log(&self, s: String) {
        self.calls.borrow_mut().push(s);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

fn dom(id: u32, name: &str, control: bool) -> DomainSummary {
    DomainSummary {
        id: DomainId(id),
        name: Some(name.into()),
        mem_kib: 262_144,
        vcpus: 1,
        state: DomainState {
            blocked: true,
            ..Default::default()
        },
        cpu_time_secs: 1.25,
        uuid: None,
        control,
        details: serde_json::json!({ "fake_id": id }),
    }
}

impl Backend for Fake {
    fn kind(&self) -> BackendKind {
        BackendKind::Kvm
    }
    fn host_info(&self) -> Result<HostInfo, BackendError> {
        Ok(HostInfo::from_fields(vec![
            ("hypervisor".into(), "fake".into()),
            ("nr_cpus".into(), "2".into()),
        ]))
    }
    fn list(&self) -> Result<Vec<DomainSummary>, BackendError> {
        self.log("list".into());
        Ok(vec![
            dom(0, "Domain-0", true),
            dom(3, "web", false),
            dom(5, "db", false),
        ])
    }
    fn lookup(&self, d: &str) -> Result<DomainId, BackendError> {
        match d {
            "0" | "Domain-0" => Ok(DomainId(0)),
            "3" | "web" => Ok(DomainId(3)),
            "5" | "db" => Ok(DomainId(5)),
            _ => Err(BackendError::NoSuchDomain(d.into())),
        }
    }
    fn create(&self, cfg: &DomainConfig, o: &CreateOptions) -> Result<Created, BackendError> {
        let src = o
            .source
            .as_ref()
            .map(|s| (s.file.clone(), s.overrides.clone()));
        self.log(format!("create {:?} paused={} {src:?}", cfg.name, o.paused));
        Ok(Created {
            id: DomainId(9),
            warnings: vec!["a key without effect".into()],
        })
    }
    fn pause(&self, id: DomainId) -> Result<(), BackendError> {
        self.log(format!("pause {id}"));
        Ok(())
    }
    fn unpause(&self, id: DomainId) -> Result<(), BackendError> {
        self.log(format!("unpause {id}"));
        Ok(())
    }
    fn shutdown(&self, id: DomainId, kind: ShutdownKind) -> Result<(), BackendError> {
        self.log(format!("shutdown {id} {kind:?}"));
        Ok(())
    }
    fn wait_shutdown(&self, id: DomainId, _: Duration) -> Result<ShutdownWait, BackendError> {
        self.log(format!("wait {id}"));
        Ok(self.wait)
    }
    fn destroy(&self, id: DomainId) -> Result<(), BackendError> {
        self.log(format!("destroy {id}"));
        Ok(())
    }
    fn console(&self, _: DomainId) -> Result<Console, BackendError> {
        Err(BackendError::Unsupported {
            backend: BackendKind::Kvm,
            verb: "console",
            reason: "the fake has no console".into(),
        })
    }
}

/// Runs `rxl ARGS...` against `b`; returns (result, stdout).
fn rxl(b: &Fake, args: &[&str]) -> (Result<(), String>, String) {
    let cli = Cli::try_parse_from(std::iter::once("rxl").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut out = Vec::new();
    let r = match cli.command {
        Verb::Domain(c) => super::domain::run(c, b, cli.verbose, &mut out),
        Verb::Xen(c) => super::xen::run(c, b),
        other => panic!("not a backend verb: {other:?}"),
    };
    (
        r.map(drop).map_err(|e| super::error_chain(&*e)),
        String::from_utf8(out).unwrap(),
    )
}

#[test]
fn list_renders_the_backends_rows_in_xls_layout() {
    let b = Fake::new();
    let (r, out) = rxl(&b, &["list"]);
    r.unwrap();
    let want = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
Domain-0                                     0   256     1     -b----       1.2\n\
web                                          3   256     1     -b----       1.2\n\
db                                           5   256     1     -b----       1.2\n";
    assert_eq!(out, want);
    let (r, out) = rxl(&b, &["list", "web"]);
    r.unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().nth(1).unwrap().starts_with("web "));
    let (r, out) = rxl(&b, &["list", "-v"]);
    r.unwrap();
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with("Reason-Code\tSecurity Label")
    );
}

#[test]
fn list_json_carries_the_backends_details() {
    let b = Fake::new();
    let (r, out) = rxl(&b, &["list", "--json", "db"]);
    r.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "db");
    assert_eq!(v[0]["info"]["fake_id"], 5);
}

#[test]
fn info_prints_lines_and_selects_values() {
    let b = Fake::new();
    let (_, out) = rxl(&b, &["info"]);
    assert_eq!(
        out,
        "hypervisor             : fake\nnr_cpus                : 2\n"
    );
    let (_, out) = rxl(&b, &["info", "nr_"]);
    assert_eq!(out, "2\n");
}

#[test]
fn lifecycle_verbs_resolve_names_and_call_the_backend() {
    let b = Fake::new();
    for args in [&["pause", "web"][..], &["unpause", "3"], &["destroy", "db"]] {
        rxl(&b, args).0.unwrap();
    }
    assert_eq!(b.calls(), ["pause 3", "unpause 3", "destroy 5"]);
    let (r, _) = rxl(&b, &["pause", "nope"]);
    assert_eq!(
        r.unwrap_err(),
        "domain 'nope' does not exist (see `rxl list`)"
    );
}

#[test]
fn shutdown_all_skips_the_control_domain_and_asks_before_waiting() {
    let b = Fake::new();
    rxl(&b, &["shutdown", "-a", "-w"]).0.unwrap();
    assert_eq!(
        b.calls(),
        [
            "list",
            "shutdown 3 Poweroff",
            "shutdown 5 Poweroff",
            "wait 3",
            "wait 5"
        ]
    );
    let b = Fake::new();
    rxl(&b, &["reboot", "web"]).0.unwrap();
    assert_eq!(b.calls(), ["shutdown 3 Reboot"]);
    let (r, _) = rxl(&b, &["shutdown"]);
    assert!(r.unwrap_err().contains("which domain?"));
    let (r, _) = rxl(&b, &["shutdown", "-a", "web"]);
    assert!(r.unwrap_err().contains("not both"));
}

#[test]
fn a_shutdown_that_never_comes_is_an_error_naming_the_way_out() {
    let mut b = Fake::new();
    b.wait = ShutdownWait::TimedOut;
    let e = rxl(&b, &["shutdown", "-w", "db"]).0.unwrap_err();
    assert!(
        e.contains("did not shut down") && e.contains("rxl destroy 5"),
        "{e}"
    );
}

#[test]
fn domid_and_domname_go_through_lookup_and_list() {
    let b = Fake::new();
    assert_eq!(rxl(&b, &["domid", "db"]).1, "5\n");
    assert!(
        rxl(&b, &["domid", "5"]).0.is_err(),
        "a number is not a name"
    );
    assert_eq!(rxl(&b, &["domname", "3"]).1, "web\n");
    assert!(rxl(&b, &["domname", "4"]).0.unwrap_err().contains("'4'"));
}

#[test]
fn xen_only_verbs_are_a_typed_unsupported_error_elsewhere() {
    let b = Fake::new();
    for (args, verb) in [
        (&["mem-set", "web", "128"][..], "mem-set"),
        (&["vcpu-pin", "web", "0", "1"], "vcpu-pin"),
        (&["dmesg"], "dmesg"),
        (&["uptime"], "uptime"),
        (&["dump-core", "web", "/tmp/web.core"], "dump-core"),
    ] {
        let e = rxl(&b, args).0.unwrap_err();
        assert!(
            e.starts_with(&format!("`rxl {verb}` is not supported on kvm: ")),
            "{e}"
        );
    }
    assert!(b.calls().is_empty(), "nothing ran: {:?}", b.calls());
}

#[test]
fn an_unsupported_console_is_reported_not_a_panic() {
    let b = Fake::new();
    let e = rxl(&b, &["console", "web"]).0.unwrap_err();
    assert!(e.contains("console") && e.contains("no console"), "{e}");
}

#[test]
fn create_hands_the_file_and_options_to_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.cfg");
    std::fs::write(
        &file,
        "name = \"g\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 64\n",
    )
    .unwrap();
    let cli =
        Cli::try_parse_from(["rxl", "create", "-p", file.to_str().unwrap(), "memory=32"]).unwrap();
    let Verb::Create(args) = cli.command else {
        panic!("not create")
    };
    let loaded = rxl_config::load_with_overrides(&args.file, &args.overrides).unwrap();
    let b = Fake::new();
    super::create::create(&args, &loaded, &b).unwrap();
    let calls = b.calls();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].starts_with("create Some(\"g\") paused=true Some((")
            && calls[0].contains("g.cfg")
            && calls[0].contains("memory=32"),
        "{calls:?}"
    );
}
