#!/usr/bin/python3
"""Runs one scenario on Mininet from the run description `flashmesh experiment run --target
mininet` writes (`RUN/run.json`), under Debian's python3 as root:

    /usr/bin/python3 bmv2-testbed/mininet/run_scenario.py RUN/run.json
    /usr/bin/python3 bmv2-testbed/mininet/run_scenario.py --cleanup     # what a dead run left

1. cleans up what an earlier run left (registry.py), builds the network (topology.py), starts
   every switch (p4switch.py) and waits for its P4Runtime port;
2. starts the merchant anchors in their hosts and waits until each answers `/healthz` and its
   controller is primary on all its switches, then lets the probes settle;
3. picks the clock's start T0, starts one `flashmesh load` per phone with T0, and drives the
   timeline: floods, signed policy pushes, link cuts (with a 1 kHz stream across the link to
   time the reroute) and restores, link emulation changes, anchor SIGKILL and restart; samples
   the flash-switches' queues meanwhile;
4. waits for the load generators, scrapes every anchor's `/metrics`, stops everything and
   deletes what it created, on Ctrl-C and on failure too.

Results go to RUN/results/: runner.json, events.json, queues.json, reroute.json, metrics/.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import registry  # noqa: E402

PYTHON = "/usr/bin/python3"
TRAFFIC = os.path.join(HERE, "traffic.py")
STREAM_LEAD_MS = 500
STREAM_BASE_PORT = 47000  # the stream across link L uses UDP port 47000 + L
STREAM_SECONDS = 4.0


class Stop(Exception):
    """SIGINT or SIGTERM."""


def _on_signal(signum, _frame):
    raise Stop("signal %d" % signum)


def now_ms():
    return time.time() * 1000.0


def http(url, data=None, token=None, timeout=2.0):
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class Run:
    def __init__(self, desc):
        self.d = desc
        self.run_dir = desc["run_dir"]
        self.logs = os.path.join(self.run_dir, "logs")
        self.results = os.path.join(self.run_dir, "results")
        os.makedirs(os.path.join(self.results, "metrics"), exist_ok=True)
        os.makedirs(os.path.join(self.run_dir, "payments"), exist_ok=True)
        self.net = None
        self.hosts = {}
        self.switches = {}
        self.procs = {}          # name -> Popen (anchors, loads)
        self.side = []           # traffic Popens
        self.floods = {}         # (from, to) -> (Popen, count file)
        self.streams = []        # (cut at_ms, recv out file)
        self.events = []
        self.queues = []
        self.errors = []
        self.t0 = None
        self.t_start = time.time()
        self.sampling = False
        self.metrics_seq = 0
        self.pending_streams = {}  # link -> receiver's output file
        self.scrapes = []        # {at_ms, anchor, file}
        self.proc_desc = {p["name"]: p for p in desc["processes"]}

    # --- events and processes -------------------------------------------------------------

    def note(self, kind, detail, at=None):
        at_ms = (now_ms() - self.t0) if (at is None and self.t0) else (at or 0.0)
        self.events.append({"at_ms": round(at_ms, 3), "kind": kind, "detail": detail})
        print("[%8.0f ms] %s %s" % (at_ms, kind, detail), flush=True)

    def popen_in(self, host, argv, log_name, what):
        log = open(os.path.join(self.logs, log_name), "ab")
        log.write(("$ %s\n" % " ".join(argv)).encode())
        log.flush()
        p = self.hosts[host].popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        log.close()
        registry.record(p.pid, what, os.path.basename(argv[0]))
        return p

    def start_process(self, name, t0_unix_ms=None):
        p = self.proc_desc[name]
        argv = [a.replace("{T0_UNIX_MS}", str(int(t0_unix_ms or 0))) for a in p["argv"]]
        self.procs[name] = self.popen_in(p["host"], argv, name + ".log", name)

    def scrape(self, name, label, nominal_ms=None):
        """`name`'s /metrics into results/metrics/, noted at `nominal_ms` (a phase boundary)
        or at the time it was read."""
        url = self.proc_desc[name].get("admin_url")
        if not url:
            return
        try:
            status, body = http(url + "/metrics", timeout=1.0)
        except OSError as e:
            self.errors.append("metrics of %s: %s" % (name, e))
            return
        if status == 200:
            self.metrics_seq += 1
            path = os.path.join(self.results, "metrics", "%s-%d-%s.prom" % (name, self.metrics_seq, label))
            with open(path, "w") as f:
                f.write(body)
            at = (now_ms() - self.t0) if self.t0 else 0.0
            if nominal_ms is not None:
                at = nominal_ms
            self.scrapes.append({"at_ms": round(at, 3), "anchor": name, "file": path})

    def snapshot(self, label, nominal_ms=None):
        """Every running anchor's counters (its own and, read over P4Runtime, its switches')."""
        for name, p in self.proc_desc.items():
            proc = self.procs.get(name)
            if p["kind"] == "anchor" and proc is not None and proc.poll() is None:
                self.scrape(name, label, nominal_ms)

    # --- set-up ---------------------------------------------------------------------------

    def setup(self):
        import topology
        registry.cleanup(log=lambda m: print(m, flush=True))
        os.makedirs(self.logs, exist_ok=True)
        self.net, self.hosts, self.switches = topology.build(self.d, self.logs)
        for n in self.d["nodes"]:
            topology.configure_host(self.hosts[n["name"]], n)
        topology.add_management(self.d, self.hosts)
        if self.d["switch"] == "bmv2":
            topology.shape_bmv2_links(self.d)
        self.net.start()
        for name, s in self.switches.items():
            if not s.wait_ready():
                raise RuntimeError("switch %s did not serve P4Runtime on %s (see %s)"
                                   % (s.name, s.grpc_addr, s.log_path))
        if self.d["switch"] == "bmv2":
            self.bmv2_queue_rates()
        for i, l in enumerate(self.d["links"]):
            if l["down"]:
                topology.set_link(self.d, i, False)
        for p in self.d["processes"]:
            if p["kind"] == "anchor":
                self.start_process(p["name"])
        self.wait_anchors()
        time.sleep(self.d["settle_ms"] / 1000.0)

    def bmv2_queue_rates(self):
        cli = shutil_which("simple_switch_CLI")
        by_name = {n["name"]: n for n in self.d["nodes"]}
        for l in self.d["links"]:
            if l["queue_rate_pps"] <= 0:
                continue
            if cli is None:
                self.errors.append("simple_switch_CLI not on PATH: queue rate of %s not set" % l["name"])
                continue
            for end, port in ((l["a"], l["a_port"]), (l["b"], l["b_port"])):
                cmd = "set_queue_rate %d %d\n" % (l["queue_rate_pps"], port)
                subprocess.run([cli, "--thrift-port", str(by_name[end]["thrift_port"])],
                               input=cmd, text=True, capture_output=True, timeout=10)

    def wait_anchors(self, timeout_s=60.0):
        deadline = time.time() + timeout_s
        pending = [p for p in self.d["processes"] if p["kind"] == "anchor"]
        while pending and time.time() < deadline:
            still = []
            for p in pending:
                proc = self.procs[p["name"]]
                if proc.poll() is not None:
                    raise RuntimeError("%s exited with %s (see %s/%s.log)"
                                       % (p["name"], proc.returncode, self.logs, p["name"]))
                if not self.anchor_ready(p):
                    still.append(p)
            pending = still
            if pending:
                time.sleep(0.2)
        if pending:
            raise RuntimeError("anchors not ready in %.0f s: %s"
                               % (timeout_s, ", ".join(p["name"] for p in pending)))

    def anchor_ready(self, p):
        try:
            status, body = http(p["admin_url"] + "/status", timeout=1.0)
        except OSError:
            return False
        if status != 200:
            return False
        try:
            st = json.loads(body)
        except ValueError:
            return False
        ctl = st.get("controller") or {}
        switches = ctl.get("switches") or []
        return bool(switches) and all(s.get("primary") for s in switches)

    # --- the timeline ---------------------------------------------------------------------

    def actions(self):
        """The description's actions plus a stream start ahead of every link cut."""
        out = []
        for a in self.d["timeline"]:
            if a["kind"] == "link_down":
                out.append(dict(a, kind="stream_start", at_ms=max(0, a["at_ms"] - STREAM_LEAD_MS)))
            out.append(a)
        for t in self.d.get("snapshot_ms", []):
            out.append({"kind": "snapshot", "at_ms": t})
        out.sort(key=lambda a: a["at_ms"])
        return out

    def act(self, a):
        import topology
        k = a["kind"]
        if k == "snapshot":
            self.snapshot("at%d" % a["at_ms"], a["at_ms"])
        elif k == "flood_start":
            count = os.path.join(self.results, "flood-%s-%s-%d.count" % (a["from"], a["to"], a["at_ms"]))
            argv = [PYTHON, TRAFFIC, "flood", "--dst", a["to_ip"], "--port", str(a["port"]),
                    "--rate", str(a["rate_pps"]), "--size", str(a["size_bytes"]),
                    "--class", a["class"], "--count-file", count]
            p = self.popen_in(a["from"], argv, "flood-%s-%s.log" % (a["from"], a["to"]), "flood")
            self.floods[(a["from"], a["to"])] = (p, count)
            self.side.append(p)
            self.note("flood_start", "%s -> %s at %d pps, %d bytes, %s"
                      % (a["from"], a["to"], a["rate_pps"], a["size_bytes"], a["class"]))
        elif k == "flood_stop":
            f = self.floods.pop((a["from"], a["to"]), None)
            if f:
                f[0].send_signal(signal.SIGTERM)
            self.note("flood_stop", "%s -> %s" % (a["from"], a["to"]))
        elif k == "policy":
            with open(a["bundle"], "rb") as f:
                bundle = f.read()
            answers = []
            for name, proc in self.procs.items():
                p = self.proc_desc[name]
                if p["kind"] != "anchor" or proc.poll() is not None:
                    continue
                try:
                    status, body = http(p["admin_url"] + "/policy", data=bundle,
                                        token=self.d["admin_token"], timeout=5.0)
                except OSError as e:
                    status, body = 0, str(e)
                answers.append("%s %s" % (name, status))
                if status != 200:
                    self.errors.append("policy push to %s: %s %s" % (name, status, body[:200]))
            self.note("priority", "%s (%s)" % (a["note"], ", ".join(answers)))
        elif k == "stream_start":
            out = os.path.join(self.results, "stream-%d-%d.json" % (a["link"], a["at_ms"]))
            port = str(STREAM_BASE_PORT + a["link"])
            recv = [PYTHON, TRAFFIC, "stream-recv", "--bind", a["probe_to_ip"], "--port", port,
                    "--seconds", str(STREAM_SECONDS + 1.0), "--out", out]
            self.side.append(self.popen_in(a["probe_to"], recv, "stream-recv.log", "stream-recv"))
            time.sleep(0.05)
            send = [PYTHON, TRAFFIC, "stream-send", "--dst", a["probe_to_ip"], "--port", port,
                    "--interval-ms", "1", "--seconds", str(STREAM_SECONDS)]
            self.side.append(self.popen_in(a["probe_from"], send, "stream-send.log", "stream-send"))
            self.pending_streams[a["link"]] = out
        elif k == "link_down":
            cut = now_ms()  # the link stops carrying frames from here
            topology.set_link(self.d, a["link"], False)
            ups = [b["at_ms"] for b in self.d["timeline"]
                   if b["kind"] == "link_up" and b["link"] == a["link"] and b["at_ms"] > a["at_ms"]]
            until = self.t0 + min([a["at_ms"] + STREAM_SECONDS * 1000.0 - STREAM_LEAD_MS] + ups)
            self.streams.append((cut - self.t0, cut, until,
                                 self.pending_streams.pop(a["link"], None)))
            self.note(a["cause"], self.d["links"][a["link"]]["name"])
        elif k == "link_up":
            topology.set_link(self.d, a["link"], True)
            self.note(a["cause"], self.d["links"][a["link"]]["name"])
        elif k == "switch_commands":
            for node, line in a["commands"]:
                reply = self.control(node, line)
                self.note("link_set", "%s: %s -> %s" % (node, line, reply))
        elif k == "kill":
            name = a["process"]
            self.scrape(name, "before-kill")
            proc = self.procs.get(name)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=5)
                registry.forget(proc.pid)
            self.note("anchor_crash", "%s (SIGKILL)" % self.proc_desc[name]["host"])
        elif k == "restart":
            name = a["process"]
            self.start_process(name)
            self.note("anchor_restart", "%s (from its store)" % self.proc_desc[name]["host"])
        else:
            self.errors.append("unknown action %r" % k)

    def control(self, node, line):
        n = next(x for x in self.d["nodes"] if x["name"] == node)
        addr = n.get("control_addr")
        if not addr or not addr.startswith("unix:"):
            return "error: no control socket"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2.0)
                s.connect(addr[len("unix:"):])
                s.sendall((line + "\n").encode())
                return s.makefile().readline().strip()
        except OSError as e:
            return "error: %s" % e

    def sample_queues(self):
        """Deepest class-0 (queue 7) and class-2 (queue 0) queue over all link ports."""
        every = self.d["queue_sample_ms"] / 1000.0
        socks = {}
        for n in self.d["nodes"]:
            addr = n.get("control_addr")
            if addr and addr.startswith("unix:") and n["link_ports"]:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(1.0)
                    s.connect(addr[len("unix:"):])
                    socks[n["name"]] = (s, s.makefile(), set(n["link_ports"]))
                except OSError as e:
                    self.errors.append("queue sampling of %s: %s" % (n["name"], e))
        while self.sampling:
            t = now_ms() - self.t0
            c0 = c2 = 0
            for name, (s, f, ports) in list(socks.items()):
                try:
                    s.sendall(b"stats\n")
                    line = f.readline()
                    reports = json.loads(line[3:]) if line.startswith("ok ") else []
                except (OSError, ValueError):
                    socks.pop(name)
                    continue
                for r in reports:
                    if r.get("port") not in ports or not r.get("tm"):
                        continue
                    q = r["tm"].get("queues") or []
                    if len(q) > 7:
                        c0 = max(c0, q[7].get("depth", 0))
                    if q:
                        c2 = max(c2, q[0].get("depth", 0))
            self.queues.append({"at_ms": round(t, 3), "class0": c0, "class2": c2})
            time.sleep(every)
        for s, f, _ in socks.values():
            s.close()

    def drive(self):
        loads = [p for p in self.d["processes"] if p["kind"] == "load"]
        self.t0 = now_ms() + 1500.0
        for p in loads:
            self.start_process(p["name"], self.t0)
        sampler = None
        if self.d["queue_sample_ms"] > 0:
            self.sampling = True
            sampler = threading.Thread(target=self.sample_queues, daemon=True)
        while now_ms() < self.t0:
            time.sleep(0.01)
        if sampler:
            sampler.start()
        self.note("start", "%d anchors, %d load generators" % (
            sum(1 for p in self.d["processes"] if p["kind"] == "anchor"), len(loads)), at=0.0)
        for a in self.actions():
            due = self.t0 + a["at_ms"]
            while now_ms() < due:
                time.sleep(min(0.005, max(0.0, (due - now_ms()) / 1000.0)))
            self.act(a)
        end = self.t0 + self.d["duration_ms"]
        while now_ms() < end:
            time.sleep(0.05)
        deadline = end + self.d["drain_ms"]
        while now_ms() < deadline and any(self.procs[p["name"]].poll() is None for p in loads):
            time.sleep(0.1)
        late = [p["name"] for p in loads if self.procs[p["name"]].poll() is None]
        if late:
            self.errors.append("load generators still running at the deadline: %s" % ", ".join(late))
        self.note("end", "timeline and drain done")
        self.sampling = False
        if sampler:
            sampler.join(timeout=5)
        self.snapshot("final")
        self.reroutes()

    def reroutes(self):
        """Each cut's reroute time: the longest silence of the stream across the link, from
        just before the cut until the stream ends or the link is restored (the send times of
        two consecutive datagrams that arrived, less one interval)."""
        out = []
        for at_ms, cut, until, path in self.streams:
            arrivals = []
            for _ in range(50):
                if path and os.path.exists(path):
                    break
                time.sleep(0.1)
            try:
                with open(path) as f:
                    arrivals = json.load(f)
            except (OSError, TypeError, ValueError):
                pass
            sent = sorted(s for _, s, _ in arrivals if cut - 20.0 <= s < until)
            after = [s for s in sent if s >= cut]
            ms = None
            if after:
                gaps = [b - a for a, b in zip(sent, sent[1:])]
                ms = max(0.0, max(gaps, default=1.0) - 1.0)
            out.append({"at_ms": at_ms, "ms": ms})
            self.note("reroute", "%s ms after the cut at %.0f ms (%d stream datagrams arrived)"
                      % ("-" if ms is None else "%.1f" % ms, at_ms, len(arrivals)), at=at_ms)
        with open(os.path.join(self.results, "reroute.json"), "w") as f:
            json.dump(out, f)

    # --- teardown -------------------------------------------------------------------------

    def teardown(self):
        import topology
        self.sampling = False
        for p in self.side + list(self.procs.values()):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.side + list(self.procs.values()):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            registry.forget(p.pid)
        if self.net is not None:
            try:
                self.net.stop()
            except Exception as e:  # noqa: BLE001 - teardown goes on whatever happens
                self.errors.append("stopping mininet: %s" % e)
            for h in self.hosts.values():
                registry.forget(h.pid)
        topology.remove_management(self.d)
        registry.cleanup(log=lambda m: print(m, flush=True))

    def write_results(self):
        with open(os.path.join(self.results, "events.json"), "w") as f:
            json.dump(self.events, f, indent=1)
        with open(os.path.join(self.results, "queues.json"), "w") as f:
            json.dump(self.queues, f)
        with open(os.path.join(self.results, "scrapes.json"), "w") as f:
            json.dump(self.scrapes, f, indent=1)
        summary = {
            "t0_unix_ms": int(self.t0 or 0),
            "setup_s": ((self.t0 or now_ms()) - 1500.0 - self.t_start * 1000.0) / 1000.0,
            "wall_s": time.time() - self.t_start,
            "errors": self.errors,
        }
        with open(os.path.join(self.results, "runner.json"), "w") as f:
            json.dump(summary, f, indent=1)
        for e in self.errors:
            print("error: %s" % e, file=sys.stderr, flush=True)


def shutil_which(name):
    import shutil
    return shutil.which(name)


def main(argv):
    if len(argv) == 2 and argv[1] == "--cleanup":
        registry.cleanup()
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("run_scenario.py needs root", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        desc = json.load(f)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    r = Run(desc)
    status = 0
    try:
        r.setup()
        r.drive()
    except Stop as e:
        r.errors.append("stopped by %s" % e)
        status = 130
    except Exception as e:  # noqa: BLE001 - reported, then everything is cleaned up
        r.errors.append("%s: %s" % (type(e).__name__, e))
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        r.teardown()
        r.write_results()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
