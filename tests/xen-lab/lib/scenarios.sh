# Scenario files and their "# xen-lab KEY: VALUE" header lines (sourced by tests/xen-lab/run).
# shellcheck shell=bash

# Keys that change how the machine boots: scenarios sharing all of them share one boot.
BOOT_KEYS=(xenstored xenstored-args dom0-mem xen-args dom0-args)
# Defaults of every header key.
declare -A HEADER_DEFAULT=(
    [xenstored]=c [xenstored-args]="" [dom0-mem]="768M,max:768M" [xen-args]="" [dom0-args]=""
    [timeout]=300 [needs]=""
)

# Parsed headers: OPT[NAME.KEY] = value.
declare -A OPT=()

# parse_scenario NAME: fills OPT[NAME.*] from tests/xen-lab/scenarios/NAME.sh; dies naming
# file:line on an unknown key or a bad value.
parse_scenario() {
    local name=$1 file="$LAB_DIR/scenarios/$1.sh" n=0 line key value k
    [ -f "$file" ] || die "no scenario '$name' (no $file); available: $(list_scenarios | tr '\n' ' ')"
    for k in "${!HEADER_DEFAULT[@]}"; do OPT[$name.$k]=${HEADER_DEFAULT[$k]}; done
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        [[ $line == "# xen-lab "* ]] || continue
        if [[ ! $line =~ ^#\ xen-lab\ ([a-z0-9-]+):\ ?(.*)$ ]]; then
            die "$file:$n: header lines read '# xen-lab KEY: VALUE', got: $line"
        fi
        key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
        [ -n "${HEADER_DEFAULT[$key]+set}" ] \
            || die "$file:$n: unknown header key '$key' (known: ${!HEADER_DEFAULT[*]})"
        case $key in
            xenstored) [[ $value =~ ^(c|rxenstored|none)$ ]] \
                || die "$file:$n: xenstored must be c, rxenstored or none, got '$value'";;
            timeout) [[ $value =~ ^[1-9][0-9]*$ ]] \
                || die "$file:$n: timeout is whole seconds, got '$value'";;
            needs) for k in $value; do
                    [[ $k =~ ^(rxl|rxenstored|rxenstore|rxenstore-bench)$ ]] \
                        || die "$file:$n: needs lists rxl, rxenstored, rxenstore or rxenstore-bench, got '$k'"
                done;;
            dom0-mem) [[ $value =~ ^[0-9A-Za-z:,%+-]+$ ]] \
                || die "$file:$n: dom0-mem is Xen's dom0_mem value (e.g. 512M,max:512M), got '$value'";;
        esac
        OPT[$name.$key]=$value
    done < "$file"
}

# list_scenarios: every scenario name, sorted.
list_scenarios() {
    local f
    for f in "$LAB_DIR"/scenarios/*.sh; do basename "$f" .sh; done | LC_ALL=C sort
}

# boot_key NAME: the boot options of scenario NAME as one string (equal strings share a boot);
# empty options are left out.
boot_key() {
    local k out=""
    for k in "${BOOT_KEYS[@]}"; do
        [ -z "${OPT[$1.$k]}" ] || out+="${out:+; }$k=${OPT[$1.$k]}"
    done
    printf '%s' "$out"
}
