//! The xenstore entries of a new domain, as libxl writes them (`libxl__domain_make`,
//! `libxl__build_post`, the primary console in `libxl__device_console_add`; paths in Xen's
//! `docs/misc/xenstore-paths.pandoc`).
//!
//! The tree is computed as plain data first ([`skeleton`]), so it can be tested without a
//! daemon, then written in one transaction ([`write`]).

use rxl_xenstore::client::{Client, ClientError};
use rxl_xenstore::wire::{Perm, PermKind, Perms};

/// Who may access a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// dom0 owns it, the guest may read it (libxl's `roperm`).
    GuestRead,
    /// The guest owns it (libxl's `rwperm`): it reads and writes.
    GuestWrite,
    /// dom0 only (toolstack-private; the default for nodes dom0 creates).
    Dom0Only,
}

/// One node to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute path.
    pub path: String,
    /// Value (empty for directories).
    pub value: String,
    /// Permissions, when they differ from what the parent gives.
    pub access: Option<Access>,
}

/// What the tree is built from.
#[derive(Debug, Clone)]
pub struct DomainFacts {
    /// Domain id.
    pub domid: u32,
    /// Name.
    pub name: String,
    /// UUID, 8-4-4-4-12.
    pub uuid: String,
    /// "pv" or "pvh".
    pub kind: &'static str,
    /// Memory target in KiB.
    pub target_kib: u64,
    /// Maximum memory in KiB.
    pub max_kib: u64,
    /// vCPUs, and how many are online at start.
    pub vcpus: (u32, u32),
    /// Xenstore ring: frame and event channel.
    pub store: (u64, u32),
    /// Console ring: frame and event channel.
    pub console: (u64, u32),
    /// `console/type`: who serves the console (`xenconsoled`, or `rxl` for the monitor's
    /// own backend; see [`crate::console::Placement`]).
    pub console_type: &'static str,
    /// Seconds since the epoch, for `/vm/<uuid>/start_time`.
    pub start_time: String,
}

impl DomainFacts {
    /// `/local/domain/<id>`.
    pub fn dom_path(&self) -> String {
        format!("/local/domain/{}", self.domid)
    }

    /// `/vm/<uuid>`.
    pub fn vm_path(&self) -> String {
        format!("/vm/{}", self.uuid)
    }

    /// Every subtree the tree creates, for cleanup.
    pub fn owned_paths(&self) -> Vec<String> {
        vec![
            self.dom_path(),
            self.vm_path(),
            format!("/libxl/{}", self.domid),
            format!("/local/domain/0/backend/console/{}", self.domid),
        ]
    }
}

/// The nodes, parents before children.
pub fn skeleton(f: &DomainFacts) -> Vec<Node> {
    let d = f.dom_path();
    let vm = f.vm_path();
    let mut out = Vec::new();
    let mut node = |path: String, value: String, access: Option<Access>| {
        out.push(Node {
            path,
            value,
            access,
        });
    };
    use Access::{Dom0Only, GuestRead, GuestWrite};
    node(d.clone(), String::new(), Some(GuestRead));
    node(vm.clone(), String::new(), Some(GuestRead));
    node(format!("{vm}/uuid"), f.uuid.clone(), None);
    node(format!("{vm}/name"), f.name.clone(), None);
    node(format!("{vm}/start_time"), f.start_time.clone(), None);
    node(
        format!("{vm}/image/ostype"),
        if f.kind == "pv" { "linux" } else { "hvm" }.into(),
        None,
    );
    node(format!("{d}/vm"), vm.clone(), None);
    node(format!("{d}/name"), f.name.clone(), None);
    node(format!("{d}/domid"), f.domid.to_string(), None);
    for dir in ["cpu", "memory", "device", "control"] {
        node(format!("{d}/{dir}"), String::new(), Some(GuestRead));
    }
    for dir in ["data", "drivers", "feature", "attr", "error"] {
        node(format!("{d}/{dir}"), String::new(), Some(GuestWrite));
    }
    node(
        format!("{d}/device/suspend/event-channel"),
        String::new(),
        Some(GuestWrite),
    );
    node(
        format!("{d}/control/shutdown"),
        String::new(),
        Some(GuestWrite),
    );
    for feat in [
        "feature-poweroff",
        "feature-reboot",
        "feature-suspend",
        "sysrq",
    ] {
        node(
            format!("{d}/control/{feat}"),
            String::new(),
            Some(GuestWrite),
        );
    }
    node(
        format!("{d}/control/platform-feature-multiprocessor-suspend"),
        "1".into(),
        None,
    );
    node(
        format!("{d}/control/platform-feature-xs_reset_watches"),
        "1".into(),
        None,
    );
    for i in 0..f.vcpus.0 {
        let state = if i < f.vcpus.1 { "online" } else { "offline" };
        node(format!("{d}/cpu/{i}/availability"), state.into(), None);
    }
    node(
        format!("{d}/memory/static-max"),
        f.max_kib.to_string(),
        None,
    );
    node(format!("{d}/memory/target"), f.target_kib.to_string(), None);
    node(
        format!("{d}/store/port"),
        f.store.1.to_string(),
        Some(GuestRead),
    );
    node(format!("{d}/store/ring-ref"), f.store.0.to_string(), None);
    // The primary console: xenconsoled finds it here after @introduceDomain.
    let c = format!("{d}/console");
    node(c.clone(), String::new(), Some(GuestRead));
    node(format!("{c}/backend-id"), "0".into(), None);
    node(format!("{c}/limit"), "1048576".into(), None);
    node(format!("{c}/type"), f.console_type.into(), None);
    node(format!("{c}/output"), "pty".into(), None);
    node(format!("{c}/tty"), String::new(), None);
    node(format!("{c}/port"), f.console.1.to_string(), None);
    node(format!("{c}/ring-ref"), f.console.0.to_string(), None);
    let b = format!("/local/domain/0/backend/console/{}/0", f.domid);
    node(b.clone(), String::new(), Some(GuestRead));
    node(format!("{b}/frontend"), c.clone(), None);
    node(format!("{b}/frontend-id"), f.domid.to_string(), None);
    node(format!("{b}/online"), "1".into(), None);
    node(format!("{b}/state"), "1".into(), None);
    node(format!("{b}/protocol"), "vt100".into(), None);
    let l = format!("/libxl/{}", f.domid);
    node(l.clone(), String::new(), Some(Dom0Only));
    node(format!("{l}/type"), f.kind.into(), None);
    out
}

fn perms(a: Access, domid: u32) -> Perms {
    let p = |kind, domid| Perm { kind, domid };
    let list = match a {
        Access::GuestRead => vec![p(PermKind::None, 0), p(PermKind::Read, domid)],
        Access::GuestWrite => vec![p(PermKind::None, domid)],
        Access::Dom0Only => vec![p(PermKind::None, 0)],
    };
    Perms::new(list).expect("non-empty list")
}

/// Writes the tree in one transaction (retried on conflicts).
pub fn write(xs: &Client, f: &DomainFacts) -> Result<(), ClientError> {
    let nodes = skeleton(f);
    xs.transaction(|tx| {
        for p in f.owned_paths() {
            match tx.rm(&p) {
                Err(e) if e.errno() != Some(rxl_xenstore::wire::XsErrno::ENOENT) => return Err(e),
                _ => {}
            }
        }
        for n in &nodes {
            tx.write(&n.path, n.value.as_bytes())?;
            if let Some(a) = n.access {
                tx.set_perms(&n.path, &perms(a, f.domid))?;
            }
        }
        Ok(())
    })
}

/// Removes every subtree of the domain; missing nodes are fine.
pub fn remove(xs: &Client, f: &DomainFacts) -> Result<(), ClientError> {
    for p in f.owned_paths() {
        match xs.rm(&p) {
            Err(e) if e.errno() != Some(rxl_xenstore::wire::XsErrno::ENOENT) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> DomainFacts {
        DomainFacts {
            domid: 7,
            name: "lab-pv".into(),
            uuid: "06ed00fe-1162-4fc4-b5d8-11993ee4a8b9".into(),
            kind: "pv",
            target_kib: 131072,
            max_kib: 132096,
            vcpus: (2, 1),
            store: (0x1234, 1),
            console: (0x1235, 2),
            console_type: "xenconsoled",
            start_time: "1700000000.00".into(),
        }
    }

    fn get<'a>(t: &'a [Node], p: &str) -> &'a Node {
        t.iter()
            .find(|n| n.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    }

    #[test]
    fn tree_has_what_guests_and_daemons_read() {
        let t = skeleton(&facts());
        assert_eq!(get(&t, "/local/domain/7/console/ring-ref").value, "4661");
        assert_eq!(get(&t, "/local/domain/7/console/port").value, "2");
        assert_eq!(get(&t, "/local/domain/7/console/type").value, "xenconsoled");
        assert_eq!(get(&t, "/local/domain/7/store/ring-ref").value, "4660");
        assert_eq!(get(&t, "/local/domain/7/memory/target").value, "131072");
        assert_eq!(
            get(&t, "/local/domain/7/cpu/1/availability").value,
            "offline"
        );
        assert_eq!(
            get(&t, "/local/domain/7/vm").value,
            "/vm/06ed00fe-1162-4fc4-b5d8-11993ee4a8b9"
        );
        assert_eq!(
            get(&t, "/local/domain/7/control/shutdown").access,
            Some(Access::GuestWrite)
        );
        assert_eq!(get(&t, "/local/domain/7").access, Some(Access::GuestRead));
        // Parents come before children, so each write finds its parent's permissions.
        let pos = |p: &str| t.iter().position(|n| n.path == p).expect("present");
        assert!(pos("/local/domain/7") < pos("/local/domain/7/console/port"));
        assert!(pos("/local/domain/7/control") < pos("/local/domain/7/control/shutdown"));
    }

    #[test]
    fn perms_follow_libxl() {
        assert_eq!(perms(Access::GuestRead, 7).to_strings(), ["n0", "r7"]);
        assert_eq!(perms(Access::GuestWrite, 7).to_strings(), ["n7"]);
    }
}
