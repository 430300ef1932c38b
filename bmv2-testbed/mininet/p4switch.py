"""A Mininet switch that is a P4Runtime switch process: flash-switch or BMv2 simple_switch_grpc.

Both start with BMv2's own command line and no program; the controller (the merchant anchor)
pushes the pipeline over P4Runtime:

    BIN --no-p4 --device-id N -i P@IFACE ... [extra options] -- \
        --grpc-server-addr ADDR --cpu-port 255 --priority-queues 8

The process runs in the root namespace (where the switch's interfaces are), its output goes to
one log file per switch, and its pid is recorded in the run's process registry so that a later
clean-up finds it even if this runner died.
"""

import signal
import socket
import subprocess
import time

from mininet.node import Switch

import registry

CPU_PORT = 255
PRIORITY_QUEUES = 8


class P4RuntimeSwitch(Switch):
    """A switch process speaking P4Runtime on `grpc_addr`."""

    def __init__(self, name, binary=None, device_id=0, grpc_addr=None, thrift_port=None,
                 extra_args=(), log_path=None, bmv2=False, **params):
        Switch.__init__(self, name, **params)
        self.binary = binary
        self.device_id = device_id
        self.grpc_addr = grpc_addr
        self.thrift_port = thrift_port
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.bmv2 = bmv2
        self.proc = None

    def command_line(self):
        """The simple_switch_grpc command line for this switch's ports."""
        argv = [self.binary, "--no-p4", "--device-id", str(self.device_id)]
        for port, intf in sorted(self.intfs.items()):
            if intf.name == "lo":
                continue
            argv += ["-i", "%d@%s" % (port, intf.name)]
        if self.bmv2:
            argv += ["--thrift-port", str(self.thrift_port), "--log-console", "-L", "warn"]
        else:
            argv += ["--log-console", "-L", "info"]
        argv += self.extra_args
        argv += ["--", "--grpc-server-addr", self.grpc_addr, "--cpu-port", str(CPU_PORT),
                 "--priority-queues", str(PRIORITY_QUEUES)]
        return argv

    def start(self, controllers):
        for intf in self.intfList():
            if intf.name != "lo":
                quiet(["sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % intf.name])
                quiet(["ip", "link", "set", intf.name, "up"])
        argv = self.command_line()
        log = open(self.log_path, "ab")
        log.write(("$ %s\n" % " ".join(argv)).encode())
        log.flush()
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        registry.record(self.proc.pid, "switch " + self.name, argv[0])

    def wait_ready(self, timeout_s=20.0):
        """Waits until the P4Runtime port accepts connections; False if it did not in time or
        the process exited."""
        host, port = self.grpc_addr.rsplit(":", 1)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self, deleteIntfs=True):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc is not None:
            registry.forget(self.proc.pid)
        self.proc = None
        Switch.stop(self, deleteIntfs)


def quiet(argv):
    """Runs a set-up command whose failure is not fatal (an option the kernel lacks)."""
    return subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

