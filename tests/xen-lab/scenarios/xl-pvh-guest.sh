# Debian's real `xl create` boots the PVH lab guest (tsc_mode="native") to its marker; the guest's
# xenbus works and `xl shutdown -w` stops it through xenbus.
# xen-lab timeout: 480
. /lab/lib.sh
lab_need_toolstack
lab_boot_guest /lab/guests/pvh.cfg lab-pvh PVH 'cmdline="console=hvc0 rdinit=/init xenlab.hold"' || lab_done
lab_guest_xenbus_and_shutdown lab-pvh
lab_done
