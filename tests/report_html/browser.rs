//! The report in a real browser: headless Chromium renders the page and
//! loads every figure (skipped, with a message, when it is not installed).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{static_run, write_benchmark};

/// Run Chromium headless with `args`; its stdout, or `None` after 30 s.
fn chromium(profile: &Path, args: &[String]) -> Option<String> {
    let mut child = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        if child.try_wait().unwrap().is_some() {
            return reader.join().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().ok();
    child.wait().ok();
    None
}

#[test]
fn chromium_renders_the_report_and_loads_every_figure() {
    if !Path::new("/usr/bin/chromium").exists() {
        println!("skipped: /usr/bin/chromium is not installed (CI installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = static_run(1.0, 12, 3);
    let page = write_benchmark(tmp.path(), "static", &static_run(1.15, 12, 3), Some(&base));
    let dir = page.parent().unwrap();
    let profile = tmp.path().join("profile");
    let url = |p: &Path| format!("file://{}", p.display());
    let dom = chromium(&profile, &["--dump-dom".into(), url(&page)]).expect("chromium timed out");
    assert!(
        dom.contains("<h1>bench &lt;script&gt;alert(1)&lt;/script&gt;</h1>"),
        "{dom:.2000}"
    );
    assert!(!dom.contains("<script"));

    let mut svgs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    svgs.sort();
    let imgs: String = svgs.iter().map(|s| format!("<img src=\"{s}\">")).collect();
    let check = dir.join("imgcheck.html");
    std::fs::write(
        &check,
        format!("<html><body>{imgs}<script>window.addEventListener('load', () => {{ const i = [...document.images]; document.title = 'loaded ' + i.filter(x => x.complete && x.naturalWidth > 0).length + ' of ' + i.length; }});</script></body></html>"),
    )
    .unwrap();
    let dom = chromium(
        &profile,
        &[
            "--virtual-time-budget=5000".into(),
            "--dump-dom".into(),
            url(&check),
        ],
    )
    .expect("chromium timed out");
    let want = format!("<title>loaded {0} of {0}</title>", svgs.len());
    assert!(dom.contains(&want), "want {want}: {dom:.500}");

    let shot = tmp.path().join("report.png");
    chromium(
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000".into(),
            url(&page),
        ],
    )
    .expect("chromium timed out");
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot"
    );
    if let Ok(keep) = std::env::var("SERVEBENCH_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
