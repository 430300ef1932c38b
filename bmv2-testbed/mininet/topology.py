"""The Mininet network of a run description: a host per node behind its own P4Runtime switch,
a veth pair per link between switch ports, and a management network (a bridge in the root
namespace) through which the merchants' anchors reach every switch's P4Runtime server and the
runner reaches their admin APIs.

Hosts get their node's address as a /32, the node's host MAC, and a default route through a
static neighbour on the switch's router MAC (the pipeline routes by IPv4 and rewrites MACs;
nothing answers ARP). Checksum offloads are off on host interfaces (frames a switch reads with
AF_PACKET must carry complete checksums) and IPv6 is off (no stray router solicitations).
"""

import subprocess

from mininet.net import Mininet
from mininet.node import Host

import registry
from p4switch import P4RuntimeSwitch, quiet


def run(argv):
    subprocess.check_call(argv, stdout=subprocess.DEVNULL)


def build(desc, log_dir):
    """The network (built, switches not started) and its hosts and switches by node name."""
    net = Mininet(controller=None, build=False, autoSetMacs=False, autoStaticArp=False,
                  waitConnected=False)
    bmv2 = desc["switch"] == "bmv2"
    hosts, switches = {}, {}
    for i, n in enumerate(desc["nodes"]):
        h = net.addHost(n["name"], cls=Host, ip=None)
        registry.record(h.pid, "host shell " + n["name"], "bash")
        s = net.addSwitch(n["switch"], cls=P4RuntimeSwitch, dpid="%016x" % (i + 1),
                          binary=desc["switch_bin"], device_id=n["device_id"],
                          grpc_addr=n["grpc_addr"], thrift_port=n["thrift_port"],
                          extra_args=n["switch_extra_args"],
                          log_path="%s/%s.log" % (log_dir, n["switch"]), bmv2=bmv2)
        net.addLink(h, s, port1=0, port2=n["host_port"],
                    intfName1="%s-eth0" % n["name"],
                    intfName2="%s-eth%d" % (n["switch"], n["host_port"]))
        hosts[n["name"]], switches[n["name"]] = h, s
    by_name = {n["name"]: n for n in desc["nodes"]}
    for l in desc["links"]:
        sa, sb = by_name[l["a"]]["switch"], by_name[l["b"]]["switch"]
        net.addLink(switches[l["a"]], switches[l["b"]], port1=l["a_port"], port2=l["b_port"],
                    intfName1="%s-eth%d" % (sa, l["a_port"]),
                    intfName2="%s-eth%d" % (sb, l["b_port"]))
    net.build()
    return net, hosts, switches


def configure_host(h, n):
    intf = "%s-eth0" % n["name"]
    cmds = [
        "sysctl -qw net.ipv6.conf.all.disable_ipv6=1",
        "sysctl -qw net.ipv6.conf.default.disable_ipv6=1",
        "ip link set lo up",
        "ip addr flush dev %s" % intf,
        "ip link set %s address %s" % (intf, n["host_mac"]),
        "ip addr add %s/32 dev %s" % (n["host_ip"], intf),
        "ip link set %s up" % intf,
        "ip neigh replace %s lladdr %s dev %s nud permanent" % (n["gateway_ip"], n["router_mac"], intf),
        "ip route replace default via %s dev %s onlink" % (n["gateway_ip"], intf),
        "ethtool -K %s tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true" % intf,
    ]
    out = h.cmd(" && ".join(cmds[:-1]) + "; " + cmds[-1])
    if "rror" in out or "annot" in out:
        raise RuntimeError("configuring host %s: %s" % (n["name"], out.strip()))


def add_management(desc, hosts):
    """The management bridge and a veth from it into each merchant's host."""
    bridge = desc["mgmt_bridge"]
    run(["ip", "link", "add", bridge, "type", "bridge"])
    run(["ip", "addr", "add", desc["mgmt_root"], "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])
    prefix = desc["mgmt_root"].split("/", 1)[1]
    for n in desc["nodes"]:
        if not n.get("mgmt_ip"):
            continue
        outer, inner = "fmnm%d" % n["index"], "fmnm%dh" % n["index"]
        run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
        run(["ip", "link", "set", outer, "master", bridge])
        run(["ip", "link", "set", outer, "up"])
        run(["ip", "link", "set", inner, "netns", str(hosts[n["name"]].pid)])
        out = hosts[n["name"]].cmd(
            "ip link set %s name mgmt0 && ip addr add %s/%s dev mgmt0 && ip link set mgmt0 up"
            % (inner, n["mgmt_ip"], prefix))
        if out.strip():
            raise RuntimeError("management interface of %s: %s" % (n["name"], out.strip()))


def remove_management(desc):
    for n in desc["nodes"]:
        if n.get("mgmt_ip"):
            quiet(["ip", "link", "del", "fmnm%d" % n["index"]])
    quiet(["ip", "link", "del", desc["mgmt_bridge"]])


def link_intfs(desc, link):
    """The two switch interfaces of link index `link`."""
    l = desc["links"][link]
    by_name = {n["name"]: n for n in desc["nodes"]}
    return ["%s-eth%d" % (by_name[l["a"]]["switch"], l["a_port"]),
            "%s-eth%d" % (by_name[l["b"]]["switch"], l["b_port"])]


def set_link(desc, link, up):
    """Both ends of a link down or up, in one `ip -batch` (one process, both at once)."""
    lines = "".join("link set %s %s\n" % (intf, "up" if up else "down")
                    for intf in link_intfs(desc, link))
    subprocess.run(["ip", "-batch", "-"], input=lines, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def shape_bmv2_links(desc):
    """BMv2 has no link emulation: a link's bit rate becomes a tbf qdisc on both veth ends."""
    for i, l in enumerate(desc["links"]):
        if l["tc_rate_bps"] > 0:
            for intf in link_intfs(desc, i):
                run(["tc", "qdisc", "replace", "dev", intf, "root", "tbf", "rate",
                     "%dbit" % l["tc_rate_bps"], "burst", "32kbit", "latency", "400ms"])
