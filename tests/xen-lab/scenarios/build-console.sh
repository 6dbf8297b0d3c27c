# `rxl create -c`: the console attaches right after the build, shows the guest's boot output with its
# marker, and returns by itself once the guest has powered off and its monitor destroyed it
# (on_poweroff="destroy"), as `xl create -c` does.
# xen-lab timeout: 300
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack

lab_now_ns; c0=$LAB_NS
timeout 150 rxl create -c /lab/guests/pv.cfg 'name="lab-pv-c"' < /dev/null > console.out 2> create.err
rc=$?
lab_now_ns
echo "rxl create -c returned $rc after $(((LAB_NS - c0) / 1000000)) ms"
if grep -q "$LAB_DOMU_MARK" console.out; then
    lab_ok "rxl create -c showed the guest's marker: $(grep -m1 "$LAB_DOMU_MARK" console.out | tr -d '\r')"
else
    lab_bad "rxl create -c: no marker in its output"
    echo "----- stdout (tail) -----"; tail -c 2000 console.out; echo "----- stderr -----"; cat create.err
fi
# The kernel's first lines are there too: the console was attached before the guest got far.
if grep -q "Linux version" console.out; then lab_ok "the output starts at the guest kernel's banner"
else lab_bad "no 'Linux version' banner in the output: attached too late?"; fi
lab_eq "rxl create -c exit status (returns by itself when the guest is gone)" "$rc" 0
lab_wait_gone lab-pv-c 30 && lab_ok "lab-pv-c is gone" || { lab_bad "lab-pv-c still exists"; rxl destroy lab-pv-c; }
lab_done
