//! Open loop: requests are sent at precomputed arrival times whatever the
//! server does (optionally capped by a maximum number in flight).
//!
//! The schedule is fixed before the run from a seed. Each load thread
//! dispatches its share by absolute time (`start + offset`, never
//! accumulated sleeps), waiting on a kernel timer of its own reactor
//! ([`Deadline`]), precise to microseconds, rather than on the runtime's
//! millisecond timer wheel. Each request runs as its own task and records
//! its actual send time next to its scheduled one, so send lateness is
//! measured, not assumed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};

use super::deadline::Deadline;
use super::{Client, EpochRun, Keep, PreparedRequest};
use crate::record::RequestRecord;

/// Errors in an arrival process's parameters.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The rate is not positive.
    #[error("--request-rate {0}: must be a positive number or inf")]
    BadRate(f64),
    /// The burstiness is not positive.
    #[error("--burstiness {0}: must be a positive number")]
    BadBurstiness(f64),
}

/// Arrival offsets (seconds from the start) of `n` requests at `rate`
/// requests/s: the first at 0, then gamma-distributed gaps with shape
/// `burstiness` and mean `1 / rate` (burstiness 1 = Poisson arrivals, i.e.
/// exponential gaps; < 1 burstier, > 1 more regular; infinite: evenly
/// spaced, every gap exactly `1 / rate`). `rate = inf` sends everything at
/// once.
///
/// ```
/// let s = servebench::load::arrival_offsets(1000, 10.0, 1.0, 7).unwrap();
/// assert_eq!(s.len(), 1000);
/// assert!((s[999] / 999.0 - 0.1).abs() < 0.02);
/// ```
pub fn arrival_offsets(
    n: usize,
    rate: f64,
    burstiness: f64,
    seed: u64,
) -> Result<Vec<f64>, ScheduleError> {
    if rate.is_nan() || rate <= 0.0 {
        return Err(ScheduleError::BadRate(rate));
    }
    if burstiness.is_nan() || burstiness <= 0.0 {
        return Err(ScheduleError::BadBurstiness(burstiness));
    }
    if rate.is_infinite() {
        return Ok(vec![0.0; n]);
    }
    if burstiness.is_infinite() {
        return Ok((0..n).map(|i| i as f64 / rate).collect());
    }
    let gamma = Gamma::new(burstiness, 1.0 / (rate * burstiness))
        .map_err(|_| ScheduleError::BadBurstiness(burstiness))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = 0.0;
    Ok((0..n)
        .map(|i| {
            if i > 0 {
                t += gamma.sample(&mut rng);
            }
            t
        })
        .collect())
}

/// Arrival offsets of `n` requests sent `per_arrival` at a time (the seed's
/// `--concurrent-num`): arrivals follow [`arrival_offsets`] at `rate`, and
/// each arrival sends `per_arrival` requests together, so the offered load is
/// `rate * per_arrival` requests/s.
///
/// ```
/// let s = servebench::load::grouped_arrival_offsets(5, 2.0, f64::INFINITY, 2, 0).unwrap();
/// assert_eq!(s, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
/// ```
pub fn grouped_arrival_offsets(
    n: usize,
    rate: f64,
    burstiness: f64,
    per_arrival: usize,
    seed: u64,
) -> Result<Vec<f64>, ScheduleError> {
    let per = per_arrival.max(1);
    let arrivals = arrival_offsets(n.div_ceil(per), rate, burstiness, seed)?;
    Ok((0..n).map(|i| arrivals[i / per]).collect())
}

/// Send `requests[i]` at `offsets[i]` seconds after the start, at most
/// `max_concurrency` in flight (when set; a request waiting for a slot is
/// sent late, and its lateness shows it). Records arrive through
/// `on_records` as they complete.
///
/// Request *i* is sent by load thread *i* mod *T* (of the *T* load threads,
/// [`super::Spawner`]): each thread runs one dispatcher task that waits for
/// its next send time on its own reactor ([`Deadline`], to the microsecond)
/// and starts the request as a task of that thread, so a send wakes only
/// the thread that sends it.
pub async fn run_open_loop(
    client: Arc<Client>,
    requests: Vec<PreparedRequest>,
    offsets: Arc<Vec<f64>>,
    max_concurrency: Option<usize>,
    epoch: u32,
    keep: Keep,
    on_records: &mut (dyn FnMut(&[RequestRecord]) + Send),
) -> EpochRun {
    assert_eq!(requests.len(), offsets.len(), "one offset per request");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(RequestRecord, Option<String>)>();
    let sem = max_concurrency.map(|c| Arc::new(tokio::sync::Semaphore::new(c.max(1))));
    let mut spawner = super::Spawner::here();
    let n = requests.len();
    let threads = spawner.threads().min(n).max(1);
    let mut shares: Vec<Vec<(usize, PreparedRequest)>> = (0..threads)
        .map(|_| Vec::with_capacity(n.div_ceil(threads)))
        .collect();
    for (i, req) in requests.into_iter().enumerate() {
        shares[i % threads].push((i, req));
    }
    // A little head room so the first send is on schedule too.
    let phase_start = Instant::now() + Duration::from_millis(2);
    let dispatchers: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let send = Dispatch {
                client: client.clone(),
                offsets: offsets.clone(),
                sem: sem.clone(),
                tx: tx.clone(),
                phase_start,
                epoch,
            };
            spawner.spawn(send.run(share))
        })
        .collect();
    // The channel closes when the dispatchers and every request they
    // started are done.
    drop(tx);
    let run = super::closed::collect(&client, epoch, n, keep, &mut rx, on_records).await;
    for d in dispatchers {
        if let Err(e) = d.await {
            if let Ok(panic) = e.try_into_panic() {
                std::panic::resume_unwind(panic);
            }
        }
    }
    run
}

/// One load thread's part of an open loop: its requests, in order of their
/// send times.
struct Dispatch {
    client: Arc<Client>,
    offsets: Arc<Vec<f64>>,
    sem: Option<Arc<tokio::sync::Semaphore>>,
    tx: tokio::sync::mpsc::UnboundedSender<(RequestRecord, Option<String>)>,
    phase_start: Instant,
    epoch: u32,
}

impl Dispatch {
    /// Send each request of `share` (its index in the epoch, the request)
    /// at its time, as a task of this thread; stop at a stop request.
    async fn run(self, share: Vec<(usize, PreparedRequest)>) {
        let mut deadline = Deadline::new();
        // Each request moves into its task and is freed once sent, so a
        // long run's memory goes to records, not to spent requests.
        for (i, req) in share {
            let scheduled = self.offsets[i];
            let due = self.phase_start + Duration::from_secs_f64(scheduled);
            // Wait in slices of at most 50 ms so a stop is seen promptly.
            let mut waited = false;
            loop {
                if self.client.stopping() {
                    return;
                }
                let now = Instant::now();
                if due <= now {
                    break;
                }
                deadline
                    .wait_until(due.min(now + Duration::from_millis(50)))
                    .await;
                waited = true;
            }
            if !waited {
                // Behind schedule: let the thread's other ready tasks (the
                // requests in flight) and its reactor run once between two
                // late sends, so that responses that came are read and
                // their connections given back for the next send to reuse,
                // instead of a connection opened for every request that fell
                // due meanwhile. It costs a reactor poll a late send.
                tokio::task::yield_now().await;
            }
            let permit = match &self.sem {
                Some(s) => loop {
                    if let Ok(p) = s.clone().try_acquire_owned() {
                        break Some(p);
                    }
                    // In slices too, so that a stop is seen while every
                    // slot is taken by long requests.
                    let slot = s.clone().acquire_owned();
                    match tokio::time::timeout(Duration::from_millis(50), slot).await {
                        Ok(p) => break Some(p.expect("semaphore open")),
                        Err(_) if self.client.stopping() => return,
                        Err(_) => {}
                    }
                },
                None => None,
            };
            if self.client.stopping() {
                return;
            }
            let (client, tx) = (self.client.clone(), self.tx.clone());
            let (epoch, phase_start) = (self.epoch, self.phase_start);
            tokio::spawn(async move {
                let (mut rec, text) = client.execute_deferred(&req, epoch, phase_start).await;
                drop(req);
                drop(permit);
                rec.scheduled_s = Some(scheduled);
                let _ = tx.send((rec, text));
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, Exp, Gamma as GammaDist};

    /// Kolmogorov-Smirnov statistic of `xs` against `cdf`.
    fn ks(xs: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
            })
            .fold(0.0, f64::max)
    }

    fn gaps(offsets: &[f64]) -> Vec<f64> {
        offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn poisson_gaps_pass_ks_against_exponential() {
        let s = arrival_offsets(5001, 20.0, 1.0, 11).unwrap();
        let mut g = gaps(&s);
        let exp = Exp::new(20.0).unwrap();
        let d = ks(&mut g, |x| exp.cdf(x));
        // Critical value at alpha = 0.01 for n = 5000: 1.63 / sqrt(n) = 0.023.
        assert!(d < 0.023, "KS statistic {d}");
        let rate = 5000.0 / s[5000];
        assert!((rate - 20.0).abs() < 20.0 * 0.05, "rate {rate}");
    }

    #[test]
    fn bursty_gaps_pass_ks_against_gamma_and_fail_against_exponential() {
        let s = arrival_offsets(5001, 10.0, 0.5, 5).unwrap();
        let mut g = gaps(&s);
        let gamma = GammaDist::new(0.5, 10.0 * 0.5).unwrap(); // shape, rate
        assert!(ks(&mut g, |x| gamma.cdf(x)) < 0.023);
        let exp = Exp::new(10.0).unwrap();
        assert!(ks(&mut g, |x| exp.cdf(x)) > 0.05);
    }

    #[test]
    fn same_seed_same_schedule_and_inf_is_all_at_once() {
        assert_eq!(
            arrival_offsets(50, 3.0, 1.0, 1).unwrap(),
            arrival_offsets(50, 3.0, 1.0, 1).unwrap()
        );
        assert_ne!(
            arrival_offsets(50, 3.0, 1.0, 1).unwrap(),
            arrival_offsets(50, 3.0, 1.0, 2).unwrap()
        );
        assert_eq!(
            arrival_offsets(3, f64::INFINITY, 1.0, 1).unwrap(),
            vec![0.0; 3]
        );
        assert!(arrival_offsets(3, 0.0, 1.0, 1).is_err());
        assert!(arrival_offsets(3, 1.0, -1.0, 1).is_err());
    }
}
