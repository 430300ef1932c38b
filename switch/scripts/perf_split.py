#!/usr/bin/env python3
"""Where the CPU went during `flash-switch bench`, per thread name and per kind of work.

Record the whole machine while the benchmark runs, then split the samples:

    perf record -a -g -F 499 -o perf.data -- target/release/flash-switch bench --seconds 3
    perf script -i perf.data -F comm,tid,ip,sym,dso > perf.txt
    python3 switch/scripts/perf_split.py perf.txt

Each sample is charged to its thread's name (flash-dp0/1: datapath threads, bench-gen:
generators, bench-bare: the bare forwarding loop; anything else is another process) and, for
the benchmark's own threads, to the first kind of work found walking its call chain from the
leaf: the transmit `send` (packet socket -> veth -> the peer's receive, which veth runs in the
sender's context), `ppoll` (sleeping and waking), a mutex wait, or the P4 engine.
"""

import collections
import sys

OURS = ("flash-dp0", "flash-dp1", "bench-gen", "bench-bare")
KINDS = (
    ("send: packet socket -> veth -> peer receive", ("tpacket_snd", "packet_sendmsg")),
    ("ppoll", ("do_sys_poll", "ppoll")),
    ("mutex wait", ("futex", "lock_contended")),
    ("P4 engine", ("flashmesh_p4",)),
)


def kind(stack):
    for frame in stack:
        for name, marks in KINDS:
            if any(m in frame for m in marks):
                return name
    return "other"


def main(path):
    threads = collections.Counter()
    kinds = collections.defaultdict(collections.Counter)
    comm, stack = None, []

    def flush():
        if comm is not None:
            threads[comm] += 1
            kinds[comm][kind(stack)] += 1

    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            if not line[0].isspace():
                flush()
                comm, stack = line.split()[0], []
            else:
                parts = line.split(None, 1)
                stack.append(parts[1] if len(parts) > 1 else "")
    flush()
    total = sum(threads.values()) or 1
    others = sum(n for c, n in threads.items() if c not in OURS)
    print(f"{total} samples; other processes {100 * others / total:.1f} %")
    for c in OURS:
        n = threads[c]
        if not n:
            continue
        split = ", ".join(
            f"{k} {100 * v / n:.0f} %" for k, v in kinds[c].most_common()
        )
        print(f"{c:10s} {100 * n / total:5.1f} % of the machine: {split}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "perf.txt")
