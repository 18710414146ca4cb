//! The browser page (`std-shell/web/`) in headless Chromium: its Fernet
//! against the official vectors and Python's `cryptography`, its payload,
//! display and replay rules against the CLI's.

use fernchat_tests::browser;
use std::time::{Duration, Instant};

/// How long one driver script may run.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn page_fernet_matches_the_vectors_and_python_in_chromium() {
    let page = browser::page_dir();
    let vectors = page.join("..").join("..").join("core/tests/data");
    let mut driver = browser::start(
        "web_vectors.py",
        &[&page.to_string_lossy(), &vectors.to_string_lossy()],
    );
    let deadline = Instant::now() + DRIVER_TIMEOUT;
    let mut passed = false;
    let mut checks = 0;
    while let Ok(line) = driver
        .out
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        eprintln!("web_vectors: {line}");
        checks += usize::from(line.starts_with("ok "));
        passed |= line == "web vectors: all checks passed";
    }
    let status = driver.guard.wait_exit(Duration::from_secs(10));
    assert!(
        passed && status.is_some_and(|s| s.success()),
        "web_vectors.py failed (status {status:?}; see its lines above)"
    );
    assert!(checks >= 30, "only {checks} checks ran");
}
