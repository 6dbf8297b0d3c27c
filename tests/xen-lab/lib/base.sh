# The cached part of the lab image (sourced by tests/xen-lab/run): Xen, the kernel, and the dom0
# root holding busybox, Debian's Xen tools with their library closure, 7 Xen modules, jq and the
# domU kernel + initramfs -- everything that only changes when the pinned packages do.
# Sets BASE (directory with xen, vmlinuz, base.cpio.zst, root/, versions.txt).
# shellcheck shell=bash

# Programs dom0 must be able to run; the image is refused if one misses a library.
REQUIRED_BINS=(usr/lib/xen-4.17/bin/xl usr/lib/xen-4.17/bin/xenstored usr/lib/xen-4.17/bin/xenconsoled
    usr/lib/xen-4.17/bin/xen-init-dom0 usr/bin/xenstore-read usr/bin/xenstore-ls usr/bin/jq bin/bash usr/bin/flock)
# dom0's modules, in load order: the Xen devices, then what the hotplug scripts need (loop devices
# for file-backed disks, the bridge for vif-bridge).
XEN_MODULES=(xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback
    loop llc stp bridge)
# The domU's PV frontends, loaded by its /init when the command line asks for the device test.
DOMU_MODULES=(xen-blkfront xen-netfront)

# write_cpio DIR OUT: a newc cpio of DIR, entries sorted and owned by root.
write_cpio() {
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) > "$2"
}

# missing_libs ROOT PATH: prints what PATH (inside ROOT) cannot resolve, using ROOT's own ld.so.
missing_libs() {
    chroot "$1" /lib64/ld-linux-x86-64.so.2 --list "/$2" 2>&1 | grep 'not found' || true
}

# bzimage_payload BZIMAGE: the ELF vmlinux inside a bzImage (boot protocol >= 2.08, xz payload).
# Guests boot from it so that `xl create` need not unpack 8 MB of xz in dom0 (~20 s under TCG);
# /lab/domu/vmlinuz stays for tests of bzImage loading.
bzimage_payload() {
    local setup_sects payload_offset
    setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
    payload_offset=$(od -An -tu4 -j $((0x248)) -N4 "$1" | tr -d ' ')
    # (xz stops after its stream; read through a process substitution so that tail's SIGPIPE
    # is not a pipeline failure)
    xz -dc --single-stream < <(tail -c +$(( (setup_sects + 1) * 512 + payload_offset + 1 )) "$1") \
        || die "$1: the bzImage payload is not xz"
}

# copy_module MODDIR NAME DEST: NAME.ko from the kernel's module tree into DEST, uncompressed.
copy_module() {
    local f
    f=$(find "$1" -name "$2.ko*" | head -1)
    [ -n "$f" ] || die "kernel module $2 not in $1"
    case $f in
        *.ko) cp "$f" "$3/$2.ko";;
        *.ko.xz) xz -dc "$f" > "$3/$2.ko";;
        *.ko.zst) zstd -qdc "$f" > "$3/$2.ko";;
    esac
}

# build_base: (re)creates $BASE unless a complete one for the same inputs exists.
build_base() {
    local key cache=$RXL_CACHE/xen-lab ex root tmp kver m f b miss
    key=$(cat "$REPO/tests/deps/xen-lab.debs" "$LAB_DIR/lib/base.sh" "$LAB_DIR/domu/init" \
        "$LAB_DIR/domu/poweroff" | sha256sum | cut -c1-16)
    BASE=$cache/base-$key
    if [ -f "$BASE/.done" ]; then
        log "base image: cached $BASE"
        return
    fi
    log "base image: building $BASE"
    mkdir -p "$cache"
    tmp=$BASE.tmp; rm -rf "$tmp"; mkdir -p "$tmp"
    ex=$tmp/extract root=$tmp/root
    "$REPO/tests/lib/debs.sh" "$REPO/tests/deps/xen-lab.debs" "$ex"
    cp "$ex/.versions" "$tmp/versions.txt"
    kver=$(basename "$(find "$ex/lib/modules" -mindepth 1 -maxdepth 1 -name '*-amd64' | head -1)")
    if [ -z "$kver" ] || [ ! -f "$ex/boot/vmlinuz-$kver" ]; then die "no kernel in the unpacked packages"; fi
    cp "$ex/boot/vmlinuz-$kver" "$tmp/vmlinuz"
    # QEMU's multiboot loader takes the 32-bit ELF, not the gzip Debian ships
    gunzip -c "$ex/boot/xen-4.17-amd64.gz" > "$tmp/xen"

    # util-linux is there for flock alone (Xen's hotplug scripts lock with it): its other tools
    # would shadow busybox's applets (losetup, mount, ...) and need libraries dom0 lacks
    local ul
    ul=$(find "$RXL_CACHE/debs/" -maxdepth 1 -name 'util-linux_*.deb' | head -1)
    if [ -n "$ul" ]; then
        dpkg-deb -c "$ul" | awk '$1 !~ /^d/ { print $6 }' | grep -vx './usr/bin/flock' \
            | (cd "$ex" && xargs -r rm -f)
    fi
    mkdir -p "$root"/{lib,usr/lib,dev,proc,sys,run,tmp,root,mnt,sbin,lib/modules/xen,lab/domu,opt/rxl/bin}
    cp -a "$ex"/bin "$ex"/lib64 "$ex"/etc "$ex"/var "$root"/
    cp -a "$ex"/lib/x86_64-linux-gnu "$root"/lib/
    cp -a "$ex"/usr/lib/x86_64-linux-gnu "$ex"/usr/lib/xen-4.17 "$ex"/usr/lib/xen-common "$root"/usr/lib/
    cp -a "$ex"/usr/bin "$ex"/usr/sbin "$root"/usr/
    rm -rf "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/var/run
    ln -s /run "$root"/var/run
    # busybox applets for every command the packages do not provide
    while read -r b; do
        [ -e "$root/$b" ] || [ -L "$root/$b" ] || { mkdir -p "$root/$(dirname "$b")"; ln -s /bin/busybox "$root/$b"; }
    done < <("$root"/bin/busybox --list-full)
    for m in "${XEN_MODULES[@]}"; do copy_module "$ex/lib/modules/$kver" "$m" "$root/lib/modules/xen"; done
    mknod -m 600 "$root/dev/console" c 5 1
    for b in "${REQUIRED_BINS[@]}"; do
        [ -x "$root/$b" ] || die "dom0 image lacks $b"
        miss=$(missing_libs "$root" "$b")
        [ -z "$miss" ] || die "dom0 image: $b misses libraries: $miss"
    done

    # the domU: same kernel, a busybox initramfs printing the marker
    local d=$tmp/domu
    mkdir -p "$d"/{bin,sbin,dev,proc,sys,lib/modules}
    cp "$ex/bin/busybox" "$d/bin/busybox"
    for m in "${DOMU_MODULES[@]}"; do copy_module "$ex/lib/modules/$kver" "$m" "$d/lib/modules"; done
    ln -s busybox "$d/bin/sh"
    install -m 0755 "$LAB_DIR/domu/init" "$d/init"
    install -m 0755 "$LAB_DIR/domu/poweroff" "$d/sbin/poweroff"
    mknod -m 600 "$d/dev/console" c 5 1
    write_cpio "$d" "$tmp/domu.cpio"
    gzip -9n < "$tmp/domu.cpio" > "$root/lab/domu/initrd.gz"
    cp "$tmp/vmlinuz" "$root/lab/domu/vmlinuz"
    bzimage_payload "$tmp/vmlinuz" > "$root/lab/domu/vmlinux"

    write_cpio "$root" "$tmp/base.cpio"
    # compressed: QEMU's multiboot loader feeds modules to the guest slowly under TCG (~0.4 s/MB),
    # while dom0's kernel unpacks zstd fast; the level costs only build time
    zstd -q -T0 -15 --rm "$tmp/base.cpio" -o "$tmp/base.cpio.zst"
    rm -rf "$ex" "$d" "$tmp/domu.cpio"
    # older bases (other package pins) go: each is ~100 MB
    find "$cache" -mindepth 1 -maxdepth 1 -name 'base-*' ! -name "base-$key*" -exec rm -rf {} +
    rm -rf "$BASE"; mv "$tmp" "$BASE"; touch "$BASE/.done"
    log "base image: $(du -sh "$BASE/base.cpio.zst" | cut -f1) dom0 cpio.zst, $(wc -l < "$BASE/versions.txt") packages"
}
