# One domain file on both hypervisors (issue 6): `rxl create` boots tests/portable/devices.cfg -- a
# Debian kernel, an initramfs, a read-only raw disk and a vif on xenbr0 -- unchanged, as the KVM lab
# boots it under `rxl --backend kvm create`. The guest (tests/portable/init) reads the disk (its
# sha256 equals the file's), pings dom0's bridge address, and powers off; on_poweroff="destroy"
# then removes the domain with its devices. The file's sha256 is printed in both labs' logs.
# xen-lab timeout: 600
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack
P=/lab/portable
CFG=$P/devices.cfg
[ -r "$CFG" ] || lab_fail "$CFG is missing (tests/xen-lab/lib/boot.sh installs it)"
echo "domain file: $CFG sha256=$(sha256sum "$CFG" | cut -d' ' -f1)"
# the paths the file names: this lab's Debian kernel, its domU initramfs with the portable /init
# appended (the kernel unpacks concatenated archives in order; the later /init wins), a random disk
ln -sf /lab/domu/vmlinux "$P/kernel"
cat /lab/domu/initrd.gz "$P/init.cpio.gz" > "$P/initrd.gz"
head -c 1048576 /dev/urandom > "$P/disk.img"
WANT=$(sha256sum "$P/disk.img" | cut -d' ' -f1)
LOG=$LAB_CONSOLE_DIR/guest-portable.log
rm -f "$LOG"

lab_now_ns; c0=$LAB_NS
if ! rxl create "$CFG" > create.out 2>&1; then
    cat create.out
    lab_fail "rxl create $CFG failed"
fi
lab_now_ns
lab_ok "rxl create $CFG returned after $(((LAB_NS - c0) / 1000000)) ms"
cat create.out
domid=$(lab_domid portable)
[ -n "$domid" ] && lab_ok "the domain 'portable' exists (domain $domid)"

# the guest powers itself off once its checks are done; on_poweroff="destroy" removes it
if lab_wait_gone portable 300; then
    lab_ok "the guest powered off and on_poweroff=\"destroy\" removed the domain"
else
    lab_bad "the domain 'portable' still exists after 300 s"
    lab_show_console portable
    rxl destroy portable
fi
grep -a PORTABLE "$LOG" | grep -v '^\[' || lab_show_console portable
# each marker appears twice (the echo and its kernel-log copy): read the first
first() { grep -a -m1 "^$1" "$LOG" | tr -d '\r'; }
lab_eq "the guest's hypervisor" "$(first PORTABLE-UP | sed -n 's/.*hypervisor=\([a-z]*\).*/\1/p')" xen
lab_eq "the guest read the disk (device, sha256 of its first MiB)" \
    "$(first PORTABLE-DISK | cut -d' ' -f2-)" "dev=xvda sha256=$WANT"
lab_eq "the guest's ping of dom0's bridge (10.99.0.1) over its vif" \
    "$(first PORTABLE-NET | sed -n 's/.*ping=\([a-z]*\).*/\1/p')" ok
lab_eq "the guest's MAC, as the vif line gives it" \
    "$(first PORTABLE-NET | sed -n 's/.*mac=\([0-9a-f:]*\).*/\1/p')" 00:16:3e:5a:17:0f
first PORTABLE-POWEROFF | grep -q . && lab_ok "the guest reached its power-off" \
    || lab_bad "the guest never reached its power-off"
# nothing left behind: no backend nodes, no vif
left=$(xenstore-ls /local/domain/0/backend 2>/dev/null | grep -c "^ *$domid = " || true)
lab_eq "backend nodes left for domain $domid" "$left" 0
[ -e "/sys/class/net/vif$domid.0" ] && lab_bad "vif$domid.0 is left behind" \
    || lab_ok "no vif$domid.0 left behind"
lab_done
