//! The adaptive limiter on tokio's paused clock.

use std::time::Duration;

use tokio::time::Instant;

use super::{Class, Limiter, MIN_RATE};

#[test]
fn actions_fall_in_their_bucket_classes() {
    assert_eq!(Class::of("RunInstances"), Class::Run);
    assert_eq!(Class::of("DescribeInstances"), Class::Describe);
    assert_eq!(Class::of("GetConsoleOutput"), Class::Describe);
    assert_eq!(Class::of("CreateTags"), Class::Mutate);
    assert_eq!(Class::of("TerminateInstances"), Class::Mutate);
}

/// The time `n` requests take through `limiter`, one after another.
async fn time_of(limiter: &Limiter, n: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        limiter.acquire(|| {}).await;
    }
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_burst_goes_at_once_then_the_rate_holds() {
    let limiter = Limiter::new(Class::Run);
    let (rate, burst) = Class::Run.ceiling();
    assert_eq!(time_of(&limiter, burst as usize).await, Duration::ZERO);
    // Ten more at `rate` a second.
    let t = time_of(&limiter, 10).await.as_secs_f64();
    assert!((t - 10.0 / rate).abs() < 0.3, "{t}");
}

#[tokio::test(start_paused = true)]
async fn throttling_lowers_the_rate_and_answers_raise_it_again() {
    let limiter = Limiter::new(Class::Run);
    let ceiling = Class::Run.ceiling().0;
    limiter.throttled();
    let once = limiter.rate();
    assert!(once < ceiling, "{once}");
    // The other answers of the same moment do not lower it again.
    limiter.throttled();
    assert_eq!(limiter.rate(), once);
    for _ in 0..50 {
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.throttled();
    }
    assert_eq!(limiter.rate(), MIN_RATE);
    limiter.answered();
    assert!(limiter.rate() > MIN_RATE);
    for _ in 0..100 {
        limiter.answered();
    }
    assert_eq!(limiter.rate(), ceiling);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_answer_spends_the_burst_and_pauses() {
    let limiter = Limiter::new(Class::Describe);
    limiter.throttled();
    // No burst left: the next request waits a jittered pause, the ones after it the
    // (lowered) interval each.
    let t = time_of(&limiter, 1).await;
    assert!(t > Duration::ZERO, "{t:?}");
    let interval = 1.0 / limiter.rate();
    let t = time_of(&limiter, 5).await.as_secs_f64();
    assert!(t >= 4.0 * interval, "{t} for intervals of {interval}");
}

#[tokio::test(start_paused = true)]
async fn a_long_wait_is_reported_once() {
    let limiter = std::sync::Arc::new(Limiter::new(Class::Run));
    for _ in 0..30 {
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.throttled();
    }
    let reports = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..3 {
        let r = reports.clone();
        limiter
            .acquire(move || {
                r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .await;
    }
    // At MIN_RATE every request after the first waits 5 s: each reports, once.
    assert!(reports.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    let quick = Limiter::new(Class::Describe);
    let reported = std::sync::atomic::AtomicBool::new(false);
    quick
        .acquire(|| reported.store(true, std::sync::atomic::Ordering::SeqCst))
        .await;
    assert!(!reported.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn requests_of_many_tasks_share_one_limiter() {
    let limiter = std::sync::Arc::new(Limiter::new(Class::Run));
    let (rate, burst) = Class::Run.ceiling();
    let started = Instant::now();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let l = limiter.clone();
            tokio::spawn(async move { l.acquire(|| {}).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    // 40 requests: the burst at once, the other 30 at `rate` a second, whoever sent them.
    let t = started.elapsed().as_secs_f64();
    let want = (40.0 - burst) / rate;
    assert!((t - want).abs() < 0.5, "{t} against {want}");
}
