# rxl's control verbs print what Debian's xl prints in the same dom0: info, list, domid, domname,
# vcpu-list, uptime, dmesg; and fail with one clear message on an unknown domain.
# xen-lab timeout: 300
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack
lab_need_bin rxl

# --- info: every line equal; free_memory may move by a few MiB between the two calls.
xl info > xl-info.txt 2>&1 || lab_fail "xl info failed: $(cat xl-info.txt)"
rxl info > rxl-info.txt 2> rxl-info.err || { cat rxl-info.err; lab_fail "rxl info failed"; }
grep -v '^free_memory' xl-info.txt > a.txt
grep -v '^free_memory' rxl-info.txt > b.txt
if diff a.txt b.txt > info.diff; then
    lab_ok "rxl info = xl info ($(wc -l < a.txt) lines besides free_memory)"
else
    cat info.diff
    lab_bad "rxl info differs from xl info"
fi
xf=$(awk -F' *: ' '$1 == "free_memory" { print $2 }' xl-info.txt)
rf=$(awk -F' *: ' '$1 == "free_memory" { print $2 }' rxl-info.txt)
if [ -n "$rf" ] && [ $((xf - rf)) -le 8 ] && [ $((rf - xf)) -le 8 ]; then
    lab_ok "free_memory: xl $xf, rxl $rf MiB"
else
    lab_bad "free_memory: xl '$xf', rxl '$rf'"
fi
lab_eq "rxl info xen_version (selector)" "$(rxl info xen_version)" "$(xl info xen_version)"
lab_eq "rxl info --json nr_cpus" "$(rxl info --json | jq .phys.nr_cpus)" "$LAB_SMP"

# --- list: same rows; the Time(s) column (last) keeps running.
xl list > xl-list.txt && rxl list > rxl-list.txt || lab_fail "list failed"
cat rxl-list.txt
lab_eq "rxl list header" "$(head -1 rxl-list.txt)" "$(head -1 xl-list.txt)"
cut -c1-71 xl-list.txt > a.txt
cut -c1-71 rxl-list.txt > b.txt
if diff a.txt b.txt; then lab_ok "rxl list rows = xl list rows (name, id, mem, vcpus, state)"; else lab_bad "rxl list differs"; fi
lab_eq "rxl list Domain-0" "$(rxl list Domain-0 | tail -1 | cut -c1-71)" "$(xl list Domain-0 | tail -1 | cut -c1-71)"
lab_eq "rxl list -v columns" "$(rxl list -v | head -1)" "$(xl list -v | head -1)"
lab_eq "rxl list -v UUID of dom0" "$(rxl list -v 0 | tail -1 | awk '{ print $7, $8 }')" "$(xl list -v 0 | tail -1 | awk '{ print $7, $8 }')"
lab_eq "rxl list --json dom0 name" "$(rxl list --json 0 | jq -r '.[0].name')" "Domain-0"

# --- domid / domname.
lab_eq "rxl domid Domain-0" "$(rxl domid Domain-0)" "$(xl domid Domain-0)"
lab_eq "rxl domname 0" "$(rxl domname 0)" "$(xl domname 0)"

# --- vcpu-list: same rows; drop the time column (it runs) and CPU/state (they move).
xl vcpu-list > xl-vcpu.txt && rxl vcpu-list > rxl-vcpu.txt || lab_fail "vcpu-list failed"
cat rxl-vcpu.txt
lab_eq "rxl vcpu-list header" "$(head -1 rxl-vcpu.txt)" "$(head -1 xl-vcpu.txt)"
lab_eq "rxl vcpu-list rows" "$(awk 'NR > 1 { print $1, $2, $3, $NF, $(NF-1), $(NF-2) }' rxl-vcpu.txt)" \
    "$(awk 'NR > 1 { print $1, $2, $3, $NF, $(NF-1), $(NF-2) }' xl-vcpu.txt)"

# --- uptime: same rows, seconds may tick.
xl uptime > xl-up.txt && rxl uptime > rxl-up.txt || lab_fail "uptime failed"
cat rxl-up.txt
lab_eq "rxl uptime header+names" "$(awk '{ print $1, $2 }' rxl-up.txt)" "$(awk '{ print $1, $2 }' xl-up.txt)"
xs=$(awk 'NR == 2 { split($3, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3] }' xl-up.txt)
rs=$(awk 'NR == 2 { split($3, t, ":"); print t[1] * 3600 + t[2] * 60 + t[3] }' rxl-up.txt)
if [ -n "$rs" ] && [ $((rs - xs)) -ge 0 ] && [ $((rs - xs)) -le 3 ]; then
    lab_ok "dom0 uptime: xl ${xs}s, rxl ${rs}s"
else
    lab_bad "dom0 uptime: xl '$xs', rxl '$rs'"
fi

# --- dmesg: what xl read is a prefix of what rxl reads just after (the ring only grows here).
xl dmesg > xl-dmesg.txt && rxl dmesg > rxl-dmesg.txt || lab_fail "dmesg failed"
n=$(wc -c < xl-dmesg.txt)
if [ "$n" -gt 1000 ] && [ "$(head -c "$n" rxl-dmesg.txt | md5sum)" = "$(md5sum < xl-dmesg.txt)" ]; then
    lab_ok "rxl dmesg starts with xl dmesg's $n bytes (rxl: $(wc -c < rxl-dmesg.txt))"
else
    lab_bad "rxl dmesg differs from xl dmesg (xl $n bytes, rxl $(wc -c < rxl-dmesg.txt))"
    diff xl-dmesg.txt rxl-dmesg.txt | head -20
fi

# --- unknown domains: exit 1 and one line naming the domain.
for verb in "domid no-such-dom" "list no-such-dom" "pause no-such-dom" "unpause no-such-dom" "destroy no-such-dom" "vcpu-list no-such-dom" "domname 4242"; do
    # shellcheck disable=SC2086
    if rxl $verb > out.txt 2> err.txt; then
        lab_bad "rxl $verb succeeded"
    else
        rc=$?
        msg=$(cat err.txt)
        case "$msg" in
            *no-such-dom*|*4242*) [ "$(wc -l < err.txt)" = 1 ] && [ "$rc" = 1 ] \
                && lab_ok "rxl $verb: rc=$rc: $msg" || lab_bad "rxl $verb: rc=$rc, $(wc -l < err.txt) lines: $msg";;
            *) lab_bad "rxl $verb: message does not name the domain: $msg";;
        esac
    fi
done
lab_done
