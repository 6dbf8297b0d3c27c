//! `HvmSpec`: everything needed to run one HVM guest under QEMU. Like [`crate::VmSpec`] for the
//! microVM, it is plain data: built from an xl.cfg by [`super::config`], written as JSON by a
//! toolstack, turned into a command line by [`super::argv`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::spec::{Action, NicSpec};

/// Value of [`HvmSpec::device_model`]; a spec file carrying it is an HVM spec.
pub const DEVICE_MODEL_QEMU: &str = "qemu";

/// How a disk reaches the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskBus {
    /// IDE on the PIIX3 (xl's emulated `hda`..`hdd`, `xvda`..`xvdd`).
    Ide,
    /// AHCI SATA (`hdtype="ahci"`).
    Ahci,
    /// virtio-blk PCI (disks beyond the fourth, or `specification=virtio`).
    Virtio,
}

/// One emulated disk or CD-ROM drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HvmDisk {
    /// The image or block device; `None` is an empty CD-ROM drive.
    pub path: Option<PathBuf>,
    /// QEMU's image format name (`raw`, `qcow2`, `qcow`, `vpc`, `qed`).
    pub format: String,
    /// A CD-ROM drive rather than a hard disk.
    pub cdrom: bool,
    /// Attached read-only.
    pub read_only: bool,
    /// The bus.
    pub bus: DiskBus,
    /// Unit on the bus (IDE: 0 = primary master .. 3 = secondary slave).
    pub index: u32,
    /// Pass guest discards down to the image (`discard=unmap`).
    #[serde(default)]
    pub discard: bool,
}

/// One emulated NIC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HvmNic {
    /// Its tap, bridge and MAC, as for a microVM NIC.
    #[serde(flatten)]
    pub net: NicSpec,
    /// QEMU's device: `rtl8139` (xl's default), `e1000` or `virtio-net-pci`.
    pub model: String,
}

/// The emulated graphics card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HvmVga {
    /// Cirrus Logic GD5446 (xl's default).
    Cirrus,
    /// Bochs standard VGA (`stdvga=1`, `vga="stdvga"`).
    Std,
    /// QXL.
    Qxl,
    /// No card.
    None,
}

/// A VNC server for the guest's screen (always on a loopback address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vnc {
    /// Listen address (`vnclisten`).
    pub listen: String,
    /// Display number (port 5900 + display).
    pub display: u32,
    /// Take the next free display from `display` on (`vncunused`).
    pub find_unused: bool,
    /// Password (`vncpasswd`), set over QMP, never on the command line.
    #[serde(default)]
    pub password: Option<String>,
}

/// The firmware QEMU loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "path")]
pub enum Firmware {
    /// QEMU's SeaBIOS.
    Seabios,
    /// A firmware image (OVMF for UEFI, or a path from `firmware=`).
    Image(PathBuf),
}

/// A direct kernel boot (`kernel=` in an HVM config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectKernel {
    /// The kernel.
    pub kernel: PathBuf,
    /// The initrd.
    #[serde(default)]
    pub ramdisk: Option<PathBuf>,
    /// The command line.
    #[serde(default)]
    pub cmdline: String,
}

/// An HVM guest to run under QEMU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HvmSpec {
    /// Always [`DEVICE_MODEL_QEMU`]: tells an HVM spec file from a microVM one.
    pub device_model: String,
    /// The QEMU binary (`device_model_override`, else `qemu-system-x86_64`).
    pub qemu: PathBuf,
    /// Domain name.
    pub name: String,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// vCPUs at boot.
    pub vcpus: u8,
    /// vCPUs the guest may bring online later (`maxvcpus`).
    pub max_vcpus: u8,
    /// Firmware.
    pub firmware: Firmware,
    /// Direct kernel boot instead of booting from a drive.
    #[serde(default)]
    pub direct_kernel: Option<DirectKernel>,
    /// Boot order: letters c (disk), d (CD-ROM), n (network).
    pub boot_order: String,
    /// Disks and CD-ROM drives.
    #[serde(default)]
    pub disks: Vec<HvmDisk>,
    /// NICs: each a tap (opened by rxl-kvm, handed to QEMU) on an optional bridge.
    #[serde(default)]
    pub nics: Vec<HvmNic>,
    /// ACPI tables (`acpi`).
    pub acpi: bool,
    /// Offer S3 (`acpi_s3`).
    pub acpi_s3: bool,
    /// Offer S4 (`acpi_s4`).
    pub acpi_s4: bool,
    /// HPET (`hpet`).
    pub hpet: bool,
    /// CPU feature flags added to QEMU's `-cpu host` (e.g. `-nx`).
    #[serde(default)]
    pub cpu_flags: Vec<String>,
    /// Graphics card.
    pub vga: HvmVga,
    /// Video memory in MiB (`videoram`).
    #[serde(default)]
    pub videoram_mib: Option<u64>,
    /// VNC server, if `vnc=1`.
    #[serde(default)]
    pub vnc: Option<Vnc>,
    /// Keyboard layout for VNC (`keymap`).
    #[serde(default)]
    pub keymap: Option<String>,
    /// USB controller: 1 (UHCI), 2 (EHCI), 3 (xHCI); `None` for no USB.
    #[serde(default)]
    pub usb: Option<u32>,
    /// USB devices by QEMU device name (`usb-tablet`, `usb-mouse`, `usb-kbd`).
    #[serde(default)]
    pub usb_devices: Vec<String>,
    /// Extra ACPI table file (`acpi_firmware`), QEMU `-acpitable file=`.
    #[serde(default)]
    pub acpi_table: Option<PathBuf>,
    /// SMBIOS table file (`smbios_firmware`), QEMU `-smbios file=`.
    #[serde(default)]
    pub smbios_table: Option<PathBuf>,
    /// The RTC runs in local time (`localtime`).
    #[serde(default)]
    pub localtime: bool,
    /// User QEMU drops privileges to (`device_model_user`).
    #[serde(default)]
    pub run_as: Option<String>,
    /// Extra QEMU arguments, appended last (`device_model_args`, `device_model_args_hvm`).
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// On guest power-off.
    pub on_poweroff: Action,
    /// On guest reboot.
    pub on_reboot: Action,
    /// On guest crash.
    pub on_crash: Action,
}

impl HvmSpec {
    /// A spec with xl's HVM defaults: 1 vCPU, 128 MiB, SeaBIOS, boot "cd", ACPI, cirrus, no
    /// devices; reboot restarts, the rest destroy.
    pub fn new(name: impl Into<String>) -> HvmSpec {
        HvmSpec {
            device_model: DEVICE_MODEL_QEMU.into(),
            qemu: PathBuf::from("qemu-system-x86_64"),
            name: name.into(),
            memory_mib: 128,
            vcpus: 1,
            max_vcpus: 1,
            firmware: Firmware::Seabios,
            direct_kernel: None,
            boot_order: "cd".into(),
            disks: Vec::new(),
            nics: Vec::new(),
            acpi: true,
            acpi_s3: true,
            acpi_s4: true,
            hpet: true,
            cpu_flags: Vec::new(),
            vga: HvmVga::Cirrus,
            videoram_mib: None,
            vnc: None,
            keymap: None,
            usb: None,
            usb_devices: Vec::new(),
            acpi_table: None,
            smbios_table: None,
            localtime: false,
            run_as: None,
            extra_args: Vec::new(),
            on_poweroff: Action::Destroy,
            on_reboot: Action::Restart,
            on_crash: Action::Destroy,
        }
    }

    /// Whether `json` (a spec file's text) holds an HVM spec rather than a microVM one.
    pub fn is_hvm_json(json: &str) -> bool {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            device_model: Option<String>,
        }
        serde_json::from_str::<Probe>(json)
            .is_ok_and(|p| p.device_model.as_deref() == Some(DEVICE_MODEL_QEMU))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_detection() {
        let mut spec = HvmSpec::new("j");
        spec.disks.push(HvmDisk {
            path: Some("/srv/x.iso".into()),
            format: "raw".into(),
            cdrom: true,
            read_only: true,
            bus: DiskBus::Ide,
            index: 2,
            discard: false,
        });
        spec.firmware = Firmware::Image("/usr/share/ovmf/OVMF.fd".into());
        let text = serde_json::to_string(&spec).unwrap();
        assert!(HvmSpec::is_hvm_json(&text));
        assert_eq!(serde_json::from_str::<HvmSpec>(&text).unwrap(), spec);
        let microvm = serde_json::to_string(&crate::VmSpec::new("m", "/k")).unwrap();
        assert!(!HvmSpec::is_hvm_json(&microvm));
        assert!(!HvmSpec::is_hvm_json("{not json"));
    }
}
