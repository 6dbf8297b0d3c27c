//! What a backend reports about its host for `rxl info`.

use serde::Serialize;

/// Host facts for `rxl info`: ordered `key : value` lines (xl's layout) plus the backend's
/// full report for `--json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostInfo {
    /// The lines in the order they print; values without the separator's space.
    pub fields: Vec<(String, String)>,
    /// The backend's own typed report, serialized (Xen: physinfo, version and scheduler;
    /// KVM: the same fields as `fields`).
    pub details: serde_json::Value,
}

impl HostInfo {
    /// Host facts with `details` built from the fields themselves (an object of strings).
    pub fn from_fields(fields: Vec<(String, String)>) -> Self {
        let details = serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        );
        HostInfo { fields, details }
    }
}
