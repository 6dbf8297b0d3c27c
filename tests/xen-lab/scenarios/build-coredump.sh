# Core dumps: on_crash="coredump-destroy" makes the monitor write the crashed guest's core to
# /var/lib/xen/dump/NAME (as xl) and then destroy it; `rxl dump-core DOM FILE` writes a running
# guest's core and leaves it running. Checked: ELF64 ET_CORE header, a size that holds the guest's
# memory, the guest's state afterwards.
# xen-lab timeout: 600
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack

# is_elf_core FILE: ELF magic, 64-bit, e_type 4 (ET_CORE).
is_elf_core() {
    [ "$(od -An -tx1 -N5 "$1" | tr -d ' \n')" = 7f454c4602 ] &&
        [ "$(od -An -tx1 -j16 -N2 "$1" | tr -d ' \n')" = 0400 ]
}
# MiB of a file.
mib() { echo $(($(wc -c < "$1") / 1048576)); }

# 1. A guest kernel panic (no init) with on_crash="coredump-destroy".
core=/var/lib/xen/dump/lab-core
rm -f "$core"
if rxl create /lab/guests/pv.cfg 'name="lab-core"' 'on_crash="coredump-destroy"' \
        'cmdline="console=hvc0 rdinit=/nonexistent root=/dev/nonexistent"'; then
    if lab_wait_gone lab-core 180; then lab_ok "the crashed lab-core was destroyed"
    else lab_bad "lab-core still exists"; xl list; rxl destroy lab-core; fi
    if [ -f "$core" ] && is_elf_core "$core"; then
        lab_ok "monitor wrote an ELF64 core: $core, $(mib "$core") MiB"
        [ "$(mib "$core")" -ge 100 ] && lab_ok "the core holds the guest's 128 MiB" \
            || lab_bad "core of $(mib "$core") MiB is too small for a 128 MiB guest"
    else
        lab_bad "no ELF core at $core"; ls -l /var/lib/xen/dump 2>&1
        tail -20 /var/log/xen/rxl-lab-core.log 2>&1
    fi
    rm -f "$core"
else
    lab_bad "rxl create lab-core failed"
fi

# 2. rxl dump-core on a running guest.
if rxl create /lab/guests/pv.cfg 'name="lab-live"' 'cmdline="console=hvc0 rdinit=/init xenlab.hold"' &&
        lab_wait_console lab-live 180 > /dev/null; then
    if rxl dump-core lab-live /tmp/lab/live.core && is_elf_core /tmp/lab/live.core; then
        lab_ok "rxl dump-core wrote an ELF64 core of the running guest ($(mib /tmp/lab/live.core) MiB)"
    else
        lab_bad "rxl dump-core lab-live failed or wrote no ELF core"
    fi
    state=$(xl list lab-live 2>/dev/null | awk 'NR==2 {print $5}')
    case "$state" in *p*|"") lab_bad "lab-live is '$state' after the dump: not running";;
        *) lab_ok "lab-live runs on after the dump (state $state)";; esac
    rm -f /tmp/lab/live.core
    out=$(rxl dump-core no-such-domain /tmp/lab/x.core 2>&1) && lab_bad "dump-core of a missing domain succeeded" \
        || lab_ok "dump-core of a missing domain: $out"
    rxl destroy lab-live
else
    lab_bad "lab-live did not come up"
fi
lab_done
