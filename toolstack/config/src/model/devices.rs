//! Device lists (`disk`, `vif`, `pci`, ...): each element is one spec string, parsed by its
//! sub-grammar in [`crate::spec`]. The original text is kept so the printer writes it back as
//! the user wrote it.

use serde::Serialize;

use crate::diag::{DiagKind, Diagnostic, Span};
use crate::reader::Reader;
use crate::spec::{
    self, ChannelSpec, DiskSpec, P9Spec, Parsed, PciSpec, SpecError, SpecWarning, UsbctrlSpec,
    UsbdevSpec, VfbSpec, VifSpec, VtpmSpec,
};

/// One device: the spec text and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device<T> {
    /// The spec string as written in the file.
    pub spec: String,
    /// The parsed spec.
    pub parsed: T,
}

/// Every device list of a domain, plus the PCI defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Devices {
    /// `disk`: virtual block devices.
    pub disks: Vec<Device<DiskSpec>>,
    /// `vif`: network interfaces.
    pub vifs: Vec<Device<VifSpec>>,
    /// `pci`: passed-through PCI devices.
    pub pcis: Vec<Device<PciSpec>>,
    /// `vfb`: PV framebuffers.
    pub vfbs: Vec<Device<VfbSpec>>,
    /// `channel`: PV channels.
    pub channels: Vec<Device<ChannelSpec>>,
    /// `vtpm`: virtual TPMs.
    pub vtpms: Vec<Device<VtpmSpec>>,
    /// `p9`: 9pfs shares.
    pub p9s: Vec<Device<P9Spec>>,
    /// `usbctrl`: USB controllers.
    pub usbctrls: Vec<Device<UsbctrlSpec>>,
    /// `usbdev`: USB devices.
    pub usbdevs: Vec<Device<UsbdevSpec>>,
    /// `pci_permissive`: default for every `pci` entry.
    pub pci_permissive: Option<bool>,
    /// `pci_msitranslate`: default for every `pci` entry.
    pub pci_msitranslate: Option<bool>,
    /// `pci_seize`: default for every `pci` entry.
    pub pci_seize: Option<bool>,
    /// `pci_power_mgmt`: default for every `pci` entry.
    pub pci_power_mgmt: Option<bool>,
}

impl Devices {
    pub(crate) fn read(r: &mut Reader<'_>) -> Devices {
        Devices {
            disks: read_list(r, "disk", spec::disk::parse),
            vifs: read_list(r, "vif", spec::vif::parse),
            pcis: read_list(r, "pci", spec::pci::parse),
            vfbs: read_list(r, "vfb", spec::vfb::parse),
            channels: read_list(r, "channel", spec::channel::parse),
            vtpms: read_list(r, "vtpm", spec::vtpm::parse),
            p9s: read_list(r, "p9", spec::p9::parse),
            usbctrls: read_list(r, "usbctrl", spec::usb::parse_ctrl),
            usbdevs: read_list(r, "usbdev", spec::usb::parse_dev),
            pci_permissive: r.boolean("pci_permissive"),
            pci_msitranslate: r.boolean("pci_msitranslate"),
            pci_seize: r.boolean("pci_seize"),
            pci_power_mgmt: r.boolean("pci_power_mgmt"),
        }
    }

    /// The lists as (key, spec strings), in xl.cfg order; used by the printer.
    pub fn spec_lists(&self) -> [(&'static str, Vec<&str>); 9] {
        fn s<T>(v: &[Device<T>]) -> Vec<&str> {
            v.iter().map(|d| d.spec.as_str()).collect()
        }
        [
            ("disk", s(&self.disks)),
            ("vif", s(&self.vifs)),
            ("pci", s(&self.pcis)),
            ("vfb", s(&self.vfbs)),
            ("channel", s(&self.channels)),
            ("vtpm", s(&self.vtpms)),
            ("p9", s(&self.p9s)),
            ("usbctrl", s(&self.usbctrls)),
            ("usbdev", s(&self.usbdevs)),
        ]
    }
}

/// Where column `column` (1-based, within the spec text) of the string literal starting at
/// `span` is: one past the opening quote. Exact unless the literal contains escapes.
fn column_in(span: &Span, column: usize) -> Span {
    let add = u32::try_from(column).unwrap_or(1);
    Span {
        column: span.column + add,
        ..span.clone()
    }
}

fn read_list<T>(
    r: &mut Reader<'_>,
    key: &str,
    parse: fn(&str) -> Result<Parsed<T>, SpecError>,
) -> Vec<Device<T>> {
    let Some(items) = r.string_list(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, (text, span)) in items.into_iter().enumerate() {
        match parse(&text) {
            Ok(p) => {
                for w in p.warnings {
                    r.diags.push(spec_warning(key, i, &span, w));
                }
                out.push(Device {
                    spec: text,
                    parsed: p.value,
                });
            }
            Err(e) => r.diags.push(spec_error(key, i, &span, &text, e)),
        }
    }
    out
}

fn spec_error(key: &str, index: usize, span: &Span, text: &str, e: SpecError) -> Diagnostic {
    let found = if e.found.is_empty() {
        "nothing".to_string()
    } else {
        format!("`{}`", e.found)
    };
    let mut d = Diagnostic::error(
        DiagKind::DeviceSpec,
        column_in(span, e.column),
        format!("{key} #{index} ({text:?}): {}", e.kind),
    )
    .key(key)
    .expected(e.expected)
    .found(found);
    d.hint = e.hint;
    d
}

fn spec_warning(key: &str, index: usize, span: &Span, w: SpecWarning) -> Diagnostic {
    let mut d = Diagnostic::warning(
        DiagKind::DeprecatedKey,
        column_in(span, w.column),
        format!("{key} #{index}: {}", w.message),
    )
    .key(key);
    d.hint = w.hint;
    d
}
