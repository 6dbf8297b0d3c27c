//! Device model (QEMU) keys.

use serde::Serialize;

use crate::reader::{Reader, StrOrList};

/// How the device model is run. `None` means xl's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceModel {
    /// `device_model_version`: `qemu-xen` (the only one Xen 4.17 still runs for new guests) or
    /// `qemu-xen-traditional`.
    pub version: Option<String>,
    /// `device_model_override`: the QEMU binary. (The old `device_model` key is ignored by xl,
    /// and so by rxl, with a warning.)
    pub override_path: Option<String>,
    /// `device_model_args`: extra QEMU arguments for every guest type.
    pub args: Vec<String>,
    /// `device_model_args_pv`: extra arguments for PV guests (their QEMU backend).
    pub args_pv: Vec<String>,
    /// `device_model_args_hvm`: extra arguments for HVM guests.
    pub args_hvm: Vec<String>,
    /// `device_model_user`: the user QEMU runs as.
    pub user: Option<String>,
    /// `dm_restrict`: restrict QEMU's privileges.
    pub restrict: Option<bool>,
    /// `device_model_stubdomain_override`: run QEMU in a stub domain.
    pub stubdomain: Option<bool>,
}

fn args(r: &mut Reader<'_>, key: &str) -> Vec<String> {
    match r.string_or_list(key) {
        Some(StrOrList::One(s)) => vec![s],
        Some(StrOrList::Many(v)) => v,
        None => Vec::new(),
    }
}

impl DeviceModel {
    pub(crate) fn read(r: &mut Reader<'_>) -> DeviceModel {
        let override_path = r.nonempty_string("device_model_override");
        DeviceModel {
            version: r
                .choice(
                    "device_model_version",
                    &[
                        ("qemu-xen", "qemu-xen"),
                        ("qemu-xen-traditional", "qemu-xen-traditional"),
                    ],
                )
                .map(str::to_string),
            override_path,
            args: args(r, "device_model_args"),
            args_pv: args(r, "device_model_args_pv"),
            args_hvm: args(r, "device_model_args_hvm"),
            user: r.nonempty_string("device_model_user"),
            restrict: r.boolean("dm_restrict"),
            stubdomain: r.boolean("device_model_stubdomain_override"),
        }
    }
}
