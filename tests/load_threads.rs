//! Several load threads (a runtime each): the load is dealt over all of
//! them, every request is answered, and each thread reuses the connections
//! it opened, epoch after epoch (a socket belongs to the reactor of the
//! runtime that opened it).

mod common {
    pub mod client;
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use servebench::load::spawner::{set_load_threads, slot};
use servebench::load::{run_closed_epoch, Keep, Spawner};
use servebench::sim::{SimConfig, SimServer};
use servebench::workload::{RequestSpec, Tokenizer};
use tokio::net::{TcpListener, TcpStream};

const THREADS: usize = 3;

/// A TCP relay in front of `to` that counts the connections it accepts.
async fn counting_relay(to: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let n = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut a, _)) = l.accept().await {
            n.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut b) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_is_dealt_over_every_thread_and_connections_are_reused_per_thread() {
    set_load_threads(THREADS);
    // Tasks land on load threads 0, 1 and 2 in turn.
    let mut sp = Spawner::here();
    let mut slots = Vec::new();
    for _ in 0..2 * THREADS {
        slots.push(sp.spawn(async { slot() }).await.unwrap());
    }
    assert_eq!(slots, [0, 1, 2, 0, 1, 2]);

    let tok = Tokenizer::default_embedded();
    let mut cfg = SimConfig::default();
    cfg.apply_kv("time_scale=0.02").unwrap();
    let sim = SimServer::start(cfg, tok.clone()).await.unwrap();
    let (url, accepted) = counting_relay(sim.addr()).await;
    let client = Arc::new(common::client::openai(
        url,
        sim.model(),
        false,
        &tok,
        common::client::timeouts(10),
    ));
    let prompt = "the quick brown fox jumps over the lazy dog".to_string();
    let reqs: Vec<_> = (0..60u64)
        .map(|id| {
            client.prepare(&RequestSpec {
                id,
                prompt: prompt.clone(),
                prompt_tokens: tok.count(&prompt),
                max_tokens: 6,
                force_output_len: true,
            })
        })
        .collect();
    let reqs = Arc::new(reqs);
    const WORKERS: usize = 9;
    for epoch in 0..3 {
        let run = run_closed_epoch(
            client.clone(),
            reqs.clone(),
            WORKERS,
            epoch,
            Keep::Records,
            &mut |_| {},
        )
        .await;
        assert_eq!(run.records.len(), 60);
        let failed: Vec<_> = run
            .records
            .iter()
            .filter_map(|r| r.failure.as_ref())
            .collect();
        assert!(failed.is_empty(), "epoch {epoch}: {failed:?}");
        assert!(run.records.iter().all(|r| r.output_tokens == 6));
        assert_eq!(run.chunks, 60 * 6);
    }
    // Nine workers, three a thread, in every epoch: each thread's three
    // connections serve all its requests of every epoch. A pool shared
    // across threads could hand a thread another's idle connection (and
    // would still stay at nine); a pool that lost connections would open
    // more in later epochs.
    let n = accepted.load(Ordering::SeqCst);
    assert!(
        n <= WORKERS,
        "{n} connections for {WORKERS} workers over 3 epochs"
    );
    assert!(n >= THREADS, "{n} connections");
    sim.stop().await;
}
