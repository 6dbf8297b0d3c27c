#!/usr/bin/env python3
"""Records what real xl 4.17 (Debian, in the Xen lab) says about rxl's spec test cases.

Run by hand when the cases change (needs the lab: /work/shared/xen-lab-recipe/run.sh,
root, ~2 minutes under TCG); writes xl-4.17.jsonl next to this file, which
tests/spec_vs_real_xl.rs compares against rxl offline.

    python3 record.py build OUTDIR     # writes OUTDIR/cases.txt, cfg-*.cfg, dom0-cases.sh, ids.json
    python3 record.py collect OUTDIR LOG   # parses the lab's dom0-cmd log into xl-4.17.jsonl
"""
import json, os, shlex, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)

# The lab boots QEMU with -smp 4 (one NUMA node), so vcpu-pin cases use CPUs 0-3.
VCPUPIN = ["all", "nodes:all", "all,nodes:all", "^0", "0", "3", "1-2", "all,^1", "all,^nodes:0,all",
           "nodes:0", "0-3,^2", "^1,0-3", "node:0,^3", "4", "0-4", "nodes:1", "foo", "^all",
           "^nodes:all", "3-1", "0,,1", "", "1-", " 1", "+1", "01"]

# One config per device spec: the JSON of `xl -N create` shows how xl read it.
DEVICES = {
    "vfb": ["vnc=1,vnclisten=0.0.0.0,vncdisplay=3,vncunused=0,vncpasswd=s3cret,keymap=de",
            "sdl=1,opengl=1,display=:0,xauthority=/root/.Xauthority", "vnc=yes", "vnc=1,vcn=1",
            "vnc=1,bogus,sdl=1"],
    "channel": ["name=org.qemu.guest_agent.0, connection = socket ,path=/run/qga.sock",
                "backend=Domain-0,name=org.example.log,connection=pty", "name=x",
                "name=x,connection=socket", "name=x,connection=tcp", "name=x,conection=pty,connection=pty"],
    "vtpm": ["backend=Domain-0,uuid=7f3c8a52-1b7e-4a7e-9c6d-2f1e0a9b8c7d", "uuid=7f3c8a52-1b7e-4a7e-9c6d-2f1e0a9b8c7d",
             "backend=Domain-0,id=1"],
    "p9": ["tag=share, path = /srv/share ,security_model=none,backend=Domain-0", "tag=s,path=/x",
           "tag=s,path=/x,security_model=none,mode=ro"],
    "usbctrl": ["type=qusb,version=2,ports=8", "type=pv", "type=xhci", "version=2,ports=4"],
    "usbdev": ["type=hostdev,hostbus=0x3,hostaddr=010,controller=0,port=2", "hostbus=3", "ctrl=0"],
    "pci": ["03:00.0", "36:00.0@1a,seize=1", "name=gpu0,permissive=1", "03:00.0,permissive=,seize=0",
            "36:00.0@20,seize=1", "03:00.0,permisive=1", "03:00.0,vslot=1,vslot=2"],
    "vif": ["mac=00:16:3e:01:02:0a,bridge=xenbr0,ip=192.0.2.5 2001:db8::5/64,type=ioemu,model=e1000,vifname=vif-web,script=vif-route,gatewaydev=eth0,mtu=9000,devid=2",
            "bridge=xenbr0,,  mac=00-16-3E-AA-BB-CC", "brdige=xenbr0", "mac=00:16:3e:01:02", "type=pv",
            "type=ioemu, bridge=xenbr0", "accel=foo,bridge=br0", "bridge=br0,bridge=br1"],
    "cpus": ["0-1", "all", "nodes:0", "^0"],
}


def cases():
    out = []
    for line in open(os.path.join(DATA, "disk.jsonl")):
        d = json.loads(line)
        if "args" in d:
            out.append(("disk", d["args"], "block-attach 0 " + " ".join(shlex.quote(a) for a in d["args"])))
    for line in open(os.path.join(DATA, "vif.jsonl")):
        d = json.loads(line)
        if d.get("attach"):
            out.append(("vif-attach", [d["spec"]], "network-attach 0 " + shlex.quote(d["spec"])))
    for s in VCPUPIN:
        out.append(("vcpupin", [s], "vcpu-pin 0 all " + shlex.quote(s)))
    n = 0
    for key, specs in DEVICES.items():
        for s in specs:
            n += 1
            out.append(("create-" + key, [s], f"create /extra/cfg-{n}.cfg", key, n))
    return out


def build(outdir):
    os.makedirs(outdir, exist_ok=True)
    ids = {}
    with open(os.path.join(outdir, "cases.txt"), "w") as f:
        for i, c in enumerate(cases()):
            f.write(f"c{i}\t{c[2]}\n")
            ids[f"c{i}"] = {"kind": c[0], "args": c[1]}
            if len(c) == 5:
                key, n = c[3], c[4]
                value = json.dumps(c[1][0]) if key == "cpus" else "[ " + json.dumps(c[1][0]) + " ]"
                with open(os.path.join(outdir, f"cfg-{n}.cfg"), "w") as cfg:
                    cfg.write(f'name = "spec{n}"\ntype = "pvh"\nkernel = "/extra/none"\nmemory = 64\n'
                              f'vcpus = 2\n{key} = {value}\n')
    json.dump(ids, open(os.path.join(outdir, "ids.json"), "w"))
    os.system(f"cp {shlex.quote(os.path.join(HERE, 'dom0-cases.sh'))} {shlex.quote(outdir)}/")


def collect(outdir, log):
    ids = json.load(open(os.path.join(outdir, "ids.json")))
    text = open(log, errors="replace").read().replace("\r", "")
    results = []
    for chunk in text.split("@@CASE ")[1:]:
        head, rest = chunk.split("\n", 1)
        cid, rc = head.split(" rc=")
        out, rest = rest.split(f"@@ERR {cid}\n", 1)
        err = rest.split(f"@@END {cid}", 1)[0].strip()
        info = ids[cid]
        results.append({"kind": info["kind"], "args": info["args"], "rc": int(rc), "stdout": out, "stderr": err})
    assert len(results) == len(ids), f"{len(results)} of {len(ids)} cases came back"
    with open(os.path.join(HERE, "xl-4.17.jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    print(f"recorded {len(results)} cases")


if __name__ == "__main__":
    {"build": lambda: build(sys.argv[2]), "collect": lambda: collect(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
