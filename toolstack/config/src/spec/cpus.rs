//! The CPU affinity grammar of `cpus=`, `cpus_soft=` and `xl vcpu-pin`, as xl's
//! `parse_cpurange` reads it.
//!
//! A spec is a comma-separated list of terms, applied left to right to an
//! initially empty set: `all`, a CPU `N` or range `N-M`, `nodes:N[-M]` /
//! `node:N[-M]` (every CPU of those NUMA nodes), `nodes:all`; a leading `^` removes
//! instead of adding (`^all` is refused). The config value may also be a list with
//! one such string per vCPU ([`CpuAffinity::PerVcpu`]).
//!
//! Parsing needs no host; [`CpuSpec::resolve`] turns a spec into a [`CpuMap`] for
//! a given [`Topology`]. Stricter than xl: numbers are plain decimal (xl's `strtoul`
//! also takes blanks and `+`), and empty terms (`0,,1`) are refused.

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind};
use serde::Serialize;
use std::fmt;

/// What one term names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CpuItem {
    /// `all` or `nodes:all`: every CPU.
    All,
    /// CPUs `first..=last`.
    Cpus {
        /// First CPU.
        first: u32,
        /// Last CPU (inclusive).
        last: u32,
    },
    /// Every CPU of NUMA nodes `first..=last`.
    Nodes {
        /// First node.
        first: u32,
        /// Last node (inclusive).
        last: u32,
    },
}

/// One comma-separated term: an item, added or (with `^`) removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct CpuTerm {
    /// `^` given: remove these CPUs.
    pub exclude: bool,
    /// What the term names.
    pub item: CpuItem,
}

/// A parsed CPU set expression such as `"0-3,^1,nodes:1"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CpuSpec {
    /// Terms in order; order matters (`all,^1` ≠ `^1,all`).
    pub terms: Vec<CpuTerm>,
}

/// `cpus=` / `cpus_soft=` as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuAffinity {
    /// A single string: the same set for every vCPU.
    All(CpuSpec),
    /// A list: entry *i* is vCPU *i*'s set; vCPUs past the end keep the default,
    /// entries past `max_vcpus` are ignored (as xl does).
    PerVcpu(Vec<CpuSpec>),
}

impl CpuAffinity {
    /// The spec for each of `max_vcpus` vCPUs, following xl: a single string is
    /// copied to every vCPU; a list gives `None` (no pinning) past its end.
    pub fn per_vcpu(&self, max_vcpus: usize) -> Vec<Option<&CpuSpec>> {
        match self {
            CpuAffinity::All(s) => vec![Some(s); max_vcpus],
            CpuAffinity::PerVcpu(list) => (0..max_vcpus).map(|i| list.get(i)).collect(),
        }
    }
}

/// The host facts needed to resolve a spec: CPU count and each CPU's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// `node_of_cpu[c]` is the NUMA node of CPU `c`; its length is the CPU count.
    pub node_of_cpu: Vec<u32>,
}

impl Topology {
    /// `nodes` nodes of `per_node` consecutive CPUs each (node 0 = CPUs 0..per_node).
    pub fn uniform(nodes: u32, per_node: u32) -> Self {
        Topology {
            node_of_cpu: (0..nodes * per_node).map(|c| c / per_node.max(1)).collect(),
        }
    }
}

/// A set of host CPUs, sized to the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CpuMap {
    bits: Vec<bool>,
}

impl CpuMap {
    /// An empty map for `nr_cpus` CPUs.
    pub fn new(nr_cpus: usize) -> Self {
        CpuMap {
            bits: vec![false; nr_cpus],
        }
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        self.bits.get(cpu).copied().unwrap_or(false)
    }

    /// The CPUs in the set, ascending.
    pub fn cpus(&self) -> Vec<usize> {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect()
    }

    /// Size of the host the map is for.
    pub fn nr_cpus(&self) -> usize {
        self.bits.len()
    }
}

/// Prints like xl's `vcpu-pin -N`: `all`, `none`, or ranges such as `0-5,7`.
impl fmt::Display for CpuMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.cpus();
        if !self.bits.is_empty() && set.len() == self.bits.len() {
            return f.write_str("all");
        }
        if set.is_empty() {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        let mut i = 0;
        while i < set.len() {
            let mut j = i;
            while j + 1 < set.len() && set[j + 1] == set[j] + 1 {
                j += 1;
            }
            parts.push(if i == j {
                set[i].to_string()
            } else {
                format!("{}-{}", set[i], set[j])
            });
            i = j + 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// Why a spec cannot be applied to a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A CPU number past the host's last CPU.
    #[error("CPU {cpu} does not exist: this host has CPUs 0-{last}")]
    NoSuchCpu {
        /// The CPU asked for.
        cpu: u32,
        /// The host's last CPU.
        last: usize,
    },
    /// A node number with no CPUs on this host.
    #[error("NUMA node {node} does not exist on this host (it has {nodes} node(s))")]
    NoSuchNode {
        /// The node asked for.
        node: u32,
        /// How many nodes the host has.
        nodes: u32,
    },
}

impl CpuSpec {
    /// Applies the terms in order to an empty map for `topo`.
    pub fn resolve(&self, topo: &Topology) -> Result<CpuMap, ResolveError> {
        let n = topo.node_of_cpu.len();
        let nodes = topo.node_of_cpu.iter().max().map_or(0, |m| m + 1);
        let mut map = CpuMap::new(n);
        for t in &self.terms {
            let set = !t.exclude;
            match t.item {
                CpuItem::All => map.bits.iter_mut().for_each(|b| *b = set),
                CpuItem::Cpus { first, last } => {
                    if last as usize >= n {
                        return Err(ResolveError::NoSuchCpu {
                            cpu: last,
                            last: n.saturating_sub(1),
                        });
                    }
                    (first..=last).for_each(|c| map.bits[c as usize] = set);
                }
                CpuItem::Nodes { first, last } => {
                    if last >= nodes {
                        return Err(ResolveError::NoSuchNode { node: last, nodes });
                    }
                    for (cpu, node) in topo.node_of_cpu.iter().enumerate() {
                        if (first..=last).contains(node) {
                            map.bits[cpu] = set;
                        }
                    }
                }
            }
        }
        Ok(map)
    }
}

const EXPECTED: &str = "a CPU list such as `all`, `3`, `0-3`, `^1`, `nodes:0` or `nodes:0-1`";

/// Parses one CPU set expression (a `cpus=` string, one list entry, or the
/// `xl vcpu-pin` argument).
pub fn parse(spec: &str) -> Result<Parsed<CpuSpec>, SpecError> {
    let err = |kind, at: usize, found: &str| {
        SpecError::new(SpecKind::Cpus, kind, spec, at, EXPECTED, found)
    };
    if spec.is_empty() {
        return Err(err(SpecErrorKind::Missing, 0, "").hint("use `all` for no restriction"));
    }
    let mut terms = Vec::new();
    let mut at = 0;
    for piece in spec.split(',') {
        let here = at;
        at += piece.len() + 1;
        if piece.is_empty() {
            return Err(
                err(SpecErrorKind::Syntax, here, "").hint("remove the empty entry between commas")
            );
        }
        let (exclude, body) = match piece.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, piece),
        };
        let (nodes, body) = match body
            .strip_prefix("nodes:")
            .or_else(|| body.strip_prefix("node:"))
        {
            Some(b) => (true, b),
            None => (false, body),
        };
        let body_at = here + (piece.len() - body.len());
        let item = if body == "all" {
            if exclude {
                return Err(SpecError::new(
                    SpecKind::Cpus,
                    SpecErrorKind::InvalidValue,
                    spec,
                    here,
                    "`all` without `^`",
                    piece,
                )
                .hint("`^all` would leave nothing; list what to exclude instead"));
            }
            CpuItem::All
        } else {
            let (first, last) = parse_range(spec, body_at, body)?;
            if nodes {
                CpuItem::Nodes { first, last }
            } else {
                CpuItem::Cpus { first, last }
            }
        };
        terms.push(CpuTerm { exclude, item });
    }
    Ok(Parsed::clean(CpuSpec { terms }))
}

/// Parses `cpus=` given as a list: one spec per vCPU. On error, returns the index
/// of the failing entry with the error.
pub fn parse_affinity_list(items: &[&str]) -> Result<Parsed<CpuAffinity>, (usize, SpecError)> {
    let mut specs = Vec::new();
    let mut warnings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = parse(item).map_err(|e| (i, e))?;
        specs.push(p.value);
        warnings.extend(p.warnings);
    }
    Ok(Parsed {
        value: CpuAffinity::PerVcpu(specs),
        warnings,
    })
}

/// Parses `cpus=` given as a single string (applies to every vCPU).
pub fn parse_affinity(spec: &str) -> Result<Parsed<CpuAffinity>, SpecError> {
    parse(spec).map(|p| Parsed {
        value: CpuAffinity::All(p.value),
        warnings: p.warnings,
    })
}

/// `N` or `N-M` with `N <= M`, plain decimal.
fn parse_range(spec: &str, at: usize, body: &str) -> Result<(u32, u32), SpecError> {
    let bad = |kind, hint: &str| {
        SpecError::new(SpecKind::Cpus, kind, spec, at, EXPECTED, body).hint(hint.to_string())
    };
    let num = |s: &str| -> Result<u32, SpecError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                SpecErrorKind::InvalidValue,
                "CPU and node numbers are decimal, ranges are `first-last`",
            ));
        }
        s.parse().map_err(|_| {
            bad(
                SpecErrorKind::OutOfRange,
                "CPU and node numbers are below 2^32",
            )
        })
    };
    let (a, b) = match body.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(body)?;
            (n, n)
        }
    };
    if b < a {
        return Err(bad(
            SpecErrorKind::InvalidValue,
            "write ranges low-high, e.g. `2-5`",
        ));
    }
    Ok((a, b))
}
