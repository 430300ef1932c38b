//! A payment crossing two switches: a phone and its merchant, each behind its own flash-switch
//! running flash_mesh.p4, joined by an emulated radio link; routes, classes and the epoch come
//! from the merchant anchor's controller over P4Runtime.

use std::sync::atomic::Ordering;
use std::time::Duration;

use flashmesh_mesh::mesh::{Mesh, MeshOptions, PayOutcome};
use flashmesh_mesh::plan::{HOST_PORT, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_crosses_two_switches() {
    let opts = MeshOptions {
        merchants: 1,
        phones_per_cluster: 1,
        probe_ms: 50,
        phase_timeout: Duration::from_secs(5),
        retry_interval: Duration::from_millis(300),
        ..MeshOptions::default()
    };
    let mesh = Mesh::start(&opts, |_| {}).await.expect("mesh starts");
    let plan = mesh.fabric.plan().clone();
    assert_eq!(plan.nodes.len(), 2);
    assert_eq!(plan.nodes[1].role, Role::Phone);
    let epoch = mesh.epoch();
    let options = mesh.pay_options.clone();
    let outcome = {
        let mut payer = mesh.payers[0].lock().await;
        payer.pay(5, epoch, &options).await
    };
    let PayOutcome::Finished(finality) = outcome else {
        panic!("payment failed: {outcome:?}");
    };
    assert!(
        finality > Duration::from_millis(4),
        "two radio hops each way take time"
    );
    // The frames really went through both switches: the merchant's switch delivered the order
    // and the certificate to the anchor's port, the phone's switch the vote and the receipt.
    let merchant_rx = mesh.fabric.device(0).port_counters(HOST_PORT).tx;
    let phone_rx = mesh.fabric.device(1).port_counters(HOST_PORT).tx;
    assert!(
        merchant_rx >= 2,
        "merchant host port transmitted {merchant_rx}"
    );
    assert!(phone_rx >= 2, "phone host port transmitted {phone_rx}");
    let m = mesh.anchor(0).expect("anchor runs").metrics();
    assert_eq!(m.orders.load(Ordering::Relaxed), 1);
    assert_eq!(m.certificates.load(Ordering::Relaxed), 1);
    // A second payment uses the next nonce.
    let again = mesh.payers[0].lock().await.pay(5, epoch, &options).await;
    assert!(matches!(again, PayOutcome::Finished(_)), "{again:?}");
    assert_eq!(m.certificates.load(Ordering::Relaxed), 2);
    let flights = mesh.fabric.recorder().summary();
    assert!(flights.delivered >= 8, "{flights:?}");
    mesh.shutdown().await;
}
