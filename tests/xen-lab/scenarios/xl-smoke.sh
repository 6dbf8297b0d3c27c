# Debian's real xl works in the lab's dom0: xl info and xl list report this boot's machine.
# xen-lab timeout: 120
. /lab/lib.sh
lab_need_toolstack

info=$(xl info) || lab_fail "xl info failed"
echo "$info"
field() { echo "$info" | awk -F' *: ' -v k="$1" '$1 == k { print $2; exit }'; }
lab_eq "xl info nr_cpus" "$(field nr_cpus)" "$LAB_SMP"
case "$(field xen_version)" in 4.17.*) lab_ok "xen_version $(field xen_version)";; *) lab_bad "xen_version $(field xen_version)";; esac
case "$(field virt_caps)" in *hvm*) lab_ok "virt_caps has hvm: $(field virt_caps)";; *) lab_bad "virt_caps without hvm: $(field virt_caps)";; esac
case "$(field xen_commandline)" in *"dom0_mem=$LAB_DOM0_MEM"*) lab_ok "xen_commandline has dom0_mem=$LAB_DOM0_MEM";; *) lab_bad "xen_commandline: $(field xen_commandline)";; esac
total=$(field total_memory)
# Xen reports a little less than the machine's RAM (firmware holes, its own heap).
if [ -n "$total" ] && [ "$total" -le "$LAB_MEM_MIB" ] && [ "$total" -ge $((LAB_MEM_MIB - 128)) ]; then
    lab_ok "total_memory $total MiB of $LAB_MEM_MIB"
else
    lab_bad "total_memory '$total', want about $LAB_MEM_MIB"
fi

list=$(xl list) || lab_fail "xl list failed"
echo "$list"
lab_eq "xl list header" "$(echo "$list" | head -1 | awk '{ print $1, $2, $3, $4, $5, $6 }')" "Name ID Mem VCPUs State Time(s)"
lab_eq "xl list Domain-0 id" "$(echo "$list" | awk '$1 == "Domain-0" { print $2 }')" 0
lab_eq "xl list rows" "$(echo "$list" | wc -l)" 2
mem=$(echo "$list" | awk '$1 == "Domain-0" { print $3 }')
# dom0 gets dom0_mem minus what the kernel gives back at boot (a few MiB).
if [ -n "$mem" ] && [ "$mem" -le "$LAB_DOM0_MEM_MIB" ] && [ "$mem" -ge $((LAB_DOM0_MEM_MIB * 95 / 100)) ]; then
    lab_ok "Domain-0 Mem $mem MiB (dom0_mem ${LAB_DOM0_MEM_MIB} MiB)"
else
    lab_bad "Domain-0 Mem '$mem', want about $LAB_DOM0_MEM_MIB"
fi
lab_eq "xl domid Domain-0" "$(xl domid Domain-0)" 0
lab_eq "xl domname 0" "$(xl domname 0)" Domain-0
if xl domid no-such-domain >/dev/null 2>&1; then lab_bad "xl domid of an unknown domain succeeded"; else lab_ok "xl domid of an unknown domain fails"; fi
lab_done
