//! What the harness prints after each benchmark: the terminal report of
//! its run (see [`crate::report::render_run`]) or the table of its capacity
//! search ([`crate::report::capacity_table`]), or one line in smoke mode.

use super::harness::BenchOutcome;
use crate::report::{capacity_table, render_run};

/// What one benchmark printed after it ran.
pub fn render_outcome(b: &BenchOutcome, smoke: bool, color: bool) -> String {
    // Errors are printed once, by the harness, at the end.
    if let Some(c) = &b.capacity {
        if smoke {
            // One tiny probe cannot decide anything: it only has to run.
            let n: usize = c
                .probes
                .iter()
                .flat_map(|p| &p.epochs)
                .map(|e| e.sent)
                .sum();
            return format!("Testing {}\nSuccess ({n} requests)\n", b.id);
        }
        // The table's title is the benchmark's id.
        let mut s = capacity_table(c, b.capacity_comparison.as_ref());
        push_where(&mut s, b);
        return s;
    }
    let Some(run) = &b.run else {
        return String::new();
    };
    if smoke {
        let n: usize = run.points.iter().map(|p| p.summary.completed).sum();
        return format!("Testing {}\nSuccess ({n} requests)\n", b.id);
    }
    let mut s = render_run(&b.id, run, b.comparison.as_ref(), color);
    push_where(&mut s, b);
    s
}

/// Where the benchmark's report (or files) went, and a blank line.
fn push_where(s: &mut String, b: &BenchOutcome) {
    let html = b
        .saved
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "index.html"));
    match (html, b.saved.first().and_then(|p| p.parent())) {
        (Some(h), _) => s.push_str(&format!("report: {}\n", h.display())),
        (None, Some(dir)) => s.push_str(&format!("written: {}\n", dir.display())),
        (None, None) => {}
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::render_outcome;
    use crate::bench::harness::BenchOutcome;
    use crate::metrics::{RunData, RunKind, RunMeta};

    #[test]
    fn a_bench_run_prints_where_its_report_is() {
        let meta: RunMeta = serde_json::from_value(serde_json::json!({
            "kind": "static", "name": "g/b", "servebench_version": "0", "started_unix_s": 0.0,
            "base_url": "http://x", "embedded_sim": true, "backend": "openai", "model": "m",
            "tokenizer": "t", "percentiles": [50.0], "slo": {}, "interrupted": false,
            "stopped_early": null, "notes": [], "images": null
        }))
        .expect("a minimal meta");
        assert_eq!(meta.kind, RunKind::Static);
        let b = BenchOutcome {
            run: Some(RunData {
                meta,
                points: Vec::new(),
            }),
            saved: vec![
                "r/g/b/new/benchmark.csv".into(),
                "r/g/b/new/report/index.html".into(),
            ],
            ..BenchOutcome::new("g/b".into())
        };
        let s = render_outcome(&b, false, false);
        assert!(s.contains("report: r/g/b/new/report/index.html\n"), "{s}");
    }
}
