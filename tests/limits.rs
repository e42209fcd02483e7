//! Issue 12 item 9: the admin address (metrics, health, incident API,
//! console) limits connections, header-read time and live-change streams,
//! and says so in its metrics.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Stdio},
    time::Duration,
};

use crate::util::{http_get, metric, run_stdin, temp_dir, wait_for};

const TOKEN: &str = "limits-secret-0123456789";

/// `vigil run` on stdin (kept open) with `api` settings `api`.
fn start(name: &str, api: &str) -> (Child, String) {
    let d = temp_dir(name);
    let cfg = d.join("limits.toml");
    std::fs::write(
        &cfg,
        format!(
            "[api]\n{api}\n[[api.tokens]]\nname = \"ops\"\nrole = \"viewer\"\ntoken = \"{TOKEN}\"\n[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n"
        ),
    )
    .unwrap();
    let (child, addr) = run_stdin(&cfg, Stdio::null());
    wait_for(Duration::from_secs(30), || {
        (http_get(&addr, "/healthz").ok()?.0 == 200).then_some(())
    })
    .expect("the admin server never answered");
    (child, addr)
}

fn metrics(addr: &str) -> String {
    http_get(addr, "/metrics").unwrap().1
}

#[test]
fn held_connections_are_closed_after_the_header_timeout_and_over_the_limit() {
    let (mut child, addr) = start(
        "limits-conns",
        "max_connections = 16\nmax_event_streams = 4\nheader_read_timeout_secs = 1",
    );
    // 40 clients that never finish their request headers.
    let mut held: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        })
        .collect();
    // Every one is closed by the server: at once over the limit, after the
    // header timeout otherwise (a read returns end of stream, or the
    // request-timeout answer and then end of stream).
    for s in &mut held {
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(
            r.is_ok()
                || r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "a held connection stayed open: {r:?}"
        );
    }
    // And the server still answers.
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    let text = metrics(&addr);
    let over = metric(
        &text,
        r#"vigil_http_rejected_connections_total{reason="max_connections"}"#,
    )
    .unwrap_or(0.0);
    let slow = metric(
        &text,
        r#"vigil_http_rejected_connections_total{reason="header_timeout"}"#,
    )
    .unwrap_or(0.0);
    assert!(over >= 1.0, "{text}");
    assert!(slow >= 1.0, "{text}");
    assert_eq!(over + slow, 40.0, "{text}");
    // Only the /metrics request itself is open now (the closed ones are
    // counted down as their tasks end).
    let settled = wait_for(Duration::from_secs(5), || {
        (metric(&metrics(&addr), "vigil_http_connections") == Some(1.0)).then_some(())
    });
    assert!(settled.is_some(), "{}", metrics(&addr));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn event_streams_over_the_limit_get_503_and_a_closed_one_frees_its_slot() {
    let (mut child, addr) = start("limits-sse", "max_event_streams = 2");
    let open = || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (String::from_utf8_lossy(&head).to_string(), s)
    };
    let (a, first) = open();
    let (b, _second) = open();
    assert!(a.ends_with("200") && b.ends_with("200"), "{a} / {b}");
    let (c, _) = open();
    assert!(c.ends_with("503"), "{c}");
    let text = metrics(&addr);
    assert_eq!(
        metric(&text, "vigil_api_event_streams"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "vigil_api_rejected_event_streams_total"),
        Some(1.0),
        "{text}"
    );
    drop(first);
    // The server notices the closed stream at its next write (a change or
    // the 15 s keep-alive) and frees the slot.
    let freed = wait_for(Duration::from_secs(25), || {
        let (s, _keep) = open();
        s.ends_with("200").then_some(())
    });
    assert!(freed.is_some(), "a closed stream never freed its slot");
    let _ = child.kill();
    let _ = child.wait();
}
