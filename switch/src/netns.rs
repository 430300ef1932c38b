//! Network namespaces and veth pairs for tests and benchmarks (root only), removed on drop.
//!
//! Everything is created with the `ip` tool under names the caller chooses (keep them unique,
//! for example with the process id), and removed again when the guard is dropped, also when a
//! test fails half-way.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;

/// Whether the process runs as root (needed for namespaces and AF_PACKET).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `ip` with `args`; an error carries its stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs a command inside a namespace and returns its stdout.
pub fn exec_in(ns: &str, cmd: &[&str]) -> io::Result<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{}: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A network namespace, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `name` (replacing a stale one of the same name) with loopback up.
    pub fn create(name: &str) -> io::Result<Self> {
        let _ = ip(&["netns", "del", name]);
        ip(&["netns", "add", name])?;
        let ns = Self {
            name: name.to_string(),
        };
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread into this namespace (sockets it opens afterwards live there).
    pub fn enter_current_thread(&self) -> io::Result<()> {
        let f = File::open(format!("/var/run/netns/{}", self.name))?;
        // SAFETY: setns on a valid namespace descriptor affects only the calling thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads an interface counter (`rx_packets`, `tx_packets`, ...) inside the namespace.
    pub fn counter(&self, iface: &str, name: &str) -> io::Result<u64> {
        let text = exec_in(
            &self.name,
            &["cat", &format!("/sys/class/net/{iface}/statistics/{name}")],
        )?;
        text.trim()
            .parse()
            .map_err(|_| io::Error::other(format!("bad counter {text:?}")))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A veth pair whose first end stays in the root namespace, deleted on drop.
pub struct Veth {
    host: String,
}

impl Veth {
    /// Creates `host` <-> `peer`, moves `peer` into `ns` with `addr` (CIDR, optional), brings
    /// both up and turns IPv6 off on both so that no stray neighbour discovery frames appear.
    pub fn create(host: &str, peer: &str, ns: &Netns, addr: Option<&str>) -> io::Result<Self> {
        let _ = ip(&["link", "del", host]);
        ip(&["link", "add", host, "type", "veth", "peer", "name", peer])?;
        let veth = Self {
            host: host.to_string(),
        };
        ip(&["link", "set", peer, "netns", ns.name()])?;
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{host}/disable_ipv6"), "1");
        let _ = exec_in(
            ns.name(),
            &[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{peer}.disable_ipv6=1"),
            ],
        );
        if let Some(a) = addr {
            ip(&["-n", ns.name(), "addr", "add", a, "dev", peer])?;
        }
        ip(&["link", "set", host, "up"])?;
        ip(&["-n", ns.name(), "link", "set", peer, "up"])?;
        Ok(veth)
    }

    /// The root-namespace end.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host]);
    }
}

/// The MAC address of an interface inside a namespace.
pub fn mac_in(ns: &Netns, iface: &str) -> io::Result<[u8; 6]> {
    let text = exec_in(
        ns.name(),
        &["cat", &format!("/sys/class/net/{iface}/address")],
    )?;
    parse_mac(text.trim()).ok_or_else(|| io::Error::other(format!("bad MAC {text:?}")))
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:00:00:00:00:0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:0a:01"), None);
        assert_eq!(parse_mac("zz:00:00:00:00:0a"), None);
    }
}
