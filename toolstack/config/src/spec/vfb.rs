//! The virtual framebuffer spec (`vfb=[...]`, xl.cfg(5)), as xl's
//! `parse_config_data` reads it: comma-separated `key=value` pairs.
//!
//! Stricter than xl, which silently stops at the first field without `=`, silently
//! ignores unknown keys and reads booleans with `atoi` (so `vnc=yes` is *off*):
//! all three are errors here. Each vfb also implies a virtual keyboard (the caller's job).

use super::disk::defbool;
use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// VNC settings, libxl's `libxl_vnc_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VncInfo {
    /// `vnc=`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub enable: Option<bool>,
    /// `vnclisten=` (`address[:display]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `vncpasswd=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passwd: Option<String>,
    /// `vncdisplay=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<u32>,
    /// `vncunused=`: search for a free display.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub findunused: Option<bool>,
}

/// SDL settings, libxl's `libxl_sdl_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SdlInfo {
    /// `sdl=`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub enable: Option<bool>,
    /// `opengl=`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub opengl: Option<bool>,
    /// `display=` (X display).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// `xauthority=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xauthority: Option<String>,
}

/// A parsed vfb spec, libxl's `libxl_device_vfb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VfbSpec {
    /// VNC part (always serialized, as libxl prints nested structs even when empty).
    pub vnc: VncInfo,
    /// SDL part (always serialized).
    pub sdl: SdlInfo,
    /// `keymap=` (e.g. `de`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keymap: Option<String>,
}

const KNOWN: &[&str] = &[
    "vnc",
    "vnclisten",
    "vncdisplay",
    "vncunused",
    "vncpasswd",
    "sdl",
    "opengl",
    "display",
    "xauthority",
    "keymap",
];

/// Parses one vfb spec string (one element of `vfb=[...]`).
pub fn parse(spec: &str) -> Result<Parsed<VfbSpec>, SpecError> {
    let mut vfb = VfbSpec::default();
    for field in fields::split_fields(spec) {
        let Some(kv) = field.key_value() else {
            return Err(SpecError::new(
                SpecKind::Vfb,
                SpecErrorKind::Syntax,
                spec,
                field.offset,
                "`key=value`",
                field.text,
            )
            .hint("xl silently ignores this field and everything after it; write e.g. `vnc=1`"));
        };
        let (v, at) = (kv.value, kv.value_offset);
        let flag = |key| fields::atoi_bool(SpecKind::Vfb, spec, at, key, v);
        match kv.key {
            "vnc" => vfb.vnc.enable = Some(flag("vnc")?),
            "vnclisten" => vfb.vnc.listen = Some(v.to_string()),
            "vncpasswd" => vfb.vnc.passwd = Some(v.to_string()),
            "vncdisplay" => {
                let n = fields::decimal_u64(SpecKind::Vfb, spec, at, "vncdisplay", v)?;
                vfb.vnc.display = Some(fields::bounded(
                    SpecKind::Vfb,
                    spec,
                    at,
                    "vncdisplay",
                    v,
                    n,
                    i32::MAX as u64,
                )? as u32);
            }
            "vncunused" => vfb.vnc.findunused = Some(flag("vncunused")?),
            "keymap" => vfb.keymap = Some(v.to_string()),
            "sdl" => vfb.sdl.enable = Some(flag("sdl")?),
            "opengl" => vfb.sdl.opengl = Some(flag("opengl")?),
            "display" => vfb.sdl.display = Some(v.to_string()),
            "xauthority" => vfb.sdl.xauthority = Some(v.to_string()),
            key => {
                return Err(fields::unknown_key(
                    SpecKind::Vfb,
                    spec,
                    kv.key_offset,
                    key,
                    KNOWN,
                ));
            }
        }
    }
    Ok(Parsed::clean(vfb))
}
