//! The command line: BMv2 `simple_switch_grpc`'s own options, so that a script written for BMv2
//! starts flash-switch by changing only the binary's name, plus flash-switch's additions.
//!
//! ```text
//! flash-switch [general options] [PROG.p4] [-- target options]
//! flash-switch compile PROG.p4 --p4info OUT.p4info.txtpb
//! flash-switch bench [options]
//! ```
//!
//! General options (before `--`) are BMv2's: `-i N@IFACE` (repeatable), `--device-id`,
//! `--no-p4`, `--log-console`, `-L/--log-level`, `--log-file`, `--thrift-port`, ... Options
//! that only make sense for BMv2's internals (`--thrift-port`, `--nanolog`, `--debugger`,
//! `--pcap`, `--notifications-addr`, ...) are accepted and ignored with a log line. Target
//! options (after `--`, and also accepted before it) are `--grpc-server-addr` (default
//! 0.0.0.0:9559), `--cpu-port` and `--priority-queues`. The program is P4_16 source; given a
//! BMv2 JSON file, flash-switch looks for the P4 source that the JSON names beside it.

use std::path::PathBuf;

use clap::{Args, Parser};

/// Default P4Runtime address, as BMv2's.
pub const DEFAULT_GRPC_ADDR: &str = "0.0.0.0:9559";

/// `simple_switch_grpc` target options.
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct TargetArgs {
    /// P4Runtime gRPC server address (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc_server_addr: Option<String>,
    /// CPU port: packet-outs enter here, packets sent here become packet-ins.
    #[arg(long, value_name = "N")]
    pub cpu_port: Option<u32>,
    /// Strict-priority queues per egress port (1..=8); without it any priority above 0 drops.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=8))]
    pub priority_queues: Option<u8>,
    /// BMv2 drop port; only 511 (the v1model default) is supported.
    #[arg(long, value_name = "N")]
    pub drop_port: Option<u32>,
    /// Accepted for compatibility (BMv2's data-plane gRPC service); ignored.
    #[arg(long, value_name = "HOST:PORT")]
    pub dp_grpc_server_addr: Option<String>,
    /// Accepted for compatibility (BMv2 target modules); ignored.
    #[arg(long, value_name = "MODULES")]
    pub load_modules: Option<String>,
}

impl TargetArgs {
    fn merge(&mut self, later: TargetArgs) {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f; } )* };
        }
        take!(
            grpc_server_addr,
            cpu_port,
            priority_queues,
            drop_port,
            dp_grpc_server_addr,
            load_modules
        );
    }
}

/// Options for running a switch.
#[derive(Parser, Debug, Clone, Default, PartialEq)]
#[command(
    name = "flash-switch",
    version,
    about = "A software P4Runtime switch that stands in for BMv2 simple_switch_grpc."
)]
pub struct RunArgs {
    /// Attach switch port N to Linux interface IFACE (repeatable).
    #[arg(short = 'i', long = "interface", value_name = "N@IFACE", value_parser = parse_port_iface)]
    pub interfaces: Vec<(u32, String)>,
    /// P4Runtime device id.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub device_id: u64,
    /// Start without a program; the controller pushes one over P4Runtime.
    #[arg(long)]
    pub no_p4: bool,
    /// Log to the console (stderr).
    #[arg(long)]
    pub log_console: bool,
    /// Log level: trace, debug, info, warn, error, off.
    #[arg(short = 'L', long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log to this file.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Accepted for compatibility; logs are always flushed.
    #[arg(long)]
    pub log_flush: bool,
    /// Accepted for compatibility: flash-switch has no Thrift server (see --control-addr).
    #[arg(long, value_name = "N")]
    pub thrift_port: Option<u16>,
    /// Accepted for compatibility; packet capture is not implemented (use tcpdump).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "")]
    pub pcap: Option<String>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "ADDR")]
    pub nanolog: Option<String>,
    /// Accepted for compatibility; ignored.
    #[arg(long)]
    pub debugger: bool,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "ADDR")]
    pub debugger_addr: Option<String>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "ADDR")]
    pub notifications_addr: Option<String>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "ADDR")]
    pub packet_in: Option<String>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "N")]
    pub use_files: Option<u32>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "FILE")]
    pub restore_state: Option<PathBuf>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "N")]
    pub dump_packet_data: Option<u32>,
    /// Accepted for compatibility; ignored.
    #[arg(long, value_name = "N")]
    pub max_port_count: Option<u32>,
    /// Target options may also come before `--`.
    #[command(flatten)]
    pub target: TargetArgs,
    /// flash-switch: TOML file of queue and link-emulation settings.
    #[arg(long, value_name = "FILE")]
    pub link_config: Option<PathBuf>,
    /// flash-switch: emulate a link on an egress port (repeatable).
    #[arg(
        long = "link",
        value_name = "PORT:DELAY_MS:JITTER_MS:LOSS[:RATE_PPS[:RATE_BPS]]"
    )]
    pub links: Vec<String>,
    /// flash-switch: serve the run-time control commands on HOST:PORT (TCP) or unix:PATH.
    #[arg(long, value_name = "ADDR")]
    pub control_addr: Option<String>,
    /// flash-switch: seed of link-emulation randomness.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// flash-switch: frames read per port per datapath round.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub batch: usize,
    /// flash-switch: datapath threads. The ports, in ascending number, are split into N
    /// contiguous groups, each received, processed and transmitted by its own thread; the
    /// pipeline's tables and registers stay one shared state.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub datapath_threads: u16,
    /// The P4_16 program (a BMv2 JSON is mapped to the P4 source it names).
    #[arg(value_name = "PROG")]
    pub program: Option<PathBuf>,
}

/// Target options after `--` (and a stray program path, which some scripts put there).
#[derive(Parser, Debug, Clone, Default, PartialEq)]
#[command(name = "flash-switch --")]
struct AfterSeparator {
    #[command(flatten)]
    target: TargetArgs,
    #[arg(value_name = "PROG")]
    program: Option<PathBuf>,
}

/// Parses `-i` values.
fn parse_port_iface(s: &str) -> Result<(u32, String), String> {
    let (n, iface) = s
        .split_once('@')
        .ok_or_else(|| format!("expected N@IFACE, got {s:?}"))?;
    let n: u32 = n.parse().map_err(|_| format!("bad port number in {s:?}"))?;
    if iface.is_empty() {
        return Err(format!("empty interface name in {s:?}"));
    }
    Ok((n, iface.to_string()))
}

impl RunArgs {
    /// Parses a full command line (`args[0]` is the program name), splitting at the first `--`.
    pub fn parse_from_args(args: &[String]) -> Result<Self, clap::Error> {
        let split = args.iter().position(|a| a == "--");
        let (general, target) = match split {
            Some(i) => (&args[..i], &args[i + 1..]),
            None => (args, &args[args.len()..]),
        };
        let mut run = RunArgs::try_parse_from(general)?;
        if !target.is_empty() {
            let mut argv = vec!["flash-switch --".to_string()];
            argv.extend(target.iter().cloned());
            let after = AfterSeparator::try_parse_from(argv)?;
            run.target.merge(after.target);
            if run.program.is_none() {
                run.program = after.program;
            }
        }
        Ok(run)
    }

    /// The gRPC address to serve on.
    pub fn grpc_addr(&self) -> &str {
        self.target
            .grpc_server_addr
            .as_deref()
            .unwrap_or(DEFAULT_GRPC_ADDR)
    }

    /// BMv2 options accepted here but without effect, by name (for a log line).
    pub fn ignored_options(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut note = |set: bool, name| {
            if set {
                v.push(name);
            }
        };
        note(
            self.thrift_port.is_some(),
            "--thrift-port (no Thrift server; use --control-addr)",
        );
        note(self.pcap.is_some(), "--pcap");
        note(self.nanolog.is_some(), "--nanolog");
        note(self.debugger || self.debugger_addr.is_some(), "--debugger");
        note(self.notifications_addr.is_some(), "--notifications-addr");
        note(self.packet_in.is_some(), "--packet-in");
        note(self.use_files.is_some(), "--use-files");
        note(self.restore_state.is_some(), "--restore-state");
        note(self.dump_packet_data.is_some(), "--dump-packet-data");
        note(self.max_port_count.is_some(), "--max-port-count");
        note(
            self.target.dp_grpc_server_addr.is_some(),
            "--dp-grpc-server-addr",
        );
        note(self.target.load_modules.is_some(), "--load-modules");
        v
    }
}

/// `flash-switch compile`.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "flash-switch compile",
    about = "Check a P4_16 program and write its P4Info."
)]
pub struct CompileArgs {
    /// The P4_16 program.
    pub program: PathBuf,
    /// Where to write the P4Info (protobuf text format, as p4c's --p4runtime-files).
    #[arg(long, value_name = "FILE")]
    pub p4info: Option<PathBuf>,
}

/// `flash-switch bench`.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "flash-switch bench",
    about = "Measure forwarding rate between two veth pairs in network namespaces (root)."
)]
pub struct BenchArgs {
    /// The P4 program to run (default: the built-in router example).
    #[arg(long, value_name = "FILE")]
    pub program: Option<PathBuf>,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// UDP payload bytes per frame.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Frames read per port per datapath round.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Also measure the pipeline alone (no sockets), frames per second on one core.
    #[arg(long)]
    pub pipeline_only: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn accepts_the_design_example_verbatim() {
        let a = RunArgs::parse_from_args(&argv(
            "simple_switch_grpc --no-p4 --device-id 0 -i 1@s1-eth1 -i 2@s1-eth2 -- \
             --grpc-server-addr 127.0.0.1:50051 --cpu-port 255 --priority-queues 8",
        ))
        .unwrap();
        assert!(a.no_p4);
        assert_eq!(a.device_id, 0);
        assert_eq!(
            a.interfaces,
            vec![(1, "s1-eth1".into()), (2, "s1-eth2".into())]
        );
        assert_eq!(a.grpc_addr(), "127.0.0.1:50051");
        assert_eq!(a.target.cpu_port, Some(255));
        assert_eq!(a.target.priority_queues, Some(8));
    }

    #[test]
    fn accepts_the_reference_capture_command() {
        let a = RunArgs::parse_from_args(&argv(
            "flash-switch --no-p4 --device-id 0 --thrift-port 39090 -i 1@rfs1 -i 2@rfs2 -i 3@rfs3 -- \
             --grpc-server-addr 127.0.0.1:39559 --cpu-port 255 --priority-queues 8",
        ))
        .unwrap();
        assert_eq!(a.thrift_port, Some(39090));
        assert_eq!(a.interfaces.len(), 3);
        assert!(a.ignored_options()[0].starts_with("--thrift-port"));
    }

    #[test]
    fn accepts_mininet_style_options_and_interleaved_program() {
        let a = RunArgs::parse_from_args(&argv(
            "flash-switch -i 1@s1-eth1 --pcap /tmp/pcaps --device-id 3 build/prog.json --log-console \
             -L debug --log-file s1.log --log-flush --nanolog ipc:///tmp/bm-0-log.ipc --debugger \
             --thrift-port 9090 -- --grpc-server-addr 0.0.0.0:50051 --cpu-port 510",
        ))
        .unwrap();
        assert_eq!(a.pcap.as_deref(), Some("/tmp/pcaps"));
        assert_eq!(a.program, Some(PathBuf::from("build/prog.json")));
        assert_eq!(a.log_level.as_deref(), Some("debug"));
        assert_eq!(a.device_id, 3);
        assert_eq!(a.target.cpu_port, Some(510));
        // A bare --pcap takes no value.
        let b = RunArgs::parse_from_args(&argv("flash-switch --pcap --no-p4")).unwrap();
        assert_eq!(b.pcap.as_deref(), Some(""));
        assert!(b.no_p4);
    }

    #[test]
    fn target_options_before_separator_and_program_after_it() {
        let a = RunArgs::parse_from_args(&argv(
            "flash-switch --priority-queues 4 -i 0@veth0 --no-p4 -- --grpc-server-addr 127.0.0.1:1 prog.json",
        ))
        .unwrap();
        assert_eq!(a.target.priority_queues, Some(4));
        assert_eq!(a.program, Some(PathBuf::from("prog.json")));
        assert_eq!(
            RunArgs::parse_from_args(&argv("flash-switch"))
                .unwrap()
                .grpc_addr(),
            DEFAULT_GRPC_ADDR
        );
    }

    #[test]
    fn datapath_threads_default_to_one_and_are_bounded() {
        let one = RunArgs::parse_from_args(&argv("flash-switch --no-p4")).unwrap();
        assert_eq!(one.datapath_threads, 1);
        let two = RunArgs::parse_from_args(&argv(
            "flash-switch --datapath-threads 2 -i 1@a -i 2@b -- --priority-queues 8",
        ))
        .unwrap();
        assert_eq!(two.datapath_threads, 2);
        assert!(RunArgs::parse_from_args(&argv("flash-switch --datapath-threads 0")).is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(RunArgs::parse_from_args(&argv("flash-switch -i eth0")).is_err());
        assert!(RunArgs::parse_from_args(&argv("flash-switch -i x@eth0")).is_err());
        assert!(RunArgs::parse_from_args(&argv("flash-switch -- --priority-queues 9")).is_err());
        assert!(RunArgs::parse_from_args(&argv("flash-switch --bogus")).is_err());
    }
}
