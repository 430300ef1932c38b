//! A phone that signs two orders for one nonce is blocked in the switches: its merchant's
//! anchor (the same assembly the `merchant-anchor` binary runs) refuses the second order as
//! conflicting and has its controller install a `blocked_senders` entry, after which the
//! phone's next datagram dies in the data plane with the `blocked` drop reason.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flashmesh_controller::sdn::flash_mesh::DROP_REASONS;
use flashmesh_core::messages::{DEFAULT_TOKEN, SignedOrder, TransferOrder};
use flashmesh_core::{Envelope, MAX_DATAGRAM_LEN, Message};
use flashmesh_mesh::mesh::{Mesh, MeshOptions};
use flashmesh_transport::Transport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_order_blocks_its_sender_in_the_switches() {
    let opts = MeshOptions {
        merchants: 1,
        phones_per_cluster: 1,
        probe_ms: 50,
        ..MeshOptions::default()
    };
    let mesh = Mesh::start(&opts, |_| {}).await.expect("mesh starts");
    let blocked = DROP_REASONS
        .iter()
        .find(|(_, n)| *n == "blocked_sender")
        .map(|(r, _)| *r)
        .expect("a blocked drop reason");
    let epoch = mesh.epoch();
    let anchor = mesh.anchor_addr(0);
    let (key, recipient, transport) = {
        let p = mesh.payers[0].lock().await;
        (p.keypair().clone(), p.recipient(), p.transport().clone())
    };
    let order = |amount| {
        SignedOrder::sign(
            TransferOrder {
                sender: key.public(),
                recipient,
                token: DEFAULT_TOKEN,
                amount,
                nonce: 0,
                epoch,
                ttl: 8,
            },
            &key,
        )
    };
    let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
    let mut ask = async |order: SignedOrder, retry: u8| -> Option<Message> {
        let bytes = Envelope::order(order).with_retry(retry).encode().unwrap();
        transport.send_to(&bytes, anchor).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(3), transport.recv_from(&mut buf)).await;
        let (n, _) = got.ok()?.ok()?;
        Envelope::decode(&buf[..n]).ok().map(|e| e.message)
    };
    // The first order is locked and voted for; the second, for the same nonce, is refused
    // (sent as a retry: the in-switch duplicate filter keys on sender, nonce, type and retry).
    assert!(matches!(ask(order(5), 0).await, Some(Message::Vote(_))));
    assert!(matches!(ask(order(6), 1).await, Some(Message::Error(_))));
    let metrics = mesh.anchor(0).expect("anchor runs").metrics().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.penalties_applied.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metrics.penalties_applied.load(Ordering::Relaxed), 1);
    // From now on the phone's datagrams die in its own switch: no answer, a blocked drop.
    let before = blocked_drops(&mesh, blocked).await;
    let orders_before = metrics.orders.load(Ordering::Relaxed);
    assert!(
        ask(order(5), 2).await.is_none(),
        "a blocked sender got an answer"
    );
    let after = blocked_drops(&mesh, blocked).await;
    assert!(after > before, "blocked drops {before} -> {after}");
    assert_eq!(metrics.orders.load(Ordering::Relaxed), orders_before);
    mesh.shutdown().await;
}

/// Datagrams the mesh's switches dropped for `reason`, read over P4Runtime.
async fn blocked_drops(mesh: &Mesh, reason: u32) -> u64 {
    mesh.control
        .drops()
        .await
        .get(&reason)
        .copied()
        .unwrap_or(0)
}
