# rxl's error paths on real Xen: not root, and a Xen whose domctl interface rxl was not built for
# (simulated by making rxl offer 0x14 / 0x16 where Xen 4.17 speaks 0x15) each give one clear line.
# xen-lab timeout: 120
# xen-lab needs: rxl
. /lab/lib.sh
lab_need_toolstack
lab_need_bin rxl

# one_line WHAT PATTERN COMMAND...: COMMAND must fail with exit 1 and one stderr line matching PATTERN.
one_line() {
    what=$1 pat=$2
    shift 2
    "$@" > out.txt 2> err.txt
    rc=$?
    msg=$(cat err.txt)
    if [ "$rc" = 1 ] && [ "$(wc -l < err.txt)" = 1 ] && echo "$msg" | grep -q -- "$pat"; then
        lab_ok "$what: $msg"
    else
        lab_bad "$what: rc=$rc, stderr: $msg"
    fi
}

one_line "Xen too new for rxl (rxl offers 0x14)" "unsupported Xen 4\.17.*domctl interface version 0x15, rxl was built for 0x14" \
    env RXL_XEN_DOMCTL_VERSION=0x14 rxl list
one_line "Xen too old for rxl (rxl offers 0x16)" "unsupported Xen 4\.17.*domctl interface version 0x15, rxl was built for 0x16" \
    env RXL_XEN_DOMCTL_VERSION=0x16 rxl info

grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >> /etc/group
rxl_bin=$(command -v rxl)
# Debian's busybox-static has su (no chpst/setuidgid); root may su to any user without a password.
one_line "not root" "permission denied opening /dev/xen/privcmd: rxl must run as root" \
    su -s /bin/sh nobody -c "$rxl_bin list"
lab_done
