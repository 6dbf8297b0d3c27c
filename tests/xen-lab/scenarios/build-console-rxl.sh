# rxl's own PV console backend: with no xenconsoled running, `rxl create` marks the console
# `type=rxl` and the domain's monitor serves it: `rxl create -c` shows the boot from the kernel
# banner to the marker, the monitor logs the console where xenconsoled would, `rxl console` attaches
# over the monitor's socket (the first attach gets what the guest printed before), and the socket
# goes away with the domain. xenconsoled is restarted at the end, whatever happened.
# xen-lab timeout: 360
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack

restart_xenconsoled() {
    pidof xenconsoled >/dev/null 2>&1 && return
    xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
}
trap restart_xenconsoled EXIT
kill "$(cat /run/xenconsoled.pid)" 2>/dev/null
lab_secs; end=$((LAB_S + 10))
while pidof xenconsoled >/dev/null 2>&1 && [ "$LAB_S" -lt "$end" ]; do sleep 0.2; lab_secs; done
if pidof xenconsoled >/dev/null 2>&1; then lab_fail "xenconsoled did not stop"; fi
lab_ok "xenconsoled stopped: rxl must serve the consoles itself"

# 1. create -c: attach from the start; returns once the guest powered off and was destroyed.
timeout 150 rxl create -c /lab/guests/pv.cfg 'name="lab-rc"' < /dev/null > c.out 2> c.err
rc=$?
lab_eq "rxl create -c exit status" "$rc" 0
if grep -q "$LAB_DOMU_MARK" c.out && grep -q "Linux version" c.out; then
    lab_ok "create -c showed the banner and the marker: $(grep -m1 "$LAB_DOMU_MARK" c.out | tr -d '\r')"
else
    lab_bad "create -c output lacks the banner or the marker"
    tail -c 1500 c.out; echo "--- stderr"; cat c.err
fi
lab_wait_gone lab-rc 30 || { lab_bad "lab-rc still exists"; rxl destroy lab-rc; }

# 2. a guest that stays up: type node, socket, log, attach.
if ! rxl create /lab/guests/pv.cfg 'name="lab-rh"' 'cmdline="console=hvc0 rdinit=/init xenlab.hold"'; then
    lab_fail "rxl create lab-rh failed"
fi
domid=$(lab_domid lab-rh)
lab_eq "console/type of an rxl-served domain" "$(xenstore-read "/local/domain/$domid/console/type")" rxl
lab_secs; end=$((LAB_S + 120))
until grep -q "$LAB_DOMU_MARK" "$LAB_CONSOLE_DIR/guest-lab-rh.log" 2>/dev/null || [ "$LAB_S" -ge "$end" ]; do
    sleep 0.5; lab_secs
done
if grep -q "$LAB_DOMU_MARK" "$LAB_CONSOLE_DIR/guest-lab-rh.log" 2>/dev/null; then
    lab_ok "the monitor logged the console to $LAB_CONSOLE_DIR/guest-lab-rh.log, marker included"
else
    lab_bad "no marker in the monitor's console log"; ls -l "$LAB_CONSOLE_DIR"
fi
sock=/run/rxl/xen/console/$domid.sock
[ -S "$sock" ] && lab_ok "console socket $sock exists" || lab_bad "no console socket $sock"
timeout 5 rxl console lab-rh < /dev/null > a.out 2> a.err
if grep -q "$LAB_DOMU_MARK" a.out; then
    lab_ok "rxl console (first attach) replayed the boot up to the marker"
else
    lab_bad "rxl console showed no marker"; tail -c 800 a.out; cat a.err
fi
if timeout 60 rxl shutdown -w lab-rh; then lab_ok "rxl shutdown -w lab-rh"; else lab_bad "rxl shutdown -w lab-rh failed"; fi
lab_wait_gone lab-rh 30 || { lab_bad "lab-rh still exists"; rxl destroy lab-rh; }
sleep 1
[ ! -e "$sock" ] && lab_ok "the console socket went away with the domain" || lab_bad "$sock outlived its domain"
lab_done
