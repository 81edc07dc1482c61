//! The Markdown, HTML and index reports, from synthetic runs: escaping,
//! well-formed pages and SVGs, links that resolve, and (when Chromium is
//! installed) a real browser that renders the page and loads every figure.

mod browser;
mod fixtures;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fixtures::{compare, dynamic_run, epochs, static_run, write_benchmark, Lcg, EVIL};
use servebench::metrics::{PointData, PointLabel, Slo, DEFAULT_PERCENTILES};
use servebench::report::{markdown_summary, write_html_report, write_index, HtmlOptions};

/// Every `href`/`src` of an XML page, resolved against its folder.
fn links(page: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(page).unwrap();
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, opts)
        .unwrap_or_else(|e| panic!("{} is not well-formed: {e}", page.display()));
    doc.descendants()
        .flat_map(|n| [n.attribute("href"), n.attribute("src")])
        .flatten()
        .map(|l| page.parent().unwrap().join(l))
        .collect()
}

fn check_page(page: &Path) -> String {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)"),
        "{}: the name must appear, escaped",
        page.display()
    );
    assert!(
        !html.contains("<script"),
        "{}: no script, and no unescaped name",
        page.display()
    );
    assert!(
        !html.contains("http://") || html.contains("127.0.0.1"),
        "no external resource"
    );
    for l in links(page) {
        assert!(
            l.is_file(),
            "{} links to missing {}",
            page.display(),
            l.display()
        );
    }
    html
}

fn check_svgs(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "svg") {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} is not valid XML: {e}", p.display()));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            assert!(
                ["<path", "<polyline", "<rect"]
                    .iter()
                    .any(|t| text.contains(t)),
                "{} draws nothing",
                p.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn static_and_dynamic_reports_are_escaped_well_formed_and_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let base = static_run(1.0, 12, 3);
    let new = static_run(1.15, 12, 3);
    let page = write_benchmark(root, "static", &new, Some(&base));
    let html = check_page(&page);
    assert!(html.contains("Compared with baseline"));
    assert!(
        html.contains("regressed"),
        "a 15 % slowdown shows as a regression"
    );
    assert!(html.contains("Where TTFT goes"));
    let svgs = check_svgs(page.parent().unwrap());
    assert!(svgs >= 9, "static figures: {svgs}");
    for f in [
        "change.svg",
        "throughput_vs_concurrency.svg",
        "cdf_itl.svg",
        "ttft_breakdown.svg",
        "tradeoff.svg",
    ] {
        assert!(page.parent().unwrap().join(f).is_file(), "{f}");
    }

    let dpage = write_benchmark(root, "group/dynamic", &dynamic_run(1.0), None);
    let dhtml = check_page(&dpage);
    assert!(dhtml.contains("goodput"));
    assert!(
        !dhtml.contains("Where TTFT goes"),
        "no server figures, no breakdown"
    );
    assert!(dpage
        .parent()
        .unwrap()
        .join("goodput_vs_rate.svg")
        .is_file());
    assert!(check_svgs(dpage.parent().unwrap()) >= 7);

    std::fs::create_dir_all(root.join("broken/new")).unwrap();
    std::fs::write(root.join("broken/new/run.json"), "{ not json").unwrap();
    let index = write_index(root).unwrap();
    let ihtml = check_page(&index).replace("&#x2F;", "/");
    assert!(ihtml.contains("static/new/report/index.html"));
    assert!(ihtml.contains("group/dynamic"));
    assert!(ihtml.contains("Skipped") && ihtml.contains("not a servebench run"));
    assert!(ihtml.contains("gated regression"));
}

#[test]
fn markdown_has_the_comparison_table_and_escapes() {
    let base = static_run(1.0, 12, 3);
    let new = static_run(1.15, 12, 3);
    let md = markdown_summary(&new, Some(&compare(&base, &new)));
    assert!(
        md.contains("| point | metric | baseline | new | change | interval | p | MDE | verdict |")
    );
    assert!(md.contains("❌ **regressed**"));
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!md.contains(EVIL));
    assert!(md.contains("client-limited"));
    let plain = markdown_summary(&new, None);
    assert!(!plain.contains("| verdict |") && plain.contains("| TTFT p50 |"));
}

#[test]
fn an_empty_run_and_noplot_still_give_a_page() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = static_run(1.0, 1, 1);
    run.points.truncate(1);
    run.points[0] = PointData::new(
        run.points[0].label.clone(),
        vec![vec![]],
        &DEFAULT_PERCENTILES,
        &Slo::default(),
    );
    run.meta.interrupted = true;
    let page = write_html_report(tmp.path(), &run, None, &HtmlOptions::default()).unwrap();
    let html = check_page(&page);
    assert!(html.contains("Interrupted"));
    let page = write_html_report(
        &tmp.path().join("np"),
        &run,
        None,
        &HtmlOptions { plots: false },
    )
    .unwrap();
    assert!(check_page(&page).contains("Figures were not drawn"));
}

#[test]
#[ignore = "timing: cargo test --release --test report_html -- --ignored --nocapture"]
fn plotting_a_100k_request_run_takes_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    // 4 concurrency points x 2 pairs x 5 epochs x 2,500 requests = 100,000.
    let new = static_run(1.0, 2_500, 5);
    let base = static_run(1.05, 2_500, 5);
    let requests: usize = new.points.iter().map(|p| p.summary.sent).sum();
    let cmp = compare(&base, &new);
    let t0 = Instant::now();
    write_html_report(
        tmp.path(),
        &new,
        Some((&cmp, &base)),
        &HtmlOptions::default(),
    )
    .unwrap();
    let html = t0.elapsed();
    let t1 = Instant::now();
    let md = markdown_summary(&new, Some(&cmp));
    println!(
        "{requests} requests (+ a baseline as large): HTML report with figures in {:.2} s, Markdown in {:.3} s ({} bytes)",
        html.as_secs_f64(),
        t1.elapsed().as_secs_f64(),
        md.len()
    );
    assert!(html < Duration::from_secs(30));

    // One point of 100,000 requests of 256 tokens: 25.6 M inter-token gaps.
    let mut rng = Lcg(3);
    let label = PointLabel::Static {
        prompt_tokens: 128,
        output_tokens: 256,
        concurrency: 64,
    };
    let ep = epochs(&mut rng, 20_000, 5, 64.0, 256, 1.0);
    let mut one = static_run(1.0, 1, 1);
    one.points = vec![PointData::new(
        label,
        ep,
        &DEFAULT_PERCENTILES,
        &Slo::default(),
    )];
    let t0 = Instant::now();
    write_html_report(&tmp.path().join("one"), &one, None, &HtmlOptions::default()).unwrap();
    let one_point = t0.elapsed();
    println!(
        "one point of 100000 requests x 256 tokens: HTML report with figures in {:.2} s",
        one_point.as_secs_f64()
    );
    assert!(one_point < Duration::from_secs(30));
}
