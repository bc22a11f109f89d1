//! Query deadlines that fire even when every runtime thread is busy.
//!
//! Tokio's timers are driven by its worker threads. A CPU-bound operator that does not yield
//! for minutes (a nested-loop join whose filter rejects every pair) can hold all of them, and
//! then no timer fires and a timeout never comes. The alarms here are rung by one plain thread
//! of their own; ringing one wakes the task that waits on it wherever it runs (the shell's
//! main thread), which can then report the timeout and drop the query.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Instant;

use futures::channel::oneshot;

/// An alarm set for a deadline: a future that completes when the deadline passes.
pub(crate) type Alarm = oneshot::Receiver<()>;

struct Request {
    at: Instant,
    ring: oneshot::Sender<()>,
}

/// The alarm for `at`. Dropping it cancels it.
pub(crate) fn alarm(at: Instant) -> Alarm {
    static WATCHDOG: OnceLock<Option<Sender<Request>>> = OnceLock::new();
    let (ring, alarm) = oneshot::channel();
    let watchdog = WATCHDOG.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("minerva-watchdog".to_string())
            .spawn(move || watch(rx))
            .ok()
            .map(|_| tx)
    });
    match watchdog {
        Some(tx) => {
            if let Err(mpsc::SendError(request)) = tx.send(Request { at, ring }) {
                let _ = request.ring.send(());
            }
        }
        // No thread could be started: ring at once rather than never.
        None => {
            let _ = ring.send(());
        }
    }
    alarm
}

/// Rings each alarm at its time; forgets alarms nobody waits for any more.
fn watch(requests: mpsc::Receiver<Request>) {
    let mut pending: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut rings: std::collections::HashMap<u64, oneshot::Sender<()>> = Default::default();
    let mut next_id = 0u64;
    loop {
        let now = Instant::now();
        while let Some(Reverse((at, id))) = pending.peek().copied() {
            if at > now {
                break;
            }
            pending.pop();
            if let Some(ring) = rings.remove(&id) {
                let _ = ring.send(());
            }
        }
        rings.retain(|_, ring| !ring.is_canceled());
        let received = match pending.peek() {
            Some(Reverse((at, _))) => requests.recv_timeout(at.saturating_duration_since(now)),
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(Request { at, ring }) => {
                pending.push(Reverse((at, next_id)));
                rings.insert(next_id, ring);
                next_id += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn alarms_ring_in_order_without_a_runtime() {
        let start = Instant::now();
        let late = alarm(start + Duration::from_millis(200));
        let early = alarm(start + Duration::from_millis(50));
        futures::executor::block_on(early).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));
        futures::executor::block_on(late).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
