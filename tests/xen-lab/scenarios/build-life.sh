# Guest lifecycle under rxl: the monitor `rxl create` starts carries out on_reboot="restart"
# (`rxl reboot` → a new domain of the same name boots again), on_crash="preserve" (a guest kernel panic
# leaves the crashed domain), on_poweroff="destroy" (`rxl shutdown -w` → gone), and
# on_reboot="rename-restart".
# xen-lab timeout: 900
# xen-lab needs: rxl
BUILD_HELPERS_ONLY=1 . /lab/scenarios/build-pv.sh
lab_need_toolstack
HOLD='cmdline="console=hvc0 rdinit=/init xenlab.hold"'

# monitor_running DOMID: an `rxl monitor --domid DOMID` process exists.
monitor_running() {
    for f in /proc/[0-9]*/cmdline; do
        tr '\0' ' ' < "$f" 2>/dev/null | grep -q -- "monitor --domid $1 " && return 0
    done
    return 1
}
markers() { grep -c "$LAB_DOMU_MARK" "$LAB_CONSOLE_DIR/guest-$1.log" 2>/dev/null || echo 0; }
wait_xenbus() {
    i=0
    while [ $i -lt 240 ]; do
        [ "$(xenstore-read "/local/domain/$(lab_domid "$1")/control/feature-reboot" 2>/dev/null)" = 1 ] && return 0
        sleep 0.5; i=$((i + 1))
    done
    return 1
}
# wait_new_domid NAME OLD SECS: waits until NAME exists with an id other than OLD.
wait_new_domid() {
    i=0
    while [ $i -lt $(($3 * 5)) ]; do
        d=$(lab_domid "$1")
        [ -n "$d" ] && [ "$d" != "$2" ] && { echo "$d"; return 0; }
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

# 1. on_reboot="restart"
if rxl_boot /lab/guests/pv.cfg lab-life PV "$HOLD" 'on_reboot="restart"' 'on_poweroff="destroy"'; then
    old=$(lab_domid lab-life)
    wait_xenbus lab-life && lab_ok "lab-life xenbus up" || lab_bad "lab-life xenbus not up"
    monitor_running "$old" && lab_ok "monitor of domain $old runs" || lab_bad "no monitor for $old"
    rxl reboot lab-life && lab_ok "rxl reboot lab-life" || lab_bad "rxl reboot lab-life failed"
    if new=$(wait_new_domid lab-life "$old" 120); then
        lab_ok "on_reboot=restart: lab-life came back as domain $new (was $old)"
        i=0; while [ "$(markers lab-life)" -lt 2 ] && [ $i -lt 1200 ]; do sleep 0.2; i=$((i + 1)); done
        lab_eq "lab-life booted twice (markers in its console log)" "$(markers lab-life)" 2
        # 2. on_poweroff="destroy" through `rxl shutdown -w`, on the restarted domain
        wait_xenbus lab-life || lab_bad "restarted lab-life: xenbus not up"
        lab_now_ns; s0=$LAB_NS
        if timeout 150 rxl shutdown -w lab-life; then
            lab_now_ns; lab_ok "rxl shutdown -w lab-life returned after $(((LAB_NS - s0) / 1000000)) ms"
        else
            lab_bad "rxl shutdown -w lab-life failed"
        fi
        lab_wait_gone lab-life 30 && lab_ok "on_poweroff=destroy: lab-life is gone" || lab_bad "lab-life still exists"
        xenstore-exists "/local/domain/$new" 2>/dev/null && lab_bad "/local/domain/$new left" || lab_ok "no /local/domain/$new"
    else
        lab_bad "lab-life did not come back after the reboot"; xl list; cat /var/log/xen/rxl-lab-life.log
    fi
fi
rxl destroy lab-life 2>/dev/null
lab_wait_gone lab-life 30

# 3. on_crash="preserve": a kernel that cannot find its init panics, and Linux's Xen panic
# notifier shuts the domain down as crashed
if rxl create /lab/guests/pv.cfg 'name="lab-crash"' 'on_crash="preserve"' \
        'cmdline="console=hvc0 rdinit=/nonexistent root=/dev/nonexistent"'; then
    d=$(lab_domid lab-crash)
    lab_ok "rxl create lab-crash (domain $d)"
    i=0; state=""
    while [ $i -lt 600 ]; do
        state=$(xl list lab-crash 2>/dev/null | awk 'NR==2 {print $5}')
        case "$state" in *c*) break;; esac
        sleep 0.2; i=$((i + 1))
    done
    case "$state" in *c*) lab_ok "lab-crash crashed (state $state)";;
        *) lab_bad "lab-crash state '$state', no crash"; lab_show_console lab-crash;; esac
    sleep 3
    [ "$(lab_domid lab-crash)" = "$d" ] && lab_ok "on_crash=preserve: crashed domain $d kept" || lab_bad "crashed domain $d not kept"
    monitor_running "$d" && lab_bad "monitor of $d still runs after preserve" || lab_ok "monitor of $d ended"
    rxl destroy lab-crash && lab_wait_gone lab-crash 30 && lab_ok "preserved lab-crash destroyed"
else
    lab_bad "rxl create lab-crash failed"
fi

# 4. on_reboot="rename-restart": the old domain stays under a new name, a new one boots
if rxl_boot /lab/guests/pv.cfg lab-rr PV "$HOLD" 'on_reboot="rename-restart"'; then
    old=$(lab_domid lab-rr)
    wait_xenbus lab-rr || lab_bad "lab-rr xenbus not up"
    rxl reboot lab-rr
    if new=$(wait_new_domid lab-rr "$old" 120); then
        lab_ok "rename-restart: new lab-rr is domain $new"
        oldname=$(xenstore-read "/local/domain/$old/name" 2>/dev/null)
        case "$oldname" in lab-rr-*) lab_ok "old domain $old renamed to $oldname";; *) lab_bad "old domain name '$oldname'";; esac
        rxl destroy "$old"
    else
        lab_bad "lab-rr did not come back"; xl list
    fi
    rxl destroy lab-rr; lab_wait_gone lab-rr 30
fi
xl list
lab_done
