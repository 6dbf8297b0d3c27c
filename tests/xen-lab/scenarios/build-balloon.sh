# Autoballoon before `rxl create`, as xl.conf's `autoballoon` says: with dom0 holding almost all
# memory, a guest bigger than Xen's free memory fails with "off" and with "auto" (Xen's command line
# has dom0_mem=), naming what is missing and what to change, and leaves no domain and dom0's target
# as it was; with "on", rxl lowers dom0's memory/target by the shortfall, waits for the balloon
# driver, and the guest boots.
# xen-lab timeout: 600
# xen-lab needs: rxl
# xen-lab dom0-mem: 1800M,max:1800M
BUILD_HELPERS_ONLY=1 . /lab/scenarios/build-pv.sh
lab_need_toolstack
HOLD='cmdline="console=hvc0 rdinit=/init xenlab.hold"'

dom0_mib() { xl list Domain-0 | awk 'NR==2 {print $3}'; }
free=$(xl info free_memory)
# The node may not exist yet (libxl and rxl write it on first use); "" compares fine below.
target0=$(xenstore-read /local/domain/0/memory/target 2>/dev/null)
size0=$(dom0_mib)
mem=$((free + 96))
echo "Xen has $free MiB free; dom0 has $size0 MiB (target '$target0'); the guest gets $mem MiB"
[ "$mem" -lt 600 ] || lab_fail "free memory $free MiB: dom0_mem did not take most of the host"

for setting in off auto; do
    printf 'autoballoon="%s"\n' "$setting" > /etc/xen/xl.conf
    if rxl create /lab/guests/pv.cfg 'name="lab-bal"' "memory=$mem" "$HOLD" > out 2> err; then
        lab_bad "autoballoon=$setting: rxl create succeeded without room"
        rxl destroy lab-bal
    else
        cat err
        grep -q "missing" err && grep -q "autoballoon is \"$setting\"" err \
            && lab_ok "autoballoon=$setting: the error names the shortfall and the setting" \
            || lab_bad "autoballoon=$setting: unexpected error text"
        grep -q "rxl mem-set 0" err && lab_ok "autoballoon=$setting: the error says what to change" \
            || lab_bad "autoballoon=$setting: no advice in the error"
    fi
    xl domid lab-bal > /dev/null 2>&1 && lab_bad "autoballoon=$setting: lab-bal exists" \
        || lab_ok "autoballoon=$setting: no domain left"
    lab_eq "autoballoon=$setting: dom0's target unchanged" \
        "$(xenstore-read /local/domain/0/memory/target 2>/dev/null)" "$target0"
done

printf '# rxl lab\nautoballoon="on"\n' > /etc/xen/xl.conf
lab_now_ns; b0=$LAB_NS
if rxl_boot /lab/guests/pv.cfg lab-bal PV "memory=$mem" "$HOLD"; then
    target1=$(xenstore-read /local/domain/0/memory/target)
    size1=$(dom0_mib)
    echo "dom0: $size0 -> $size1 MiB, target '$target0' -> $target1 KiB; free now $(xl info free_memory) MiB"
    [ "$size1" -lt "$size0" ] && lab_ok "autoballoon=on: dom0 shrank ($size0 -> $size1 MiB)" \
        || lab_bad "autoballoon=on: dom0 did not shrink ($size0 -> $size1 MiB)"
    [ "$target1" -le $(((size0 - 96) * 1024)) ] && lab_ok "autoballoon=on: dom0's target is below its old size by at least the shortfall ($target1 KiB)" \
        || lab_bad "autoballoon=on: dom0's target $target1 KiB is not $size0 MiB minus the shortfall"
    got=$(xl list lab-bal | awk 'NR==2 {print $3}')
    lab_eq "lab-bal has its memory (MiB, xl list)" "$got" "$mem"
fi
rxl_destroy_clean lab-bal
lab_done
