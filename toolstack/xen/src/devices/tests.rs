//! The node layout against what libxl 4.17 writes (Debian's `xl create` in the Xen lab,
//! scenario build-devices, `xenstore-ls -fp`: the same nodes, values and permissions), the
//! plan's refusals, and the hotplug scripts' environment.

use super::*;
fn cfg(text: &str) -> DomainConfig {
    let text = format!("kernel=\"/k\"\n{text}");
    rxl_config::parse_str("test.cfg", &text)
        .expect("valid config")
        .config
}

fn image() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("rxl-devices-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let f = dir.join("disk.img");
    std::fs::write(&f, vec![0u8; 4096]).expect("write");
    let s = f.display().to_string();
    (dir, s)
}

/// `path = "value"  (perms)` lines as `xenstore-ls -fp` would show them once written:
/// explicit permissions, else the nearest written ancestor's (xenstored's inheritance).
fn listing(dev: &Device) -> Vec<String> {
    let nodes = dev.nodes();
    let mut perms: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for n in &nodes {
        let p = match n.access {
            Some(a) => a.perms(dev.domid).to_strings().join(","),
            None => perms
                .iter()
                .rev()
                .find(|(path, _)| n.path.starts_with(&format!("{path}/")))
                .map(|(_, p)| p.clone())
                .expect("a parent was written first"),
        };
        perms.push((n.path.clone(), p.clone()));
        out.push(format!("{} = \"{}\"  ({p})", n.path, n.value));
    }
    out.sort();
    out
}

#[test]
fn disk_nodes_match_libxl() {
    let (dir, img) = image();
    let c = cfg(&format!(
        "name=\"g\"\ndisk=['format=raw,vdev=xvda,access=ro,target={img}']\n"
    ));
    let plan = plan(&c).expect("plan");
    let devs = plan.devices(3, true);
    assert_eq!(devs.len(), 1);
    let got = listing(&devs[0]);
    let be = "/local/domain/0/backend/vbd/3/51712";
    let fe = "/local/domain/3/device/vbd/51712";
    let lx = "/libxl/3/device/vbd/51712";
    let mut want = vec![
        format!("{fe} = \"\"  (n3,r0)"),
        format!("{fe}/backend = \"{be}\"  (n3,r0)"),
        format!("{fe}/backend-id = \"0\"  (n3,r0)"),
        format!("{fe}/state = \"1\"  (n3,r0)"),
        format!("{fe}/virtual-device = \"51712\"  (n3,r0)"),
        format!("{fe}/device-type = \"disk\"  (n3,r0)"),
        format!("{fe}/trusted = \"1\"  (n3,r0)"),
        format!("{fe}/protocol = \"x86_64-abi\"  (n3,r0)"),
    ];
    for (base, p) in [(be, "n0,r3"), (lx, "n0")] {
        want.push(format!("{base} = \"\"  ({p})"));
        want.push(format!("{base}/frontend = \"{fe}\"  ({p})"));
        for (k, v) in [
            ("params", img.as_str()),
            ("script", "/etc/xen/scripts/block"),
            ("frontend-id", "3"),
            ("online", "1"),
            ("removable", "0"),
            ("bootable", "1"),
            ("state", "1"),
            ("dev", "xvda"),
            ("type", "phy"),
            ("mode", "r"),
            ("device-type", "disk"),
            ("discard-enable", "0"),
            ("specification", "xen"),
        ] {
            want.push(format!("{base}/{k} = \"{v}\"  ({p})"));
        }
    }
    want.push(format!("{lx}/backend = \"{be}\"  (n0)"));
    want.sort();
    assert_eq!(got, want);
    // PVH guests get no protocol node; writable disks discard by default.
    let c = cfg(&format!("name=\"g\"\ndisk=['{img},raw,xvdb,rw']\n"));
    let d = &plan_of(&c).devices(4, false)[0];
    assert!(!d.front.iter().any(|(k, _)| *k == "protocol"));
    assert!(d.back.contains(&("discard-enable", "1".into())));
    assert!(d.back.contains(&("mode", "w".into())));
    assert_eq!(d.devid, 51728);
    std::fs::remove_dir_all(dir).ok();
}

fn plan_of(c: &DomainConfig) -> DevicePlan {
    plan(c).expect("plan")
}

#[test]
fn vif_nodes_match_libxl() {
    let c = cfg("name=\"g\"\nvif=['bridge=xenbr0,mac=00:16:3e:5a:17:01']\n");
    let devs = plan_of(&c).devices(3, true);
    let got = listing(&devs[0]);
    let be = "/local/domain/0/backend/vif/3/0";
    let fe = "/local/domain/3/device/vif/0";
    let lx = "/libxl/3/device/vif/0";
    let mut want = vec![
        format!("{fe} = \"\"  (n3,r0)"),
        format!("{fe}/backend = \"{be}\"  (n3,r0)"),
        format!("{fe}/backend-id = \"0\"  (n3,r0)"),
        format!("{fe}/state = \"1\"  (n3,r0)"),
        format!("{fe}/handle = \"0\"  (n3,r0)"),
        format!("{fe}/mac = \"00:16:3e:5a:17:01\"  (n3,r0)"),
        format!("{fe}/trusted = \"1\"  (n3,r0)"),
        format!("{fe}/mtu = \"1500\"  (n0,r3)"),
    ];
    for (base, p) in [(be, "n0,r3"), (lx, "n0")] {
        want.push(format!("{base} = \"\"  ({p})"));
        want.push(format!("{base}/frontend = \"{fe}\"  ({p})"));
        for (k, v) in [
            ("frontend-id", "3"),
            ("online", "1"),
            ("state", "1"),
            ("script", "/etc/xen/scripts/vif-bridge"),
            ("mac", "00:16:3e:5a:17:01"),
            ("bridge", "xenbr0"),
            ("handle", "0"),
            ("type", "vif"),
            ("hotplug-status", ""),
        ] {
            want.push(format!("{base}/{k} = \"{v}\"  ({p})"));
        }
    }
    want.push(format!("{lx}/backend = \"{be}\"  (n0)"));
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn vif_defaults_follow_libxl() {
    let c = cfg("name=\"g\"\nvif=['', 'devid=5,bridge=br1,ip=10.0.0.2,mtu=9000,rate=1MB/s']\n");
    let p = plan_of(&c);
    assert_eq!(p.nics[0].devid, 0);
    assert_eq!(p.nics[0].bridge, "xenbr0");
    assert!(p.nics[0].mac.starts_with("00:16:3e:"), "{}", p.nics[0].mac);
    let d = p.nics[1].device(9);
    assert_eq!(d.devid, 5);
    for (k, v) in [
        ("ip", "10.0.0.2"),
        ("mtu", "9000"),
        ("bridge", "br1"),
        ("rate", "50000,50000"),
    ] {
        assert!(d.back.contains(&(k, v.into())), "{k}: {:?}", d.back);
    }
    assert_eq!(d.ro_front, vec![("mtu", "9000".to_string())]);
}

#[test]
fn unsupported_devices_are_refused_by_name() {
    let (dir, img) = image();
    for (text, key) in [
        ("pci=['01:00.0']", "pci:"),
        ("vfb=['vnc=1']", "vfb:"),
        ("vtpm=['backend=0']", "vtpm:"),
        (
            "disk=['format=qcow2,vdev=xvda,target=/x.qcow2']",
            "disk: xvda",
        ),
        (
            &format!("disk=['backendtype=qdisk,vdev=xvda,target={img}']"),
            "disk: xvda",
        ),
        (
            "disk=['format=raw,vdev=xvda,target=/no/such.img']",
            "disk: xvda",
        ),
        (
            &format!("disk=['{img},raw,xvda,r', '{img},raw,d0p0,r']"),
            "disk: d0p0",
        ),
        ("vif=['type=ioemu']", "vif: #0"),
        ("vif=['backend=drv']", "vif: #0"),
        (
            &format!("disk=['format=raw,vdev=xvda,backend=drv,target={img}']"),
            "disk: xvda",
        ),
    ] {
        let c = cfg(&format!("name=\"g\"\n{text}\n"));
        let e = plan(&c).expect_err(text).to_string();
        assert!(e.starts_with(key), "{text}: {e}");
    }
    let c = cfg("name=\"g\"\nvif=['backend=drv']\n");
    let e = plan(&c).expect_err("driver domain").to_string();
    assert!(e.contains("backend=drv") && e.contains("dom0"), "{e}");
    let c = cfg("name=\"g\"\ndisk=['format=raw,vdev=xvda,target=/no/such.img']\n");
    let e = plan(&c).expect_err("missing").to_string();
    assert!(e.contains("/no/such.img") && e.contains("xvda"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn hotplug_environment_follows_libxl() {
    let inv = hotplug::invocation(
        Kind::Vbd,
        3,
        51712,
        "/etc/xen/scripts/block",
        None,
        hotplug::Action::Add,
    );
    assert_eq!(inv.argv, ["/etc/xen/scripts/block", "add"]);
    assert!(
        inv.env
            .contains(&("XENBUS_PATH", "backend/vbd/3/51712".into()))
    );
    assert!(inv.env.contains(&("XENBUS_TYPE", "vbd".into())));
    assert!(inv.env.contains(&("XENBUS_BASE_PATH", "backend".into())));
    let inv = hotplug::invocation(
        Kind::Vif,
        3,
        0,
        "/etc/xen/scripts/vif-bridge",
        None,
        hotplug::Action::Remove,
    );
    assert_eq!(
        inv.argv,
        ["/etc/xen/scripts/vif-bridge", "offline", "type_if=vif"]
    );
    assert!(inv.env.contains(&("vif", "vif3.0".into())));
    assert!(inv.env.contains(&("netdev", String::new())));
}

#[test]
fn a_failing_script_reports_its_exit_and_output() {
    let inv = hotplug::Invocation {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo no loop device; exit 3".into(),
        ],
        env: vec![],
    };
    let (code, out) = hotplug::spawn_with_timeout(&inv, Duration::from_secs(10)).expect("ran");
    assert_eq!(code, Some(3));
    assert_eq!(out.trim(), "no loop device");
    let inv = hotplug::Invocation {
        argv: vec!["/bin/sh".into(), "-c".into(), "sleep 30".into()],
        env: vec![],
    };
    let t = Instant::now();
    let e = hotplug::spawn_with_timeout(&inv, Duration::from_millis(200)).expect_err("timeout");
    assert!(e.contains("timed out"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_scripts_of_several_devices_run_at_once() {
    let sh = |cmd: &str| hotplug::Invocation {
        argv: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        env: vec![],
    };
    let jobs = [
        hotplug::Job::new("disk xvda", "/b/vbd/1/51712", sh("sleep 0.6; echo disk")),
        hotplug::Job::new("vif 0", "/b/vif/1/0", sh("sleep 0.6; echo vif; exit 3")),
    ];
    let t = Instant::now();
    let ran = hotplug::exec_all(&jobs);
    assert!(
        t.elapsed() < Duration::from_millis(1100),
        "two 0.6 s scripts took {:?}: they ran one after the other",
        t.elapsed()
    );
    // in the jobs' order, each with its own status and output
    assert_eq!(ran.len(), 2);
    let (code, out) = ran[0].clone().expect("disk ran");
    assert_eq!((code, out.trim()), (Some(0), "disk"));
    let (code, out) = ran[1].clone().expect("vif ran");
    assert_eq!((code, out.trim()), (Some(3), "vif"));
    assert!(hotplug::exec_all(&[]).is_empty());
}
