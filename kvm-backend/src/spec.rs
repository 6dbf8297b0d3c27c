//! `VmSpec`: everything the VMM needs to build one VM. The VMM depends only on this type; the
//! toolstack builds it from an xl.cfg `DomainConfig` (see `backend`), the `rxl-kvm` binary
//! reads it as JSON, so the VMM stays independent of the config language.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What to do when the guest powers off, reboots or crashes (xl's `on_*` actions the KVM
/// backend can honour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Tear the VM down.
    #[default]
    Destroy,
    /// Rebuild and boot it again in the same VMM process.
    Restart,
    /// Keep the VMM (and its memory) around, stopped, for inspection until destroyed.
    Preserve,
}

/// One virtio-blk disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSpec {
    /// Raw image file or block device.
    pub path: PathBuf,
    /// Attach read-only (xl `access=ro` / `r`).
    #[serde(default)]
    pub read_only: bool,
}

/// One virtio-net NIC on a tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NicSpec {
    /// Tap interface name (xl `vifname=`); `None` lets the kernel pick `rxltapN`.
    #[serde(default)]
    pub tap: Option<String>,
    /// Bridge to enslave the tap to (xl `bridge=`).
    #[serde(default)]
    pub bridge: Option<String>,
    /// MAC address (xl `mac=`); `None` derives a stable one from the domain name.
    #[serde(default)]
    pub mac: Option<[u8; 6]>,
}

/// A VM to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// Domain name (unique on the host).
    pub name: String,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// Number of vCPUs.
    pub vcpus: u8,
    /// Kernel image.
    pub kernel: PathBuf,
    /// Optional initrd.
    #[serde(default)]
    pub ramdisk: Option<PathBuf>,
    /// Kernel command line.
    #[serde(default)]
    pub cmdline: String,
    /// Disks, in guest order (vda, vdb, ...).
    #[serde(default)]
    pub disks: Vec<DiskSpec>,
    /// NICs, after the disks on the virtio-mmio bus.
    #[serde(default)]
    pub nics: Vec<NicSpec>,
    /// On guest power-off.
    #[serde(default)]
    pub on_poweroff: Action,
    /// On guest reboot.
    #[serde(default = "restart")]
    pub on_reboot: Action,
    /// On guest crash.
    #[serde(default)]
    pub on_crash: Action,
    /// Whether the VM gets KVM's in-kernel i8254 PIT. On by default; a guest that follows this
    /// VMM's hardware-reduced ACPI tables never uses it (Linux then sets up no legacy timer and
    /// takes the TSC rate from kvm-clock), and creating and destroying it costs several SRCU
    /// grace periods and a kernel thread. `false` is QEMU microvm's `pit=off`.
    #[serde(default = "yes")]
    pub pit: bool,
}

fn restart() -> Action {
    Action::Restart
}

fn yes() -> bool {
    true
}

impl VmSpec {
    /// A spec with xl's defaults: 1 vCPU, 128 MiB, reboot restarts, others destroy.
    pub fn new(name: impl Into<String>, kernel: impl Into<PathBuf>) -> Self {
        VmSpec {
            name: name.into(),
            memory_mib: 128,
            vcpus: 1,
            kernel: kernel.into(),
            ramdisk: None,
            cmdline: String::new(),
            disks: Vec::new(),
            nics: Vec::new(),
            on_poweroff: Action::Destroy,
            on_reboot: Action::Restart,
            on_crash: Action::Destroy,
            pit: true,
        }
    }
}
