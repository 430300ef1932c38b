//! Namespace test (root): two network namespaces joined through flash-switch on veth pairs.
//!
//! ```text
//!  ns A: fnXa1 10.201.1.1/24 <-> fnXa0 = port 1 [flash-switch, router.p4] port 2 = fnXb0 <-> fnXb1 10.201.2.2/24 :ns B
//! ```
//!
//! The switch starts without a program (`--no-p4`); a P4Runtime client pushes
//! `examples/router.p4` and installs the routes and traffic classes over gRPC. Checks that UDP
//! crosses the switch, that link emulation adds the delay and loss that were
//! set, and that with a rate-limited port and two priorities the high class keeps its latency
//! while the low class queues up and drops. Every loop is bounded in count and time; the
//! namespaces and veth pairs are removed on drop, also when an assertion fails.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flash_switch::bench::ROUTER_P4;
use flash_switch::control::parse;
use flash_switch::datapath::DatapathConfig;
use flash_switch::device::{Device, DeviceConfig};
use flash_switch::netns::{Netns, Veth, ip, is_root, mac_in};
use flash_switch::port::PortBinding;

const GW_MAC: &str = "02:00:00:00:01:fe";
const HIGH_PORT: u16 = 6000;
const LOW_PORT: u16 = 6001;

fn clock() -> &'static Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    clock().elapsed().as_nanos() as u64
}

struct Net {
    _grpc: (
        tokio::runtime::Runtime,
        flash_switch::p4rt::P4rtServer,
        controller::Controller,
    ),
    device: Arc<Device>,
    ns_a: Netns,
    ns_b: Netns,
    _veths: (Veth, Veth),
}

fn setup() -> Net {
    let id = std::process::id() % 100_000;
    let ns_a = Netns::create(&format!("fsn{id}a")).unwrap();
    let ns_b = Netns::create(&format!("fsn{id}b")).unwrap();
    let (a0, a1, b0, b1) = (
        format!("fn{id}a0"),
        format!("fn{id}a1"),
        format!("fn{id}b0"),
        format!("fn{id}b1"),
    );
    let va = Veth::create(&a0, &a1, &ns_a, Some("10.201.1.1/24")).unwrap();
    let vb = Veth::create(&b0, &b1, &ns_b, Some("10.201.2.2/24")).unwrap();
    for (ns, dev, gw) in [(&ns_a, &a1, "10.201.1.254"), (&ns_b, &b1, "10.201.2.254")] {
        ip(&[
            "-n",
            ns.name(),
            "neigh",
            "replace",
            gw,
            "lladdr",
            GW_MAC,
            "dev",
            dev,
            "nud",
            "permanent",
        ])
        .unwrap();
        ip(&["-n", ns.name(), "route", "add", "default", "via", gw]).unwrap();
    }
    let mac_a = mac_in(&ns_a, &a1).unwrap();
    let mac_b = mac_in(&ns_b, &b1).unwrap();
    let config = DeviceConfig {
        priority_queues: 8,
        datapath: DatapathConfig {
            seed: 1234,
            ..Default::default()
        },
        ..Default::default()
    };
    let device = Device::start(
        config,
        None,
        vec![
            (1, PortBinding::Interface(a0.clone())),
            (2, PortBinding::Interface(b0.clone())),
        ],
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (server, controller) = rt.block_on(async {
        let server =
            flash_switch::p4rt::spawn(device.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .unwrap();
        let mut c = controller::Controller::connect(server.local_addr(), ROUTER_P4).await;
        let (lpm, fwd) = ("RouterIngress.ipv4_lpm", "RouterIngress.forward");
        c.insert(
            lpm,
            controller::lpm([10, 201, 2, 0], 24),
            fwd,
            &[("port", vec![2]), ("dst_mac", mac_b.to_vec())],
        )
        .await;
        c.insert(
            lpm,
            controller::lpm([10, 201, 1, 0], 24),
            fwd,
            &[("port", vec![1]), ("dst_mac", mac_a.to_vec())],
        )
        .await;
        let (class, set) = ("RouterIngress.classify", "RouterIngress.set_class");
        c.insert(
            class,
            controller::exact(&HIGH_PORT.to_be_bytes()),
            set,
            &[("class", vec![1])],
        )
        .await;
        c.insert(
            class,
            controller::exact(&LOW_PORT.to_be_bytes()),
            set,
            &[("class", vec![0])],
        )
        .await;
        (server, c)
    });
    assert!(device.program().is_some(), "pipeline pushed over P4Runtime");
    Net {
        _grpc: (rt, server, controller),
        device,
        ns_a,
        ns_b,
        _veths: (va, vb),
    }
}

/// A minimal P4Runtime controller: primary by arbitration, pushes the router pipeline and
/// installs the routes and classes with Write.
mod controller {
    use std::net::SocketAddr;

    use flashmesh_proto::p4::config::v1::P4Info;
    use flashmesh_proto::p4::v1::{
        self as p4v1, MasterArbitrationUpdate, StreamMessageRequest, StreamMessageResponse,
        Uint128, field_match::FieldMatchType, p4_runtime_client::P4RuntimeClient,
        stream_message_request, stream_message_response,
    };
    use tokio::sync::mpsc;
    use tonic::transport::Channel;

    pub struct Controller {
        client: P4RuntimeClient<Channel>,
        p4info: P4Info,
        _stream: (
            mpsc::Sender<StreamMessageRequest>,
            tonic::Streaming<StreamMessageResponse>,
        ),
    }

    const ELECTION: Uint128 = Uint128 { high: 0, low: 1 };

    impl Controller {
        /// Connects, becomes primary and pushes `source` with its derived P4Info.
        pub async fn connect(addr: SocketAddr, source: &str) -> Controller {
            let mut client = P4RuntimeClient::connect(format!("http://{addr}"))
                .await
                .unwrap();
            let (tx, rx) = mpsc::channel(16);
            let mut inbound = client
                .stream_channel(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner();
            let arbitration = MasterArbitrationUpdate {
                device_id: 0,
                election_id: Some(ELECTION),
                ..Default::default()
            };
            tx.send(StreamMessageRequest {
                update: Some(stream_message_request::Update::Arbitration(arbitration)),
            })
            .await
            .unwrap();
            loop {
                let msg =
                    tokio::time::timeout(std::time::Duration::from_secs(5), inbound.message())
                        .await
                        .expect("arbitration answer in time")
                        .unwrap()
                        .expect("stream open");
                if let Some(stream_message_response::Update::Arbitration(a)) = msg.update {
                    assert_eq!(a.status.map(|s| s.code), Some(0), "primary");
                    break;
                }
            }
            let p4info = flashmesh_p4::p4info_source("router.p4", source).unwrap();
            let push = p4v1::SetForwardingPipelineConfigRequest {
                device_id: 0,
                election_id: Some(ELECTION),
                action: p4v1::set_forwarding_pipeline_config_request::Action::VerifyAndCommit
                    as i32,
                config: Some(p4v1::ForwardingPipelineConfig {
                    p4info: Some(p4info.clone()),
                    p4_device_config: source.as_bytes().to_vec(),
                    cookie: None,
                }),
                ..Default::default()
            };
            client.set_forwarding_pipeline_config(push).await.unwrap();
            Controller {
                client,
                p4info,
                _stream: (tx, inbound),
            }
        }

        /// Inserts an entry with one key field and named action parameters.
        pub async fn insert(
            &mut self,
            table: &str,
            key: FieldMatchType,
            action: &str,
            params: &[(&str, Vec<u8>)],
        ) {
            let t = self
                .p4info
                .tables
                .iter()
                .find(|t| t.preamble.as_ref().unwrap().name == table)
                .expect(table);
            let a = self
                .p4info
                .actions
                .iter()
                .find(|a| a.preamble.as_ref().unwrap().name == action)
                .expect(action);
            let entry = p4v1::TableEntry {
                table_id: t.preamble.as_ref().unwrap().id,
                r#match: vec![p4v1::FieldMatch {
                    field_id: t.match_fields[0].id,
                    field_match_type: Some(key),
                }],
                action: Some(p4v1::TableAction {
                    r#type: Some(p4v1::table_action::Type::Action(p4v1::Action {
                        action_id: a.preamble.as_ref().unwrap().id,
                        params: params
                            .iter()
                            .map(|(name, value)| p4v1::action::Param {
                                param_id: a.params.iter().find(|p| p.name == *name).expect(name).id,
                                value: value.clone(),
                            })
                            .collect(),
                    })),
                }),
                ..Default::default()
            };
            let req = p4v1::WriteRequest {
                device_id: 0,
                election_id: Some(ELECTION),
                updates: vec![p4v1::Update {
                    r#type: p4v1::update::Type::Insert as i32,
                    entity: Some(p4v1::Entity {
                        entity: Some(p4v1::entity::Entity::TableEntry(entry)),
                    }),
                }],
                ..Default::default()
            };
            self.client.write(req).await.unwrap();
        }
    }

    pub fn lpm(addr: [u8; 4], len: i32) -> FieldMatchType {
        FieldMatchType::Lpm(p4v1::field_match::Lpm {
            value: addr.to_vec(),
            prefix_len: len,
        })
    }

    pub fn exact(v: &[u8]) -> FieldMatchType {
        FieldMatchType::Exact(p4v1::field_match::Exact { value: v.to_vec() })
    }
}

/// Runs `f` on a thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(path).unwrap();
        // SAFETY: setns on a valid namespace descriptor affects only this thread.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        f()
    })
}

/// Datagrams received: (sequence number, one-way delay in ms).
type Arrivals = Vec<(u32, f64)>;

/// Receives on `port` in namespace B until `until` (bounded).
fn receiver(ns: &Netns, port: u16, until: Duration) -> JoinHandle<Arrivals> {
    let sock_ready = Arc::new(std::sync::Barrier::new(2));
    let ready = sock_ready.clone();
    let h = in_ns(ns, move || {
        let sock = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        ready.wait();
        let end = Instant::now() + until;
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < end && got.len() < 100_000 {
            if let Ok(n) = sock.recv(&mut buf)
                && n >= 12
            {
                let seq = u32::from_be_bytes(buf[0..4].try_into().unwrap());
                let sent = u64::from_be_bytes(buf[4..12].try_into().unwrap());
                got.push((seq, now_ns().saturating_sub(sent) as f64 / 1e6));
            }
        }
        got
    });
    sock_ready.wait();
    h
}

/// Sends `count` datagrams to B's `port` at `pps` from namespace A.
fn sender(ns: &Netns, port: u16, count: u32, pps: f64) -> JoinHandle<()> {
    in_ns(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        let one: libc::c_int = 1;
        // SAFETY: SO_NO_CHECK takes an int; sends UDP checksum 0 (valid for IPv4), so that a
        // checksum left to offload by the veth is never forwarded unfinished.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NO_CHECK,
                (&one as *const libc::c_int).cast(),
                4,
            )
        };
        let to = SocketAddr::from((Ipv4Addr::new(10, 201, 2, 2), port));
        let start = Instant::now();
        let mut payload = [0u8; 64];
        for seq in 0..count {
            let due = start + Duration::from_secs_f64(f64::from(seq) / pps);
            // Sleep (never spin) so that the senders leave the CPU to the switch.
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            payload[0..4].copy_from_slice(&seq.to_be_bytes());
            payload[4..12].copy_from_slice(&now_ns().to_be_bytes());
            let _ = sock.send_to(&payload, to);
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

#[test]
fn udp_crosses_link_emulation_and_priorities() {
    if !is_root() {
        println!("skipped: the namespace test needs root (network namespaces and AF_PACKET)");
        return;
    }
    clock();
    let net = setup();

    // 1. UDP crosses the switch, baseline delay.
    let rx = receiver(&net.ns_b, HIGH_PORT, Duration::from_millis(1500));
    sender(&net.ns_a, HIGH_PORT, 100, 200.0).join().unwrap();
    let base = rx.join().unwrap();
    assert!(
        base.len() >= 98,
        "only {} of 100 datagrams crossed",
        base.len()
    );
    let base_delay = median(base.iter().map(|a| a.1).collect());
    println!(
        "baseline: {} of 100 received, median one-way delay {base_delay:.3} ms",
        base.len()
    );

    // 2. Link emulation on port 2: 20 ms delay, 20 % loss.
    let reply = net.device.control(&parse("set_link 2 20 0 0.2").unwrap());
    assert_eq!(reply, "ok");
    let rx = receiver(&net.ns_b, HIGH_PORT, Duration::from_millis(2500));
    sender(&net.ns_a, HIGH_PORT, 1000, 1000.0).join().unwrap();
    let got = rx.join().unwrap();
    let loss = 1.0 - got.len() as f64 / 1000.0;
    let delay = median(got.iter().map(|a| a.1).collect());
    println!(
        "link 20 ms / 20 % loss: measured loss {:.1} %, median delay {delay:.2} ms (added {:.2} ms)",
        loss * 100.0,
        delay - base_delay
    );
    assert!((loss - 0.2).abs() < 0.06, "loss {loss}");
    assert!(
        (delay - base_delay - 20.0).abs() < 3.0,
        "delay {delay} ms over baseline {base_delay} ms"
    );

    // 3. Two priorities on a port limited to 1000 packets/s: high offers 100 pps, low 3000 pps.
    net.device.control(&parse("set_link 2 0 0 0 1000").unwrap());
    let rx_high = receiver(&net.ns_b, HIGH_PORT, Duration::from_millis(2500));
    let rx_low = receiver(&net.ns_b, LOW_PORT, Duration::from_millis(2500));
    let low = sender(&net.ns_a, LOW_PORT, 3000, 3000.0);
    std::thread::sleep(Duration::from_millis(200));
    let high = sender(&net.ns_a, HIGH_PORT, 80, 100.0);
    low.join().unwrap();
    high.join().unwrap();
    let (high, low) = (rx_high.join().unwrap(), rx_low.join().unwrap());
    let high_p95 = percentile(high.iter().map(|a| a.1).collect(), 0.95);
    let low_med = median(low.iter().map(|a| a.1).collect());
    let report = net.device.port_report(2);
    let queues = report.tm.clone().unwrap().queues;
    println!(
        "priorities at 1000 pps: high {} of 80 received, p95 delay {high_p95:.2} ms; low {} of 3000 received, median delay {low_med:.1} ms; low queue drops {}, max depth {}",
        high.len(),
        low.len(),
        queues[0].dropped_full,
        queues[0].max_depth
    );
    assert_eq!(high.len(), 80, "the high class lost packets");
    assert!(
        high_p95 < base_delay + 5.0,
        "high class p95 delay {high_p95} ms"
    );
    assert!(
        low_med > 30.0,
        "low class median delay {low_med} ms: its queue did not fill"
    );
    assert!(
        queues[0].dropped_full > 1000,
        "low queue drops {}",
        queues[0].dropped_full
    );
    assert!(
        low.len() < 2000,
        "low class got {} through a 1000 pps port",
        low.len()
    );
    assert_eq!(queues[1].dropped_full, 0);
    net.device.shutdown();
}
