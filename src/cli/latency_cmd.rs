//! `servebench latency`: the single-request latency test. Non-streaming
//! requests with `"return_latency": true`, one at a time (or at a given
//! concurrency); the server's own figures printed beside the client's
//! end-to-end latency and their difference (network + client).

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use super::common::CommonArgs;
use super::{CliError, EndpointArgs};
use crate::backend::RequestOptions;
use crate::load::PreparedRequest;
use crate::metrics::ServerLatency;
use crate::run::resolve_target;
use crate::stats::Summary;
use crate::workload::{PromptSynth, RequestSpec};

/// Flags of `servebench latency`.
#[derive(Debug, Clone, clap::Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Requests to send.
    #[arg(long, default_value_t = 10)]
    pub num_requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Prompt length, tokens (exact).
    #[arg(long, default_value_t = 1024)]
    pub prompt_tokens: usize,
    /// Output length, tokens (forced).
    #[arg(long, default_value_t = 128)]
    pub output_tokens: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// One request of the latency test.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    pub id: u64,
    /// Client: start to end of the response body, ms.
    pub client_e2e_ms: f64,
    /// The server's `latency` object, when it sent one.
    pub server: Option<ServerLatency>,
    /// Client end-to-end minus the server's `request_latency` (network + client), ms.
    pub network_and_client_ms: Option<f64>,
    pub output_tokens: Option<u64>,
    pub error: Option<String>,
}

/// What the latency test measured.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyOutcome {
    pub rows: Vec<LatencyRow>,
    /// False when no response carried a `latency` object.
    pub server_reported: bool,
    pub csv: std::path::PathBuf,
}

fn row(id: u64, elapsed_ms: f64, body: Result<serde_json::Value, String>) -> LatencyRow {
    let (server, output_tokens, error) = match body {
        Ok(v) => {
            let server = v
                .get("latency")
                .and_then(|l| serde_json::from_value::<ServerLatency>(l.clone()).ok());
            (server, v["usage"]["completion_tokens"].as_u64(), None)
        }
        Err(e) => (None, None, Some(e)),
    };
    LatencyRow {
        id,
        client_e2e_ms: elapsed_ms,
        network_and_client_ms: server
            .and_then(|s| s.request_latency)
            .map(|r| elapsed_ms - r),
        server,
        output_tokens,
        error,
    }
}

/// Run the latency test and write `latency.csv` and `latency.json`.
pub async fn run_latency_cmd(a: &LatencyArgs) -> Result<LatencyOutcome, CliError> {
    a.common.refuse_csv_flags("latency")?;
    if !matches!(a.endpoint.backend.as_str(), "openai" | "openai-chat") {
        return Err(CliError::BadFlag {
            flag: format!("--backend {}", a.endpoint.backend),
            reason: "the latency test speaks the OpenAI API: use openai or openai-chat".into(),
        });
    }
    for (flag, v) in [
        ("--num-requests", a.num_requests),
        ("--concurrency", a.concurrency),
        ("--prompt-tokens", a.prompt_tokens),
        ("--output-tokens", a.output_tokens),
    ] {
        if v == 0 {
            return Err(CliError::BadFlag {
                flag: flag.into(),
                reason: "must be at least 1".into(),
            });
        }
    }
    let dir = a.common.run_dir("latency")?;
    let target = resolve_target(&a.endpoint).await?;
    let synth = PromptSynth::new(&target.tokenizer)?;
    let client = Arc::new(target.client.with_options(RequestOptions {
        return_latency: true,
        non_streaming: true,
        ..target.client.options().clone()
    }));
    let mut rng = StdRng::seed_from_u64(a.common.seed);
    let mut reqs: Vec<PreparedRequest> = Vec::with_capacity(a.num_requests);
    for id in 0..a.num_requests as u64 {
        let spec = RequestSpec {
            id,
            prompt: synth.prompt(a.prompt_tokens, Some(id), &mut rng)?,
            prompt_tokens: a.prompt_tokens,
            max_tokens: a.output_tokens,
            force_output_len: true,
        };
        reqs.push(client.prepare(&spec));
    }
    let reqs = Arc::new(reqs);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut spawner = crate::load::Spawner::here();
    for _ in 0..a.concurrency.min(a.num_requests) {
        let (client, reqs, next) = (client.clone(), reqs.clone(), next.clone());
        tasks.push(spawner.spawn(async move {
            let mut rows = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(req) = reqs.get(i) else { break };
                let out = client.execute_unary(req).await;
                rows.push(row(
                    req.id,
                    out.elapsed_ms,
                    out.result.map_err(|f| f.message),
                ));
            }
            rows
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        rows.extend(t.await.unwrap_or_default());
    }
    target.stop().await;
    rows.sort_by_key(|r| r.id);
    let server_reported = rows.iter().any(|r| r.server.is_some());
    let csv = dir.join("latency.csv");
    write_latency_csv(&csv, &rows).map_err(|e| CliError::write(&csv, e))?;
    let json = dir.join("latency.json");
    let text = serde_json::to_string_pretty(&rows).map_err(|e| CliError::write(&json, e))?;
    std::fs::write(&json, text).map_err(|e| CliError::write(&json, e))?;
    // The runs index lists latency tests beside the benchmarks.
    let index = crate::report::write_index(&a.common.output_dir);
    if !a.common.quiet {
        crate::out!("{}", latency_table(&rows, server_reported));
        crate::outln!("CSV: {}", csv.display());
        match &index {
            Ok(p) => crate::outln!("index: {}", p.display()),
            Err(e) => eprintln!("warning: runs index: {e}"),
        }
    }
    Ok(LatencyOutcome {
        rows,
        server_reported,
        csv,
    })
}

type Field = (&'static str, fn(&LatencyRow) -> Option<f64>);

const FIELDS: [Field; 7] = [
    ("client_e2e_ms", |r| Some(r.client_e2e_ms)),
    ("server_request_latency_ms", |r| {
        r.server.and_then(|s| s.request_latency)
    }),
    ("network_and_client_ms", |r| r.network_and_client_ms),
    ("server_time_in_queue_ms", |r| {
        r.server.and_then(|s| s.time_in_queue)
    }),
    ("server_prefill_latency_ms", |r| {
        r.server.and_then(|s| s.prefill_latency)
    }),
    ("server_model_prefill_latency_ms", |r| {
        r.server.and_then(|s| s.model_prefill_latency)
    }),
    ("server_avg_decode_latency_ms", |r| {
        r.server.and_then(|s| s.avg_decode_latency)
    }),
];

fn write_latency_csv(path: &std::path::Path, rows: &[LatencyRow]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["id"];
    header.extend(FIELDS.iter().map(|f| f.0));
    header.extend(["output_tokens", "error"]);
    w.write_record(&header)?;
    for r in rows {
        let mut rec = vec![r.id.to_string()];
        rec.extend(
            FIELDS
                .iter()
                .map(|f| f.1(r).map(|v| format!("{v:.2}")).unwrap_or_default()),
        );
        rec.push(r.output_tokens.map(|v| v.to_string()).unwrap_or_default());
        rec.push(r.error.clone().unwrap_or_default());
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// The per-request lines and the summary, for the terminal.
pub fn latency_table(rows: &[LatencyRow], server_reported: bool) -> String {
    let fields: Vec<&Field> = if server_reported {
        FIELDS.iter().collect()
    } else {
        FIELDS[..1].iter().collect()
    };
    let mut out = String::new();
    let mut lines: Vec<Vec<String>> = vec![std::iter::once("id".to_string())
        .chain(fields.iter().map(|f| {
            f.0.trim_start_matches("server_")
                .trim_end_matches("_ms")
                .to_string()
        }))
        .collect()];
    for r in rows {
        let mut l = vec![r.id.to_string()];
        l.extend(fields.iter().map(|f| {
            f.1(r)
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "-".into())
        }));
        lines.push(l);
    }
    for (i, line) in crate::report::fixed_width(&lines).iter().enumerate() {
        out.push_str(line);
        if i == 0 {
            out.push_str("   (ms; server_ columns as the server reported them)");
        } else if let Some(e) = &rows[i - 1].error {
            out.push_str(&format!("  error: {e}"));
        }
        out.push('\n');
    }
    out.push_str("summary (mean / p50 / p99):\n");
    for f in fields {
        let s = Summary::of(rows.iter().filter_map(|r| f.1(r)), &[50.0, 99.0]);
        if let (Some(m), Some(p50), Some(p99)) = (s.mean, s.p(50.0), s.p(99.0)) {
            out.push_str(&format!("  {:<34} {m:>9.2} {p50:>9.2} {p99:>9.2}\n", f.0));
        }
    }
    if !server_reported {
        out.push_str(
            "note: the server returned no `latency` object: it ignores \"return_latency\", \
             so only the client's figures are shown.\n",
        );
    }
    out
}
