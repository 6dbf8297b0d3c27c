# dom0 runs rxl's rxenstored instead of the C xenstored: xen-init-dom0 and xenconsoled work against
# it, and Debian's real `xl create` starts a PV guest whose xenbus comes up over its ring (the guest
# kernel publishes control/feature-poweroff), whose console works, and which `xl shutdown -w` stops.
# xen-lab xenstored: rxenstored
# xen-lab timeout: 420
# xen-lab needs: rxenstored
. /lab/lib.sh
state=$(cat /run/lab/toolstack)
pid=$(cat /run/xenstored.pid 2>/dev/null)
# Ring support means the daemon holds /dev/xen/evtchn open (dom0's and the guests' event channels).
rings=no alive=no
[ -n "$pid" ] && [ -d "/proc/$pid" ] && alive=yes
if [ $alive = yes ]; then
    for fd in /proc/"$pid"/fd/*; do
        [ "$(readlink "$fd")" = /dev/xen/evtchn ] && rings=yes
    done
fi
echo "rxenstored pid=${pid:-none} alive=$alive evtchn=$rings toolstack=$state"
if [ $alive = no ]; then
    echo "----- rxenstored log (last 40 lines) -----"; tail -40 /tmp/xenstored.log
    lab_fail "rxenstored is not running in dom0 (exited at start?)"
fi
if [ $rings = no ]; then
    echo "----- rxenstored log (last 40 lines) -----"; tail -40 /tmp/xenstored.log
    lab_skip "rxenstored has no ring support yet (it holds no /dev/xen/evtchn open; toolstack: $state)"
fi
if [ "$state" != up ]; then
    echo "----- rxenstored log (last 40 lines) -----"; tail -40 /tmp/xenstored.log
    lab_fail "dom0 toolstack on rxenstored: $state"
fi
lab_ok "xen-init-dom0 and xenconsoled run against rxenstored"
lab_eq "dom0 name in rxenstored" "$(xenstore-read /local/domain/0/name)" Domain-0
lab_boot_guest /lab/guests/pv.cfg lab-pv PV 'cmdline="console=hvc0 rdinit=/init xenlab.hold"' || lab_done
lab_guest_xenbus_and_shutdown lab-pv
echo "----- rxenstored log (last 20 lines) -----"; tail -20 /tmp/xenstored.log
lab_done
