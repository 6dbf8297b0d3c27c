#!/usr/bin/env bash
# Benchmark: rxl-kvm vs QEMU microvm booting the same tiny PVH kernel (kvm-backend/guest/pvh.elf)
# on this host's /dev/kvm, 1 vCPU, 256 MiB, no network, each VMM with its default devices and
# again without the i8254 PIT (rxl-kvm --no-pit, QEMU -M microvm,pit=off), two guest workloads:
#   quiet: the guest prints GUEST-UP and powers off (~30 port exits; the peers' usual tiny guest)
#   full:  the guest's whole self-test (UART report, MMIO probe; ~250 port exits)
# Reports side by side (and the host's load average before and after): median wall time process start -> exit and mean CPU time (hyperfine -N,
# RUNS runs after WARMUP warm-ups), median peak RSS (GNU time %M over RSS_RUNS runs), and the
# creation rate (N VMs started at once; VMs per second until the last has exited).
# Usage: kvm-backend/bench/tiny-guest.sh [OUTDIR]   (env: RUNS=60 WARMUP=5 RSS_RUNS=15 N=20)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$(mktemp -d)}
RUNS=${RUNS:-60} WARMUP=${WARMUP:-5} RSS_RUNS=${RSS_RUNS:-15} N=${N:-20}
mkdir -p "$out"
if pgrep -f qemu-system >/dev/null; then
  echo "note: another QEMU is running on this host; numbers will be noisy" >&2
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
(cd "$root" && cargo build --release --locked -p rxl-kvm >&2)
bin=${CARGO_TARGET_DIR:-$root/target}/release/rxl-kvm
"$root/kvm-backend/guest/build.sh" "$out/guest" >&2
k=$out/guest/pvh.elf
rxl() { echo "$bin --kernel $k --memory 256 --cmdline $1 ${2:+--no-pit}"; }
# -cpu host needs -arch-capabilities on kvm-pvm hosts (QEMU 7.2 aborts on MSR 0x10a);
# isa-debug-exit at 0xf4 is where the guest's first power-off write goes (QEMU then exits 1).
qemu() {
  echo "qemu-system-x86_64 -M microvm${2:+,pit=off} -accel kvm -cpu host,-arch-capabilities -m 256 -smp 1" \
    "-nographic -nic none -no-reboot -nodefaults -serial stdio -kernel $k -append $1" \
    "-device isa-debug-exit,iobase=0xf4,iosize=4"
}

rss() { # median peak RSS in KiB
  for _ in $(seq "$RSS_RUNS"); do
    /usr/bin/time -o "$out/rss.tmp" -f %M "$@" >/dev/null 2>&1 || true
    tail -1 "$out/rss.tmp"
  done | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}
rate() { # N concurrent VMs: VMs per second from first start to last exit
  local t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq "$N"); do "$@" >/dev/null 2>&1 & done
  wait || true
  t1=$(date +%s.%N)
  awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/(b-a)}'
}

printf '| workload | PIT | VMM | median wall (ms) | CPU user+sys (ms) | peak RSS (MiB) | %s concurrent: VMs/s |\n' "$N"
printf '|---|---|---|---|---|---|---|\n'
for w in quiet full; do
  for nopit in "" 1; do
    # Both must boot the guest to its last line.
    $(rxl $w $nopit) | grep -q "RXL-GUEST: power off"
    { $(qemu $w $nopit) || true; } | grep -q "RXL-GUEST: power off"
    csv=$out/wall-$w${nopit:+-nopit}.csv
    hyperfine -N -i --warmup "$WARMUP" --runs "$RUNS" --export-csv "$csv" \
      -n rxl-kvm "$(rxl $w $nopit)" -n qemu-microvm "$(qemu $w $nopit)" >&2
    for v in rxl-kvm qemu-microvm; do
      if [ $v = rxl-kvm ]; then cmd=$(rxl $w $nopit); name="rxl-kvm"
      else cmd=$(qemu $w $nopit); name="QEMU 7.2 -M microvm"; fi
      wall=$(awk -F, -v c=$v '$1==c {printf "%.1f", 1000*$4}' "$csv")
      cpu=$(awk -F, -v c=$v '$1==c {printf "%.1f", 1000*($5+$6)}' "$csv")
      kib=$(rss $cmd)
      r=$(rate $cmd)
      pit=on; [ -z "$nopit" ] || pit=off
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$pit" "$name" \
        "$wall" "$cpu" "$(awk -v k="$kib" 'BEGIN{printf "%.1f", k/1024}')" "$r"
    done
  done
done
echo
echo "load average (1/5/15 min): $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end;" \
  "$(date -u '+%Y-%m-%d %H:%M UTC')"
