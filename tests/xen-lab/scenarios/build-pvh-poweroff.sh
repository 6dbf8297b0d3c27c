# A PVH guest built by `rxl create` powers itself off after its marker, and on_poweroff="destroy"
# removes it. Linux finds its vCPUs and platform in the ACPI tables rxl builds (as libxl does) and
# powers off by halting every vCPU with interrupts masked, which Xen turns into SHUTDOWN_poweroff.
# xen-lab timeout: 300
# xen-lab needs: rxl
BUILD_HELPERS_ONLY=1 . /lab/scenarios/build-pv.sh
lab_need_toolstack
if rxl_boot /lab/guests/pvh.cfg lab-pvh-off PVH; then
    if lab_wait_gone lab-pvh-off 60; then lab_ok "lab-pvh-off powered itself off and is gone"
    else
        lab_bad "lab-pvh-off did not power off (state $(xl list lab-pvh-off | awk 'NR==2 {print $5}'))"
        lab_show_stuck lab-pvh-off "$(lab_domid lab-pvh-off)"
        rxl destroy lab-pvh-off
    fi
fi
lab_done
