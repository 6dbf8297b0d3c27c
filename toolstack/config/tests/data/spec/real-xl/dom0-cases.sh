# Runs inside the Xen lab's dom0 (busybox sh): every line of cases.txt is
# "ID<TAB>xl arguments (shell-quoted)"; runs `xl -N ARGS` with stdin from /dev/null
# and prints the exit status and stdout between markers, for record.py to collect.
tab=$(printf '\t')
while IFS="$tab" read -r id args; do
    [ -n "$id" ] || continue
    eval "xl -N $args" </dev/null >/tmp/case.out 2>/tmp/case.err
    rc=$?
    echo "@@CASE $id rc=$rc"
    cat /tmp/case.out
    echo "@@ERR $id"
    head -c 400 /tmp/case.err
    echo
    echo "@@END $id"
done < cases.txt
echo "@@ALL-DONE"
