//! Editing shell-variable files: comments, quoting, duplicates, conditionals, idempotence.

use super::*;

fn parse(text: &str) -> ShellVarFile {
    ShellVarFile::parse("/etc/default/grub", text).unwrap()
}

const STOCK: &str = r#"# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal (grub-pc only)
#GRUB_TERMINAL=console
"#;

#[test]
fn finds_assignments_with_quoting_and_literals() {
    let f = parse(STOCK);
    let names: Vec<_> = f.assignments().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "GRUB_DEFAULT",
            "GRUB_TIMEOUT",
            "GRUB_DISTRIBUTOR",
            "GRUB_CMDLINE_LINUX_DEFAULT",
            "GRUB_CMDLINE_LINUX"
        ]
    );
    let d = f.last("GRUB_DISTRIBUTOR").unwrap();
    assert_eq!(
        (d.line, d.literal.as_deref(), d.is_plain()),
        (6, None, false)
    );
    let q = f.last("GRUB_CMDLINE_LINUX_DEFAULT").unwrap();
    assert_eq!(
        (q.literal.as_deref(), q.quote),
        (Some("quiet"), Quote::Double)
    );
    assert_eq!(f.last("GRUB_DEFAULT").unwrap().quote, Quote::None);
    assert!(f.last("GRUB_TERMINAL").is_none(), "commented out");
}

#[test]
fn edits_in_place_keeping_everything_else() {
    let mut f = parse(STOCK);
    f.set("GRUB_CMDLINE_LINUX_DEFAULT", "quiet splash").unwrap();
    f.set("GRUB_TIMEOUT", "10").unwrap();
    let expected = STOCK
        .replace(
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"",
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"",
        )
        .replace("GRUB_TIMEOUT=5", "GRUB_TIMEOUT=10");
    assert_eq!(f.text(), expected);
}

#[test]
fn appends_new_variables_and_is_idempotent() {
    let mut f = parse(STOCK);
    f.set("GRUB_CMDLINE_XEN_DEFAULT", "dom0_mem=4G,max:4G")
        .unwrap();
    let once = f.text().to_owned();
    assert!(once.starts_with(STOCK));
    assert!(
        once.ends_with("# Set by rxl grub.\nGRUB_CMDLINE_XEN_DEFAULT=\"dom0_mem=4G,max:4G\"\n")
    );
    f.set("GRUB_CMDLINE_XEN_DEFAULT", "dom0_mem=4G,max:4G")
        .unwrap();
    assert_eq!(
        f.text(),
        once,
        "setting the same value twice changes nothing"
    );
    let reparsed = parse(&once);
    assert_eq!(
        reparsed
            .last("GRUB_CMDLINE_XEN_DEFAULT")
            .unwrap()
            .literal
            .as_deref(),
        Some("dom0_mem=4G,max:4G")
    );
}

#[test]
fn quoting_styles_are_kept_when_possible() {
    let mut f = parse("A='x'\nB=y\nC=\"z\"\n");
    f.set("A", "1 2").unwrap();
    f.set("B", "two words").unwrap();
    f.set("C", "a \"q\" $HOME `x` \\").unwrap();
    assert_eq!(
        f.text(),
        "A='1 2'\nB=\"two words\"\nC=\"a \\\"q\\\" \\$HOME \\`x\\` \\\\\"\n"
    );
    let again = parse(f.text());
    assert_eq!(
        again.last("C").unwrap().literal.as_deref(),
        Some("a \"q\" $HOME `x` \\")
    );
    let mut f = parse("A='x'\n");
    f.set("A", "it's").unwrap();
    assert_eq!(f.text(), "A=\"it's\"\n");
    let mut f = parse("B=y\n");
    f.set("B", "plain,value:1").unwrap();
    assert_eq!(f.text(), "B=plain,value:1\n");
}

#[test]
fn duplicates_edit_the_last_one() {
    let mut f = parse("X=\"a\"\n# again\nX=\"b\"\n");
    f.set("X", "c").unwrap();
    assert_eq!(f.text(), "X=\"a\"\n# again\nX=\"c\"\n");
}

#[test]
fn conditional_or_computed_values_are_overridden_not_clobbered() {
    let text = "if [ -e /x ]; then\n  GRUB_DEFAULT=2\nfi\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX quiet\"\n[ -n \"$Y\" ] && Z=1\n";
    let f = parse(text);
    let g = f.last("GRUB_DEFAULT").unwrap();
    assert!(g.nested && g.literal.as_deref() == Some("2"));
    assert!(f.last("GRUB_CMDLINE_LINUX").unwrap().literal.is_none());
    assert!(f.last("Z").unwrap().nested, "after && it is conditional");
    let mut f = f;
    f.set("GRUB_DEFAULT", "saved").unwrap();
    f.set("GRUB_CMDLINE_LINUX", "quiet").unwrap();
    assert!(f.text().starts_with(text), "original lines untouched");
    assert!(f.text().contains(
        "overrides the conditional or computed value on line 2.\nGRUB_DEFAULT=\"saved\"\n"
    ));
    assert!(
        f.text()
            .contains("value on line 4.\nGRUB_CMDLINE_LINUX=\"quiet\"\n")
    );
}

#[test]
fn debian_xen_cfg_is_understood() {
    let text = r#"echo "Including Xen overrides from /etc/default/grub.d/xen.cfg" >&2
#GRUB_CMDLINE_XEN_DEFAULT=""
if [ "$XEN_OVERRIDE_GRUB_DEFAULT" = "" ]; then
	grub_warn "GRUB_DEFAULT changed to boot into Xen by default!" \
	          "Edit /etc/default/grub.d/xen.cfg to avoid this warning."
	XEN_OVERRIDE_GRUB_DEFAULT=1
fi
if [ "$XEN_OVERRIDE_GRUB_DEFAULT" = "1" ]; then
	GRUB_DEFAULT=$( \
		printf "$(gettext "%s, with Xen hypervisor")" \
		"$GRUB_DISTRIBUTOR GNU/Linux")
fi
"#;
    let f = ShellVarFile::parse("/etc/default/grub.d/xen.cfg", text).unwrap();
    let names: Vec<_> = f
        .assignments()
        .iter()
        .map(|a| (a.name.as_str(), a.nested))
        .collect();
    assert_eq!(
        names,
        [("XEN_OVERRIDE_GRUB_DEFAULT", true), ("GRUB_DEFAULT", true)]
    );
}

#[test]
fn other_shell_forms() {
    let f = parse("export A=1\nB=2 C=3\nD=4 somecommand\nf() {\n  E=5\n}\nF=a=b\nG=\nH=x\\ y\n");
    let got: Vec<_> = f
        .assignments()
        .iter()
        .map(|a| (a.name.as_str(), a.literal.as_deref(), a.nested))
        .collect();
    assert_eq!(
        got,
        [
            ("A", Some("1"), false),
            ("B", Some("2"), false),
            ("C", Some("3"), false),
            ("E", Some("5"), true),
            ("F", Some("a=b"), false),
            ("G", Some(""), false),
            ("H", Some("x y"), false),
        ]
    );
}

#[test]
fn unterminated_quotes_name_line_and_column() {
    let e = ShellVarFile::parse("/etc/default/grub", "A=1\nB=\"oops\nC=2\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/default/grub:2:3: unterminated double quote; close it (the shell would refuse this file too)"
    );
    assert!(ShellVarFile::parse("f", "A=$(echo x\n").is_err());
    let mut f = parse("A=1\n");
    assert!(matches!(f.set("1BAD", "x"), Err(VarsError::BadName(_))));
}
