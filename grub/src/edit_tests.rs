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

/// A RHEL 9-like root: stock /etc/default/grub (BLS on, submenus off, `GRUB_DEFAULT=saved`),
/// the distribution's 10_linux and 20_linux_xen, and one BootLoaderSpec entry per kernel.
fn rhel_root(disable_submenu: bool) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let w = |p: &str, s: &str| {
        let p = d.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    };
    w(
        "etc/redhat-release",
        "Rocky Linux release 9.4 (Blue Onyx)\n",
    );
    w(
        "etc/default/grub",
        &format!(
            "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' etc/redhat-release)\"\nGRUB_DEFAULT=saved\n{}GRUB_TERMINAL_OUTPUT=\"console\"\nGRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M rhgb quiet\"\nGRUB_DISABLE_RECOVERY=\"true\"\nGRUB_ENABLE_BLSCFG=true\n",
            if disable_submenu {
                "GRUB_DISABLE_SUBMENU=true\n"
            } else {
                ""
            }
        ),
    );
    for s in ["00_header", "10_linux", "20_linux_xen", "30_os-prober"] {
        let p = format!("etc/grub.d/{s}");
        w(&p, &format!("#!/bin/sh\n# {s}\n"));
        fs::set_permissions(d.path().join(p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    w(
        "boot/loader/entries/f00d-5.14.0-427.13.1.el9_4.x86_64.conf",
        "title Rocky Linux (5.14.0-427.13.1.el9_4.x86_64) 9.4 (Blue Onyx)\nversion 5.14.0-427.13.1.el9_4.x86_64\nlinux /vmlinuz-5.14.0-427.13.1.el9_4.x86_64\n",
    );
    w(
        "boot/loader/entries/f00d-0-rescue.conf",
        "title Rocky Linux (0-rescue-f00d) 9.4 (Blue Onyx)\nversion 0-rescue-f00d\n",
    );
    fs::create_dir_all(d.path().join("boot/grub2")).unwrap();
    d
}

/// GRUB's real editenv on this machine (grub2-editenv on RHEL, grub-editenv on Debian: the
/// same program), or `None` (the caller prints why it skips).
fn host_editenv() -> Option<String> {
    ["/usr/bin/grub-editenv", "/usr/bin/grub2-editenv"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_owned)
}

#[test]
fn redhat_saved_default_goes_to_grubenv() {
    let d = rhel_root(false);
    let mut ed = Editor::open(d.path()).unwrap();
    assert_eq!(ed.layout.family, Family::RedHat);
    let title = ed.set_default(&DefaultTarget::Xen).unwrap();
    assert_eq!(title, "Rocky Linux GNU/Linux, with Xen hypervisor");
    assert!(
        ed.finish().unwrap().is_empty(),
        "no defaults edit: saved_entry carries the choice"
    );
    let argv = &ed.commands[0].argv;
    assert_eq!(
        argv[argv.len() - 2..],
        ["set".to_owned(), format!("saved_entry={title}")]
    );
    assert_eq!(ed.moves.len(), 1, "20_linux_xen goes first");

    // With GRUB's real editenv tool, the choice lands in grubenv where GRUB's `load_env` finds it.
    let Some(tool) = host_editenv() else {
        eprintln!(
            "SKIPPED part of redhat_saved_default_goes_to_grubenv: no grub-editenv installed"
        );
        return;
    };
    let env = d.path().join("boot/grub2/grubenv");
    assert!(
        std::process::Command::new(&tool)
            .arg(&env)
            .arg("create")
            .status()
            .unwrap()
            .success()
    );
    ed.commit(&ed.finish().unwrap()).unwrap();
    assert_eq!(
        crate::apply::saved_entry(d.path(), &ed.layout).as_deref(),
        Some(title.as_str())
    );
    assert_eq!(
        fs::metadata(&env).unwrap().len(),
        1024,
        "still a 1 KiB environment block"
    );
    assert_eq!(
        xen_first::order(d.path()),
        xen_first::Order::XenFirst,
        "Xen script renamed ahead of 10_linux"
    );

    // Idempotent: nothing left to do.
    let mut ed = Editor::open(d.path()).unwrap();
    ed.set_default(&DefaultTarget::Xen).unwrap();
    assert!(ed.finish().unwrap().is_empty() && !ed.has_actions());

    // `linux` undoes the order and picks the newest BootLoaderSpec entry (not the rescue one).
    let mut ed = Editor::open(d.path()).unwrap();
    let linux = ed.set_default(&DefaultTarget::Linux).unwrap();
    assert_eq!(linux, "f00d-5.14.0-427.13.1.el9_4.x86_64");
    ed.commit(&ed.finish().unwrap()).unwrap();
    assert_eq!(xen_first::order(d.path()), xen_first::Order::Stock);
    assert_eq!(
        crate::apply::saved_entry(d.path(), &ed.layout).as_deref(),
        Some(linux.as_str())
    );
    let mut ed = Editor::open(d.path()).unwrap();
    ed.set_default(&DefaultTarget::Linux).unwrap();
    assert!(!ed.has_actions(), "linux twice is a no-op");
}

#[test]
fn redhat_without_submenus_leaves_the_title_to_apply() {
    let d = rhel_root(true);
    let env = d.path().join("boot/grub2/grubenv");
    let mut ed = Editor::open(d.path()).unwrap();
    let shown = ed.set_default(&DefaultTarget::Xen).unwrap();
    assert!(shown.contains("first Xen entry"), "{shown}");
    assert!(
        ed.commands.is_empty(),
        "no saved_entry to unset yet: {:?}",
        ed.commands
    );
    // An old saved_entry (grubby's native kernel) must go, or GRUB would keep booting it.
    let mut block =
        String::from("# GRUB Environment Block\nsaved_entry=f00d-5.14.0-427.13.1.el9_4.x86_64\n");
    block.push_str(&"#".repeat(1024 - block.len()));
    fs::write(&env, block).unwrap();
    let mut ed = Editor::open(d.path()).unwrap();
    ed.set_default(&DefaultTarget::Xen).unwrap();
    let argv = &ed.commands[0].argv;
    assert_eq!(argv[argv.len() - 2..], ["unset", "saved_entry"]);
    let dry = ed.moves[0].describe();
    assert!(
        dry.contains("20_linux_xen") && dry.contains("08_linux_xen"),
        "{dry}"
    );
    if host_editenv().is_some() {
        ed.commit(&ed.finish().unwrap()).unwrap();
        assert_eq!(crate::apply::saved_entry(d.path(), &ed.layout), None);
        assert_eq!(xen_first::order(d.path()), xen_first::Order::XenFirst);
    } else {
        eprintln!("SKIPPED commit part: no grub-editenv installed");
    }
}

#[test]
fn redhat_failed_step_rolls_everything_back() {
    let d = rhel_root(false);
    // GRUB_DEFAULT=0 must become `saved`, and grubenv cannot be written: the boot directory is
    // replaced by a file, so the editenv step fails after the rename and the file edit.
    let grub = d.path().join("etc/default/grub");
    let stock = fs::read_to_string(&grub).unwrap();
    fs::write(&grub, stock.replace("GRUB_DEFAULT=saved", "GRUB_DEFAULT=0")).unwrap();
    let before = fs::read_to_string(&grub).unwrap();
    fs::remove_dir_all(d.path().join("boot/grub2")).unwrap();
    fs::write(d.path().join("boot/grub2"), "not a directory").unwrap();
    let mut ed = Editor::open(d.path()).unwrap();
    ed.set_default(&DefaultTarget::Xen).unwrap();
    let set = ed.finish().unwrap();
    assert!(set.diff().contains("+GRUB_DEFAULT=saved"), "{}", set.diff());
    let e = ed.commit(&set).unwrap_err().to_string();
    assert!(e.contains("grubenv"), "{e}");
    assert_eq!(
        fs::read_to_string(&grub).unwrap(),
        before,
        "file edit undone"
    );
    assert_eq!(
        xen_first::order(d.path()),
        xen_first::Order::Stock,
        "rename undone"
    );
}

#[test]
fn redhat_without_xen_script_refuses() {
    let d = rhel_root(false);
    fs::remove_file(d.path().join("etc/grub.d/20_linux_xen")).unwrap();
    let mut ed = Editor::open(d.path()).unwrap();
    let e = ed.set_default(&DefaultTarget::Xen).unwrap_err().to_string();
    assert!(e.contains("20_linux_xen"), "{e}");
}
