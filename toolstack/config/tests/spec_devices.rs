//! Table-driven tests for the pci, vfb, channel, vtpm, p9 and usb grammars, and
//! for what errors and warnings carry (positions, hints).

use rxl_config::spec::{self, ChannelConnection, SpecErrorKind as K};
use serde_json::{Value, json};

fn js<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn spec_pci_forms() {
    let ok: &[(&str, Value)] = &[
        ("03:00.0", json!({"bus": 3, "vfunc_mask": 1})),
        ("0000:03:00.0", json!({"bus": 3, "vfunc_mask": 1})),
        (
            "0001:0a:1f.7",
            json!({"domain": 1, "bus": 10, "dev": 31, "func": 7, "vfunc_mask": 1}),
        ),
        ("03:00.*", json!({"bus": 3, "vfunc_mask": 4294967295u32})),
        (
            "36:00.0@1a",
            json!({"bus": 0x36, "vfunc_mask": 1, "vdevfn": 0xd0}),
        ),
        (
            "36:00.0@1f,seize=1",
            json!({"bus": 0x36, "vfunc_mask": 1, "vdevfn": 0xf8, "seize": true}),
        ),
        (
            "36:00.0,vslot=1f,seize=1",
            json!({"bus": 0x36, "vfunc_mask": 1, "vdevfn": 0xf8, "seize": true}),
        ),
        (
            "bdf=36:00.0,vslot=1f,seize=1",
            json!({"bus": 0x36, "vfunc_mask": 1, "vdevfn": 0xf8, "seize": true}),
        ),
        (
            "02:00.1,permissive=1,msitranslate=0,power_mgmt=1,rdm_policy=relaxed",
            json!({"bus": 2, "func": 1, "vfunc_mask": 1, "permissive": true,
                   "power_mgmt": true, "rdm_policy": "relaxed"}),
        ),
        (
            "name=gpu0,permissive=1",
            json!({"name": "gpu0", "permissive": true}),
        ),
        // An empty value means "the default" (xl-pci-configuration(5)).
        (
            "03:00.0,permissive=,seize=0",
            json!({"bus": 3, "vfunc_mask": 1}),
        ),
    ];
    for (text, want) in ok {
        let got = spec::pci::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&js(&got.value), want, "{text}");
    }
    let p = spec::pci::parse("0000:36:00.0@1a").unwrap().value;
    assert_eq!(p.vslot(), Some(0x1a));
    assert_eq!(p.bdf.unwrap().to_string(), "0000:36:00.0");
    assert!(
        spec::pci::parse("03:00.*")
            .unwrap()
            .value
            .bdf
            .unwrap()
            .all_functions()
    );

    let bad: &[(&str, K)] = &[
        ("", K::Missing),
        ("03:00", K::InvalidValue),
        ("03:00.8", K::InvalidValue),
        ("03:20.0", K::InvalidValue),
        ("100:00.0", K::InvalidValue),
        ("10000:00:00.0", K::InvalidValue),
        ("03:00.0@20x", K::InvalidValue),
        // xl-pci-configuration(5)'s own example `36:00.0@20` is refused by libxlu
        // too: slots are hex and stop at 0x1f.
        ("36:00.0@20,seize=1", K::OutOfRange),
        ("36:00.0,vslot=20,seize=1", K::OutOfRange),
        ("03:00.0x", K::Syntax),
        ("03:00.0,permissive=yes", K::InvalidValue),
        ("03:00.0,rdm_policy=lax", K::InvalidValue),
        ("03:00.0,vslot=1,vslot=2", K::Duplicate),
        ("03:00.0@1,vslot=2", K::Duplicate),
        ("03:00.0,permisive=1", K::UnknownKey),
        ("03:00.0,name=gpu", K::Conflict),
        ("permissive=1", K::Missing),
        ("03:00.0,seize", K::Syntax),
    ];
    for (text, kind) in bad {
        let e = spec::pci::parse(text)
            .err()
            .unwrap_or_else(|| panic!("`{text}` should fail"));
        assert_eq!(e.kind, *kind, "`{text}`: {e}");
    }
    let e = spec::pci::parse("03:00.0,permisive=1").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `permissive`?"));
    assert_eq!(e.column, 9);
}

#[test]
fn spec_vfb_forms() {
    let v = spec::vfb::parse(
        "vnc=1,vnclisten=0.0.0.0, vncdisplay=3,vncunused=0,vncpasswd=s3cret,keymap=de",
    )
    .unwrap();
    assert_eq!(
        js(&v.value),
        json!({"vnc": {"enable": "True", "listen": "0.0.0.0", "passwd": "s3cret", "display": 3, "findunused": "False"},
               "sdl": {}, "keymap": "de"})
    );
    let s = spec::vfb::parse("sdl=1,opengl=1,display=:0,xauthority=/root/.Xauthority").unwrap();
    assert_eq!(
        js(&s.value),
        json!({"vnc": {}, "sdl": {"enable": "True", "opengl": "True", "display": ":0", "xauthority": "/root/.Xauthority"}})
    );
    assert_eq!(
        js(&spec::vfb::parse("").unwrap().value),
        json!({"vnc": {}, "sdl": {}})
    );
    for (text, kind) in [
        ("vnc=yes", K::InvalidValue),
        ("vnc", K::Syntax),
        ("vnc=1,vcn=1", K::UnknownKey),
        ("vncdisplay=x", K::InvalidValue),
    ] {
        assert_eq!(spec::vfb::parse(text).unwrap_err().kind, kind, "{text}");
    }
    let e = spec::vfb::parse("vnc=yes").unwrap_err();
    assert!(e.hint.unwrap().contains("vnc=1"));
}

#[test]
fn spec_channel_forms() {
    let c = spec::channel::parse(
        "name=org.qemu.guest_agent.0, connection = socket ,path=/run/qga.sock",
    )
    .unwrap()
    .value;
    assert_eq!(
        c.connection,
        ChannelConnection::Socket {
            path: "/run/qga.sock".into()
        }
    );
    assert_eq!(
        js(&c),
        json!({"name": "org.qemu.guest_agent.0", "connection.socket": {"path": "/run/qga.sock"}})
    );
    let p = spec::channel::parse("backend=dom0,name=org.example.log,connection=pty")
        .unwrap()
        .value;
    assert_eq!(
        js(&p),
        json!({"backend_domname": "dom0", "name": "org.example.log", "connection.pty": {}})
    );
    let bad: &[(&str, K)] = &[
        ("name=x", K::Missing),
        ("name=x,connection=socket", K::Missing),
        ("name=x,connection=tcp", K::InvalidValue),
        ("name=x,connection=PTY", K::InvalidValue),
        ("name=x,connection", K::Syntax),
        ("name=,connection=pty", K::Syntax),
        ("name=x,conection=pty", K::UnknownKey),
    ];
    for (text, kind) in bad {
        assert_eq!(
            spec::channel::parse(text).unwrap_err().kind,
            *kind,
            "{text}"
        );
    }
    let e = spec::channel::parse("name=x,conection=pty").unwrap_err();
    assert_eq!(
        (e.offset, e.hint.as_deref()),
        (7, Some("did you mean `connection`?"))
    );
}

#[test]
fn spec_vtpm_p9_usb_forms() {
    let t = spec::vtpm::parse("backend=vtpmmgr,uuid=7F3C8A52-1B7E-4A7E-9C6D-2F1E0A9B8C7D")
        .unwrap()
        .value;
    assert_eq!(
        js(&t),
        json!({"backend_domname": "vtpmmgr", "uuid": "7f3c8a52-1b7e-4a7e-9c6d-2f1e0a9b8c7d"})
    );
    assert_eq!(
        spec::vtpm::parse("uuid=7f3c8a52-1b7e-4a7e-9c6d-2f1e0a9b8c7d")
            .unwrap_err()
            .kind,
        K::Missing
    );
    assert_eq!(
        spec::vtpm::parse("backend=v,uuid=7f3c8a52")
            .unwrap_err()
            .kind,
        K::InvalidValue
    );
    assert_eq!(
        spec::vtpm::parse("backend=v,id=1").unwrap_err().kind,
        K::UnknownKey
    );

    let p = spec::p9::parse("tag=share, path = /srv/share ,security_model=none,backend=dom0")
        .unwrap()
        .value;
    assert_eq!(
        js(&p),
        json!({"backend_domname": "dom0", "tag": "share", "path": "/srv/share", "security_model": "none"})
    );
    let x = spec::p9::parse(
        "tag=logs,type=xen_9pfsd,max-files=100,max-open-files=10,max-space=64,auto-delete=1",
    )
    .unwrap();
    assert_eq!(
        js(&x.value),
        json!({"tag": "logs", "type": "xen_9pfsd", "max_files": 100, "max_open_files": 10, "max_space": 64, "auto_delete": true})
    );
    for (text, kind) in [
        ("tag=s,path=/x", K::Missing),
        ("path=/x,security_model=none", K::Missing),
        ("tag=s,path=/x,security_model=none,mode=ro", K::UnknownKey),
        ("tag=s,type=virtio", K::InvalidValue),
        ("tag=", K::Syntax),
        ("tag=s,type=xen_9pfsd,max-files=lots", K::InvalidValue),
    ] {
        assert_eq!(spec::p9::parse(text).unwrap_err().kind, kind, "{text}");
    }

    let c = spec::usb::parse_ctrl("type=qusb,version=2,ports=8")
        .unwrap()
        .value;
    assert_eq!(js(&c), json!({"type": "qusb", "version": 2, "ports": 8}));
    assert_eq!(
        js(&spec::usb::parse_ctrl("type=PV").unwrap().value),
        json!({"type": "pv"})
    );
    for (text, kind) in [
        ("type=xhci", K::InvalidValue),
        ("version=4", K::OutOfRange),
        ("ports=0", K::OutOfRange),
        ("port=4", K::UnknownKey),
    ] {
        assert_eq!(
            spec::usb::parse_ctrl(text).unwrap_err().kind,
            kind,
            "{text}"
        );
    }
    let d = spec::usb::parse_dev("type=hostdev,hostbus=0x3,hostaddr=010,controller=0,port=2")
        .unwrap()
        .value;
    assert_eq!(
        js(&d),
        json!({"ctrl": 0, "port": 2, "type.hostdev": {"hostbus": 3, "hostaddr": 8}})
    );
    for (text, kind) in [
        ("hostbus=3", K::Missing),
        ("hostbus=3,hostaddr=256", K::OutOfRange),
        ("type=usb,hostbus=1,hostaddr=2", K::InvalidValue),
        ("hostbus=1,hostaddr=2,ctrl=0", K::UnknownKey),
    ] {
        assert_eq!(spec::usb::parse_dev(text).unwrap_err().kind, kind, "{text}");
    }
}

#[test]
fn spec_disk_errors_point_at_the_offending_text() {
    let e = spec::disk::parse("/srv/img,raw,xvda,w!").unwrap_err();
    assert_eq!(
        (e.kind, e.offset, e.column, e.found.as_str()),
        (K::InvalidValue, 18, 19, "w!")
    );
    assert!(e.hint.as_deref().unwrap().contains("w!"));
    assert!(e.to_string().starts_with(
        "disk spec, column 19: invalid value: expected access r, ro, w or rw, found `w!`"
    ));

    let e = spec::disk::parse("vdev=xvda,tagret=/srv/img").unwrap_err();
    assert_eq!(
        (e.kind, e.offset, e.found.as_str()),
        (K::UnknownKey, 10, "tagret=/srv/img")
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `target`?"));

    let e = spec::disk::parse("/srv/img,raw,vda").unwrap_err();
    assert_eq!((e.kind, e.offset), (K::InvalidValue, 13));

    // Columns count characters, not bytes: `é` is two bytes, so byte 17 is the
    // 17th character, column 17.
    let e = spec::disk::parse("/srv/é,raw,xvda,zz").unwrap_err();
    assert_eq!((e.offset, e.column), (17, 17));
}

#[test]
fn spec_disk_warnings_name_the_replacement() {
    let p = spec::disk::parse("phy:/dev/vg/x,hdc:cdrom,r").unwrap();
    let msgs: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains("`phy:`") && msgs[0].contains("column 1"),
        "{}",
        msgs[0]
    );
    assert!(msgs[1].contains("devtype=cdrom"), "{}", msgs[1]);
    assert!(p.value.is_cdrom && !p.value.readwrite);
}

#[test]
fn spec_vdev_numbers_via_disk() {
    let d = spec::disk::parse("/x,raw,xvdb,w").unwrap().value;
    assert_eq!(d.decoded_vdev().unwrap().devid, 51728);
}

#[test]
fn spec_cpu_affinity_list_form() {
    let p = spec::cpus::parse_affinity_list(&["0-1", "2", "nodes:1"])
        .unwrap()
        .value;
    let topo = spec::Topology::uniform(2, 4);
    let per = p.per_vcpu(4);
    assert_eq!(per.len(), 4);
    assert_eq!(per[1].unwrap().resolve(&topo).unwrap().to_string(), "2");
    assert_eq!(per[2].unwrap().resolve(&topo).unwrap().to_string(), "4-7");
    assert!(per[3].is_none());
    let (i, e) = spec::cpus::parse_affinity_list(&["0", "x"]).unwrap_err();
    assert_eq!((i, e.kind), (1, K::InvalidValue));
    let all = spec::cpus::parse_affinity("0-1").unwrap().value;
    assert!(all.per_vcpu(3).iter().all(Option::is_some));
}

#[test]
fn spec_mem_sizes() {
    assert_eq!(
        spec::units::parse_mem_size_kb("4G").unwrap(),
        4 * 1024 * 1024
    );
    let e = spec::units::parse_mem_size_kb("4GiB").unwrap_err();
    assert_eq!((e.kind, e.offset), (K::InvalidValue, 1));
}

#[test]
fn spec_parts_offsets_index_the_joined_arguments() {
    // block-attach style: three arguments, error in the third.
    let e = spec::disk::parse_parts(&["format=raw", "vdev=xvda", "access=x"]).unwrap_err();
    assert_eq!((e.kind, e.offset, e.column), (K::InvalidValue, 28, 29));
    let p = spec::disk::parse_parts(&["vdev=hda", "phy:/dev/sdb"]).unwrap();
    assert_eq!((p.warnings[0].offset, p.warnings[0].column), (9, 10));
    assert_eq!(p.value.pdev_path.as_deref(), Some("/dev/sdb"));

    // network-attach style: one field per argument, commas are not separators.
    let v = spec::vif::parse_parts(&["bridge=xenbr0", "ip=192.0.2.1 192.0.2.2", "rate=10MB/s"])
        .unwrap()
        .value;
    assert_eq!(v.ip_addrs(), ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(
        (v.rate_bytes_per_interval, v.rate_interval_usecs),
        (500_000, 50_000)
    );
    assert_eq!(
        spec::vif::parse_parts(&["bridge=a,b"])
            .unwrap()
            .value
            .bridge
            .as_deref(),
        Some("a,b")
    );
    let e = spec::vif::parse_parts(&["bridge=x", "brdige=y"]).unwrap_err();
    assert_eq!(
        (e.kind, e.offset, e.hint.as_deref()),
        (K::UnknownKey, 9, Some("did you mean `bridge`?"))
    );
}
