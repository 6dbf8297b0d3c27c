//! `vif=` entries as netback devices (`libxl__set_xenstore_nic` in libxl_nic.c), attached
//! to a bridge by the `vif-bridge` hotplug script.

use rxl_config::spec::{NicType, VifSpec};

use super::vbd::script_path;
use super::{Device, DeviceError, Kind};

/// libxl's `LIBXL_DEVICE_NIC_MTU_DEFAULT`.
const MTU_DEFAULT: u32 = 1500;

/// A checked network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The spec as written (for messages).
    pub spec: String,
    /// Device id (`handle`): `devid=`, else the position in `vif=`.
    pub devid: u32,
    /// MAC address, `xx:xx:xx:xx:xx:xx` (random in Xen's OUI 00:16:3e when not given).
    pub mac: String,
    /// The bridge (xl's default `xenbr0`).
    pub bridge: String,
    /// The hotplug script, absolute (default `vif-bridge`).
    pub script: String,
    /// `vifname=`.
    pub ifname: Option<String>,
    /// `ip=`.
    pub ip: Option<String>,
    /// `gatewaydev=`.
    pub gatewaydev: Option<String>,
    /// `rate=` as (bytes per interval, interval in µs).
    pub rate: Option<(u64, u32)>,
    /// `mtu=` (1500 when not given).
    pub mtu: u32,
    /// `vlan=`.
    pub vlan: Option<String>,
    /// `trusted` (libxl's default: yes).
    pub trusted: bool,
}

fn refuse(label: &str, why: impl Into<String>) -> DeviceError {
    DeviceError::Config {
        key: "vif",
        what: label.to_owned(),
        why: why.into(),
    }
}

/// A random MAC in Xen's OUI, as libxl makes one (`00:16:3e` + 23 random bits).
fn random_mac() -> String {
    let mut r = [0u8; 3];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut r))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id();
        r.copy_from_slice(&t.to_le_bytes()[..3]);
    }
    format!("00:16:3e:{:02x}:{:02x}:{:02x}", r[0] & 0x7f, r[1], r[2])
}

impl Nic {
    /// What errors call the interface: `#0 (bridge=xenbr0, mac=...)`.
    pub fn label(&self) -> String {
        format!("#{} (bridge={}, mac={})", self.devid, self.bridge, self.mac)
    }

    /// Checks entry `index` of `vif=`; refuses, by name, what netback cannot serve.
    pub fn from_spec(index: usize, spec: &str, v: &VifSpec) -> Result<Nic, DeviceError> {
        let devid = v.devid.unwrap_or(index as u32);
        let label = format!("#{devid} ({spec})");
        super::dom0_backend_only("vif", &label, v.backend_domname.as_deref())?;
        if v.nictype == Some(NicType::VifIoemu) {
            return Err(refuse(
                &label,
                "type=ioemu: PV and PVH guests have no emulated NICs (libxl refuses this too); \
                 use type=vif or drop type=",
            ));
        }
        if !v.colo.is_empty() {
            return Err(refuse(&label, "COLO settings are not supported"));
        }
        if let Some(m) = &v.model {
            // libxl ignores the model of a PV/PVH guest's vif too; say so rather than drop it.
            tracing::warn!(
                "vif #{devid}: model={m} is ignored: PV and PVH guests see a PV network device, \
                 not an emulated NIC"
            );
        }
        Ok(Nic {
            spec: spec.to_owned(),
            devid,
            mac: v.mac_string().unwrap_or_else(random_mac),
            bridge: v.bridge.clone().unwrap_or_else(|| "xenbr0".into()),
            script: script_path(v.script.as_deref().unwrap_or("vif-bridge")),
            ifname: v.ifname.clone(),
            ip: v.ip.clone(),
            gatewaydev: v.gatewaydev.clone(),
            rate: (v.rate_interval_usecs > 0)
                .then_some((v.rate_bytes_per_interval, v.rate_interval_usecs)),
            mtu: v.mtu.filter(|m| *m > 0).unwrap_or(MTU_DEFAULT),
            vlan: v.vlan.clone(),
            trusted: v.trusted.unwrap_or(true),
        })
    }

    /// The interface name netback gives it in dom0 (`vif<domid>.<devid>`).
    pub fn backend_ifname(domid: u32, devid: u32) -> String {
        format!("vif{domid}.{devid}")
    }

    /// The device of domain `domid`, entries as libxl 4.17 writes them.
    pub fn device(&self, domid: u32) -> Device {
        let mut back = vec![
            ("frontend-id", domid.to_string()),
            ("online", "1".into()),
            ("state", "1".into()),
            ("script", self.script.clone()),
        ];
        if let Some(n) = &self.ifname {
            back.push(("vifname", n.clone()));
        }
        back.push(("mac", self.mac.clone()));
        if let Some(ip) = &self.ip {
            back.push(("ip", ip.clone()));
        }
        if let Some(g) = &self.gatewaydev {
            back.push(("gatewaydev", g.clone()));
        }
        if let Some((bytes, usecs)) = self.rate {
            back.push(("rate", format!("{bytes},{usecs}")));
        }
        if self.mtu != MTU_DEFAULT {
            back.push(("mtu", self.mtu.to_string()));
        }
        if let Some(v) = &self.vlan {
            back.push(("vlan", v.clone()));
        }
        back.push(("bridge", self.bridge.clone()));
        back.push(("handle", self.devid.to_string()));
        back.push(("type", "vif".into()));
        // Keeps netback from connecting before the script has plugged the interface in.
        back.push(("hotplug-status", String::new()));
        let front = vec![
            ("backend-id", "0".into()),
            ("state", "1".into()),
            ("handle", self.devid.to_string()),
            ("mac", self.mac.clone()),
            ("trusted", if self.trusted { "1" } else { "0" }.into()),
        ];
        Device {
            kind: Kind::Vif,
            domid,
            devid: self.devid,
            what: format!("vif {}", self.label()),
            back,
            front,
            ro_front: vec![("mtu", self.mtu.to_string())],
        }
    }
}
