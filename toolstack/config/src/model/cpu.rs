//! vCPU counts, scheduling weights and CPU affinity (`cpus`, `cpus_soft`).

use serde::Serialize;

use crate::diag::{DiagKind, Diagnostic, Span};
use crate::reader::Reader;
use crate::spec::{self, CpuAffinity, SpecError};
use crate::value::Value;

/// Most vCPUs a guest may have (Xen's HVM_MAX_VCPUS; PV allows more, but xl's bitmaps and real
/// guests stay far below).
pub const MAX_VCPUS: u64 = 4096;

/// A `cpus=` / `cpus_soft=` value: one spec for all vCPUs, or one spec per vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Affinity {
    /// The text as written (`"0-3,^1"`, `"nodes:0"`, `"all"`, or a list of those).
    pub text: AffinityText,
    /// What it means.
    pub parsed: CpuAffinity,
}

/// The written form of an affinity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AffinityText {
    /// `cpus = "0-3"`: every vCPU gets the same set.
    All(String),
    /// `cpus = [ "2", "3" ]`: vCPU i gets element i.
    PerVcpu(Vec<String>),
}

/// vCPU settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// `vcpus`: vCPUs online at boot.
    pub vcpus: Option<u32>,
    /// `maxvcpus`: vCPUs the guest may bring online later.
    pub maxvcpus: Option<u32>,
    /// `cpus`: hard affinity.
    pub cpus: Option<Affinity>,
    /// `cpus_soft`: soft affinity.
    pub cpus_soft: Option<Affinity>,
    /// `cpu_weight`: credit scheduler weight.
    pub cpu_weight: Option<u32>,
    /// `cap`: credit scheduler cap in percent of one CPU.
    pub cap: Option<u32>,
}

fn count(r: &mut Reader<'_>, key: &str) -> Option<u32> {
    r.ranged(key, 1, MAX_VCPUS as i64)
        .and_then(|v| u32::try_from(v).ok())
}

fn affinity(r: &mut Reader<'_>, key: &str) -> Option<Affinity> {
    let setting = r.setting(key)?;
    let span = setting.value.span().clone();
    match &setting.value {
        Value::Str { text, .. } => match spec::cpus::parse_affinity(text) {
            Ok(p) => Some(Affinity {
                text: AffinityText::All(text.clone()),
                parsed: p.value,
            }),
            Err(e) => {
                r.push(cpu_error(key, None, &span, text, e));
                None
            }
        },
        Value::List { .. } => {
            let items = r.string_list(key)?;
            let refs: Vec<&str> = items.iter().map(|(s, _)| s.as_str()).collect();
            match spec::cpus::parse_affinity_list(&refs) {
                Ok(p) => Some(Affinity {
                    text: AffinityText::PerVcpu(items.iter().map(|(s, _)| s.clone()).collect()),
                    parsed: p.value,
                }),
                Err((i, e)) => {
                    let (text, span) = items.get(i).cloned().unwrap_or((String::new(), span));
                    r.push(cpu_error(key, Some(i), &span, &text, e));
                    None
                }
            }
        }
    }
}

fn cpu_error(key: &str, index: Option<usize>, span: &Span, text: &str, e: SpecError) -> Diagnostic {
    let what = match index {
        Some(i) => format!("{key} #{i} ({text:?}): {}", e.kind),
        None => format!("{key} ({text:?}): {}", e.kind),
    };
    let found = if e.found.is_empty() {
        "nothing".to_string()
    } else {
        format!("`{}`", e.found)
    };
    let mut d = Diagnostic::error(
        DiagKind::DeviceSpec,
        Span {
            column: span.column + u32::try_from(e.column).unwrap_or(1),
            ..span.clone()
        },
        what,
    )
    .key(key)
    .expected(e.expected)
    .found(found);
    d.hint = e.hint;
    d
}

impl Cpu {
    pub(crate) fn read(r: &mut Reader<'_>) -> Cpu {
        Cpu {
            vcpus: count(r, "vcpus"),
            maxvcpus: count(r, "maxvcpus"),
            cpus: affinity(r, "cpus"),
            cpus_soft: affinity(r, "cpus_soft"),
            cpu_weight: r
                .ranged("cpu_weight", 1, 65535)
                .and_then(|v| u32::try_from(v).ok()),
            cap: r
                .ranged("cap", 0, 65535)
                .and_then(|v| u32::try_from(v).ok()),
        }
    }
}
