//! `disk=` entries as blkback devices: libxl's `phy` backend (`device_disk_add` in
//! libxl_disk.c), which serves block devices directly and raw files through a loop device
//! that the `block` hotplug script sets up.

use rxl_config::spec::{DiskBackend, DiskFormat, DiskSpec, DiskSpecification};

use super::{Device, DeviceError, Kind, SCRIPT_DIR};

/// A checked disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// The spec as written (for messages).
    pub spec: String,
    /// Guest device name, e.g. `xvda`.
    pub vdev: String,
    /// Xen device number (`xvda` = 51712).
    pub devid: u32,
    /// The file or block device in dom0.
    pub target: String,
    /// Writable.
    pub readwrite: bool,
    /// Shown to the guest as a CD-ROM.
    pub cdrom: bool,
    /// Removable medium.
    pub removable: bool,
    /// `direct-io-safe`.
    pub direct_io_safe: bool,
    /// `discard-enable` (libxl's default: on for writable disks).
    pub discard: bool,
    /// `trusted` (libxl's default: yes).
    pub trusted: bool,
    /// The hotplug script, absolute.
    pub script: String,
}

fn refuse(label: &str, why: impl Into<String>) -> DeviceError {
    DeviceError::Config {
        key: "disk",
        what: label.to_owned(),
        why: why.into(),
    }
}

/// A script name as libxl stores it: relative names live in [`SCRIPT_DIR`].
pub(crate) fn script_path(s: &str) -> String {
    if s.starts_with('/') {
        s.to_owned()
    } else {
        format!("{SCRIPT_DIR}/{s}")
    }
}

impl Disk {
    /// What errors call the disk: `xvda (target=/srv/a.img)`.
    pub fn label(&self) -> String {
        format!("{} (target={})", self.vdev, self.target)
    }

    /// Checks one parsed `disk=` entry; refuses, by name, what blkback cannot serve.
    pub fn from_spec(spec: &str, d: &DiskSpec) -> Result<Disk, DeviceError> {
        let target = d.pdev_path.clone().unwrap_or_default();
        let label = format!("{} (target={target})", d.vdev);
        super::dom0_backend_only("disk", &label, d.backend_domname.as_deref())?;
        match d.backend {
            None | Some(DiskBackend::Phy) => {}
            Some(other) => {
                return Err(refuse(
                    &label,
                    format!(
                        "backendtype={}: rxl serves disks with the kernel's blkback (phy) only; \
                         tap and qdisk need tapdisk or QEMU",
                        format!("{other:?}").to_lowercase()
                    ),
                ));
            }
        }
        if d.format != DiskFormat::Raw {
            let why = if d.format == DiskFormat::Empty || d.pdev_path.is_none() {
                "an empty drive (no target) needs QEMU's qdisk; give the disk a target".into()
            } else {
                format!(
                    "format={}: blkback serves raw images and block devices only; convert the \
                     image (`qemu-img convert -O raw`) or boot this guest with xl (qdisk)",
                    format!("{:?}", d.format).to_lowercase()
                )
            };
            return Err(refuse(&label, why));
        }
        if d.specification == Some(DiskSpecification::Virtio) {
            return Err(refuse(
                &label,
                "specification=virtio: virtio disks on Xen need a virtio backend; use the Xen PV \
                 protocol (the default)",
            ));
        }
        if d.colo_enable == Some(true) {
            return Err(refuse(&label, "colo: COLO replication is not supported"));
        }
        // With a script of its own, the target is the script's business (an iSCSI name, a
        // DRBD resource): libxl does not look at it either.
        if d.script.is_none() {
            match std::fs::metadata(&target) {
                Ok(m) => {
                    use std::os::unix::fs::FileTypeExt;
                    let t = m.file_type();
                    if !t.is_file() && !t.is_block_device() {
                        return Err(refuse(
                            &label,
                            format!(
                                "{target} is neither a regular file nor a block device; give \
                                 an image file or a /dev path"
                            ),
                        ));
                    }
                }
                Err(e) => {
                    return Err(refuse(
                        &label,
                        format!("cannot use {target}: {e}; fix the target= path"),
                    ));
                }
            }
        }
        let devid = d
            .decoded_vdev()
            .map_err(|e| refuse(&label, format!("vdev {}: {}", d.vdev, e.kind)))?
            .devid;
        Ok(Disk {
            spec: spec.to_owned(),
            vdev: d.vdev.clone(),
            devid,
            target,
            readwrite: d.readwrite,
            cdrom: d.is_cdrom,
            removable: d.removable,
            direct_io_safe: d.direct_io_safe,
            discard: d.discard_enable.unwrap_or(d.readwrite),
            trusted: d.trusted.unwrap_or(true),
            script: script_path(d.script.as_deref().unwrap_or("block")),
        })
    }

    /// The device of domain `domid`, entries as libxl 4.17 writes them for the phy backend.
    pub fn device(&self, domid: u32, pv: bool) -> Device {
        let b = |v: bool| if v { "1" } else { "0" }.to_owned();
        let kind = if self.cdrom { "cdrom" } else { "disk" };
        let mut back = vec![
            ("params", self.target.clone()),
            ("script", self.script.clone()),
            ("frontend-id", domid.to_string()),
            ("online", "1".into()),
            ("removable", b(self.removable)),
            ("bootable", "1".into()),
            ("state", "1".into()),
            ("dev", self.vdev.clone()),
            ("type", "phy".into()),
            ("mode", if self.readwrite { "w" } else { "r" }.into()),
            ("device-type", kind.into()),
        ];
        if self.direct_io_safe {
            back.push(("direct-io-safe", "1".into()));
        }
        back.push(("discard-enable", b(self.discard)));
        // libxl 4.17 names the protocol the frontend speaks (`xen`; `virtio` is refused above).
        back.push(("specification", "xen".into()));
        let mut front = vec![
            ("backend-id", "0".into()),
            ("state", "1".into()),
            ("virtual-device", self.devid.to_string()),
            ("device-type", kind.into()),
            ("trusted", b(self.trusted)),
        ];
        // Old PV kernels (before 2.6.26) read the ABI from here; libxl writes it for PV.
        if pv {
            front.push(("protocol", "x86_64-abi".into()));
        }
        Device {
            kind: Kind::Vbd,
            domid,
            devid: self.devid,
            what: format!("disk {}", self.label()),
            back,
            front,
            ro_front: Vec::new(),
        }
    }
}
