//! Requests of many steps that AWS takes in one call: terminations. Each step puts its id
//! in the queue and waits a moment for its siblings (the steps of a destroy run in
//! parallel); then, one call at a time, the first to look takes everything queued and
//! sends one `TerminateInstances` for it (up to [`MAX_IDS`]), and tells every step the
//! outcome. While a call is on its way (or waiting for the rate limit), the ids that come
//! meanwhile gather for the next one.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// How long a request waits for others to join its call.
const WINDOW: Duration = Duration::from_millis(100);
/// The most ids one call takes (AWS's TerminateInstances takes up to 1,000).
pub(super) const MAX_IDS: usize = 1000;

/// What happened to one id of a batch: done, or why not.
pub(super) type Outcome = Result<(), String>;

/// Ids waiting to go out in one call.
#[derive(Debug, Default)]
pub(in crate::provider::aws) struct Batcher {
    pending: Mutex<Vec<(String, oneshot::Sender<Outcome>)>>,
    /// One call on its way at a time.
    sending: tokio::sync::Mutex<()>,
}

impl Batcher {
    /// Queue `id`, and either send the batch it is in with `send` (given every queued
    /// id, it returns each id's outcome in order) or wait for the step that does.
    pub(super) async fn run<F, Fut>(&self, id: &str, send: F) -> Outcome
    where
        F: FnOnce(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Vec<Outcome>>,
    {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.push((id.to_string(), tx));
        }
        tokio::time::sleep(WINDOW).await;
        {
            let _turn = self.sending.lock().await;
            let batch: Vec<(String, oneshot::Sender<Outcome>)> = match self.pending.lock() {
                Ok(mut pending) => {
                    let n = pending.len().min(MAX_IDS);
                    pending.drain(..n).collect()
                }
                Err(_) => Vec::new(),
            };
            if !batch.is_empty() {
                let (ids, senders): (Vec<String>, Vec<_>) = batch.into_iter().unzip();
                let outcomes = send(ids).await;
                let mut outcomes = outcomes.into_iter();
                for tx in senders {
                    let outcome = outcomes
                        .next()
                        .unwrap_or_else(|| Err("no outcome for this id".into()));
                    let _ = tx.send(outcome);
                }
            }
        }
        rx.await
            .unwrap_or_else(|_| Err("the batch it was in was not sent".into()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Batcher;

    #[tokio::test(start_paused = true)]
    async fn requests_that_arrive_together_go_out_in_one_call() {
        let batcher = Arc::new(Batcher::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..25)
            .map(|i| {
                let (b, c) = (batcher.clone(), calls.clone());
                tokio::spawn(async move {
                    let id = format!("i-{i}");
                    b.run(&id, |ids| async move {
                        c.fetch_add(1, Ordering::SeqCst);
                        // The odd ones fail, and each hears its own outcome.
                        ids.iter()
                            .map(|id| {
                                let n: usize = id[2..].parse().unwrap_or(0);
                                if n % 2 == 1 { Err(id.clone()) } else { Ok(()) }
                            })
                            .collect()
                    })
                    .await
                    .map(|()| id.clone())
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            let outcome = t.await.expect("task");
            if i % 2 == 1 {
                assert_eq!(outcome, Err(format!("i-{i}")));
            } else {
                assert_eq!(outcome, Ok(format!("i-{i}")));
            }
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
