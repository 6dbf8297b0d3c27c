# rxenstored's fallback and failure paths on real Xen. With --map-by-frame the daemon skips gntdev
# (grant reference 1) and maps every guest's xenstore page by frame number through privcmd -- the
# path the C daemon falls back to when the grant is not set up. Checks: dom0's toolstack runs on it;
# an INTRODUCE whose page cannot be mapped (a domain that does not exist) is answered with an error
# and leaves no half-introduced domain; Debian's `xl create` then starts a PV guest whose xenbus
# comes up over the frame-mapped ring and which `xl shutdown -w` stops.
# xen-lab xenstored: rxenstored
# xen-lab xenstored-args: --map-by-frame
# xen-lab timeout: 420
# xen-lab needs: rxenstored rxenstore
. /lab/lib.sh
state=$(cat /run/lab/toolstack)
if [ "$state" != up ]; then
    echo "----- rxenstored log (last 40 lines) -----"; tail -40 /tmp/xenstored.log
    lab_fail "dom0 toolstack on rxenstored --map-by-frame: $state"
fi
lab_ok "xen-init-dom0 and xenconsoled run against rxenstored --map-by-frame"
# Domain 4242 does not exist: its page cannot be mapped, so INTRODUCE must fail, not answer OK.
if out=$(rxenstore introduce 4242 1 1 2>&1); then
    lab_bad "INTRODUCE of nonexistent domain 4242 answered OK"
else
    lab_ok "INTRODUCE of nonexistent domain 4242 fails: $out"
fi
lab_eq "domain 4242 is not half-introduced" "$(rxenstore is-introduced 4242)" F
lab_boot_guest /lab/guests/pv.cfg lab-pv PV 'cmdline="console=hvc0 rdinit=/init xenlab.hold"' || lab_done
if grep -q 'mapping the ring by frame' /tmp/xenstored.log; then
    lab_ok "the guest's ring was mapped by frame (privcmd), not by grant"
else
    lab_bad "no 'mapping the ring by frame' in rxenstored's log"
fi
lab_guest_xenbus_and_shutdown lab-pv
echo "----- rxenstored log (last 20 lines) -----"; tail -20 /tmp/xenstored.log
lab_done
