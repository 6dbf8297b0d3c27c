# rxenstored live-updated under a running PV guest: SIGHUP, then Xen's own `xenstore-control
# live-update`, each re-executing the binary in the same process with every socket connection
# handed over. Proves the socket clients never noticed: xenconsoled (a socket client) is still
# running and still logs the guest's console (the guest's answer to `xl sysrq`, which also needs
# the guest's xenbus watch on control/sysrq, carried with its ring), `xl shutdown -w` works, and
# the domain is then DESTROYED by the monitor process of `xl create` (on_poweroff=destroy): that
# monitor's connection and its @releaseDomain watch date from before the updates.
# xen-lab xenstored: rxenstored
# xen-lab timeout: 300
# xen-lab needs: rxenstored
. /lab/lib.sh
lab_rxenstored_guest "before the update"
grep -m1 'io_loop=' /tmp/xenstored.log
pid=$(cat /run/xenstored.pid)
cpid=$(cat /run/xenconsoled.pid)
echo "rxenstored pid $pid, xenconsoled pid $cpid, socket fds before: $(ls -l /proc/$pid/fd | grep -c socket)"

# wait_updated N: waits up to 30 s for the N-th "live update: resumed" in the daemon's log.
wait_updated() {
    lab_secs; end=$((LAB_S + 30))
    while [ "$(grep -c 'live update: resumed' /tmp/xenstored.log)" -lt "$1" ]; do
        lab_secs; [ "$LAB_S" -lt "$end" ] || return 1
        sleep 0.2
    done
}

kill -HUP "$pid"
if wait_updated 1; then lab_ok "SIGHUP: rxenstored re-executed and resumed"
else tail -30 /tmp/xenstored.log; lab_fail "no 'live update: resumed' within 30 s of SIGHUP"; fi
if command -v xenstore-control > /dev/null; then
    if out=$(timeout 60 xenstore-control live-update "$(command -v rxenstored)" 2>&1); then
        lab_ok "xenstore-control live-update $(command -v rxenstored): answered OK${out:+ ($out)}"
    else
        echo "$out"; tail -20 /tmp/xenstored.log; lab_bad "xenstore-control live-update failed"
    fi
    wait_updated 2 || lab_bad "no second 'live update: resumed' after xenstore-control"
else
    echo "xenstore-control is not in this dom0: the second update is skipped"
fi
grep 'live update\|ring attached\|resumed' /tmp/xenstored.log | tail -12
[ -d "/proc/$pid" ] && lab_eq "rxenstored still runs as pid $pid" "$(cat /proc/$pid/comm)" rxenstored
echo "socket fds after: $(ls -l /proc/$pid/fd | grep -c socket)"
after=$(sed -n '/live update: resumed/,$p' /tmp/xenstored.log)
if echo "$after" | grep -q "ring attached.*domid=$domid"; then lab_ok "lab-pv's ring (domid $domid) attached again"
else lab_bad "lab-pv's ring (domid $domid) not attached again"; fi
if [ -d "/proc/$cpid" ]; then lab_ok "xenconsoled (pid $cpid) still runs"
else lab_bad "xenconsoled (pid $cpid) exited during the live update"; fi

# The guest prints sysrq's help on its console: xenconsoled must still be logging it.
log=$LAB_CONSOLE_DIR/guest-lab-pv.log
before=$(grep -c 'sysrq' "$log" 2>/dev/null)
xl sysrq lab-pv h
got=0; lab_secs; end=$((LAB_S + 30))
while [ "$LAB_S" -lt "$end" ]; do
    [ "$(grep -c 'sysrq' "$log" 2>/dev/null)" -gt "$before" ] && { got=1; break; }
    sleep 0.5; lab_secs
done
if [ "$got" = 1 ]; then lab_ok "xenconsoled logged lab-pv's console after the update: $(grep 'sysrq' "$log" | tail -1 | cut -c1-60)"
else lab_show_console lab-pv; lab_bad "no sysrq output in lab-pv's console log within 30 s of xl sysrq"; fi

if out=$(timeout 60 xl shutdown -w lab-pv 2>&1); then
    echo "$out"; lab_ok "xl shutdown -w lab-pv after the update"
else
    echo "$out"; lab_show_stuck lab-pv "$domid"; lab_bad "xl shutdown -w lab-pv failed or took over 60 s"
fi
# Nobody destroys it but the monitor of `xl create`, whose connection predates the updates.
if lab_wait_gone lab-pv 30; then
    lab_ok "lab-pv destroyed by xl's own monitor (on_poweroff=destroy): its connection survived"
else
    xl list -v lab-pv
    lab_bad "lab-pv still exists 30 s after shutting down: xl's monitor lost its connection"
    xl destroy lab-pv
fi
echo "----- rxenstored log (last 20 lines) -----"; tail -20 /tmp/xenstored.log
lab_done
