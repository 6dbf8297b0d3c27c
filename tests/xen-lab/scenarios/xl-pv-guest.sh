# Debian's real `xl create` boots the PV lab guest to its marker; the guest's xenbus works (it
# publishes control/feature-poweroff) and `xl shutdown -w` stops it through xenbus.
# xen-lab timeout: 420
. /lab/lib.sh
lab_need_toolstack
# xenlab.hold keeps the guest up after its marker, so it can be inspected and shut down.
lab_boot_guest /lab/guests/pv.cfg lab-pv PV 'cmdline="console=hvc0 rdinit=/init xenlab.hold"' || lab_done
lab_guest_xenbus_and_shutdown lab-pv
lab_done
