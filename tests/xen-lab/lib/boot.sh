# One boot of the lab: overlay image, QEMU under TCG, marker watching (sourced by tests/xen-lab/run).
# shellcheck shell=bash

# make_image G NONCE NAME...: writes $WORK/dom0-G.cpio = the cached base + an overlay holding /init,
# the scenario helpers and scripts, the guest configs, rxl's binaries and boot.env.
make_image() {
    local g=$1 nonce=$2 o=$WORK/overlay-$1 s entries="" first
    shift 2
    first=$1
    rm -rf "$o"; mkdir -p "$o"/lab/scenarios "$o"/lab/guests "$o"/opt/rxl/bin
    install -m 0755 "$LAB_DIR/dom0/init" "$o/init"
    install -m 0644 "$LAB_DIR/dom0/lib.sh" "$o/lab/lib.sh"
    install -m 0644 "$LAB_DIR"/scenarios/*.sh "$o/lab/scenarios/"
    install -m 0644 "$LAB_DIR"/guests/*.cfg "$o/lab/guests/"
    # the guest both labs boot from one domain file (tests/portable): the file itself, and its
    # /init as a cpio archive that the portable-cfg scenario appends to the domU initramfs
    mkdir -p "$o/lab/portable" "$WORK/portable-init"
    install -m 0644 "$LAB_DIR/../portable/devices.cfg" "$o/lab/portable/"
    install -m 0755 "$LAB_DIR/../portable/init" "$WORK/portable-init/init"
    write_cpio "$WORK/portable-init" /dev/stdout | gzip -1 > "$o/lab/portable/init.cpio.gz"
    for s in "${!BIN_PATH[@]}"; do install -m 0755 "${BIN_PATH[$s]}" "$o/opt/rxl/bin/$s"; done
    for s in "$@"; do entries+="$s:${OPT[$s.timeout]} "; done
    {
        echo "# written by tests/xen-lab/run for boot $g"
        printf 'LAB_NONCE=%q\n' "$nonce"
        printf 'LAB_SCENARIOS=%q\n' "${entries% }"
        printf 'LAB_XENSTORED=%q\n' "${OPT[$first.xenstored]}"
        printf 'LAB_XENSTORED_ARGS=%q\n' "${OPT[$first.xenstored-args]}"
        printf 'LAB_DOM0_MEM=%q\n' "${OPT[$first.dom0-mem]}"
        printf 'LAB_DOM0_MEM_MIB=%q\n' "$(dom0_mem_mib "${OPT[$first.dom0-mem]}")"
        printf 'LAB_MEM_MIB=%q\n' "$MEM_MIB"
        printf 'LAB_SMP=%q\n' "$SMP"
        printf 'LAB_BENCH_N=%q\n' "${RXL_LAB_BENCH_N:-10}"
    } > "$o/lab/boot.env"
    write_cpio "$o" "$WORK/overlay-$g.cpio"
    # the kernel unpacks concatenated (compressed) cpio archives in order: the overlay lands on
    # top of the base
    zstd -q -T0 -3 -f "$WORK/overlay-$g.cpio" -o "$WORK/overlay-$g.cpio.zst"
    cat "$BASE/base.cpio.zst" "$WORK/overlay-$g.cpio.zst" > "$WORK/dom0-$g.cpio"
}

# dom0_mem_mib VALUE: the fixed size in MiB of a simple dom0_mem value ("768M", "1G,max:1G"), or
# nothing for the other forms (ranges, negative, percent), which scenarios then must not assume.
dom0_mem_mib() {
    local v=${1%%,*}
    case $v in
        *[!0-9KMGkmg]*|"") ;;
        *[Gg]) echo $(( ${v%?} * 1024 ));;
        *[Mm]) echo "${v%?}";;
        *[Kk]) echo $(( ${v%?} / 1024 ));;
        *) echo $(( v / 1024 ));;
    esac
}

# markers FILE NONCE: the marker lines of a serial log, "WORD args...", carriage returns removed.
markers() {
    tr -d '\r' < "$1" 2>/dev/null | grep -a -o "@@$2 .*" | cut -d' ' -f2- || true
}

# boot G NONCE SERIAL NAME...: boots the image of group G once, printing progress; returns when
# QEMU has exited (dom0 powered off, or a watchdog killed it). Sets BOOT_WHY to a failure reason.
boot() {
    local g=$1 nonce=$2 serial=$3 t0 now qpid seen=0 line word name current="" cur_t0=0 limit=0 done_t="" xen_t="" kern_t=""
    shift 3
    local -A tmo=()
    for name in "$@"; do tmo[$name]=${OPT[$name.timeout]}; done
    local xen_cmd="console=com1 com1=115200,8n1 dom0_mem=${OPT[$1.dom0-mem]} dom0_max_vcpus=$SMP"
    xen_cmd+=" loglvl=all guest_loglvl=all smap=0 ${OPT[$1.xen-args]}"
    local dom0_cmd="console=hvc0 earlyprintk=xen rdinit=/init ${OPT[$1.dom0-args]}"
    # multiboot module list: "," separates modules, a literal "," is written ",,"
    # shellcheck disable=SC2054 # commas inside QEMU option values
    local qemu=(qemu-system-x86_64 -nodefaults -machine q35 -accel tcg,thread=multi -cpu max
        -m "$MEM_MIB" -smp "$SMP" -nic none -vga none -display none -monitor none -no-reboot
        -serial "file:$serial" -kernel "$BASE/xen" -append "$xen_cmd"
        -initrd "$BASE/vmlinuz ${dom0_cmd//,/,,},$WORK/dom0-$g.cpio")
    BOOT_WHY=""
    BOOTS_STARTED=$((${BOOTS_STARTED:-0} + 1))
    local boot_timeout=$BOOT_TIMEOUT
    # test hook for the retry path: the run's first boot is given up after 1 s
    if [ "${RXL_LAB_TEST_FAIL_FIRST_BOOT:-0}" = 1 ] && [ "$BOOTS_STARTED" = 1 ]; then boot_timeout=1; fi
    : > "$serial"
    log "boot $g: ${qemu[*]}"
    t0=$(date +%s)
    timeout -k 10 "$QEMU_TIMEOUT" "${qemu[@]}" > "$serial.qemu" 2>&1 &
    qpid=$!
    QEMU_PID=$qpid
    while kill -0 "$qpid" 2>/dev/null; do
        sleep 0.5
        now=$(date +%s)
        local -a ms=()
        mapfile -t ms < <(markers "$serial" "$nonce")
        while [ "$seen" -lt "${#ms[@]}" ]; do
            line=${ms[$seen]}; seen=$((seen + 1))
            read -r word name _ <<< "$line"
            log "  +$((now - t0))s $line"
            case $word in
                BEGIN) current=$name cur_t0=$now limit=$(( ${tmo[$name]:-300} + 60 ));;
                END) current="";;
                ALL-DONE) done_t=$now;;
            esac
        done
        # where boot time goes (TCG speed varies with host load): Xen's first line, dom0's kernel
        if [ -z "$xen_t" ] && [ -s "$serial" ]; then xen_t=$now; log "  +$((now - t0))s Xen prints"; fi
        if [ -z "$kern_t" ] && grep -aq 'Linux version' "$serial"; then
            kern_t=$now; log "  +$((now - t0))s dom0 kernel starts"
        fi
        if [ "$seen" = 0 ] && [ $((now - t0)) -ge "$boot_timeout" ]; then
            BOOT_WHY="dom0 printed nothing within ${boot_timeout}s"
            break
        fi
        if [ -n "$current" ] && [ $((now - cur_t0)) -ge "$limit" ]; then
            BOOT_WHY="dom0 stopped responding during scenario $current (no END within ${limit}s)"
            break
        fi
        if [ -n "$done_t" ] && [ $((now - done_t)) -ge 15 ]; then
            break   # Xen's reset did not end QEMU: stop it ourselves
        fi
    done
    kill "$qpid" 2>/dev/null && log "boot $g: stopping QEMU"
    local qrc=0
    wait "$qpid" || qrc=$?
    QEMU_PID=""
    [ "$qrc" != 124 ] || BOOT_WHY=${BOOT_WHY:-"QEMU hit the ${QEMU_TIMEOUT}s limit"}
    BOOT_SECS=$(( $(date +%s) - t0 ))
    if ! markers "$serial" "$nonce" | grep -q '^READY '; then
        BOOT_WHY=${BOOT_WHY:-"dom0 never came up"}
        BOOT_UP=0
    else
        BOOT_UP=1
    fi
    log "boot $g: QEMU exit $qrc after ${BOOT_SECS}s${BOOT_WHY:+ ($BOOT_WHY)}"
}

# scenario_log SERIAL NONCE NAME: the serial lines between NAME's BEGIN and END markers. (awk reads
# to the end: exiting early would SIGPIPE tr and fail the pipeline.)
scenario_log() {
    tr -d '\r' < "$1" | awk -v b="@@$2 BEGIN $3 " -v e="@@$2 END $3 " '
        index($0, e) { p = 0 } p { print } index($0, b) { p = 1 }'
}
