//! The 9pfs share spec (`p9=[...]`, xl.cfg(5)): `tag=…,path=…,security_model=…`.
//!
//! As xl: pieces split on `,` (empty ones vanish), each `key=value` trimmed of
//! blanks, unknown keys are errors. Added: `tag` is mandatory, and for the QEMU
//! backend (the default) so are `path` and `security_model`, which libxl would
//! otherwise reject at create time.

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// `type=`, libxl's `libxl_p9_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum P9Type {
    /// Served by QEMU (default).
    Qemu,
    /// Served by Xen's own 9pfs daemon (Xen 4.19+).
    #[serde(rename = "xen_9pfsd")]
    Xen9pfsd,
}

/// A parsed p9 spec, libxl's `libxl_device_p9`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct P9Spec {
    /// `backend=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_domname: Option<String>,
    /// `tag=`: the mount tag the guest uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `path=`: the directory shared from the backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `security_model=` (`none`, `passthrough`, `mapped`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_model: Option<String>,
    /// `type=`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub p9_type: Option<P9Type>,
    /// `max-space=` (MiB, xen_9pfsd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_space: Option<u64>,
    /// `max-files=` (xen_9pfsd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u64>,
    /// `max-open-files=` (xen_9pfsd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_open_files: Option<u64>,
    /// `auto-delete=` (xen_9pfsd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_delete: Option<bool>,
}

const KNOWN: &[&str] = &[
    "tag",
    "path",
    "security_model",
    "backend",
    "type",
    "max-files",
    "max-open-files",
    "max-space",
    "auto-delete",
];

/// Parses one p9 spec string.
pub fn parse(spec: &str) -> Result<Parsed<P9Spec>, SpecError> {
    let err = |kind, at: usize, expected: &str, found: &str| {
        SpecError::new(SpecKind::P9, kind, spec, at, expected, found)
    };
    let mut p9 = P9Spec::default();
    let mut start = 0;
    for piece in spec.split(',') {
        let at = start;
        start += piece.len() + 1;
        if piece.is_empty() {
            continue;
        }
        let Some((k, v)) = piece.split_once('=') else {
            return Err(err(SpecErrorKind::Syntax, at, "`key=value`", piece));
        };
        let value_at = at + k.len() + 1 + (v.len() - v.trim_start().len());
        let key_at = at + (k.len() - k.trim_start().len());
        let (k, v) = (k.trim(), v.trim());
        if v.is_empty() {
            return Err(err(
                SpecErrorKind::Syntax,
                at,
                "`key=value` with a non-empty value",
                piece,
            ));
        }
        let number = |key| fields::decimal_u64(SpecKind::P9, spec, value_at, key, v);
        match k {
            "tag" => p9.tag = Some(v.to_string()),
            "path" => p9.path = Some(v.to_string()),
            "security_model" => p9.security_model = Some(v.to_string()),
            "backend" => p9.backend_domname = Some(v.to_string()),
            "type" => {
                p9.p9_type = Some(match v {
                    "qemu" => P9Type::Qemu,
                    "xen_9pfsd" => P9Type::Xen9pfsd,
                    _ => {
                        return Err(err(
                            SpecErrorKind::InvalidValue,
                            value_at,
                            "type qemu or xen_9pfsd",
                            v,
                        ));
                    }
                });
            }
            "max-files" => p9.max_files = Some(number("max-files")?),
            "max-open-files" => p9.max_open_files = Some(number("max-open-files")?),
            "max-space" => p9.max_space = Some(number("max-space")?),
            "auto-delete" => {
                p9.auto_delete = Some(
                    fields::c_number_u64(SpecKind::P9, spec, value_at, "auto-delete", v)? != 0,
                );
            }
            _ => return Err(fields::unknown_key(SpecKind::P9, spec, key_at, k, KNOWN)),
        }
    }
    let needed: &[(&str, bool)] = if p9.p9_type == Some(P9Type::Xen9pfsd) {
        &[("tag", p9.tag.is_some())]
    } else {
        &[
            ("tag", p9.tag.is_some()),
            ("path", p9.path.is_some()),
            ("security_model", p9.security_model.is_some()),
        ]
    };
    if let Some((key, _)) = needed.iter().find(|(_, present)| !present) {
        return Err(err(SpecErrorKind::Missing, spec.len(), &format!("`{key}=`"), "")
            .hint("a QEMU 9pfs share needs tag=, path= and security_model=, e.g. `tag=share,path=/srv/share,security_model=none`"));
    }
    Ok(Parsed::clean(p9))
}
