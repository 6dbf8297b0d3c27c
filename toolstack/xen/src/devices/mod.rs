//! PV block (`disk=`) and network (`vif=`) devices of Xen guests, added as libxl adds them
//! with `run_hotplug_scripts=1` (xl's default): the frontend and backend xenstore nodes of
//! `libxl__device_generic_add` in one transaction, then, once the kernel backend (blkback,
//! netback) has probed the device (backend state 2, InitWait), the hotplug script
//! (`/etc/xen/scripts/block add`, `vif-bridge online`) with libxl's environment.
//!
//! - [`plan`] checks the config before anything touches Xen: every disk and vif is either
//!   understood or refused by name, and so is every other device list (`pci`, `vfb`, ...),
//!   because a guest silently missing a device is worse than a create that fails;
//! - [`vbd`] and [`vif`] compute the nodes as plain data ([`Device::nodes`]), so the layout is
//!   tested against libxl's without a daemon;
//! - [`hotplug`] runs the scripts; [`add`] puts it together for the builder, and
//!   [`teardown`] undoes it for destroy and for a failed build.

pub mod hotplug;
pub mod vbd;
pub mod vif;

use std::time::{Duration, Instant};

use rxl_config::DomainConfig;
use rxl_xenstore::client::{Client, ClientError};
use rxl_xenstore::wire::{Perm, PermKind, Perms, XsErrno};

/// Where libxl (Debian's build) looks for hotplug scripts given without a directory.
pub const SCRIPT_DIR: &str = "/etc/xen/scripts";

/// Refuses a device whose `backend=` names a driver domain: rxl serves every backend from dom0.
/// `key` is the device list (`disk`, `vif`), `label` names the entry.
pub(crate) fn dom0_backend_only(
    key: &'static str,
    label: &str,
    backend: Option<&str>,
) -> Result<(), DeviceError> {
    match backend.filter(|b| !matches!(*b, "0" | "Domain-0")) {
        Some(be) => Err(DeviceError::Config {
            key,
            what: label.to_owned(),
            why: format!(
                "backend={be}: devices served by a driver domain are not supported; remove \
                 backend= to serve it from dom0"
            ),
        }),
        None => Ok(()),
    }
}

/// How long the kernel backend may take to probe a new device (libxl's `LIBXL_INIT_TIMEOUT`
/// is 10 s; doubled for emulated hosts).
const INIT_WAIT: Duration = Duration::from_secs(20);

/// How long the kernel backends may take to close on removal (libxl's
/// `LIBXL_DESTROY_TIMEOUT`).
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Why a device could not be added.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A device (or device list) the config asks for cannot be honoured.
    #[error("{key}: {what}: {why}")]
    Config {
        /// The xl.cfg key (`disk`, `vif`, `pci`, ...).
        key: &'static str,
        /// Which entry, e.g. `xvda (target=/srv/a.img)`.
        what: String,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// Xenstore failed while adding the device.
    #[error("{what}: xenstore: {source}")]
    Store {
        /// The device.
        what: String,
        /// The client error.
        #[source]
        source: ClientError,
    },
    /// The kernel backend never picked the device up.
    #[error(
        "{what}: the backend in dom0 did not reach InitWait within {secs} s (backend state \
         {state}); is the {module} module loaded in dom0?"
    )]
    NoBackend {
        /// The device.
        what: String,
        /// Seconds waited.
        secs: u64,
        /// The last state seen.
        state: String,
        /// The kernel module serving the device.
        module: &'static str,
    },
    /// The hotplug script failed.
    #[error("{what}: hotplug script `{command}` {outcome}: {detail}")]
    Hotplug {
        /// The device.
        what: String,
        /// The script and its arguments.
        command: String,
        /// Exit status, signal or timeout.
        outcome: String,
        /// `hotplug-error` from xenstore and the script's output.
        detail: String,
    },
}

/// A device kind: the backend directory name and what the errors call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A virtual block device (`disk=`).
    Vbd,
    /// A virtual network interface (`vif=`).
    Vif,
}

impl Kind {
    /// The xenstore directory name (`vbd`, `vif`).
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Vbd => "vbd",
            Kind::Vif => "vif",
        }
    }

    /// The dom0 module that serves it.
    fn module(self) -> &'static str {
        match self {
            Kind::Vbd => "xen-blkback",
            Kind::Vif => "xen-netback",
        }
    }
}

/// Who may access a device node, as libxl sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The guest owns it, the backend domain reads it (libxl's `frontend_perms`).
    Frontend,
    /// The backend domain owns it, the guest reads it (`backend_perms`, `ro_frontend_perms`).
    Backend,
    /// Toolstack-private (`noperm`).
    Private,
}

impl Access {
    /// The permission list for a device of domain `domid` served by dom0.
    pub fn perms(self, domid: u32) -> Perms {
        let p = |kind, domid| Perm { kind, domid };
        let list = match self {
            Access::Frontend => vec![p(PermKind::None, domid), p(PermKind::Read, 0)],
            Access::Backend => vec![p(PermKind::None, 0), p(PermKind::Read, domid)],
            Access::Private => vec![p(PermKind::None, 0)],
        };
        Perms::new(list).expect("non-empty list")
    }
}

/// One node to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute path.
    pub path: String,
    /// Value (empty for directories).
    pub value: String,
    /// Permissions set explicitly; `None` inherits the parent's, as xenstored does.
    pub access: Option<Access>,
}

/// One device, ready to be written: its entries as libxl's `back`, `front` and `ro_front`
/// arrays hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// vbd or vif.
    pub kind: Kind,
    /// The guest.
    pub domid: u32,
    /// The device id (`virtual-device` of a disk, `handle` of a vif).
    pub devid: u32,
    /// What errors call it, e.g. `disk xvda (/srv/a.img)`.
    pub what: String,
    /// Backend entries.
    pub back: Vec<(&'static str, String)>,
    /// Frontend entries the guest may write.
    pub front: Vec<(&'static str, String)>,
    /// Frontend entries the guest may only read.
    pub ro_front: Vec<(&'static str, String)>,
}

impl Device {
    /// `/local/domain/0/backend/<kind>/<domid>/<devid>`.
    pub fn backend_path(&self) -> String {
        backend_path(self.kind, self.domid, self.devid)
    }

    /// `/local/domain/<domid>/device/<kind>/<devid>`.
    pub fn frontend_path(&self) -> String {
        frontend_path(self.kind, self.domid, self.devid)
    }

    /// `/libxl/<domid>/device/<kind>/<devid>`: libxl's own copy, which `xl block-list` and
    /// `xl network-list` read.
    pub fn libxl_path(&self) -> String {
        libxl_path(self.kind, self.domid, self.devid)
    }

    /// The nodes in the order `libxl__device_generic_add` writes them.
    pub fn nodes(&self) -> Vec<Node> {
        let (fe, be, lx) = (self.frontend_path(), self.backend_path(), self.libxl_path());
        let mut out = Vec::new();
        let mut node = |path: String, value: &str, access: Option<Access>| {
            out.push(Node {
                path,
                value: value.to_owned(),
                access,
            });
        };
        node(fe.clone(), "", Some(Access::Frontend));
        node(format!("{fe}/backend"), &be, None);
        for (k, v) in &self.front {
            node(format!("{fe}/{k}"), v, Some(Access::Frontend));
        }
        for (k, v) in &self.ro_front {
            node(format!("{fe}/{k}"), v, Some(Access::Backend));
        }
        node(be.clone(), "", Some(Access::Backend));
        node(format!("{be}/frontend"), &fe, None);
        for (k, v) in &self.back {
            node(format!("{be}/{k}"), v, None);
        }
        node(lx.clone(), "", Some(Access::Private));
        node(format!("{lx}/frontend"), &fe, None);
        node(format!("{lx}/backend"), &be, None);
        for (k, v) in &self.back {
            node(format!("{lx}/{k}"), v, None);
        }
        out
    }
}

fn backend_path(kind: Kind, domid: u32, devid: u32) -> String {
    format!("/local/domain/0/backend/{}/{domid}/{devid}", kind.dir())
}

fn frontend_path(kind: Kind, domid: u32, devid: u32) -> String {
    format!("/local/domain/{domid}/device/{}/{devid}", kind.dir())
}

fn libxl_path(kind: Kind, domid: u32, devid: u32) -> String {
    format!("/libxl/{domid}/device/{}/{devid}", kind.dir())
}

/// The checked devices of a config, not yet bound to a domain.
#[derive(Debug, Clone, Default)]
pub struct DevicePlan {
    /// The disks, in `disk=` order.
    pub disks: Vec<vbd::Disk>,
    /// The network interfaces, in `vif=` order.
    pub nics: Vec<vif::Nic>,
}

impl DevicePlan {
    /// The devices of domain `domid`; `pv` adds the frontend `protocol` node libxl writes
    /// for PV guests.
    pub fn devices(&self, domid: u32, pv: bool) -> Vec<Device> {
        let disks = self.disks.iter().map(|d| d.device(domid, pv));
        let nics = self.nics.iter().map(|n| n.device(domid));
        disks.chain(nics).collect()
    }
}

/// Device lists rxl's Xen builder does not create, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("pci", "PCI passthrough is not implemented"),
    (
        "vfb",
        "PV framebuffers need QEMU as the device model, which rxl does not start for PV/PVH guests",
    ),
    ("channel", "PV channels need QEMU, which rxl does not start"),
    ("vtpm", "vTPM devices are not implemented"),
    (
        "p9",
        "9pfs shares need QEMU (xen-9pfsd), which rxl does not start",
    ),
    ("usbctrl", "USB controllers are not implemented"),
    ("usbdev", "USB passthrough is not implemented"),
];

/// Checks every device list of `cfg`; nothing touches Xen. Disks and vifs become a
/// [`DevicePlan`]; any other device list fails by name (the guest would miss a device).
pub fn plan(cfg: &DomainConfig) -> Result<DevicePlan, DeviceError> {
    let d = &cfg.devices;
    let counts = [
        d.pcis.len(),
        d.vfbs.len(),
        d.channels.len(),
        d.vtpms.len(),
        d.p9s.len(),
        d.usbctrls.len(),
        d.usbdevs.len(),
    ];
    for ((key, why), n) in UNSUPPORTED.iter().zip(counts) {
        if n > 0 {
            return Err(DeviceError::Config {
                key,
                what: format!("{n} device(s)"),
                why: format!(
                    "{why} in rxl's Xen builder; the guest would not see them, so rxl refuses \
                     rather than ignore them (remove `{key}=` or boot this guest with xl)"
                ),
            });
        }
    }
    let mut disks: Vec<vbd::Disk> = Vec::new();
    for dev in &d.disks {
        let disk = vbd::Disk::from_spec(&dev.spec, &dev.parsed)?;
        if let Some(other) = disks.iter().find(|o| o.devid == disk.devid) {
            return Err(DeviceError::Config {
                key: "disk",
                what: disk.label(),
                why: format!(
                    "vdev {} is the same device as {} (device number {}); give each disk its \
                     own vdev",
                    disk.vdev, other.vdev, disk.devid
                ),
            });
        }
        disks.push(disk);
    }
    let mut nics: Vec<vif::Nic> = Vec::new();
    for (index, dev) in d.vifs.iter().enumerate() {
        let nic = vif::Nic::from_spec(index, &dev.spec, &dev.parsed)?;
        if nics.iter().any(|o| o.devid == nic.devid) {
            return Err(DeviceError::Config {
                key: "vif",
                what: nic.label(),
                why: format!("devid {} is used twice; give each vif its own", nic.devid),
            });
        }
        nics.push(nic);
    }
    Ok(DevicePlan { disks, nics })
}

fn is_enoent(e: &ClientError) -> bool {
    e.errno() == Some(XsErrno::ENOENT)
}

/// Writes one device's nodes in one transaction (retried on conflicts), replacing stale
/// nodes of the same device, as `libxl__device_generic_add` does.
pub fn write(xs: &Client, dev: &Device) -> Result<(), ClientError> {
    let nodes = dev.nodes();
    xs.transaction(|tx| {
        for p in [dev.frontend_path(), dev.backend_path(), dev.libxl_path()] {
            match tx.rm(&p) {
                Err(e) if !is_enoent(&e) => return Err(e),
                _ => {}
            }
        }
        for n in &nodes {
            tx.write(&n.path, n.value.as_bytes())?;
            if let Some(a) = n.access {
                tx.set_perms(&n.path, &a.perms(dev.domid))?;
            }
        }
        Ok(())
    })
}

/// Reads a node; `None` when missing or unreadable.
fn read(xs: &Client, path: &str) -> Option<String> {
    xs.read(path)
        .ok()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// Polls `path` until `done` holds for its value (`None` = gone) or `limit` passes; returns
/// the last value.
fn wait_for(
    xs: &Client,
    path: &str,
    limit: Duration,
    done: impl Fn(Option<&str>) -> bool,
) -> (bool, Option<String>) {
    let end = Instant::now() + limit;
    loop {
        let v = read(xs, path);
        if done(v.as_deref()) {
            return (true, v);
        }
        if Instant::now() >= end {
            return (false, v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Adds every device of `plan` to domain `domid` (built, not yet running): the nodes of all
/// of them, then each backend's InitWait, then all the hotplug scripts at once (libxl runs
/// the scripts of one device class in parallel, and disks before vifs; the scripts take
/// seconds each on a slow dom0, and nothing orders a disk's script before a vif's). `added`
/// is called after each device's nodes are written, so a caller's rollback knows there is
/// something to tear down. On failure the first failing device in `plan`'s order is named.
pub fn add(
    xs: &Client,
    domid: u32,
    pv: bool,
    plan: &DevicePlan,
    mut added: impl FnMut(),
) -> Result<(), DeviceError> {
    let devs = plan.devices(domid, pv);
    if devs.is_empty() {
        return Ok(());
    }
    let t = Instant::now();
    for dev in &devs {
        write(xs, dev).map_err(|source| DeviceError::Store {
            what: dev.what.clone(),
            source,
        })?;
        added();
    }
    // The kernel backends probe their new directories concurrently, so this waits about as
    // long as the slowest one.
    let mut jobs = Vec::with_capacity(devs.len());
    for dev in &devs {
        let state = format!("{}/state", dev.backend_path());
        let (ok, last) = wait_for(xs, &state, INIT_WAIT, |v| v == Some("2"));
        if !ok {
            return Err(DeviceError::NoBackend {
                what: dev.what.clone(),
                secs: INIT_WAIT.as_secs(),
                state: last.unwrap_or_else(|| "missing".into()),
                module: dev.kind.module(),
            });
        }
        if dev.kind == Kind::Vif {
            // netback reports InitWait just before it registers the interface the script
            // plugs into the bridge.
            hotplug::wait_interface(domid, dev.devid);
        }
        jobs.push(hotplug::Job::add(xs, dev)?);
    }
    let backends_ms = t.elapsed().as_millis() as u64;
    hotplug::run_all(xs, &jobs)
        .into_iter()
        .collect::<Result<(), _>>()?;
    tracing::info!(
        domid,
        devices = devs.len(),
        backends_ms,
        ms = t.elapsed().as_millis() as u64,
        "devices added"
    );
    Ok(())
}

/// Removes every vbd and vif of domain `domid` as libxl's forced device removal (the one
/// `xl destroy` uses) does: in one transaction the frontend directory goes and the backend
/// gets `online=0` and state Closing, so the kernel backend unbinds at once and reports
/// Closed; after up to 10 s for that, the hotplug script's `remove`/`offline` runs (freeing
/// the loop device, the bridge port), then the backend and libxl nodes go. Meant to run
/// before the domain is destroyed. Missing devices are fine; returns the problems met (the
/// caller decides whether they are fatal).
pub fn teardown(xs: &Client, domid: u32) -> Vec<String> {
    let mut problems = Vec::new();
    let mut devs = Vec::new();
    for kind in [Kind::Vbd, Kind::Vif] {
        let dir = format!("/local/domain/0/backend/{}/{domid}", kind.dir());
        let ids = match xs.directory(&dir) {
            Ok(ids) => ids,
            Err(e) if is_enoent(&e) => Vec::new(),
            Err(e) => {
                problems.push(format!("listing {dir}: {e}"));
                Vec::new()
            }
        };
        devs.extend(
            ids.iter()
                .filter_map(|i| i.parse::<u32>().ok())
                .map(|devid| (kind, devid)),
        );
    }
    // Close every backend first, then wait for all of them at once.
    let mut connected = Vec::new();
    for &(kind, devid) in &devs {
        let be = backend_path(kind, domid, devid);
        let fe = frontend_path(kind, domid, devid);
        let r = xs.transaction(|tx| {
            let state = tx.read(&format!("{be}/state")).ok();
            tx.write(&format!("{be}/online"), b"0")?;
            if state.as_deref() != Some(b"6") {
                tx.write(&format!("{be}/state"), b"5")?;
            }
            match tx.rm(&fe) {
                Err(e) if !is_enoent(&e) => return Err(e),
                _ => {}
            }
            // Only a connected device has a frontend's I/O to finish; the backend of one
            // that never connected is unbound when its directory goes.
            Ok(state.as_deref() == Some(b"4"))
        });
        match r {
            Ok(true) => connected.push(be),
            Ok(false) => {}
            Err(e) => problems.push(format!("closing {be}: {e}")),
        }
    }
    let end = Instant::now() + CLOSE_WAIT;
    for be in &connected {
        let left = end.saturating_duration_since(Instant::now());
        let (ok, _) = wait_for(xs, &format!("{be}/state"), left, |v| {
            matches!(v, None | Some("6"))
        });
        if !ok {
            tracing::warn!(
                backend = be.as_str(),
                "the backend did not close within 10 s; removing the device anyway"
            );
        }
    }
    // The remove scripts, all at once as the add scripts ran.
    let loop_devs: Vec<Option<String>> = devs
        .iter()
        .map(|&(kind, devid)| read(xs, &format!("{}/node", backend_path(kind, domid, devid))))
        .collect();
    let jobs: Vec<_> = devs
        .iter()
        .filter_map(|&(kind, devid)| hotplug::Job::remove(xs, kind, domid, devid))
        .collect();
    for r in hotplug::run_all(xs, &jobs) {
        if let Err(e) = r {
            problems.push(e.to_string());
        }
    }
    for (&(kind, devid), loop_dev) in devs.iter().zip(&loop_devs) {
        for p in [
            backend_path(kind, domid, devid),
            libxl_path(kind, domid, devid),
        ] {
            match xs.rm(&p) {
                Err(e) if !is_enoent(&e) => problems.push(format!("removing {p}: {e}")),
                _ => {}
            }
        }
        hotplug::wait_released(kind, domid, devid, loop_dev.as_deref());
    }
    for kind in [Kind::Vbd, Kind::Vif] {
        let dir = format!("/local/domain/0/backend/{}/{domid}", kind.dir());
        if xs.directory(&dir).is_ok_and(|c| c.is_empty()) {
            let _ = xs.rm(&dir);
        }
    }
    problems
}

/// [`teardown`] over a connection of its own, for callers that hold none (`rxl destroy`,
/// the monitor): call it right before destroying a domain.
pub fn teardown_domain(domid: u32) -> Vec<String> {
    match Client::open().map(Client::short_lived) {
        Ok(xs) => teardown(&xs, domid),
        Err(e) => vec![format!(
            "removing the devices of domain {domid}: cannot reach xenstore: {e}"
        )],
    }
}

#[cfg(test)]
mod tests;
