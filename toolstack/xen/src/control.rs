//! The control verbs' logic on top of hypercalls and xenstore: name lookup, the host report,
//! destroy, memory targets (`mem-set`, `mem-max`), vCPU online state, start times.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ctl::Xen;
use crate::ctl::domain::DomainInfo;
use crate::error::XenError;
use crate::report::info::{HostReport, Uname};
use crate::report::list::NamedDomain;
use crate::store::{Store, StoreError};

/// Extra KiB libxl adds to a domain's hypervisor ceiling above its target on x86
/// (`LIBXL_MAXMEM_CONSTANT`).
pub const MAXMEM_SLACK_KIB: u64 = 1024;
/// libxl refuses dom0 targets below this (`LIBXL_MIN_DOM0_MEM`, 128 MiB).
pub const MIN_DOM0_KIB: u64 = 128 * 1024;

/// The hypervisor plus a lazily opened xenstore connection.
#[derive(Debug)]
pub struct Control {
    xen: Xen,
    store: RefCell<Option<Store>>,
}

/// What `mem-set` did and saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemSetOutcome {
    /// Domain id.
    pub domid: u32,
    /// The target written to `memory/target`, KiB.
    pub target_kib: u64,
    /// The hypervisor ceiling set with it, KiB.
    pub max_kib: u64,
    /// Memory the domain held before, KiB.
    pub before_kib: u64,
    /// Memory it holds now, KiB.
    pub reached_kib: u64,
    /// Whether it reached the target (within one page) before the wait ended.
    pub reached: bool,
    /// Milliseconds spent waiting.
    pub waited_ms: u64,
}

fn path(domid: u32, rel: &str) -> String {
    format!("/local/domain/{domid}/{rel}")
}

fn parse_kib(value: &str, at: &str) -> Result<u64, XenError> {
    value
        .trim()
        .parse()
        .map_err(|_| XenError::Protocol(format!("{at} holds '{value}', not a number of KiB")))
}

impl Control {
    /// Opens the hypervisor (xenstore is connected on first use).
    pub fn open() -> Result<Self, XenError> {
        Ok(Control {
            xen: Xen::open()?,
            store: RefCell::new(None),
        })
    }

    /// The hypercall layer.
    pub fn xen(&self) -> &Xen {
        &self.xen
    }

    /// Runs `f` on the xenstore connection, connecting first if needed.
    pub fn with_store<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError>,
    ) -> Result<R, XenError> {
        let mut slot = self.store.borrow_mut();
        if slot.is_none() {
            *slot = Some(Store::connect()?);
        }
        let store = slot.as_mut().expect("connected above");
        Ok(f(store)?)
    }

    /// The name of a domain (`/local/domain/<id>/name`), if it has one.
    pub fn name_of(&self, domid: u32) -> Result<Option<String>, XenError> {
        self.with_store(|s| s.read(&path(domid, "name")))
    }

    /// Resolves a domain argument as xl does: all digits is an id (which must exist),
    /// anything else a name.
    pub fn lookup(&self, dom: &str) -> Result<u32, XenError> {
        if !dom.is_empty() && dom.bytes().all(|b| b.is_ascii_digit()) {
            let id: u32 = dom
                .parse()
                .map_err(|_| XenError::UnknownDomain(dom.to_owned()))?;
            return match self.xen.domain_info(id) {
                Ok(_) => Ok(id),
                Err(XenError::NoSuchDomain(_)) => Err(XenError::UnknownDomain(dom.to_owned())),
                Err(e) => Err(e),
            };
        }
        for d in self.xen.list_domains()? {
            if self.name_of(d.domid)?.as_deref() == Some(dom) {
                return Ok(d.domid);
            }
        }
        Err(XenError::UnknownDomain(dom.to_owned()))
    }

    /// Every domain (or only `only`) with its name.
    pub fn named_domains(&self, only: Option<u32>) -> Result<Vec<NamedDomain>, XenError> {
        let infos = match only {
            Some(id) => vec![self.xen.domain_info(id)?],
            None => self.xen.list_domains()?,
        };
        infos
            .into_iter()
            .map(|info| {
                Ok(NamedDomain {
                    name: self.name_of(info.domid)?,
                    info,
                })
            })
            .collect()
    }

    /// Everything `rxl info` prints.
    pub fn host_report(&self) -> Result<HostReport, XenError> {
        let phys = self.xen.physinfo()?;
        let free_cpus = self.xen.free_cpus(phys.max_cpu_id).ok();
        Ok(HostReport {
            uname: Uname::current(),
            version: self.xen.version_info()?,
            sched_id: self.xen.sched_id()?,
            free_cpus,
            phys,
        })
    }

    /// Destroys a domain and removes its xenstore entries. Refuses dom0.
    pub fn destroy(&self, domid: u32) -> Result<(), XenError> {
        if domid == 0 {
            return Err(XenError::Invalid(
                "refusing to destroy domain 0 (the control domain running rxl)".into(),
            ));
        }
        let info = self.xen.domain_info(domid)?;
        let vm = self
            .with_store(|s| s.read(&path(domid, "vm")))
            .unwrap_or(None);
        // Devices first, as libxl's destroy does (guest paused, forced removal): their
        // hotplug scripts free loop devices and bridge ports, which destroying the domain
        // alone would leak. A device that resists is reported, never a reason to keep the
        // domain.
        if !info.dying {
            let _ = self.xen.pause(domid);
            for p in crate::devices::teardown_domain(domid) {
                tracing::warn!("destroying domain {domid}: {p}");
            }
        }
        self.xen.destroy_domain(domid)?;
        let backends = [
            "vbd", "vif", "console", "vkbd", "vfb", "qdisk", "9pfs", "pci",
        ];
        self.with_store(|s| {
            for kind in backends {
                s.remove(&format!("/local/domain/0/backend/{kind}/{domid}"))?;
            }
            s.remove(&format!("/local/domain/0/device-model/{domid}"))?;
            s.remove(&format!("/libxl/{domid}"))?;
            if let Some(vm) = vm.filter(|v| v.starts_with("/vm/")) {
                s.remove(&vm)?;
            } else {
                s.remove(&format!("/vm/{}", info.uuid_string()))?;
            }
            s.remove(&format!("/local/domain/{domid}"))
        })
    }

    /// dom0's `memory/target` and `memory/static-max`, filled in from the hypervisor when
    /// missing, as libxl does on first use.
    fn memory_nodes(&self, domid: u32) -> Result<(u64, u64), XenError> {
        let tpath = path(domid, "memory/target");
        let mpath = path(domid, "memory/static-max");
        let (target, max) = self.with_store(|s| Ok((s.read(&tpath)?, s.read(&mpath)?)))?;
        let info = if target.is_none() || max.is_none() {
            if domid != 0 {
                let missing = if target.is_none() { tpath } else { mpath };
                return Err(XenError::Protocol(format!(
                    "{missing} is missing: the domain was not built by an xl-compatible toolstack"
                )));
            }
            Some(self.xen.domain_info(0)?)
        } else {
            None
        };
        let target = match (target, &info) {
            (Some(t), _) => parse_kib(&t, &tpath)?,
            (None, Some(i)) => {
                let v = i.current_memkb();
                self.with_store(|s| s.write(&tpath, &v.to_string()))?;
                v
            }
            (None, None) => unreachable!("info is read whenever a node is missing"),
        };
        let max = match (max, &info) {
            (Some(m), _) => parse_kib(&m, &mpath)?,
            (None, Some(i)) => {
                let v = i.max_memkb();
                self.with_store(|s| s.write(&mpath, &v.to_string()))?;
                v
            }
            (None, None) => unreachable!("info is read whenever a node is missing"),
        };
        Ok((target, max))
    }

    /// `mem-set`: sets the balloon target (and the hypervisor ceiling, as xl's enforce mode
    /// does), then waits up to `wait` for the domain to get there.
    pub fn mem_set(
        &self,
        domid: u32,
        target_kib: u64,
        wait: Duration,
    ) -> Result<MemSetOutcome, XenError> {
        let before = self.xen.domain_info(domid)?;
        let (_, static_max) = self.memory_nodes(domid)?;
        let videoram = self
            .with_store(|s| s.read(&path(domid, "memory/videoram")))?
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let new_target = target_kib.saturating_sub(videoram);
        if new_target > static_max {
            return Err(XenError::Invalid(format!(
                "target {new_target} KiB is above domain {domid}'s static maximum {static_max} KiB \
                 (memory/static-max); raise it first with `rxl mem-max {domid} SIZE`"
            )));
        }
        if domid == 0 && new_target < MIN_DOM0_KIB {
            return Err(XenError::Invalid(format!(
                "target {new_target} KiB for dom0 is below the minimum of {MIN_DOM0_KIB} KiB (128 MiB)"
            )));
        }
        let max_kib = new_target + videoram + MAXMEM_SLACK_KIB;
        self.xen.set_max_mem(domid, max_kib)?;
        if before.hvm {
            self.xen
                .set_pod_target(domid, (new_target + MAXMEM_SLACK_KIB) / 4)?;
        }
        let uuid = before.uuid_string();
        self.with_store(|s| {
            s.write(&path(domid, "memory/target"), &new_target.to_string())?;
            s.write(
                &format!("/vm/{uuid}/memory"),
                &(new_target / 1024).to_string(),
            )
        })?;
        let (reached_kib, reached, waited) = self.wait_for_target(domid, new_target, wait)?;
        Ok(MemSetOutcome {
            domid,
            target_kib: new_target,
            max_kib,
            before_kib: before.current_memkb() + before.outstanding_memkb(),
            reached_kib,
            reached,
            waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Polls until the domain holds the target (within 4 MiB: balloon drivers keep a few
    /// pages), stops early when nothing moved for 5 s. Returns (KiB now, reached, time).
    fn wait_for_target(
        &self,
        domid: u32,
        target: u64,
        wait: Duration,
    ) -> Result<(u64, bool, Duration), XenError> {
        const TOLERANCE_KIB: u64 = 4096;
        let start = Instant::now();
        let mut last = u64::MAX;
        let mut last_change = start;
        loop {
            let d = self.xen.domain_info(domid)?;
            let now = d.current_memkb() + d.outstanding_memkb();
            if now.abs_diff(target) <= TOLERANCE_KIB {
                return Ok((now, true, start.elapsed()));
            }
            if now != last {
                last = now;
                last_change = Instant::now();
            }
            if start.elapsed() >= wait || last_change.elapsed() >= Duration::from_secs(5) {
                return Ok((now, false, start.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `mem-max`: sets the hypervisor ceiling and `memory/static-max` (not below the target).
    pub fn mem_max(&self, domid: u32, max_kib: u64) -> Result<(), XenError> {
        self.xen.domain_info(domid)?;
        let (target, _) = self.memory_nodes(domid)?;
        if max_kib < target {
            return Err(XenError::Invalid(format!(
                "maximum {max_kib} KiB is below domain {domid}'s current target {target} KiB \
                 (memory/target); lower the target first with `rxl mem-set {domid} SIZE`"
            )));
        }
        self.xen.set_max_mem(domid, max_kib + MAXMEM_SLACK_KIB)?;
        self.with_store(|s| s.write(&path(domid, "memory/static-max"), &max_kib.to_string()))
    }

    /// `vcpu-set`: marks vCPUs 0..n online and the rest offline in xenstore (the guest's
    /// kernel hot-plugs them).
    pub fn vcpu_set(&self, domid: u32, n: u32) -> Result<DomainInfo, XenError> {
        let info = self.xen.domain_info(domid)?;
        let max = info.max_vcpu_id + 1;
        if n == 0 || n > max {
            return Err(XenError::Invalid(format!(
                "domain {domid} can have 1 to {max} vCPUs (its maximum, set at creation), not {n}"
            )));
        }
        self.with_store(|s| {
            for i in 0..max {
                let state = if i < n { "online" } else { "offline" };
                s.write(&path(domid, &format!("cpu/{i}/availability")), state)?;
            }
            Ok(())
        })?;
        Ok(info)
    }

    /// Seconds since the epoch when a guest started (`/vm/<uuid>/start_time`), if recorded.
    pub fn start_time(&self, domid: u32) -> Result<Option<u64>, XenError> {
        let info = self.xen.domain_info(domid)?;
        let vm = self
            .with_store(|s| s.read(&path(domid, "vm")))?
            .unwrap_or_else(|| format!("/vm/{}", info.uuid_string()));
        let t = self.with_store(|s| s.read(&format!("{vm}/start_time")))?;
        Ok(t.and_then(|t| {
            t.split('.')
                .next()
                .and_then(|s| s.trim().parse::<u64>().ok())
        }))
    }
}
