//! The USB controller and device specs (`usbctrl=[...]`, `usbdev=[...]`, xl.cfg(5)).
//!
//! As xl: fields split on `,` (empty ones vanish, leading blanks dropped), unknown
//! keys are errors. Stricter: numbers must be numbers (xl's `atoi` reads junk as 0).

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// `type=` of a controller, libxl's `libxl_usbctrl_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UsbctrlType {
    /// Let libxl choose.
    Auto,
    /// PV USB (usbback).
    Pv,
    /// Emulated by the device model.
    Devicemodel,
    /// PV USB served by QEMU.
    Qusb,
}

/// A parsed usbctrl spec, libxl's `libxl_device_usbctrl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsbctrlSpec {
    /// `type=` (`auto`, libxl's default, is omitted from JSON as libxl does).
    #[serde(rename = "type", skip_serializing_if = "is_default_type")]
    pub ctrl_type: Option<UsbctrlType>,
    /// `version=` (1, 2 or 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `ports=` (1-31).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<u32>,
}

/// A parsed usbdev spec, libxl's `libxl_device_usbdev` (only `type=hostdev`
/// exists). Serialized as libxl does: `ctrl`, `port`, then the keyed union as
/// `"type.hostdev": {"hostbus": …, "hostaddr": …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbdevSpec {
    /// `controller=`: devid of the controller.
    pub ctrl: Option<u32>,
    /// `port=`.
    pub port: Option<u32>,
    /// `hostbus=` of the host device.
    pub hostbus: Option<u8>,
    /// `hostaddr=` of the host device.
    pub hostaddr: Option<u8>,
}

impl Serialize for UsbdevSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if let Some(c) = self.ctrl {
            m.serialize_entry("ctrl", &c)?;
        }
        if let Some(p) = self.port {
            m.serialize_entry("port", &p)?;
        }
        // libxl omits zero-valued members inside the union too.
        let mut host = std::collections::BTreeMap::new();
        for (k, v) in [("hostaddr", self.hostaddr), ("hostbus", self.hostbus)] {
            if let Some(v) = v.filter(|v| *v != 0) {
                host.insert(k, v);
            }
        }
        m.serialize_entry("type.hostdev", &host)?;
        m.end()
    }
}

fn is_default_type(t: &Option<UsbctrlType>) -> bool {
    matches!(t, None | Some(UsbctrlType::Auto))
}

/// Parses one usbctrl spec string.
pub fn parse_ctrl(spec: &str) -> Result<Parsed<UsbctrlSpec>, SpecError> {
    let k = SpecKind::Usbctrl;
    let mut c = UsbctrlSpec::default();
    for field in fields::split_fields(spec) {
        let Some(kv) = field.key_value() else {
            return Err(SpecError::new(
                k,
                SpecErrorKind::Syntax,
                spec,
                field.offset,
                "`key=value`",
                field.text,
            ));
        };
        let (v, at) = (kv.value, kv.value_offset);
        match kv.key {
            "type" => {
                // libxl's enum parser is case-insensitive.
                c.ctrl_type = Some(match v.to_ascii_lowercase().as_str() {
                    "auto" => UsbctrlType::Auto,
                    "pv" => UsbctrlType::Pv,
                    "devicemodel" => UsbctrlType::Devicemodel,
                    "qusb" => UsbctrlType::Qusb,
                    _ => {
                        return Err(SpecError::new(
                            k,
                            SpecErrorKind::InvalidValue,
                            spec,
                            at,
                            "type auto, pv, devicemodel or qusb",
                            v,
                        ));
                    }
                });
            }
            "version" => {
                let n = fields::decimal_u64(k, spec, at, "version", v)?;
                if !(1..=3).contains(&n) {
                    return Err(SpecError::new(
                        k,
                        SpecErrorKind::OutOfRange,
                        spec,
                        at,
                        "USB version 1, 2 or 3",
                        v,
                    ));
                }
                c.version = Some(n as u32);
            }
            "ports" => {
                let n = fields::decimal_u64(k, spec, at, "ports", v)?;
                if !(1..=31).contains(&n) {
                    return Err(SpecError::new(
                        k,
                        SpecErrorKind::OutOfRange,
                        spec,
                        at,
                        "1 to 31 ports",
                        v,
                    ));
                }
                c.ports = Some(n as u32);
            }
            key => {
                return Err(fields::unknown_key(
                    k,
                    spec,
                    kv.key_offset,
                    key,
                    &["type", "version", "ports"],
                ));
            }
        }
    }
    Ok(Parsed::clean(c))
}

/// Parses one usbdev spec string.
pub fn parse_dev(spec: &str) -> Result<Parsed<UsbdevSpec>, SpecError> {
    let k = SpecKind::Usbdev;
    let mut d = UsbdevSpec::default();
    for field in fields::split_fields(spec) {
        let Some(kv) = field.key_value() else {
            return Err(SpecError::new(
                k,
                SpecErrorKind::Syntax,
                spec,
                field.offset,
                "`key=value`",
                field.text,
            ));
        };
        let (v, at) = (kv.value, kv.value_offset);
        let byte = |key| -> Result<u8, SpecError> {
            let n = fields::c_number_u64(k, spec, at, key, v)?;
            Ok(fields::bounded(k, spec, at, key, v, n, 255)? as u8)
        };
        let small = |key| -> Result<u32, SpecError> {
            let n = fields::decimal_u64(k, spec, at, key, v)?;
            Ok(fields::bounded(k, spec, at, key, v, n, i32::MAX as u64)? as u32)
        };
        match kv.key {
            "type" if v.eq_ignore_ascii_case("hostdev") => {}
            "type" => {
                return Err(SpecError::new(
                    k,
                    SpecErrorKind::InvalidValue,
                    spec,
                    at,
                    "type hostdev",
                    v,
                ));
            }
            "hostbus" => d.hostbus = Some(byte("hostbus")?),
            "hostaddr" => d.hostaddr = Some(byte("hostaddr")?),
            "controller" => d.ctrl = Some(small("controller")?),
            "port" => d.port = Some(small("port")?),
            key => {
                return Err(fields::unknown_key(
                    k,
                    spec,
                    kv.key_offset,
                    key,
                    &["type", "hostbus", "hostaddr", "controller", "port"],
                ));
            }
        }
    }
    if d.hostbus.is_none() || d.hostaddr.is_none() {
        return Err(SpecError::new(
            k,
            SpecErrorKind::Missing,
            spec,
            spec.len(),
            "`hostbus=` and `hostaddr=`",
            "",
        )
        .hint("find them with `lsusb` (Bus 003 Device 002 → hostbus=3,hostaddr=2)"));
    }
    Ok(Parsed::clean(d))
}
