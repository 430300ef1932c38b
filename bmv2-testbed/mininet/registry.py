"""The runner's process and interface registry, for cleaning up after a run that died.

Every process the runner starts (switches, anchors, load generators, traffic tools, the
Mininet host shells) is recorded here by pid with the program it runs; `cleanup()` kills the
recorded processes that still run that program (a pid the system has since reused for
something else is left alone) and deletes the interfaces the runner creates (all named `fmn*`:
switch ports `fmnI-ethP`, management veths `fmnmI`, the bridge `fmnbr0`). Nothing is killed or deleted by name alone.
"""

import json
import os
import signal
import subprocess
import time

REGISTRY = "/run/flashmesh-mininet/processes.jsonl"
INTERFACE_PREFIXES = ("fmn",)


def _entries():
    try:
        with open(REGISTRY) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def record(pid, what, program):
    """Notes a started process."""
    os.makedirs(os.path.dirname(REGISTRY), exist_ok=True)
    with open(REGISTRY, "a") as f:
        f.write(json.dumps({"pid": pid, "what": what, "program": os.path.basename(program)}) + "\n")


def forget(pid):
    """Drops a process that was stopped."""
    keep = [e for e in _entries() if e.get("pid") != pid]
    _write(keep)


def _write(entries):
    os.makedirs(os.path.dirname(REGISTRY), exist_ok=True)
    tmp = REGISTRY + ".tmp"
    with open(tmp, "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")
    os.replace(tmp, REGISTRY)


def _runs(pid, program):
    """Whether `pid` still runs `program` (by its command line's first word or its exe)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    names = {os.path.basename(a.decode(errors="replace")) for a in argv[:3] if a}
    try:
        names.add(os.path.basename(os.readlink("/proc/%d/exe" % pid)))
    except OSError:
        pass
    return program in names


def cleanup(log=print):
    """Kills the recorded processes that still run, deletes the runner's interfaces."""
    entries = _entries()
    alive = [e for e in entries if _runs(int(e["pid"]), e["program"])]
    for e in alive:
        log("cleanup: killing %s (pid %d)" % (e["what"], e["pid"]))
        try:
            os.kill(int(e["pid"]), signal.SIGKILL)
        except OSError:
            pass
    if alive:
        time.sleep(0.2)
    _write([])
    for name in interfaces():
        log("cleanup: deleting interface %s" % name)
        subprocess.call(["ip", "link", "del", name], stderr=subprocess.DEVNULL)


def interfaces():
    """The runner's interfaces left in the root namespace."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@", 1)[0]
        if name.startswith(INTERFACE_PREFIXES):
            names.append(name)
    return names


if __name__ == "__main__":
    cleanup()
