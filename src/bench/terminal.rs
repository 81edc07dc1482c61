//! What the harness prints after each benchmark: the terminal report of
//! its run (see [`crate::report::render_run`]), or one line in smoke mode.

use super::harness::BenchOutcome;
use crate::report::render_run;

/// What one benchmark printed after it ran.
pub fn render_outcome(b: &BenchOutcome, smoke: bool, color: bool) -> String {
    // Errors are printed once, by the harness, at the end.
    let Some(run) = &b.run else {
        return String::new();
    };
    if smoke {
        let n: usize = run.points.iter().map(|p| p.summary.completed).sum();
        return format!("Testing {}\nSuccess ({n} requests)\n", b.id);
    }
    let mut s = render_run(&b.id, run, b.comparison.as_ref(), color);
    s.push('\n');
    s
}
