//! The `rxl grub` edits on throwaway Debian-like and RHEL-like roots.

use std::fs;

use super::*;

const STOCK: &str = "# If you change this file, run 'update-grub' afterwards\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n";
const XEN_CFG: &str = "#GRUB_CMDLINE_XEN_DEFAULT=\"\"\nif [ \"$XEN_OVERRIDE_GRUB_DEFAULT\" = \"\" ]; then\n\tgrub_warn \"GRUB_DEFAULT changed to boot into Xen by default!\"\n\tXEN_OVERRIDE_GRUB_DEFAULT=1\nfi\nif [ \"$XEN_OVERRIDE_GRUB_DEFAULT\" = \"1\" ]; then\n\tGRUB_DEFAULT=$( printf \"$(gettext \"%s, with Xen hypervisor\")\" \"$GRUB_DISTRIBUTOR GNU/Linux\")\nfi\n";
const XL_CONF_TEXT: &str = "## Global XL config file ##\n#autoballoon=\"auto\"\n";

fn debian_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |p: &str, s: &str| {
        let p = d.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    w("etc/debian_version", "12.8\n");
    // lsb_release is not in the test's PATH guarantee; pin the distributor.
    w(
        "etc/default/grub",
        &STOCK.replace("`lsb_release -i -s 2> /dev/null || echo Debian`", "Debian"),
    );
    w("etc/default/grub.d/xen.cfg", XEN_CFG);
    w("etc/xen/xl.conf", XL_CONF_TEXT);
    d
}

fn commit(ed: &Editor) {
    ed.finish().unwrap().commit().unwrap();
}

#[test]
fn set_dom0_mem_writes_fixed_size_and_autoballoon_together() {
    let root = debian_root();
    let mut ed = Editor::open(root.path()).unwrap();
    let v = ed
        .set_dom0_mem("4096M", None, None, Some(16 << 20), true)
        .unwrap();
    assert_eq!(v.to_string(), "4G,max:4G");
    let set = ed.finish().unwrap();
    assert_eq!(set.changes().len(), 2, "{}", set.diff());
    let diff = set.diff();
    assert!(
        diff.contains("+GRUB_CMDLINE_XEN_DEFAULT=\"dom0_mem=4G,max:4G\""),
        "{diff}"
    );
    assert!(diff.contains("+autoballoon=\"off\""), "{diff}");
    set.commit().unwrap();
    let grub = fs::read_to_string(root.path().join("etc/default/grub")).unwrap();
    assert!(
        grub.starts_with("# If you change this file"),
        "comments kept"
    );
    assert!(
        fs::read_to_string(root.path().join("etc/default/grub.bak"))
            .unwrap()
            .contains("GRUB_DEFAULT=0")
    );
    // Idempotent: the same command again changes nothing.
    let mut ed = Editor::open(root.path()).unwrap();
    ed.set_dom0_mem("4G", None, None, Some(16 << 20), true)
        .unwrap();
    assert!(ed.finish().unwrap().is_empty());
}

#[test]
fn set_dom0_mem_limits_warnings_and_refusals() {
    let root = debian_root();
    let mut ed = Editor::open(root.path()).unwrap();
    let v = ed
        .set_dom0_mem("1G", Some("2G"), Some("512M"), Some(16 << 20), false)
        .unwrap();
    assert_eq!(v.to_string(), "1G,min:512M,max:2G");
    let set = ed.finish().unwrap();
    assert_eq!(
        set.changes().len(),
        1,
        "no xl.conf change without autoballoon"
    );

    let mut ed = Editor::open(root.path()).unwrap();
    ed.set_dom0_mem("4096", None, None, Some(16 << 20), false)
        .unwrap();
    assert!(
        ed.warnings.iter().any(|w| w.contains("KiB")),
        "{:?}",
        ed.warnings
    );

    let mut ed = Editor::open(root.path()).unwrap();
    let e = ed
        .set_dom0_mem("32G", None, None, Some(16 << 20), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than the host's memory (16384 MiB)"), "{e}");
    let e = ed
        .set_dom0_mem("4G", Some("64G"), None, Some(16 << 20), true)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--max 64G"), "{e}");
    let e = ed
        .set_dom0_mem("4GB", None, None, None, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 3"), "{e}");
    let e = ed
        .set_dom0_mem("1G,max:2G", None, None, None, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("single size"), "{e}");
    assert!(
        ed.finish().unwrap().is_empty(),
        "failed edits leave nothing to write"
    );
}

#[test]
fn xen_args_go_where_they_are_and_replace_duplicates() {
    let root = debian_root();
    let p = root.path().join("etc/default/grub");
    let text = fs::read_to_string(&p).unwrap() + "GRUB_CMDLINE_XEN=\"ucode=scan smap=1\"\n";
    fs::write(&p, text).unwrap();
    let mut ed = Editor::open(root.path()).unwrap();
    ed.set_xen_args(&[
        XenArg::parse("smap=0"),
        XenArg::parse("console=com1,vga"),
        XenArg::parse("com1=115200,8n1"),
    ])
    .unwrap();
    commit(&ed);
    let (eff, _) = Defaults::load(root.path())
        .unwrap()
        .effective(&[CMDLINE_XEN, CMDLINE_XEN_DEFAULT])
        .unwrap();
    assert_eq!(eff[CMDLINE_XEN].as_deref(), Some("ucode=scan smap=0"));
    assert_eq!(
        eff[CMDLINE_XEN_DEFAULT].as_deref(),
        Some("console=com1,vga com1=115200,8n1")
    );

    let mut ed = Editor::open(root.path()).unwrap();
    let e = ed
        .set_xen_args(&[XenArg::parse("loglvl=loud")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("loglvl=loud"), "{e}");
    assert!(ed.unset_xen_arg("smap").unwrap());
    assert!(ed.unset_xen_arg("console").unwrap());
    assert!(!ed.unset_xen_arg("iommu").unwrap());
    commit(&ed);
    let (eff, _) = Defaults::load(root.path())
        .unwrap()
        .effective(&[CMDLINE_XEN, CMDLINE_XEN_DEFAULT])
        .unwrap();
    assert_eq!(eff[CMDLINE_XEN].as_deref(), Some("ucode=scan"));
    assert_eq!(eff[CMDLINE_XEN_DEFAULT].as_deref(), Some("com1=115200,8n1"));
}

#[test]
fn set_default_uses_titles_and_debians_override_variable() {
    let root = debian_root();
    let mut ed = Editor::open(root.path()).unwrap();
    assert_eq!(
        ed.set_default(&DefaultTarget::Xen).unwrap(),
        "Debian GNU/Linux, with Xen hypervisor"
    );
    commit(&ed);
    let grub = fs::read_to_string(root.path().join("etc/default/grub")).unwrap();
    assert!(grub.contains("XEN_OVERRIDE_GRUB_DEFAULT=\"1\""), "{grub}");

    let mut ed = Editor::open(root.path()).unwrap();
    assert_eq!(
        ed.set_default(&DefaultTarget::Linux).unwrap(),
        "Debian GNU/Linux"
    );
    commit(&ed);
    let d = Defaults::load(root.path()).unwrap();
    let (eff, warnings) = d.effective(&["GRUB_DEFAULT"]).unwrap();
    assert_eq!(eff["GRUB_DEFAULT"].as_deref(), Some("Debian GNU/Linux"));
    assert!(warnings.is_empty(), "xen.cfg no longer warns: {warnings:?}");

    let mut ed = Editor::open(root.path()).unwrap();
    let e = ed
        .set_default(&DefaultTarget::Entry("2".into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("index"), "{e}");
    ed.set_default(&DefaultTarget::Entry("xen-gnulinux-simple-abc".into()))
        .unwrap();
    commit(&ed);
    let (eff, _) = Defaults::load(root.path())
        .unwrap()
        .effective(&["GRUB_DEFAULT"])
        .unwrap();
    assert_eq!(
        eff["GRUB_DEFAULT"].as_deref(),
        Some("xen-gnulinux-simple-abc")
    );
}

#[test]
fn redhat_saved_default_goes_to_grubenv() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("etc/default")).unwrap();
    fs::create_dir_all(d.path().join("boot/grub2")).unwrap();
    fs::write(
        d.path().join("etc/redhat-release"),
        "Rocky Linux release 9.4 (Blue Onyx)\n",
    )
    .unwrap();
    fs::write(
        d.path().join("etc/default/grub"),
        "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' etc/redhat-release)\"\nGRUB_DEFAULT=saved\nGRUB_ENABLE_BLSCFG=true\n",
    )
    .unwrap();
    let mut ed = Editor::open(d.path()).unwrap();
    assert_eq!(ed.layout.family, Family::RedHat);
    let title = ed.set_default(&DefaultTarget::Xen).unwrap();
    assert_eq!(title, "Rocky Linux GNU/Linux, with Xen hypervisor");
    assert!(
        ed.finish().unwrap().is_empty(),
        "no defaults edit: saved_entry carries the choice"
    );
    let (_, argv) = &ed.commands[0];
    assert_eq!(
        argv[2..],
        ["set".to_owned(), format!("saved_entry={title}")]
    );
    assert!(matches!(
        ed.set_default(&DefaultTarget::Linux),
        Err(EditError::LinuxOnRedHat)
    ));

    // With GRUB's real editenv tool (grub2-editenv on RHEL, grub-editenv on Debian: the same
    // program), the choice lands in grubenv where GRUB's `load_env` finds it.
    let tool = ed.commands[0].1[0].clone();
    if tool == "grub2-editenv" {
        eprintln!(
            "SKIPPED part of redhat_saved_default_goes_to_grubenv: no grub-editenv installed"
        );
        return;
    }
    let env = d.path().join("boot/grub2/grubenv");
    let created = std::process::Command::new(&tool)
        .arg(&env)
        .arg("create")
        .status()
        .unwrap();
    assert!(created.success());
    ed.run_commands().unwrap();
    assert_eq!(
        crate::apply::saved_entry(d.path(), &ed.layout).as_deref(),
        Some(title.as_str())
    );
    assert_eq!(
        fs::metadata(&env).unwrap().len(),
        1024,
        "still a 1 KiB environment block"
    );
}
