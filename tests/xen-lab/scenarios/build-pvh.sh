# `rxl create` boots the PVH lab guest (tsc_mode="native") to its marker with rxl's own builder:
# HVM container, e820, HVM params for the rings, hvm_start_info, vCPU at XEN_ELFNOTE_PHYS32_ENTRY;
# its xenbus comes up and `rxl destroy` removes it without leftovers.
# xen-lab timeout: 600
# xen-lab needs: rxl
BUILD_HELPERS_ONLY=1 . /lab/scenarios/build-pv.sh
lab_need_toolstack
if rxl_boot /lab/guests/pvh.cfg lab-pvh PVH 'cmdline="console=hvc0 rdinit=/init xenlab.hold"'; then
    rxl_check_running lab-pvh
fi
xl list
rxl_destroy_clean lab-pvh

lab_done
