//! The controller's background tasks: the epoch ticker, the prober's steady grid of rounds,
//! penalty expiry, and per switch a packet-in listener and a mastership watcher that
//! reconciles the switch whenever this controller becomes its primary again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tracing::{info, warn};

use crate::p4rt::spec::EntryUpdate;
use crate::p4rt::{Mastership, PacketIn};
use crate::sdn::flash_mesh as fm;

use super::{ControllerEvent, EntryStore, Shared};

pub(super) async fn advance(sh: &Shared) -> u32 {
    let allowance = sh.state.lock().await.settings.retry_allowance;
    let next = sh.epoch_tx.borrow().saturating_add(1);
    sh.write_epoch(next, allowance).await;
    sh.epoch_tx.send_replace(next);
    sh.emit(ControllerEvent::Epoch(next));
    next
}

pub(super) async fn epoch_ticker(sh: Arc<Shared>) {
    loop {
        let ms = sh.state.lock().await.settings.epoch_length_ms.max(1);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        advance(&sh).await;
    }
}

pub(super) async fn prober(sh: Arc<Shared>) {
    let mut period = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    loop {
        let ms = sh.state.lock().await.settings.probe_interval_ms.max(1);
        if ms != period {
            // a steady grid of rounds, not "interval after the last round's work"
            period = ms;
            tick = tokio::time::interval(Duration::from_millis(ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
        }
        tick.tick().await;
        sh.probe_round().await;
    }
}

pub(super) async fn penalty_expiry(sh: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        sh.expire_penalties().await;
    }
}

/// Hands every packet-in of `node`'s switch to the controller (probe replies).
pub(super) async fn packet_in_listener(
    sh: Arc<Shared>,
    node: String,
    mut rx: broadcast::Receiver<PacketIn>,
) {
    loop {
        match rx.recv().await {
            Ok(p) => sh.on_packet_in(&node, p).await,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                warn!(node, "packet-in receiver lagged by {n}");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Reconciles `node`'s switch each time this controller becomes its primary again (after a
/// reconnect the session re-claims mastership).
pub(super) async fn mastership_watcher(
    sh: Arc<Shared>,
    node: String,
    mut m: watch::Receiver<Mastership>,
) {
    let mut last = *m.borrow();
    while m.changed().await.is_ok() {
        let now = *m.borrow();
        if now == Mastership::Primary && last != Mastership::Primary {
            info!(node, "primary (again): reconciling the switch");
            let mut st = sh.state.lock().await;
            if let Err(e) = sh.reconcile_node(&mut st, &node).await {
                warn!(node, "reconcile after regaining mastership failed: {e}");
            }
        }
        last = now;
    }
}

impl Shared {
    async fn expire_penalties(&self) {
        let mut st = self.state.lock().await;
        let gone = st.penalties.expire(self.now_ms());
        for s in gone {
            let u = EntryUpdate::delete(fm::blocked_entry(s));
            for sw in self.switches.iter().filter(|x| self.is_primary(&x.node)) {
                if let Err(e) = EntryStore::write(self, &sw.node, std::slice::from_ref(&u)).await {
                    warn!(node = sw.node, "unblock failed: {e}");
                }
            }
            self.emit(ControllerEvent::Unblocked(s));
        }
    }
}
