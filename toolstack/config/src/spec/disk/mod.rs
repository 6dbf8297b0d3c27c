//! The disk spec, xl-disk-configuration(5), as libxlu's flex scanner
//! (`libxlu_disk_l.l`) reads it.
//!
//! The scanner is reproduced rule by rule with flex's "longest match, earlier rule
//! on a tie" semantics (trailing context counts toward the length), because the
//! precedence between the deprecated `prefix:` forms, the keyword rules and the
//! positional fields only falls out of that (`lexer.rs`; this file applies the
//! rules). tests/spec_vs_libxlu.rs checks the result against Xen 4.17's libxlutil.
//!
//! Differences from xl 4.17, all deliberate: the first error stops parsing; the
//! vdev must be a valid virtual disk name (libxl checks only at create time); a
//! stray `=` at the very end is an error (libxlu's error rule never fires at end of
//! input); `colo-port` must be a port number; deprecated forms produce
//! [`SpecWarning`]s; and `trusted`/`untrusted`/`grant_usage=` are recognised as
//! documented (4.17's *generated* scanner predates them and reads them as
//! positional fields; later Xen versions agree with rxl).

mod lexer;

use super::error::{Parsed, SpecError, SpecErrorKind, SpecKind, SpecWarning};
use super::vdev;
use lexer::{Flag, KNOWN, Key, Rule, next_token, upto_comma};
use serde::Serialize;

/// Image format of the target (`format=`), libxl's `libxl_disk_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    /// Raw image or block device (the default).
    Raw,
    /// qcow version 1.
    Qcow,
    /// qcow2.
    Qcow2,
    /// VHD.
    Vhd,
    /// QED.
    Qed,
    /// No medium (an empty CD-ROM drive).
    Empty,
}

/// Backend implementation (`backendtype=`), libxl's `libxl_disk_backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskBackend {
    /// Kernel blkback on a block device.
    Phy,
    /// blktap.
    Tap,
    /// QEMU's qdisk.
    Qdisk,
    /// Only the xenstore data (virtio).
    Standalone,
}

/// Guest-visible protocol (`specification=`), libxl's `libxl_disk_specification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskSpecification {
    /// Xen PV block protocol.
    Xen,
    /// virtio-blk.
    Virtio,
}

/// A parsed disk spec; field names and JSON shape follow `libxl_device_disk` as
/// `xl -N block-attach` prints it (default-valued fields are omitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskSpec {
    /// Driver domain name (`backend=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_domname: Option<String>,
    /// The target (`target=` or first positional); `None` for an empty CD-ROM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdev_path: Option<String>,
    /// Guest device name, e.g. `xvda` (mandatory).
    pub vdev: String,
    /// Backend type, when forced with `backendtype=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<DiskBackend>,
    /// Image format; raw when not given, empty for a CD-ROM with no target.
    pub format: DiskFormat,
    /// Hotplug script (`script=`, or `block-X` from an `X:` prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Removable medium (true for CD-ROMs).
    #[serde(skip_serializing_if = "is_false", serialize_with = "as_int")]
    pub removable: bool,
    /// Writable (access `w`/`rw`; always false for CD-ROMs).
    #[serde(skip_serializing_if = "is_false", serialize_with = "as_int")]
    pub readwrite: bool,
    /// Shown to the guest as a CD-ROM.
    #[serde(skip_serializing_if = "is_false", serialize_with = "as_int")]
    pub is_cdrom: bool,
    /// `direct-io-safe` given.
    #[serde(skip_serializing_if = "is_false")]
    pub direct_io_safe: bool,
    /// `discard` / `no-discard`; `None` = backend default.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub discard_enable: Option<bool>,
    /// `specification=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specification: Option<DiskSpecification>,
    /// `colo` / `no-colo` (COLO replication; unstable in Xen).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub colo_enable: Option<bool>,
    /// `colo-host=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo_host: Option<String>,
    /// `colo-port=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo_port: Option<u16>,
    /// `colo-export=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo_export: Option<String>,
    /// `active-disk=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_disk: Option<String>,
    /// `hidden-disk=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_disk: Option<String>,
    /// `trusted` / `untrusted`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub trusted: Option<bool>,
    /// `grant_usage=1|0`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "defbool")]
    pub grant_usage: Option<bool>,
}

impl DiskSpec {
    /// Decodes [`DiskSpec::vdev`] (already validated by the parser).
    pub fn decoded_vdev(&self) -> Result<vdev::Vdev, SpecError> {
        vdev::decode(&self.vdev)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn as_int<S: serde::Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*b))
}

/// libxl prints a set `libxl_defbool` as the strings "True"/"False".
pub(crate) fn defbool<S: serde::Serializer>(b: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(true) => s.serialize_str("True"),
        Some(false) => s.serialize_str("False"),
        None => s.serialize_none(),
    }
}

/// Parses one disk spec string (one element of `disk=[...]`).
pub fn parse(spec: &str) -> Result<Parsed<DiskSpec>, SpecError> {
    parse_parts(&[spec])
}

/// Parses a disk given as several spec strings that together describe one disk, as
/// `xl block-attach DOM ARG...` does (`format=raw vdev=hda target=/x` as three
/// arguments). Error and warning offsets index the parts joined with single
/// spaces, i.e. the argument list as a shell would show it.
pub fn parse_parts(parts: &[&str]) -> Result<Parsed<DiskSpec>, SpecError> {
    let joined = parts.join(" ");
    let mut st = State::default();
    let mut base = 0;
    for part in parts {
        let first_warning = st.warnings.len();
        scan(&mut st, part).map_err(|e| e.rebase(&joined, base))?;
        for w in &mut st.warnings[first_warning..] {
            w.rebase(&joined, base);
        }
        base += part.len() + 1;
    }
    finish(st, &joined)
}

/// Accumulated scanner state, the analogue of libxlu's `DiskParseContext`.
#[derive(Default)]
struct State {
    pdev_path: Option<String>,
    vdev: Option<String>,
    format: Option<DiskFormat>,
    backend: Option<DiskBackend>,
    specification: Option<DiskSpecification>,
    backend_domname: Option<String>,
    script: Option<String>,
    readwrite: Option<bool>,
    is_cdrom: bool,
    direct_io_safe: bool,
    discard_enable: Option<bool>,
    colo_enable: Option<bool>,
    colo_host: Option<String>,
    colo_port: Option<u16>,
    colo_export: Option<String>,
    active_disk: Option<String>,
    hidden_disk: Option<String>,
    trusted: Option<bool>,
    grant_usage: Option<bool>,
    had_depr_prefix: bool,
    access_set: bool,
    warnings: Vec<SpecWarning>,
}

/// Removes one trailing `delim`, like the scanner's `STRIP()`.
fn strip(s: &str, delim: char) -> &str {
    s.strip_suffix(delim).unwrap_or(s)
}

/// Runs the scanner over one spec string.
fn scan(st: &mut State, spec: &str) -> Result<(), SpecError> {
    let mut pos = 0;
    while pos < spec.len() {
        let rest = &spec[pos..];
        let (rule, len) = next_token(rest);
        let text = &rest[..len];
        let ctx = Ctx { spec, pos };
        match rule {
            Rule::Blank => {}
            Rule::Keyword(key) => keyword(st, ctx, key, text)?,
            Rule::Flag(flag) => self::flag(st, flag),
            Rule::Target => {
                let v = strip(&text["target=".len()..], ',');
                save(&mut st.pdev_path, v, ctx.at(7), "target")?;
            }
            Rule::UnknownKey => {
                let key = &text[..text.find('=').unwrap_or(text.len())];
                let found_to = pos + upto_comma(rest);
                let mut e = super::fields::unknown_key(SpecKind::Disk, spec, pos, key, KNOWN);
                e.found = strip(&spec[pos..found_to], ',').to_string();
                return Err(e);
            }
            Rule::FormatPrefix => {
                let name = strip(text, ':');
                st.had_depr_prefix = true;
                set_format(st, ctx, name)?;
                st.warnings.push(SpecWarning::new(
                    SpecKind::Disk,
                    spec,
                    pos,
                    format!("the `{name}:` prefix is deprecated"),
                    Some(format!("write `format={name}` as its own parameter")),
                ));
            }
            Rule::ScriptPrefix => {
                let name = strip(text, ':');
                st.had_depr_prefix = true;
                save(&mut st.script, &format!("block-{name}"), ctx, "script")?;
                st.warnings.push(SpecWarning::new(
                    SpecKind::Disk,
                    spec,
                    pos,
                    format!("the `{name}:` prefix is deprecated"),
                    Some(format!("write `script=block-{name}` as its own parameter")),
                ));
            }
            Rule::IgnoredPrefix => {
                st.had_depr_prefix = true;
                st.warnings.push(SpecWarning::new(
                    SpecKind::Disk,
                    spec,
                    pos,
                    format!("the `{text}` prefix is deprecated and ignored"),
                    Some("drop it; libxl picks the backend (force one with backendtype=phy|qdisk|tap)".into()),
                ));
            }
            Rule::UnknownPrefix => {
                return Err(ctx
                    .err(
                        SpecErrorKind::Syntax,
                        "a known deprecated prefix or a target",
                        text,
                    )
                    .hint("to use a target containing `:` write it last as `target=...`"));
            }
            Rule::Positional => positional(st, ctx, strip(text, ','))?,
            Rule::Bad => {
                return Err(ctx
                    .err(
                        SpecErrorKind::Syntax,
                        "a parameter, `key=value` or positional field",
                        text,
                    )
                    .hint("a target containing `=` or `,` must be given last as `target=...`"));
            }
        }
        pos += len;
    }
    Ok(())
}

/// Position context for errors and warnings.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    spec: &'a str,
    pos: usize,
}

impl Ctx<'_> {
    fn at(self, delta: usize) -> Self {
        Ctx {
            spec: self.spec,
            pos: (self.pos + delta).min(self.spec.len()),
        }
    }

    fn err(self, kind: SpecErrorKind, expected: impl Into<String>, found: &str) -> SpecError {
        SpecError::new(SpecKind::Disk, kind, self.spec, self.pos, expected, found)
    }
}

/// `SAVESTRING`: a string parameter may be given once, except that an empty value
/// may be overwritten.
fn save(slot: &mut Option<String>, value: &str, ctx: Ctx<'_>, what: &str) -> Result<(), SpecError> {
    if let Some(old) = slot.as_deref().filter(|o| !o.is_empty()) {
        return Err(ctx
            .err(
                SpecErrorKind::Duplicate,
                format!("`{what}` only once (already `{old}`)"),
                value,
            )
            .hint(format!("remove one of the two {what} values")));
    }
    *slot = Some(value.to_string());
    Ok(())
}

/// `DSET`: an enum parameter may be repeated only with the same value.
fn set_once<T: PartialEq + Copy + std::fmt::Debug>(
    slot: &mut Option<T>,
    v: T,
    ctx: Ctx<'_>,
    what: &str,
    found: &str,
) -> Result<(), SpecError> {
    match slot {
        Some(old) if *old != v => Err(ctx.err(
            SpecErrorKind::Duplicate,
            format!(
                "`{what}` only once (already {})",
                format!("{old:?}").to_lowercase()
            ),
            found,
        )),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

fn set_format(st: &mut State, ctx: Ctx<'_>, v: &str) -> Result<(), SpecError> {
    let f = match v {
        "" | "raw" => DiskFormat::Raw,
        "qcow" => DiskFormat::Qcow,
        "qcow2" => DiskFormat::Qcow2,
        "vhd" => DiskFormat::Vhd,
        "empty" => DiskFormat::Empty,
        "qed" => DiskFormat::Qed,
        _ => {
            return Err(ctx
                .err(SpecErrorKind::InvalidValue, "a format: raw, qcow, qcow2, vhd, qed or empty", v)
                .hint("positional fields are target,format,vdev,access; name the field (`vdev=...`) if this is not a format"));
        }
    };
    set_once(&mut st.format, f, ctx, "format", v)
}

fn set_access(st: &mut State, ctx: Ctx<'_>, v: &str) -> Result<(), SpecError> {
    st.readwrite = Some(match v {
        "r" | "ro" => false,
        "rw" | "w" | "" => true,
        _ => {
            let e = ctx.err(SpecErrorKind::InvalidValue, "access r, ro, w or rw", v);
            return Err(if v == "w!" {
                e.hint("xend's `w!` (shared writable) is not supported by xl; use `w`")
            } else {
                e
            });
        }
    });
    Ok(())
}

fn keyword(st: &mut State, ctx: Ctx<'_>, key: Key, text: &str) -> Result<(), SpecError> {
    let eq = text.find('=').map_or(text.len(), |i| i + 1);
    let v = strip(&text[eq..], ',');
    let vctx = ctx.at(eq);
    match key {
        Key::Format => set_format(st, vctx, v),
        Key::DevtypeOther => Err(vctx.err(SpecErrorKind::InvalidValue, "devtype cdrom or disk", v)),
        Key::Access => set_access(st, vctx, v),
        Key::Backend => save(&mut st.backend_domname, v, vctx, "backend"),
        Key::Backendtype => {
            let b = match v {
                "phy" => DiskBackend::Phy,
                "tap" => DiskBackend::Tap,
                "qdisk" => DiskBackend::Qdisk,
                "standalone" => DiskBackend::Standalone,
                _ => {
                    return Err(vctx.err(
                        SpecErrorKind::InvalidValue,
                        "backendtype phy, qdisk, tap or standalone",
                        v,
                    ));
                }
            };
            set_once(&mut st.backend, b, vctx, "backendtype", v)
        }
        Key::Specification => {
            let s = match v {
                "xen" => DiskSpecification::Xen,
                "virtio" => DiskSpecification::Virtio,
                _ => {
                    return Err(vctx.err(
                        SpecErrorKind::InvalidValue,
                        "specification xen or virtio",
                        v,
                    ));
                }
            };
            set_once(&mut st.specification, s, vctx, "specification", v)
        }
        Key::Vdev => save(&mut st.vdev, v, vctx, "vdev"),
        Key::Script => save(&mut st.script, v, vctx, "script"),
        Key::ColoHost => save(&mut st.colo_host, v, vctx, "colo-host"),
        Key::ColoPort => match v.parse::<u16>() {
            Ok(p) if p != 0 && v.bytes().all(|c| c.is_ascii_digit()) => {
                st.colo_port = Some(p);
                Ok(())
            }
            _ => Err(vctx.err(
                SpecErrorKind::InvalidValue,
                "a TCP port 1-65535 for colo-port",
                v,
            )),
        },
        Key::ColoExport => save(&mut st.colo_export, v, vctx, "colo-export"),
        Key::ActiveDisk => save(&mut st.active_disk, v, vctx, "active-disk"),
        Key::HiddenDisk => save(&mut st.hidden_disk, v, vctx, "hidden-disk"),
    }
}

fn flag(st: &mut State, flag: Flag) {
    match flag {
        Flag::Cdrom | Flag::DevtypeCdrom => st.is_cdrom = true,
        Flag::DevtypeDisk => st.is_cdrom = false,
        Flag::DirectIoSafe => st.direct_io_safe = true,
        Flag::Discard => st.discard_enable = Some(true),
        Flag::NoDiscard => st.discard_enable = Some(false),
        Flag::Colo => st.colo_enable = Some(true),
        Flag::NoColo => st.colo_enable = Some(false),
        Flag::Trusted => st.trusted = Some(true),
        Flag::Untrusted => st.trusted = Some(false),
        Flag::GrantUsage1 => st.grant_usage = Some(true),
        Flag::GrantUsage0 => st.grant_usage = Some(false),
    }
}

/// The positional slots target, format, vdev, access, each filled in turn unless
/// already set by name (the scanner's last rule).
fn positional(st: &mut State, ctx: Ctx<'_>, v: &str) -> Result<(), SpecError> {
    if st.pdev_path.is_none() {
        return save(&mut st.pdev_path, v, ctx, "target");
    }
    if !st.had_depr_prefix && st.format.is_none() {
        let empty_target = st.pdev_path.as_deref() == Some("");
        if empty_target && vdev_and_devtype(st, ctx, v)? {
            // `,hdc:cdrom,r`: an empty target, then the vdev in the format slot.
            st.format = Some(DiskFormat::Empty);
            return Ok(());
        }
        return set_format(st, ctx, v);
    }
    if st.vdev.is_none() {
        if !vdev_and_devtype(st, ctx, v)? {
            save(&mut st.vdev, v, ctx, "vdev")?;
        }
        return Ok(());
    }
    if !st.access_set {
        st.access_set = true;
        return set_access(st, ctx, v);
    }
    Err(ctx
        .err(SpecErrorKind::TooManyPositional, "at most 4 positional fields: target,format,vdev,access", v)
        .hint("name the extra parameter (e.g. `devtype=cdrom`), or use `target=` for a path containing commas"))
}

/// `vdev:cdrom` / `vdev:disk` (deprecated). Returns whether `v` had that shape.
fn vdev_and_devtype(st: &mut State, ctx: Ctx<'_>, v: &str) -> Result<bool, SpecError> {
    let Some(colon) = v.rfind(':') else {
        return Ok(false);
    };
    save(&mut st.vdev, &v[..colon], ctx, "vdev")?;
    let ty = &v[colon + 1..];
    match ty {
        "cdrom" => st.is_cdrom = true,
        "disk" => st.is_cdrom = false,
        _ => {
            return Err(ctx.at(colon + 1).err(
                SpecErrorKind::InvalidValue,
                "`:cdrom` or `:disk` after the vdev",
                ty,
            ));
        }
    }
    st.warnings.push(SpecWarning::new(
        SpecKind::Disk,
        ctx.spec,
        ctx.pos + colon,
        format!("the `{}:{ty}` form is deprecated", &v[..colon]),
        Some(format!("write `vdev={},devtype={ty}`", &v[..colon])),
    ));
    Ok(true)
}

/// The checks and defaults `xlu_disk_parse` applies after scanning.
fn finish(st: State, spec: &str) -> Result<Parsed<DiskSpec>, SpecError> {
    let end = spec.len();
    let mut format = st.format.unwrap_or(DiskFormat::Raw);
    let mut readwrite = st.readwrite.unwrap_or(true);
    let removable = st.is_cdrom;
    if st.is_cdrom {
        readwrite = false;
        if st.pdev_path.as_deref().is_none_or(str::is_empty) {
            format = DiskFormat::Empty;
        }
    }
    let Some(vdev_name) = st.vdev else {
        return Err(SpecError::new(
            SpecKind::Disk,
            SpecErrorKind::Missing,
            spec,
            end,
            "a vdev (e.g. `vdev=xvda`)",
            "",
        )
        .hint("positional form is target,format,vdev,access: `/dev/vg/guest,raw,xvda,rw`"));
    };
    if st.pdev_path.is_none() && !removable {
        return Err(SpecError::new(
            SpecKind::Disk,
            SpecErrorKind::Missing,
            spec,
            end,
            "a target (image file or device)",
            "",
        )
        .hint("add `target=/path/to/image`, or `devtype=cdrom` for an empty drive"));
    }
    if let Err(mut e) = vdev::decode(&vdev_name) {
        // Report at the vdev's text when we can find it.
        let at = spec
            .find(vdev_name.as_str())
            .filter(|_| !vdev_name.is_empty())
            .unwrap_or(end);
        e = SpecError {
            spec: SpecKind::Disk,
            ..e
        }
        .rebase(spec, at);
        return Err(e);
    }
    Ok(Parsed {
        value: DiskSpec {
            backend_domname: st.backend_domname,
            pdev_path: st.pdev_path,
            vdev: vdev_name,
            backend: st.backend,
            format,
            script: st.script,
            removable,
            readwrite,
            is_cdrom: st.is_cdrom,
            direct_io_safe: st.direct_io_safe,
            discard_enable: st.discard_enable,
            specification: st.specification,
            colo_enable: st.colo_enable,
            colo_host: st.colo_host,
            colo_port: st.colo_port,
            colo_export: st.colo_export,
            active_disk: st.active_disk,
            hidden_disk: st.hidden_disk,
            trusted: st.trusted,
            grant_usage: st.grant_usage,
        },
        warnings: st.warnings,
    })
}
