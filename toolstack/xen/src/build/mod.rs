//! The domain builder: from a [`DomainConfig`] to a running Xen guest, without libxl.
//!
//! [`create`] runs the steps libxl runs (`libxl__domain_make`, `libxl__build_pre`, the PV
//! builder, `libxl__build_post`) in order, recording in a [`cleanup::Rollback`] what exists,
//! so that a failure at any step destroys the domain and removes its xenstore nodes.
//!
//! Modules: [`image`] (ELF, bzImage, payload decompression), [`pv`] (the 64-bit PV image),
//! [`memory`] (populate_physmap), [`hcall`] (the builder's hypercalls), [`guest_mem`]
//! (writing into the new guest), [`xs_tree`] (the xenstore tree), [`cleanup`], [`fault`].

pub mod balloon;
pub mod cleanup;
pub mod coredump;
pub mod error;
pub mod fault;
pub mod guest_mem;
pub mod hcall;
pub mod image;
pub mod memory;
pub mod monitor;
pub mod pv;
pub mod pvh;
pub mod xs_tree;

use rxl_config::DomainConfig;
use rxl_config::model::GuestType;
use rxl_hypervisor::timing::Laps;
use rxl_hypervisor::uuid_string;
use rxl_xenstore::client::Client;

use crate::control::Control;
use crate::error::XenError;
pub use error::BuildError;
use error::{at, xs_at};
use hcall::{BuildCalls, CreateParams};
use image::ElfKernel;
use xs_tree::DomainFacts;

/// libxl's `LIBXL_MAXMEM_CONSTANT`: slack above the target for the hypervisor ceiling, KiB.
const MAXMEM_SLACK_KIB: u64 = 1024;

/// Everything read and checked from the config before any hypercall.
#[derive(Debug)]
pub struct Plan {
    /// Domain name.
    pub name: String,
    /// UUID bytes.
    pub uuid: [u8; 16],
    /// PV or PVH.
    pub kind: GuestType,
    /// Initial memory (KiB).
    pub memory_kib: u64,
    /// Maximum memory (KiB).
    pub max_kib: u64,
    /// vCPUs online at start.
    pub vcpus: u32,
    /// vCPUs the domain may have.
    pub max_vcpus: u32,
    /// The kernel file.
    pub kernel_path: String,
    /// The parsed kernel.
    pub kernel: ElfKernel,
    /// The ramdisk bytes.
    pub ramdisk: Option<image::Bytes>,
    /// The kernel command line.
    pub cmdline: String,
    /// Grant table frames.
    pub max_grant_frames: u32,
    /// Maptrack frames.
    pub max_maptrack_frames: u32,
    /// Event channels.
    pub max_event_channels: u32,
    /// `XEN_DOMCTL_settscinfo` mode (0 default, 1 always emulate, 2 native, 3 native
    /// paravirt); PVH only.
    pub tsc_mode: u32,
    /// The checked `disk=` and `vif=` devices.
    pub devices: crate::devices::DevicePlan,
}

/// The event channels of the xenstore and console rings (ports in the new domain).
#[derive(Debug, Clone, Copy, Default)]
pub struct Rings {
    /// Xenstore ring port.
    pub store_port: u32,
    /// Console ring port.
    pub console_port: u32,
}

/// The kernel command line xl builds: `cmdline`, else `root=<root> <extra>`.
pub fn command_line(cfg: &DomainConfig) -> String {
    if let Some(c) = &cfg.boot.cmdline {
        return c.clone();
    }
    let mut parts = Vec::new();
    if let Some(r) = &cfg.boot.root {
        parts.push(format!("root={r}"));
    }
    if let Some(e) = &cfg.boot.extra {
        parts.push(e.clone());
    }
    parts.join(" ")
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A random (version 4) UUID from the kernel's generator.
fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut u))
        .is_err()
    {
        // Fall back to time and pid: unique enough for a handle, never a panic.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        u.copy_from_slice(&(t ^ (u128::from(std::process::id()) << 64)).to_le_bytes());
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

impl Plan {
    /// Reads the config and the kernel/ramdisk files; nothing touches Xen yet.
    pub fn from_config(cfg: &DomainConfig) -> Result<Self, BuildError> {
        let name = cfg.name.clone().ok_or(BuildError::Config {
            key: "name",
            why: "every domain needs a name (add name=\"...\" to the domain file)".into(),
        })?;
        let kind = cfg.effective_type();
        if kind != GuestType::Pv && kind != GuestType::Pvh {
            return Err(BuildError::Config {
                key: "type",
                why: format!(
                    "rxl's Xen builder boots type=\"pv\" and type=\"pvh\" guests; {kind:?} is not supported yet"
                ),
            });
        }
        if cfg.boot.bootloader.is_some() {
            return Err(BuildError::Config {
                key: "bootloader",
                why: "bootloaders (pygrub) are not supported; give kernel= and ramdisk= directly"
                    .into(),
            });
        }
        let kernel_path = cfg.boot.kernel.clone().ok_or(BuildError::Config {
            key: "kernel",
            why: "no kernel= given: rxl boots PV/PVH guests from a kernel file in dom0".into(),
        })?;
        let kernel = image::load_kernel(&kernel_path)?;
        if kind == GuestType::Pvh && kernel.notes.phys32_entry.is_none() {
            return Err(BuildError::NoPvhEntry { path: kernel_path });
        }
        if kind == GuestType::Pv && kernel.notes.virt_base.is_none() {
            return Err(BuildError::NotXenPv { path: kernel_path });
        }
        let ramdisk = match &cfg.boot.ramdisk {
            Some(p) => Some(image::map_file("ramdisk", p)?),
            None => None,
        };
        // libxl's defaults: 32 MiB, maxmem = memory.
        let memory_kib = cfg.memory.unwrap_or(32) * 1024;
        let max_kib = cfg.maxmem.unwrap_or(0).max(cfg.memory.unwrap_or(32)) * 1024;
        let vcpus = cfg.cpu.vcpus.unwrap_or(1).max(1);
        let max_vcpus = cfg.cpu.maxvcpus.unwrap_or(vcpus).max(vcpus);
        let uuid = match &cfg.uuid {
            Some(u) => parse_uuid(u).ok_or_else(|| BuildError::Config {
                key: "uuid",
                why: format!("{u:?} is not a UUID"),
            })?,
            None => random_uuid(),
        };
        Ok(Plan {
            name,
            uuid,
            kind,
            memory_kib,
            max_kib,
            vcpus,
            max_vcpus,
            kernel_path,
            kernel,
            ramdisk,
            cmdline: command_line(cfg),
            max_grant_frames: cfg.max_grant_frames.unwrap_or(64),
            max_maptrack_frames: cfg.max_maptrack_frames.unwrap_or(1024),
            max_event_channels: cfg.max_event_channels.unwrap_or(1023),
            tsc_mode: tsc_mode_number(cfg.tsc_mode),
            devices: crate::devices::plan(cfg)?,
        })
    }
}

impl Plan {
    /// What the guest takes from Xen's free memory, KiB: its RAM and the maxmem slack, and
    /// for PVH the paging pool, the special pages and the ACPI page.
    pub fn host_need_kib(&self) -> u64 {
        let base = self.memory_kib + MAXMEM_SLACK_KIB;
        if self.kind == GuestType::Pvh {
            base + u64::from(pvh::paging_pool_mb(self.max_vcpus, self.max_kib)) * 1024
                + (pvh::e820::NR_SPECIAL + 1) * 4
        } else {
            base
        }
    }
}

/// libxl's numbering of `tsc_mode`.
fn tsc_mode_number(m: Option<rxl_config::model::TscMode>) -> u32 {
    use rxl_config::model::TscMode;
    match m {
        None | Some(TscMode::Default) => 0,
        Some(TscMode::AlwaysEmulate) => 1,
        Some(TscMode::Native) => 2,
        Some(TscMode::NativeParavirt) => 3,
    }
}

/// Called by the PV and PVH builders as soon as the ring frames are known (memory populated),
/// before the long part of the build (copying the kernel): [`create`] writes the domain's
/// xenstore tree meanwhile, on another thread. An error stops the build.
pub type RingsReady<'a> = dyn FnMut(pv::PvBuilt) -> Result<(), BuildError> + 'a;

/// What [`create`] did.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    /// The new domain.
    pub domid: u32,
    /// Milliseconds from the first hypercall to the unpause (or the end, if paused).
    pub build_ms: u128,
}

/// Builds and (unless `paused`) starts the domain the config describes.
pub fn create(ctl: &Control, cfg: &DomainConfig, paused: bool) -> Result<Created, BuildError> {
    let mut laps = Laps::new();
    let plan = Plan::from_config(cfg)?;
    laps.lap("kernel and ramdisk read");
    match ctl.lookup(&plan.name) {
        Ok(domid) => {
            return Err(BuildError::NameInUse {
                name: plan.name,
                domid,
            });
        }
        Err(XenError::UnknownDomain(_)) => {}
        Err(e) => return Err(at("checking the name")(e)),
    }
    laps.lap("name check");
    let xen = ctl.xen();
    let xs = Client::open()
        .map(Client::short_lived)
        .map_err(xs_at("connecting to xenstore"))?;
    laps.lap("xenstore connected");
    let room = balloon::make_room(ctl, &xs, plan.host_need_kib())?;
    laps.lap("free memory checked");
    let start = std::time::Instant::now();
    let mut rb = cleanup::Rollback::new();
    match build(ctl, &xs, &plan, paused, &mut rb, &mut laps) {
        Ok(domid) => Ok(Created {
            domid,
            build_ms: start.elapsed().as_millis(),
        }),
        Err(e) => {
            let problems = rb.undo(xen, Some(&xs));
            balloon::undo(&xs, room);
            if problems.is_empty() {
                Err(e)
            } else {
                Err(BuildError::CleanupFailed {
                    error: Box::new(e),
                    problems,
                })
            }
        }
    }
}

fn build(
    ctl: &Control,
    xs: &Client,
    plan: &Plan,
    paused: bool,
    rb: &mut cleanup::Rollback,
    laps: &mut Laps,
) -> Result<u32, BuildError> {
    let xen = ctl.xen();
    let pvh = plan.kind == GuestType::Pvh;
    fault::check("createdomain")?;
    let domid = xen
        .create_domain(&CreateParams {
            // PVH: an HVM container with hardware-assisted paging, only the local APIC
            // emulated (libxl's choice for type=pvh).
            flags: if pvh {
                xen_sys::XEN_DOMCTL_CDF_hvm | xen_sys::XEN_DOMCTL_CDF_hap
            } else {
                0
            },
            handle: plan.uuid,
            max_vcpus: plan.max_vcpus,
            max_evtchn_port: plan.max_event_channels,
            max_grant_frames: plan.max_grant_frames as i32,
            max_maptrack_frames: plan.max_maptrack_frames as i32,
            emulation_flags: if pvh { xen_sys::XEN_X86_EMU_LAPIC } else { 0 },
        })
        .map_err(at("creating the domain"))?;
    rb.created(domid);
    tracing::info!(domid, name = plan.name, "domain created");

    fault::check("max_mem")?;
    // Xen 4.17 takes the vCPU count at createdomain but allocates the vCPUs only here (the
    // count must match), as libxl's build_pre does.
    xen.set_max_vcpus(domid, plan.max_vcpus)
        .map_err(at("allocating the vCPUs"))?;
    xen.set_max_mem(domid, plan.max_kib + MAXMEM_SLACK_KIB)
        .map_err(at("setting the memory ceiling"))?;

    fault::check("evtchn")?;
    let rings = Rings {
        store_port: xen
            .alloc_unbound(domid, 0)
            .map_err(at("allocating the xenstore event channel"))?,
        console_port: xen
            .alloc_unbound(domid, 0)
            .map_err(at("allocating the console event channel"))?,
    };

    laps.lap("domain created, vCPUs, memory ceiling, event channels");
    let facts = |built: pv::PvBuilt| DomainFacts {
        domid,
        name: plan.name.clone(),
        uuid: uuid_string(&plan.uuid),
        kind: if plan.kind == GuestType::Pv {
            "pv"
        } else {
            "pvh"
        },
        target_kib: plan.memory_kib,
        max_kib: plan.max_kib,
        vcpus: (plan.max_vcpus, plan.vcpus),
        store: (built.store_mfn, rings.store_port),
        console: (built.console_mfn, rings.console_port),
        console_type: crate::console::Placement::choose().type_node(),
        start_time: start_time(),
    };
    // The xenstore tree is written on a second thread while the builder copies the kernel:
    // it is ~70 requests, each a round trip to xenstored that leaves this thread idle.
    let (built, tree) = std::thread::scope(|s| {
        let mut tree = None;
        let built = {
            let mut ready = |b: pv::PvBuilt| -> Result<(), BuildError> {
                fault::check("xenstore")?;
                let f = facts(b);
                rb.wrote_tree(f.clone());
                tree = Some(s.spawn(move || xs_tree::write(xs, &f)));
                Ok(())
            };
            match plan.kind {
                GuestType::Pv => pv::build(xen, domid, plan, &rings, &mut ready),
                GuestType::Pvh => pvh::build(xen, domid, plan, &rings, &mut ready),
                other => Err(BuildError::Config {
                    key: "type",
                    why: format!("{other:?} guests are not built yet"),
                }),
            }
        };
        (built, tree.map(std::thread::ScopedJoinHandle::join))
    });
    let built = built?;
    match tree {
        Some(Ok(written)) => written.map_err(xs_at("writing the domain's xenstore tree"))?,
        Some(Err(_)) => {
            return Err(at("writing the domain's xenstore tree")(
                XenError::Protocol("the xenstore writer thread panicked".into()),
            ));
        }
        None => {
            return Err(at("writing the domain's xenstore tree")(
                XenError::Protocol("the builder never reported the ring frames".into()),
            ));
        }
    }
    laps.lap("memory populated, image loaded, vCPU set; xenstore tree written alongside");

    fault::check("grant")?;
    seed_grants(xen, domid, built.console_mfn, built.store_mfn)
        .map_err(at("seeding the grant table"))?;
    laps.lap("grants seeded");

    fault::check("introduce")?;
    xs.introduce(domid, built.store_mfn as i64, rings.store_port)
        .map_err(xs_at("introducing the domain to xenstored"))?;
    rb.introduced();
    laps.lap("introduced");

    // Devices go in after the guest's tree exists and before it runs, as libxl adds them.
    crate::devices::add(xs, domid, !pvh, &plan.devices, || rb.added_devices())?;

    fault::check("unpause")?;
    if !paused {
        xen.unpause(domid).map_err(at("unpausing"))?;
    }
    laps.lap("devices added, unpaused");
    Ok(domid)
}

/// Seconds since the epoch with two decimals, as libxl writes `start_time`.
fn start_time() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:02}", d.as_secs(), d.subsec_millis() / 10)
}

/// Grants dom0 (xenconsoled, xenstored) access to the two rings through the reserved grant
/// references (`GNTTAB_RESERVED_CONSOLE` 0, `GNTTAB_RESERVED_XENSTORE` 1), as
/// libxenguest's `xc_dom_gnttab_seed` does: the daemons map the rings by grant.
fn seed_grants(
    xen: &crate::ctl::Xen,
    domid: u32,
    console: u64,
    store: u64,
) -> Result<(), XenError> {
    let map = xen.map_grant_table(domid)?;
    for (gref, frame) in [(0usize, console), (1, store)] {
        let frame = u32::try_from(frame).map_err(|_| {
            XenError::Invalid(format!("frame {frame:#x} does not fit a v1 grant entry"))
        })?;
        let off = gref * 8;
        // grant_entry_v1 {u16 flags; u16 domid; u32 frame}: frame and domid first, flags last.
        map.write(off + 4, &frame.to_le_bytes());
        map.write(off + 2, &0u16.to_le_bytes());
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        map.write(off, &(xen_sys::GTF_permit_access as u16).to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_follows_xl() {
        let mut c = DomainConfig::default();
        c.boot.root = Some("/dev/xvda1 ro".into());
        c.boot.extra = Some("console=hvc0".into());
        assert_eq!(command_line(&c), "root=/dev/xvda1 ro console=hvc0");
        c.boot.cmdline = Some("quiet".into());
        assert_eq!(command_line(&c), "quiet");
    }

    #[test]
    fn uuids_round_trip_and_random_ones_are_v4() {
        let s = "06ed00fe-1162-4fc4-b5d8-11993ee4a8b9";
        assert_eq!(uuid_string(&parse_uuid(s).expect("valid")), s);
        let r = uuid_string(&random_uuid());
        assert_eq!(&r[14..15], "4");
        assert_ne!(r, uuid_string(&random_uuid()));
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut c = DomainConfig::default();
        let e = Plan::from_config(&c).expect_err("no name");
        assert!(e.to_string().starts_with("name:"), "{e}");
        c.name = Some("g".into());
        let e = Plan::from_config(&c).expect_err("no kernel");
        assert!(e.to_string().starts_with("kernel:"), "{e}");
        c.boot.kernel = Some("/nonexistent/vmlinuz".into());
        let e = Plan::from_config(&c).expect_err("missing file");
        assert!(e.to_string().contains("/nonexistent/vmlinuz"), "{e}");
    }

    #[test]
    fn pvh_without_phys32_entry_is_refused() {
        let dir = std::env::temp_dir().join(format!("rxl-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let k = dir.join("vmlinux");
        let notes = [(
            image::elf::note::VIRT_BASE,
            0xffff_ffff_8000_0000u64.to_le_bytes().to_vec(),
        )];
        std::fs::write(&k, image::elf::testelf::build(b"k", 0, &notes, 62)).expect("write");
        let mut c = DomainConfig {
            name: Some("g".into()),
            guest_type: Some(GuestType::Pvh),
            ..Default::default()
        };
        c.boot.kernel = Some(k.display().to_string());
        let e = Plan::from_config(&c).expect_err("no PHYS32_ENTRY");
        assert!(matches!(e, BuildError::NoPvhEntry { .. }), "{e}");
        // The same kernel is fine as PV (it has VIRT_BASE).
        c.guest_type = Some(GuestType::Pv);
        assert!(Plan::from_config(&c).is_ok());
        // Without any Xen note it is not a PV kernel either.
        std::fs::write(&k, image::elf::testelf::build(b"k", 0, &[], 62)).expect("write");
        let e = Plan::from_config(&c).expect_err("no notes");
        assert!(matches!(e, BuildError::NotXenPv { .. }), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
