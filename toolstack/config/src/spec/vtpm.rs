//! The virtual TPM spec (`vtpm=[...]`, xl.cfg(5)): `backend=DOMAIN[,uuid=UUID]`.
//!
//! Like xl, `backend` is mandatory and unknown keys are errors. Unlike xl (which
//! stops silently at a field without `=`), a bare word is an error.

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use super::fields;
use serde::Serialize;

/// A parsed vtpm spec, libxl's `libxl_device_vtpm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VtpmSpec {
    /// `backend=`: the vTPM stub domain.
    pub backend_domname: String,
    /// `uuid=`, normalised to lower-case 8-4-4-4-12 form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// Parses one vtpm spec string.
pub fn parse(spec: &str) -> Result<Parsed<VtpmSpec>, SpecError> {
    let (mut backend, mut uuid) = (None, None);
    for field in fields::split_fields(spec) {
        let Some(kv) = field.key_value() else {
            return Err(SpecError::new(
                SpecKind::Vtpm,
                SpecErrorKind::Syntax,
                spec,
                field.offset,
                "`key=value`",
                field.text,
            ));
        };
        match kv.key {
            "backend" => backend = Some(kv.value.to_string()),
            "uuid" => uuid = Some(parse_uuid(spec, kv.value_offset, kv.value)?),
            key => {
                return Err(fields::unknown_key(
                    SpecKind::Vtpm,
                    spec,
                    kv.key_offset,
                    key,
                    &["backend", "uuid"],
                ));
            }
        }
    }
    let Some(backend_domname) = backend else {
        return Err(SpecError::new(
            SpecKind::Vtpm,
            SpecErrorKind::Missing,
            spec,
            spec.len(),
            "`backend=` (the vTPM domain)",
            "",
        )
        .hint("e.g. `backend=vtpmmgr-guest`"));
    };
    Ok(Parsed::clean(VtpmSpec {
        backend_domname,
        uuid,
    }))
}

/// Validates a UUID as libxl's `libxl_uuid_from_string` does (8-4-4-4-12 hex).
pub(crate) fn parse_uuid(spec: &str, at: usize, v: &str) -> Result<String, SpecError> {
    let groups: Vec<&str> = v.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(SpecError::new(
            SpecKind::Vtpm,
            SpecErrorKind::InvalidValue,
            spec,
            at,
            "a UUID like 7f3c8a52-1b7e-4a7e-9c6d-2f1e0a9b8c7d",
            v,
        ));
    }
    Ok(v.to_ascii_lowercase())
}
