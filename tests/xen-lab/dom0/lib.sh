# Helpers for lab scenarios; every scenario starts with `. /lab/lib.sh`. Runs in dom0's busybox sh.
# Exit protocol of a scenario: 0 pass, 77 skip (lab_skip prints why), anything else fail.
# shellcheck shell=sh

# What the boot was built with (dom0 memory, CPUs, xenstore daemon): LAB_* variables.
. /lab/boot.env

LAB_CONSOLE_DIR=/var/log/xen/console
# The line a lab domU prints once booted (assembled so that this text itself never matches).
LAB_DOMU_MARK="DOMU""-READY"
LAB_FAILS=0
LAB_CHECKS=0

lab_log() { echo "[$LAB_SCENARIO $(cut -d' ' -f1 /proc/uptime)] $*"; }

# Stop the scenario as skipped; the reason is printed and shown in the runner's report.
lab_skip() { echo "SKIP: $*"; exit 77; }

# Stop the scenario as failed.
lab_fail() { echo "FAIL: $*"; exit 1; }

# Records one assertion: lab_ok "what was checked" / lab_bad "what went wrong".
lab_ok() { LAB_CHECKS=$((LAB_CHECKS + 1)); echo "ok: $*"; }
lab_bad() { LAB_CHECKS=$((LAB_CHECKS + 1)); LAB_FAILS=$((LAB_FAILS + 1)); echo "FAIL: $*"; }

# lab_eq WHAT GOT WANT: records whether GOT equals WANT.
lab_eq() {
    if [ "$2" = "$3" ]; then lab_ok "$1 = $2"; else lab_bad "$1: got '$2', want '$3'"; fi
}

# Ends the scenario: exit 1 when any lab_bad was recorded, and refuses a scenario that checked nothing.
lab_done() {
    [ "$LAB_CHECKS" -gt 0 ] || lab_fail "the scenario recorded no checks"
    echo "$((LAB_CHECKS - LAB_FAILS))/$LAB_CHECKS checks passed"
    [ "$LAB_FAILS" = 0 ] || exit 1
    exit 0
}

# Fails unless dom0's xenstored, xen-init-dom0 and xenconsoled came up.
lab_need_toolstack() {
    state=$(cat /run/lab/toolstack 2>/dev/null)
    [ "$state" = up ] || lab_fail "the dom0 toolstack is not up: ${state:-unknown}"
}

# Skips unless PROGRAM is on PATH (rxl binaries live in /opt/rxl/bin).
lab_need_bin() {
    command -v "$1" >/dev/null 2>&1 || lab_skip "$1 is not in this dom0 (not built yet?)"
}

# Sets LAB_NS to a monotonic nanosecond clock without forking (/proc/timer_list's "now at N nsecs";
# /proc/uptime, 10 ms steps, where that file is missing).
lab_now_ns() {
    if [ -r /proc/timer_list ]; then
        { read -r _ ; read -r _ ; read -r _ _ LAB_NS _ ; } < /proc/timer_list
    else
        read -r LAB_NS _ < /proc/uptime
        LAB_NS=$(echo "$LAB_NS" | awk '{ printf "%d", $1 * 1e9 }')
    fi
}

# lab_bench LABEL N COMMAND...: runs COMMAND N times (output discarded), prints every run's wall time
# in ms and one summary line "BENCH label=... n=N min_ms= median_ms= mean_ms= max_ms=" that the
# runner collects into work/bench.txt. Returns 1 when any run failed (the first failure's output is
# printed).
lab_bench() {
    label=$1 n=$2
    shift 2
    i=0 times="" brc=0
    while [ $i -lt "$n" ]; do
        lab_now_ns; t0=$LAB_NS
        if ! "$@" > /tmp/lab-bench.out 2>&1; then
            [ $brc = 1 ] || { echo "bench $label: run $((i + 1)) of '$*' failed:"; tail -5 /tmp/lab-bench.out; }
            brc=1
        fi
        lab_now_ns
        times="$times $((LAB_NS - t0))"
        i=$((i + 1))
    done
    echo "$times" | tr ' ' '\n' | grep . | sort -n | awk -v label="$label" -v cmd="$*" -v rc=$brc '
        { v[NR] = $1 / 1e6; sum += v[NR] }
        END {
            runs = ""; for (i = 1; i <= NR; i++) runs = runs sprintf("%s%.3f", i > 1 ? "," : "", v[i])
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "BENCH label=%s n=%d min_ms=%.3f median_ms=%.3f mean_ms=%.3f max_ms=%.3f failed=%d cmd=\"%s\" sorted_ms=%s\n",
                label, NR, v[1], med, sum / NR, v[NR], rc, cmd, runs
        }'
    return $brc
}

# Sets LAB_S to dom0's uptime in whole seconds, without forking. Waits use deadlines on it: under
# TCG every fork costs tens of ms, so counting loop rounds would stretch a "60 s" wait to minutes.
lab_secs() {
    read -r LAB_S _ < /proc/uptime
    LAB_S=${LAB_S%.*}
}

# lab_crashed RC: true when RC is a process killed by SIGSEGV (139) or SIGABRT (134). In this
# nested-TCG lab any process occasionally dies of memory corruption it did not cause (seen in
# busybox, Debian's xl -- "malloc(): unsorted double linked list corrupted" -- and rxl alike);
# scenarios may retry such a run once, saying so with a WARN line.
lab_crashed() { [ "$1" = 139 ] || [ "$1" = 134 ]; }

# lab_domid NAME: prints the domain id of NAME (empty when there is no such domain).
lab_domid() { xl domid "$1" 2>/dev/null; }

# lab_wait_console NAME SECONDS: waits until domain NAME's console log (written by xenconsoled)
# holds the lab domU marker; prints that line. Returns 1 on timeout.
lab_wait_console() {
    log=$LAB_CONSOLE_DIR/guest-$1.log
    lab_secs; end=$((LAB_S + $2))
    while [ "$LAB_S" -lt "$end" ]; do
        if grep -q "$LAB_DOMU_MARK" "$log" 2>/dev/null; then
            grep -m1 "$LAB_DOMU_MARK" "$log"
            return 0
        fi
        sleep 0.2
        lab_secs
    done
    return 1
}

# lab_wait_gone NAME SECONDS: waits until no domain NAME exists. Returns 1 on timeout.
lab_wait_gone() {
    lab_secs; end=$((LAB_S + $2))
    while xl domid "$1" >/dev/null 2>&1; do
        [ "$LAB_S" -lt "$end" ] || return 1
        sleep 0.2
        lab_secs
    done
}

# lab_show_console NAME: prints the last lines of domain NAME's console log.
lab_show_console() {
    echo "----- console of $1 (last 40 lines) -----"
    tail -40 "$LAB_CONSOLE_DIR/guest-$1.log" 2>/dev/null || echo "(no console log)"
    echo "----- end console of $1 -----"
}

# lab_show_stuck NAME DOMID: what a guest that ignored a shutdown request looks like: its state,
# its control/ nodes, its console and Xen's last messages.
lab_show_stuck() {
    echo "----- $1 (domid $2) did not go away -----"
    xl list -v 2>&1
    xenstore-ls -f "/local/domain/$2/control" 2>&1
    xl vcpu-list "$1" 2>&1
    lab_show_console "$1"
    echo "----- xl dmesg (last 30 lines) -----"
    xl dmesg 2>&1 | tail -30
}

# lab_boot_guest CFG NAME TYPE [xl key=value...]: `xl create` of CFG, then waits for the domU marker
# and checks the guest type it reports (PV or PVH). Records checks; returns 1 when the guest did
# not come up.
lab_boot_guest() {
    cfg=$1 gname=$2 gtype=$3
    shift 3
    lab_now_ns; c0=$LAB_NS
    if ! xl -v create "$cfg" "$@"; then
        lab_bad "xl create $cfg failed"
        return 1
    fi
    lab_now_ns; c1=$LAB_NS
    lab_ok "xl create $cfg returned after $(((c1 - c0) / 1000000)) ms"
    if ! line=$(lab_wait_console "$gname" "${LAB_GUEST_WAIT:-180}"); then
        lab_bad "$gname printed no marker within ${LAB_GUEST_WAIT:-180} s"
        lab_show_console "$gname"
        return 1
    fi
    lab_now_ns
    lab_ok "$gname marker after $(((LAB_NS - c0) / 1000000)) ms from xl create: $line"
    case "$line" in
        *"guest_type=$gtype "*) lab_ok "$gname reports guest_type=$gtype";;
        *) lab_bad "$gname does not report guest_type=$gtype"; return 1;;
    esac
}

# lab_wait_xenbus DOMID: waits up to 60 s until the guest's kernel has its xenbus up — libxl creates
# control/feature-poweroff empty and Linux writes 1 there once xenbus works — and prints the value.
lab_wait_xenbus() {
    feat=""
    lab_secs; end=$((LAB_S + 60))
    while [ "$LAB_S" -lt "$end" ]; do
        feat=$(xenstore-read "/local/domain/$1/control/feature-poweroff" 2>/dev/null)
        [ "$feat" != 1 ] || break
        sleep 0.5
        lab_secs
    done
    echo "$feat"
}

# lab_rxenstored_guest WHEN: on a dom0 whose toolstack runs on rxenstored, boots the held PV guest
# lab-pv and checks that its xenbus is up (WHEN names the moment in the check); sets $domid. Ends
# the scenario, with rxenstored's log, if the toolstack or the guest did not come up.
lab_rxenstored_guest() {
    state=$(cat /run/lab/toolstack)
    if [ "$state" != up ]; then
        echo "----- rxenstored log (last 40 lines) -----"; tail -40 /tmp/xenstored.log
        lab_fail "dom0 toolstack on rxenstored: $state"
    fi
    if ! lab_boot_guest /lab/guests/pv.cfg lab-pv PV 'cmdline="console=hvc0 rdinit=/init xenlab.hold"'; then
        echo "----- rxenstored log (last 60 lines) -----"; tail -60 /tmp/xenstored.log
        lab_done
    fi
    domid=$(lab_domid lab-pv)
    [ -n "$domid" ] || lab_fail "no domain id for lab-pv"
    lab_eq "lab-pv xenbus up $1: control/feature-poweroff" "$(lab_wait_xenbus "$domid")" 1
}

# lab_guest_xenbus_and_shutdown NAME: checks that running guest NAME's kernel talks xenstore over its
# ring (Linux writes control/feature-poweroff once its xenbus is up), that `xl list` shows it, and
# that `xl shutdown -w` (a request the guest reads over xenbus) ends it.
lab_guest_xenbus_and_shutdown() {
    domid=$(lab_domid "$1")
    [ -n "$domid" ] || { lab_bad "no domain id for $1"; return 1; }
    if xl list "$1"; then lab_ok "xl list shows $1 (domid $domid)"; else lab_bad "xl list $1 failed"; fi
    lab_eq "$1 xenbus: control/feature-poweroff" "$(lab_wait_xenbus "$domid")" 1
    lab_now_ns; s0=$LAB_NS
    if timeout 60 xl shutdown -w "$1"; then
        lab_now_ns
        lab_ok "xl shutdown -w $1 returned after $(((LAB_NS - s0) / 1000000)) ms"
    else
        # Once in many CI runs a guest under nested TCG ignored the request (a lost upcall, by the
        # look of it); what it looked like is printed, and the request is sent once more, as an
        # admin would. A guest that ignores both requests fails the check.
        echo "WARN: $1 ignored the first shutdown request for 60 s; its state follows, then a second request"
        lab_show_stuck "$1" "$domid"
        lab_now_ns; s0=$LAB_NS
        if timeout 60 xl shutdown -w "$1"; then
            lab_now_ns
            lab_ok "xl shutdown -w $1 returned after $(((LAB_NS - s0) / 1000000)) ms (second request; see WARN)"
        else
            lab_bad "xl shutdown -w $1 failed or took over 60 s, twice"
            lab_show_stuck "$1" "$domid"
        fi
    fi
    if lab_wait_gone "$1" 30; then lab_ok "$1 is gone"; else lab_bad "$1 still exists after shutdown"; fi
}
