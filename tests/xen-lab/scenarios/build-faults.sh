# A failure at every step of `rxl create` (RXL_FAULT_INJECT=<step>) leaves nothing behind: no
# domain, no /local/domain/N, no /vm/<uuid>, no /libxl/N; bad input fails early with a clear error.
# xen-lab timeout: 600
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack

snapshot() {
    echo "domains: $(xl list | tail -n +2 | awk '{print $1}' | sort | tr '\n' ' ')"
    echo "local: $(xenstore-list /local/domain | sort | tr '\n' ' ')"
    echo "vm: $(xenstore-list /vm 2>/dev/null | sort | tr '\n' ' ')"
    echo "libxl: $(xenstore-list /libxl 2>/dev/null | sort | tr '\n' ' ')"
    echo "backend/console: $(xenstore-list /local/domain/0/backend/console 2>/dev/null | sort | tr '\n' ' ')"
}
before=$(snapshot)
echo "$before"

for step in createdomain max_mem evtchn populate load vcpu grant xenstore introduce unpause; do
    out=$(RXL_FAULT_INJECT=$step rxl create /lab/guests/pv.cfg 'name="lab-fault"' 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && echo "$out" | grep -q "injected failure before step \"$step\""; then
        lab_ok "fault at $step: rxl create failed with the injected error"
    else
        lab_bad "fault at $step: rc=$rc, output: $out"
    fi
    lab_eq "nothing left after a fault at $step" "$(snapshot)" "$before"
done

# expect_error WHAT PATTERN rxl-create-arguments...: create fails, says PATTERN, leaves nothing.
expect_error() {
    what=$1 pattern=$2
    shift 2
    out=$(rxl create "$@" 2>&1)
    rc=$?
    echo "$out"
    if [ $rc -ne 0 ] && echo "$out" | grep -q -- "$pattern"; then
        lab_ok "$what: refused with '$pattern'"
    else
        lab_bad "$what: rc=$rc, wanted '$pattern'"
    fi
    lab_eq "nothing left after: $what" "$(snapshot)" "$before"
}
expect_error "not a kernel" "is not a kernel" /lab/guests/pv.cfg 'name="lab-bad"' 'kernel="/lab/guests/pv.cfg"'
expect_error "missing kernel" "/lab/domu/nonexistent" /lab/guests/pv.cfg 'name="lab-bad"' 'kernel="/lab/domu/nonexistent"'
expect_error "missing ramdisk" "ramdisk /lab/domu/none.gz" /lab/guests/pv.cfg 'name="lab-bad"' 'ramdisk="/lab/domu/none.gz"'
expect_error "guest too small" "KiB missing); raise .memory=" /lab/guests/pv.cfg 'name="lab-bad"' 'memory=16'
expect_error "host too small" "not enough free memory" /lab/guests/pv.cfg 'name="lab-bad"' 'memory=4000'

# A name in use: a paused guest holds it.
if rxl create -p /lab/guests/pv.cfg 'name="lab-held"'; then
    lab_ok "rxl create -p lab-held"
    xl list lab-held | grep -q -- '--p---' && lab_ok "lab-held is paused" || { xl list; lab_bad "lab-held not paused"; }
    out=$(rxl create /lab/guests/pv.cfg 'name="lab-held"' 2>&1); rc=$?
    echo "$out"
    [ $rc -ne 0 ] && echo "$out" | grep -q "already has this name" && lab_ok "second lab-held refused: name in use" \
        || lab_bad "second lab-held: rc=$rc"
    rxl destroy lab-held
    lab_wait_gone lab-held 30
fi
lab_eq "nothing left at the end" "$(snapshot)" "$before"
lab_done
