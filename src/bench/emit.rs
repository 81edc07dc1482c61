//! `cargo bench -- --emit-plan DIR`: each selected benchmark written as a
//! plan file (`servebench plan`'s format) whose command is the benchmark
//! in `servebench`'s own flags, so that N workers can run it sharded
//! (`servebench run`) on a cluster.

use std::path::{Path, PathBuf};

use super::execute::Plan;
use super::sweep::Benchmark;
use crate::run::TargetSpec;

/// Why a benchmark has no plan file: what its settings hold that the
/// command line cannot say.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{id}: no plan file: {reason}")]
pub struct EmitError {
    pub id: String,
    pub reason: String,
}

fn num(v: impl std::fmt::Display) -> String {
    v.to_string()
}

/// `flag v1 v2 ...`.
fn list<T: std::fmt::Display>(out: &mut Vec<String>, flag: &str, vs: impl IntoIterator<Item = T>) {
    out.push(flag.into());
    out.extend(vs.into_iter().map(num));
}

fn opt<T: std::fmt::Display>(out: &mut Vec<String>, flag: &str, v: Option<T>) {
    if let Some(v) = v {
        out.extend([flag.to_string(), num(v)]);
    }
}

/// The endpoint flags of `spec` (defaults left out; the API key stays in
/// its variable, named by `--api-key-env`).
fn endpoint(spec: &TargetSpec, out: &mut Vec<String>) {
    let d = TargetSpec::default();
    out.extend(["--backend".into(), spec.backend.clone()]);
    opt(out, "--url", spec.url.as_ref());
    opt(out, "--host", spec.host.as_ref());
    opt(out, "--port", spec.port);
    opt(out, "--served-model-name", spec.served_model_name.as_ref());
    if spec.api_key_env != d.api_key_env {
        out.extend(["--api-key-env".into(), spec.api_key_env.clone()]);
    }
    opt(
        out,
        "--tokenizer",
        spec.tokenizer.as_ref().map(|p| p.display()),
    );
    opt(out, "--sim", spec.sim.as_ref());
    opt(out, "--num-scheduler-steps", spec.num_scheduler_steps);
    if spec.temperature != d.temperature {
        out.extend(["--temperature".into(), num(spec.temperature)]);
    }
    opt(out, "--top-k", spec.top_k);
    opt(out, "--top-p", spec.top_p);
    for (flag, v, dv) in [
        ("--connect-timeout", spec.connect_timeout, d.connect_timeout),
        (
            "--first-byte-timeout",
            spec.first_byte_timeout,
            d.first_byte_timeout,
        ),
        ("--idle-timeout", spec.idle_timeout, d.idle_timeout),
        ("--request-timeout", spec.request_timeout, d.request_timeout),
        (
            "--max-failure-rate",
            spec.max_failure_rate,
            d.max_failure_rate,
        ),
        (
            "--metrics-interval",
            spec.metrics_interval,
            d.metrics_interval,
        ),
    ] {
        if v != dv {
            out.extend([flag.to_string(), num(v)]);
        }
    }
    if spec.failure_window != d.failure_window {
        out.extend(["--failure-window".into(), num(spec.failure_window)]);
    }
    opt(out, "--metrics-url", spec.metrics_url.as_ref());
    // Not --source-addresses: one machine's addresses, refused in a plan.
    for (flag, on) in [
        ("--no-preflight", spec.no_preflight),
        ("--no-server-metrics", spec.no_server_metrics),
        ("--return-latency", spec.return_latency),
    ] {
        if on {
            out.push(flag.into());
        }
    }
}

/// `--goodput ttft:MS ...` of the benchmark's SLOs.
fn goodput(plan: &Plan, out: &mut Vec<String>) {
    let s = plan.slo;
    let items: Vec<String> = [
        ("ttft", s.ttft_ms),
        ("tpot", s.tpot_ms),
        ("e2el", s.e2el_ms),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}:{v}")))
    .collect();
    if !items.is_empty() {
        list(out, "--goodput", items);
    }
}

/// The `servebench` command line that runs `plan` (a benchmark resolved by
/// the harness) as the bench binary would, named after its id.
pub fn command(plan: &Plan) -> Result<Vec<String>, EmitError> {
    let refuse = |reason: &str| {
        Err(EmitError {
            id: plan.id.clone(),
            reason: reason.into(),
        })
    };
    if plan.ab.is_some() {
        return refuse("an interleaved A/B (--ab) runs in one process against two endpoints");
    }
    if plan.precision.is_some() {
        return refuse("adaptive epochs (--target-mde) would let each worker decide alone");
    }
    let mut out: Vec<String> = Vec::new();
    match &plan.bench {
        Benchmark::Static(s) => {
            if !plan.slo.is_empty() {
                return refuse("`servebench static` takes no SLOs (goodput)");
            }
            out.push("static".into());
            list(&mut out, "--parallel-num", &s.concurrencies);
            list(&mut out, "--prompt-tokens", s.pairs.iter().map(|p| p.0));
            list(&mut out, "--output-tokens", s.pairs.iter().map(|p| p.1));
            list(&mut out, "--requests-per-worker", [s.requests_per_worker]);
            if s.shared_prefix_tokens > 0 {
                list(&mut out, "--shared-prefix-tokens", [s.shared_prefix_tokens]);
            }
        }
        Benchmark::Dynamic(d) => {
            out.push("serving".into());
            match d.shared_prefix {
                Some(sp) => {
                    list(&mut out, "--dataset-type", ["generated-shared-prefix"]);
                    list(&mut out, "--gsp-num-groups", [sp.groups]);
                    list(&mut out, "--gsp-prompts-per-group", [sp.prompts_per_group]);
                    list(&mut out, "--gsp-system-prompt-len", [sp.prefix_tokens]);
                    list(&mut out, "--gsp-question-len", [sp.question_tokens]);
                    list(&mut out, "--gsp-output-len", [sp.output_tokens]);
                }
                None => {
                    let w = &d.workload;
                    let constant = |min: usize, max: usize, avg: f64, std: f64| {
                        (std == 0.0 && min == max && avg == min as f64).then_some(min)
                    };
                    match (
                        constant(w.min_input, w.max_input, w.avg_input, w.std_input),
                        constant(w.min_output, w.max_output, w.avg_output, w.std_output),
                    ) {
                        (Some(i), Some(o)) => {
                            list(&mut out, "--random-input-len", [i]);
                            list(&mut out, "--random-output-len", [o]);
                        }
                        _ => {
                            return refuse(
                                "its lengths are drawn from distributions, which `servebench \
                                 serving` cannot generate: write them with `servebench \
                                 gen-dataset` and plan `serving --dataset`",
                            )
                        }
                    }
                    list(&mut out, "--num-prompts", [d.num_prompts]);
                }
            }
            list(&mut out, "--request-rate", &d.rates);
            list(&mut out, "--burstiness", [d.burstiness]);
            opt(&mut out, "--max-concurrency", d.max_concurrency);
            goodput(plan, &mut out);
        }
        Benchmark::Replay(r) => {
            out.push("replay".into());
            out.extend(["--trace".into(), r.path.display().to_string()]);
            list(&mut out, "--trace-format", [r.format.name()]);
            list(&mut out, "--speedup", &r.speedups);
            list(&mut out, "--trace-start", [r.window.start_s]);
            opt(&mut out, "--trace-duration", r.window.duration_s);
            opt(&mut out, "--max-requests", r.window.max_requests);
            list(&mut out, "--block-size", [r.block_tokens]);
            opt(&mut out, "--max-concurrency", r.max_concurrency);
            goodput(plan, &mut out);
        }
        Benchmark::Sessions(s) => {
            out.push("sessions".into());
            match &s.sharegpt {
                Some((path, min, max)) => {
                    out.extend(["--dataset".into(), path.display().to_string()]);
                    list(&mut out, "--min-turns", [min]);
                    list(&mut out, "--max-turns", [max]);
                }
                None => {
                    list(&mut out, "--turns", [s.shape.turns]);
                    list(&mut out, "--turn-input-len", [s.shape.user_tokens]);
                    list(&mut out, "--turn-output-len", [s.shape.output_tokens]);
                }
            }
            list(&mut out, "--session-rate", &s.rates);
            list(&mut out, "--num-sessions", [s.num_sessions]);
            list(&mut out, "--burstiness", [s.burstiness]);
            opt(&mut out, "--max-active-sessions", s.max_active);
            list(&mut out, "--think-time-ms", [s.think_time_ms]);
            if s.dataset_replies {
                out.push("--dataset-replies".into());
            }
            goodput(plan, &mut out);
        }
        Benchmark::Capacity(_) => {
            return refuse("a capacity search decides its next load from the last probe's result");
        }
    }
    list(&mut out, "--epochs", [plan.epochs]);
    opt(&mut out, "--warmup", plan.warmup);
    list(&mut out, "--seed", [plan.seed]);
    list(&mut out, "--name", [run_name(&plan.id)]);
    endpoint(&plan.endpoint, &mut out);
    Ok(out)
}

/// A benchmark id as a run name (`--name`): `/` as `-`, any other
/// character outside letters, digits, `-`, `_` and `.` as `_`.
pub fn run_name(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => c,
            _ => '_',
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

/// The plan file of benchmark `plan` in `dir`: `<dir>/<id>.json`, the id's
/// `/` as `-`.
pub fn plan_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{}.json", run_name(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{Capacity, DynamicSweep, Sessions, StaticSweep};
    use crate::metrics::Slo;

    fn plan(id: &str, bench: Benchmark, slo: Slo) -> Plan {
        Plan {
            id: id.into(),
            bench,
            endpoint: TargetSpec {
                url: Some("http://10.0.0.5:8000".into()),
                backend: "openai-chat".into(),
                served_model_name: Some("m".into()),
                first_byte_timeout: 30.0,
                no_server_metrics: true,
                ..TargetSpec::default()
            },
            epochs: 4,
            warmup: Some(2),
            slo,
            seed: 17,
            quiet: true,
            precision: None,
            notes: Vec::new(),
            ab: None,
            problem: None,
        }
    }

    /// The command's plan is the benchmark's: the same sweep, epochs,
    /// warm-up, seed and SLOs (what decides every request sent).
    fn round_trip(p: &Plan) {
        let command = command(p).unwrap();
        let from_cli = crate::cli::command_plan(&command).unwrap();
        let from_bench = p.run_plan();
        assert_eq!(from_cli.sweep, from_bench.sweep, "{command:?}");
        assert_eq!(
            (
                from_cli.epochs,
                from_cli.warmup,
                from_cli.seed,
                from_cli.slo
            ),
            (
                from_bench.epochs,
                from_bench.warmup,
                from_bench.seed,
                from_bench.slo
            ),
            "{command:?}"
        );
        assert_eq!(from_cli.name, run_name(&p.id));
        let i = command.iter().position(|a| a == "--url").unwrap();
        assert_eq!(command[i + 1], "http://10.0.0.5:8000");
        assert!(command.contains(&"--no-server-metrics".to_string()));
    }

    #[test]
    fn each_kind_of_benchmark_becomes_the_command_that_runs_it() {
        let slo = Slo {
            ttft_ms: Some(500.0),
            tpot_ms: Some(50.0),
            e2el_ms: None,
        };
        let st = StaticSweep::new("short")
            .pairs([(128, 16), (512, 64)])
            .concurrencies([1, 8])
            .requests_per_worker(3)
            .shared_prefix_tokens(32);
        round_trip(&plan("static/short", st.into(), Slo::default()));
        let dy = DynamicSweep::new("rates")
            .rates([2.0, 8.5])
            .num_prompts(40)
            .burstiness(0.5)
            .max_concurrency(16)
            .lengths(128, 24);
        round_trip(&plan("dynamic/rates", dy.into(), slo));
        let gsp = DynamicSweep::new("gsp")
            .rates([4.0])
            .shared_prefix(4, 8, 512, 32, 16);
        round_trip(&plan("dynamic/gsp", gsp.into(), Slo::default()));
        let se = Sessions::new("chat")
            .rates([0.5, 1.0])
            .num_sessions(12)
            .turns(3, 64, 16)
            .think_time_ms(250.0)
            .max_active(4);
        round_trip(&plan("sessions/chat", se.into(), slo));
    }

    #[test]
    fn what_the_command_line_cannot_say_is_refused_with_the_reason() {
        let mut spread = crate::workload::GenerateSpec::constant(128, 24);
        spread.std_input = 30.0;
        spread.min_input = 64;
        spread.max_input = 256;
        let dy = DynamicSweep::new("spread").rates([2.0]).workload(spread);
        let e = command(&plan("d", dy.into(), Slo::default())).unwrap_err();
        assert!(e.reason.contains("gen-dataset"), "{e}");
        let cap = Capacity::new(
            "cap",
            crate::metrics::capacity::CapacitySlo {
                per_request: Slo {
                    ttft_ms: Some(500.0),
                    ..Slo::default()
                },
                goodput_ratio: 0.9,
                percentiles: Vec::new(),
            },
        );
        let e = command(&plan("c", cap.into(), Slo::default())).unwrap_err();
        assert!(e.reason.contains("capacity"), "{e}");
        let st = StaticSweep::new("s").pair(64, 8);
        let slo = Slo {
            ttft_ms: Some(1.0),
            ..Slo::default()
        };
        assert!(command(&plan("s", st.into(), slo)).is_err());
        assert_eq!(run_name("static/short sweep/p1"), "static-short_sweep-p1");
    }
}
