//! Helpers shared by the integration tests.

use std::{
    io::Read,
    net::TcpListener,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `vigil` binary, with its incident store in a fresh directory
/// (`VIGIL__INCIDENTS__DATA_DIR`), so runs never see each other's incidents.
pub fn vigil() -> std::process::Command {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = temp_dir(&format!("incidents-{n}"));
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env("VIGIL__INCIDENTS__DATA_DIR", data);
    c
}

/// An in-process alert stage over a fresh incident store that notifies no
/// sink (tests read the alerts from the run's tap).
pub fn alert_stage(name: &str) -> vigil_alert::AlertStage {
    let dir = temp_dir(name);
    let store = vigil_incidents::IncidentStore::open(
        &dir.join(vigil_incidents::STORE_FILE),
        vigil_incidents::EscalationPolicy::notify_all(Vec::new()),
    )
    .unwrap();
    let (store, metrics) = (std::sync::Arc::new(store), vigil_telemetry::Metrics::new());
    vigil_alert::AlertStage {
        store: store.clone(),
        dispatcher: vigil_alert::Dispatcher::spawn(Vec::new(), metrics.clone(), store),
        metrics,
        readiness: vigil_telemetry::Readiness::default(),
        now: vigil_types::EventTime::wall_clock,
    }
}

/// A free port on 127.0.0.1 (bound, then released).
/// `vigil run --input - --config cfg` on a free admin port, its stdin
/// piped, stdout discarded and stderr as given: the child and its admin
/// address.
pub fn run_stdin(cfg: &Path, stderr: std::process::Stdio) -> (std::process::Child, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = vigil()
        .args(["run", "--input", "-", "--admin-addr", &addr, "--config"])
        .arg(cfg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("vigil starts");
    (child, addr)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `url` over plain HTTP/1.1 (loopback only); returns (status, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The value of a metric line `name{labels} value` in Prometheus text.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A fresh temporary directory under target/.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = root()
        .join("target")
        .join("test-tmp")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The stderr of a finished command, once it is asserted to have
/// succeeded (a failure shows its status and stderr).
pub fn succeeded(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: {stderr}", out.status);
    stderr
}

/// Reads a file to a string, panicking with its path.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
