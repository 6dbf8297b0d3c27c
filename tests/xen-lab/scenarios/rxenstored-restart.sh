# rxenstored restarted under a running PV guest, as an admin upgrading it would: SIGTERM (the tree,
# the domains and every ring's watches go to the state file), start again (reload, rings mapped
# again from the domain table), and the guest's xenbus keeps working without knowing: `xl list`
# still sees it, and `xl shutdown -w` -- which only works if the guest's watch on
# control/shutdown survived and its ring and event channel are served again -- shuts it down;
# `xl destroy` then removes it (xl's own monitor, a socket client, lost its connection in the
# restart like every socket client). dom0's own ring is re-attached the same way.
# xen-lab xenstored: rxenstored
# xen-lab timeout: 480
# xen-lab needs: rxenstored
. /lab/lib.sh
# The guest's xenbus is up (and has registered its watches) before the restart.
lab_rxenstored_guest "before the restart"
grep -m1 'io_loop=' /tmp/xenstored.log
pid=$(cat /run/xenstored.pid)
kill -TERM "$pid"
lab_secs; end=$((LAB_S + 30))
while [ -d "/proc/$pid" ] && [ "$LAB_S" -lt "$end" ]; do sleep 0.2; lab_secs; done
if [ -d "/proc/$pid" ]; then lab_fail "rxenstored (pid $pid) still running 30 s after SIGTERM"; fi
if grep -q 'state saved' /tmp/xenstored.log; then lab_ok "rxenstored saved its state on SIGTERM"
else tail -20 /tmp/xenstored.log; lab_bad "no 'state saved' in rxenstored's log"; fi
echo "----- restart -----" >> /tmp/xenstored.log
RUST_LOG=info rxenstored >> /tmp/xenstored.log 2>&1 &
echo $! > /run/xenstored.pid
lab_secs; end=$((LAB_S + 60))
until timeout 3 xenstore-ls / > /dev/null 2>&1; do
    lab_secs; [ "$LAB_S" -lt "$end" ] || { tail -30 /tmp/xenstored.log; lab_fail "restarted rxenstored does not answer within 60 s"; }
    sleep 1
done
after=$(sed -n '/----- restart -----/,$p' /tmp/xenstored.log)
echo "$after" | head -20
if echo "$after" | grep -q 'state reloaded'; then lab_ok "the restarted rxenstored reloaded its state"
else lab_bad "no 'state reloaded' after the restart"; fi
if echo "$after" | grep -q "ring attached.*domid=$domid"; then lab_ok "lab-pv's ring (domid $domid) attached again"
else lab_bad "lab-pv's ring (domid $domid) not attached again"; fi
if echo "$after" | grep -q 'ring attached.*domid=0'; then lab_ok "dom0's own ring attached again"
else lab_bad "dom0's own ring not attached again"; fi
lab_eq "lab-pv's name read from the restarted daemon" "$(xenstore-read "/local/domain/$domid/name")" lab-pv
if xl list lab-pv; then lab_ok "xl list still shows lab-pv"; else lab_bad "xl list lab-pv failed after the restart"; fi
# The guest's watch on control/shutdown was registered before the restart: only the restored watch
# can tell it about this request.
if out=$(timeout 60 xl shutdown -w lab-pv 2>&1); then
    echo "$out"
    lab_ok "xl shutdown -w lab-pv: the guest heard the request over its re-attached ring"
else
    echo "$out"; lab_show_stuck lab-pv "$domid"
    lab_bad "xl shutdown -w lab-pv failed or took over 60 s after the restart"
fi
# on_poweroff=destroy is applied by the `xl create` monitor process, a socket client whose
# connection the restart closed (as it closes every socket client's): the domain stays shut down
# until an admin destroys it.
xl list lab-pv
if xl destroy lab-pv && lab_wait_gone lab-pv 30; then lab_ok "lab-pv destroyed and gone"
else lab_bad "lab-pv still exists after xl destroy"; fi
# xenconsoled lost its connection the same way and no longer serves consoles: restart it, as an
# admin does after a plain restart (live update keeps it; see rxenstored-live-update), so that
# later scenarios of this boot can create guests.
kill "$(cat /run/xenconsoled.pid)" 2>/dev/null
sleep 0.5
if xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console &&
    sleep 0.5 && [ -d "/proc/$(cat /run/xenconsoled.pid)" ]; then
    lab_ok "xenconsoled restarted against the restarted rxenstored"
else lab_bad "xenconsoled did not start again"; fi
echo "----- rxenstored log (last 20 lines) -----"; tail -20 /tmp/xenstored.log
lab_done
