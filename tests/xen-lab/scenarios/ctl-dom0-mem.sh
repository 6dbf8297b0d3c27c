# rxl mem-set/mem-max on dom0 match xl: the balloon target in xenstore, the hypervisor ceiling
# (target + 1 MiB, xl's enforce mode), dom0 reaching the target; libxl's limits refused clearly.
# xen-lab timeout: 300
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack
lab_need_bin rxl

# rxl dom0-mem: the boot setting as Xen saw it, autoballoon, and contradictions.
rxl dom0-mem > rep.txt 2>&1 || lab_bad "rxl dom0-mem failed: $(cat rep.txt)"
cat rep.txt
lab_eq "dom0-mem boot line" "$(grep '^dom0_mem' rep.txt)" \
    "dom0_mem (boot)     : $LAB_DOM0_MEM (initial $LAB_DOM0_MEM_MIB MiB, max $LAB_DOM0_MEM_MIB MiB)"
lab_eq "dom0-mem autoballoon without xl.conf" "$(grep '^autoballoon' rep.txt)" \
    "autoballoon         : auto (default, effective: off)"
lab_eq "dom0-mem current = xl list Mem" "$(rxl dom0-mem --json | jq '.facts.current_kib / 1024 | floor')" \
    "$(xl list 0 | awk 'NR == 2 { print $3 }')"
if grep -q '^warning' rep.txt; then lab_bad "warnings on a consistent set-up"; else lab_ok "no warnings on dom0_mem fixed + autoballoon auto"; fi
mkdir -p /etc/xen
printf '# lab\nautoballoon="on"\n' > /etc/xen/xl.conf
rxl dom0-mem > rep.txt 2>&1
cat rep.txt
case "$(grep '^warning' rep.txt)" in
    *"autoballoon is on (/etc/xen/xl.conf:2)"*) lab_ok "dom0_mem fixed + autoballoon on: warned";;
    *) lab_bad "no contradiction warning for autoballoon=on";;
esac
printf 'autoballoon="sometimes"\n' > /etc/xen/xl.conf
if rxl dom0-mem > rep.txt 2> err.txt; then lab_bad "bad autoballoon accepted"; else lab_ok "bad xl.conf: $(cat err.txt)"; fi
rm -f /etc/xen/xl.conf

maxkib() { rxl list --json 0 | jq '.[0].info.max_pages * 4'; }
xl mem-set 0 640 || lab_bad "xl mem-set 0 640 failed"
xl_target=$(xenstore-read /local/domain/0/memory/target)
xl_max=$(maxkib)
lab_eq "xl mem-set 0 640: target" "$xl_target" 655360
lab_eq "xl mem-set 0 640: max_mem (target + 1024)" "$xl_max" 656384

out=$(rxl mem-set 0 512 --wait 90) || lab_bad "rxl mem-set 0 512 failed"
echo "$out"
lab_eq "rxl mem-set 0 512: target" "$(xenstore-read /local/domain/0/memory/target)" 524288
lab_eq "rxl mem-set 0 512: max_mem (target + 1024)" "$(maxkib)" 525312
case "$out" in *", reached: "*) lab_ok "dom0 reached 512 MiB";; *) lab_bad "dom0 did not reach 512 MiB: $out";; esac
lab_eq "rxl list Mem = xl list Mem" "$(rxl list 0 | awk 'NR == 2 { print $3 }')" "$(xl list 0 | awk 'NR == 2 { print $3 }')"

# libxl's limits, refused with one line.
if rxl mem-set 0 100 2> err.txt; then lab_bad "rxl mem-set 0 100 (below 128 MiB) succeeded"; else lab_ok "refused: $(cat err.txt)"; fi
if rxl mem-set 0 4096 2> err.txt; then lab_bad "rxl mem-set 0 4096 (above static-max) succeeded"; else lab_ok "refused: $(cat err.txt)"; fi
if rxl mem-set 0 12XB 2> err.txt; then lab_bad "rxl mem-set 0 12XB succeeded"; else lab_ok "refused: $(cat err.txt)"; fi
lab_eq "target unchanged by refused calls" "$(xenstore-read /local/domain/0/memory/target)" 524288

xl mem-max 0 700 || lab_bad "xl mem-max 0 700 failed"
xl_smax=$(xenstore-read /local/domain/0/memory/static-max); xl_max=$(maxkib)
rxl mem-max 0 690 || lab_bad "rxl mem-max 0 690 failed"
lab_eq "xl mem-max 0 700: static-max" "$xl_smax" 716800
lab_eq "rxl mem-max 0 690: static-max" "$(xenstore-read /local/domain/0/memory/static-max)" 706560
lab_eq "rxl mem-max sets the ceiling like xl (xl: $xl_max for 700 MiB)" "$(maxkib)" $((xl_max - 10240))
if rxl mem-max 0 256 2> err.txt; then lab_bad "rxl mem-max below the target succeeded"; else lab_ok "refused: $(cat err.txt)"; fi

# And back up (the balloon returns pages).
out=$(rxl mem-set 0 600 --wait 90) || lab_bad "rxl mem-set 0 600 failed"
echo "$out"
case "$out" in *", reached: "*) lab_ok "dom0 grew back to 600 MiB";; *) lab_bad "dom0 did not grow to 600 MiB: $out";; esac

# Leave dom0 as booted for the scenarios after this one: ceiling and size back to dom0_mem.
rxl mem-max 0 "$LAB_DOM0_MEM_MIB" || lab_bad "rxl mem-max 0 $LAB_DOM0_MEM_MIB failed"
out=$(rxl mem-set 0 "$LAB_DOM0_MEM_MIB" --wait 90) || lab_bad "rxl mem-set 0 $LAB_DOM0_MEM_MIB failed"
echo "$out"
case "$out" in *", reached: "*) lab_ok "dom0 back at its boot size $LAB_DOM0_MEM_MIB MiB";; *) lab_bad "dom0 did not return to $LAB_DOM0_MEM_MIB MiB: $out";; esac
lab_done
