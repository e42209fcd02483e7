//! The real `vigil` binary: metrics over HTTP while it runs, config check,
//! shutdown on SIGTERM, the replay summary.

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use crate::util::{
    free_port, http_get, metric, read, root, run_stdin, succeeded, temp_dir, vigil, wait_for,
};

/// `vigil run` of `config/example.toml` from the repository root, reading
/// stdin, on admin address `addr`: its stdin and stderr piped.
fn spawn_example(addr: &str, stdout: Stdio) -> Child {
    vigil()
        .args(["run", "--config", "config/example.toml", "--input", "-"])
        .args(["--admin-addr", addr])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `cmd run --config <config> --input <input>` from the repository root on
/// a free admin port, run to its end.
fn run_to_end(cmd: &mut Command, config: impl AsRef<OsStr>, input: impl AsRef<OsStr>) -> Output {
    cmd.args(["run", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
        .current_dir(root())
        .output()
        .unwrap()
}

/// `vigil config check <config>` from the repository root: its exit code
/// and stderr.
fn config_check(config: &Path) -> (Option<i32>, String) {
    let out = vigil()
        .args(["config", "check"])
        .arg(config)
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr)
}

/// Waits (at most 30 s) until the metric `series` on the admin server at
/// `addr` is at least `min`; panics with `what` if it never is.
fn wait_metric(addr: &str, series: &str, min: f64, what: &str) {
    wait_for(Duration::from_secs(30), || {
        let (_, body) = http_get(addr, "/metrics").ok()?;
        (metric(&body, series)? >= min).then_some(())
    })
    .expect(what);
}

/// A config file `name` holding `text`, in a fresh temporary directory
/// named after `dir`.
fn write_config(dir: &str, name: &str, text: &str) -> PathBuf {
    let path = temp_dir(dir).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The `summary:` line of a run's stderr.
fn summary_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

#[test]
fn run_serves_metrics_while_it_runs_and_prints_a_summary() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = spawn_example(&addr, Stdio::piped());
    let input = read(&root().join("examples/posts.jsonl"));
    let lines: Vec<&str> = input.lines().collect();
    let half = lines.len() / 2;
    let mut stdin = child.stdin.take().unwrap();
    for l in &lines[..half] {
        writeln!(stdin, "{l}").unwrap();
    }
    writeln!(stdin, "this line is not json").unwrap();
    stdin.flush().unwrap();

    // While the process runs (stdin still open), scrape /metrics.
    let text = wait_for(Duration::from_secs(30), || {
        let (status, body) = http_get(&addr, "/metrics").ok()?;
        let n = metric(
            &body,
            r#"vigil_ingest_received_posts_total{source="stdin"}"#,
        )?;
        let scored = metric(&body, "vigil_score_scored_posts_total")?;
        (status == 200 && n as usize > half && scored as usize >= half).then_some(body)
    })
    .expect("/metrics never showed the posts read and scored");
    assert_eq!(
        metric(
            &text,
            r#"vigil_ingest_discarded_posts_total{reason="invalid_json",source="stdin"}"#
        ),
        Some(1.0)
    );
    assert!(
        metric(
            &text,
            r#"vigil_transport_sent_messages_total{stream="posts"}"#
        )
        .unwrap()
            > 0.0
    );
    assert!(text.contains("vigil_build_info{"));
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    assert_eq!(http_get(&addr, "/readyz").unwrap().0, 200);

    for l in &lines[half..] {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = succeeded(&out);
    let summary = summary_line(&stderr);
    assert!(
        summary.contains(&format!("posts_read={}", lines.len() + 1)),
        "{summary}"
    );
    assert!(summary.contains("invalid_json=1"), "{summary}");
    assert!(summary.contains("posts_per_sec="), "{summary}");
    // Score's batch times (HdrHistogram percentiles, microseconds): the
    // run scored at least one batch, and p50 <= p99 <= max.
    let batch: Vec<u64> = summary
        .split("score_batch_us(p50/p99/max)=")
        .nth(1)
        .unwrap_or_else(|| panic!("no score batch times in {summary}"))
        .split('/')
        .map(|v| v.trim().parse().expect("a whole number of microseconds"))
        .collect();
    assert!(
        batch.len() == 3 && batch[2] > 0 && batch[0] <= batch[1] && batch[1] <= batch[2],
        "{summary}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let alerts: Vec<vigil_types::Alert> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout holds only alert JSON lines"))
        .collect();
    assert!(alerts.iter().any(|a| a.level == vigil_types::Level::Major));
    // The log names the rejected line's number.
    assert!(stderr.contains(&format!("line={}", half + 1)), "{stderr}");
}

#[test]
fn run_file_replay_matches_stdin_replay() {
    let out = run_to_end(&mut vigil(), "config/example.toml", "examples/posts.jsonl");
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<vigil_types::Alert>(l)
                .unwrap()
                .alert_id
                .0
        })
        .collect();
    assert_eq!(ids.len(), 6, "{stdout}");
    // Replaying again gives the same alert ids (stable ids).
    let again = run_to_end(&mut vigil(), "config/example.toml", "examples/posts.jsonl");
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = spawn_example(&addr, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let input = read(&root().join("examples/posts.jsonl"));
    for l in input.lines().take(100) {
        writeln!(stdin, "{l}").unwrap();
    }
    stdin.flush().unwrap();
    wait_metric(
        &addr,
        "vigil_score_scored_posts_total",
        100.0,
        "posts never reached score",
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(out.status.success(), "exit {:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Shutdown signal received"), "{stderr}");
    assert!(stderr.contains("summary: posts_read=100"), "{stderr}");
}

#[test]
fn config_check_lists_every_problem_and_exits_nonzero() {
    let bad = write_config(
        "config-check",
        "bad.toml",
        "[detect]\nbin_secs = 0\nwindw_bins = 2\n[transport]\ntype = \"carrier-pigeon\"\n[[watches]]\nid = \"Bad Id\"\nterms = []\n",
    );
    let (code, err) = config_check(&bad);
    assert_eq!(code, Some(2));
    for key in [
        "`detect.bin_secs`",
        "`detect.windw_bins`: unknown key",
        "`transport.type`",
        "`watches[0].id`",
        "`watches[0].terms`",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
    assert!(err.contains("bad.toml"), "{err}");
    let (ok, err) = config_check(Path::new("config/example.toml"));
    assert_eq!(ok, Some(0), "{err}");
}

/// Issue 12: 5,000 nested levels passed the check (then overflowed the
/// server's stack on reload); 100,000 crashed the check itself.
#[test]
fn config_check_refuses_deeply_nested_queries_by_name() {
    let d = temp_dir("config-check-deep");
    for (levels, limit) in [
        (5_000, "the limit of 64 levels"),
        (100_000, "the limit of 16384"),
    ] {
        let cfg = d.join(format!("deep-{levels}.toml"));
        let q = format!("{}a{}", "(".repeat(levels), ")".repeat(levels));
        std::fs::write(&cfg, format!("[[watches]]\nid = \"q\"\nquery = '{q}'\n")).unwrap();
        let (code, err) = config_check(&cfg);
        assert_eq!(code, Some(2), "{levels}: {err}");
        assert!(
            err.contains("`watches[0].query`") && err.contains(limit),
            "{levels}: {err}"
        );
    }
}

#[test]
fn config_show_masks_secrets() {
    let f = write_config(
        "config-show",
        "c.toml",
        "[ingest]\nauthor_salt = \"pepper-SECRET\"\n[[alert.sinks]]\ntype = \"webhook\"\nurl = \"https://hooks.example/TOKEN123\"\n[[watches]]\nid = \"w\"\nterms = [\"x\"]\n",
    );
    let out = vigil().args(["config", "show"]).arg(&f).output().unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        !shown.contains("SECRET") && !shown.contains("TOKEN123"),
        "{shown}"
    );
    assert!(shown.contains("bin_secs = 60"), "{shown}");
}

#[test]
fn stdout_carries_only_alerts_and_logs_go_to_stderr_as_json() {
    let out = run_to_end(
        vigil().args(["--log-format", "json"]),
        "config/example.toml",
        "examples/posts.jsonl",
    );
    let stderr = succeeded(&out);
    let json_logs = BufReader::new(out.stderr.as_slice())
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with('{'))
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    assert!(json_logs > 3, "{stderr}");
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        serde_json::from_str::<vigil_types::Alert>(l).unwrap();
    }
}

#[test]
fn sighup_reloads_watches_and_a_bad_reload_keeps_the_old_ones() {
    let cfg = write_config(
        "sighup",
        "c.toml",
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n",
    );
    let (mut child, addr) = run_stdin(&cfg, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let mut n = 0;
    let mut send = |stdin: &mut std::process::ChildStdin, text: &str| {
        n += 1;
        writeln!(
            stdin,
            "{{\"id\":\"{n}\",\"text\":\"{text}\",\"published_at\":\"2026-03-02T08:00:{:02}Z\"}}",
            n % 60
        )
        .unwrap();
        stdin.flush().unwrap();
    };
    send(&mut stdin, "zephyr phone and acme");
    wait_metric(
        &addr,
        r#"vigil_score_keyword_hits_total{watch="acme"}"#,
        1.0,
        "acme never hit",
    );
    let hup = |pid: u32| {
        assert!(std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success())
    };
    std::fs::write(
        &cfg,
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[[watches]]\nid = \"zephyr\"\nterms = [\"zephyr phone\", \"泽风手机\"]\n",
    )
    .unwrap();
    hup(child.id());
    wait_metric(
        &addr,
        r#"vigil_config_reloads_total{result="success"}"#,
        1.0,
        "reload never succeeded",
    );
    send(&mut stdin, "my 泽风手机 is hot");
    wait_metric(
        &addr,
        r#"vigil_score_keyword_hits_total{watch="zephyr"}"#,
        1.0,
        "the reloaded watch never hit",
    );
    // A broken config is refused and the running watches stay.
    std::fs::write(&cfg, "[[watches]]\nid = \"Bad Id\"\n").unwrap();
    hup(child.id());
    wait_metric(
        &addr,
        r#"vigil_config_reloads_total{result="failure"}"#,
        1.0,
        "the bad reload was not counted",
    );
    send(&mut stdin, "zephyr phone again");
    wait_metric(
        &addr,
        r#"vigil_score_keyword_hits_total{watch="zephyr"}"#,
        2.0,
        "the old watches were lost after a failed reload",
    );
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = succeeded(&out);
    assert!(stderr.contains("Configuration reload failed"), "{stderr}");
}

/// Issue 12: a reload ignored token changes, so a leaked token could not be
/// revoked without a restart; the API also learns reloaded watches.
#[test]
fn post_admin_reload_revokes_a_changed_token() {
    let d = temp_dir("admin-reload-token");
    let cfg = d.join("c.toml");
    let config = |secret: &str, watches: &str| {
        format!(
            "[[api.tokens]]\nname = \"ops\"\nrole = \"responder\"\ntoken = \"{secret}\"\n{watches}"
        )
    };
    let acme = "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n";
    let (leaked, rotated) = ("leaked-secret-0123456789", "rotated-secret-0123456789");
    std::fs::write(&cfg, config(leaked, acme)).unwrap();
    let (mut child, addr) = run_stdin(&cfg, Stdio::null());
    let client = reqwest::blocking::Client::new();
    let send = |method: reqwest::Method, path: &str, token: &str, body: Option<&str>| {
        let mut r = client
            .request(method, format!("http://{addr}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        r.send().map(|r| r.status().as_u16())
    };
    let silence = r#"{"watch":"zephyr","duration_secs":60,"reason":"drill"}"#;
    let me = wait_for(Duration::from_secs(30), || {
        send(reqwest::Method::GET, "/api/v1/me", leaked, None).ok()
    })
    .expect("the admin server never answered");
    assert_eq!(me, 200);
    let post = reqwest::Method::POST;
    assert_eq!(
        send(post.clone(), "/api/v1/silences", leaked, Some(silence)).unwrap(),
        422
    );

    let zephyr = "[[watches]]\nid = \"zephyr\"\nterms = [\"zephyr\"]\n";
    std::fs::write(&cfg, config(rotated, &format!("{acme}{zephyr}"))).unwrap();
    assert_eq!(
        send(post.clone(), "/admin/reload", leaked, None).unwrap(),
        200
    );
    for path in ["/admin/reload", "/api/v1/silences"] {
        assert_eq!(
            send(post.clone(), path, leaked, Some(silence)).unwrap(),
            401,
            "{path}"
        );
    }
    assert_eq!(
        send(reqwest::Method::GET, "/api/v1/me", leaked, None).unwrap(),
        401
    );
    assert_eq!(
        send(reqwest::Method::GET, "/api/v1/me", rotated, None).unwrap(),
        200
    );
    assert_eq!(
        send(post.clone(), "/api/v1/silences", rotated, Some(silence)).unwrap(),
        201
    );
    assert_eq!(send(post, "/admin/reload", rotated, None).unwrap(), 200);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn post_admin_reload_needs_a_responder_and_reloads_like_sighup() {
    let d = temp_dir("admin-reload");
    let cfg = d.join("c.toml");
    let tokens = "[[api.tokens]]\nname = \"ops\"\nrole = \"responder\"\ntoken = \"responder-secret-0123456789\"\n[[api.tokens]]\nname = \"eve\"\nrole = \"viewer\"\ntoken = \"viewer-secret-0123456789ab\"\n";
    let data = format!("[incidents]\ndata_dir = '{}'\n", d.join("data").display());
    std::fs::write(
        &cfg,
        format!("{tokens}{data}[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n"),
    )
    .unwrap();
    let (mut child, addr) = run_stdin(&cfg, Stdio::null());
    let client = reqwest::blocking::Client::new();
    let post = |token: Option<&str>| {
        let mut r = client.post(format!("http://{addr}/admin/reload"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let first = wait_for(Duration::from_secs(30), || post(None).ok())
        .expect("the admin server never answered");
    assert_eq!(first.status().as_u16(), 401);
    assert_eq!(
        post(Some("viewer-secret-0123456789ab"))
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert_eq!(post(Some("wrong")).unwrap().status().as_u16(), 401);

    std::fs::write(
        &cfg,
        format!("{tokens}{data}[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[[watches]]\nid = \"zephyr\"\nterms = [\"zephyr\"]\n"),
    )
    .unwrap();
    let ok = post(Some("responder-secret-0123456789")).unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let body: serde_json::Value = ok.json().unwrap();
    assert_eq!(body["watches"], 2, "{body}");

    // The incident store takes the reloaded roster (issue 15): a report
    // made after the reload is owned by the new path's owner.
    std::fs::write(
        &cfg,
        format!(
            "{tokens}{data}[[incidents.people]]\nname = \"dana\"\nsinks = [\"stdout\"]\n\
             [[incidents.paths]]\nowner = \"dana\"\nsteps = [{{ after_secs = 0, to = \"dana\" }}]\n\
             [[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n"
        ),
    )
    .unwrap();
    assert_eq!(
        post(Some("responder-secret-0123456789"))
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let report: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/incidents"))
        .bearer_auth("responder-secret-0123456789")
        .json(&serde_json::json!({ "title": "Hotline flooded", "level": "minor" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report["incident"]["assignee"], "dana", "{report}");

    std::fs::write(&cfg, format!("{tokens}[[watches]]\nid = \"Bad Id\"\n")).unwrap();
    let refused = post(Some("responder-secret-0123456789")).unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let body: serde_json::Value = refused.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("watches[0].id"),
        "{body}"
    );
    let (_, metrics) = http_get(&addr, "/metrics").unwrap();
    assert_eq!(
        metric(&metrics, r#"vigil_config_reloads_total{result="success"}"#),
        Some(2.0)
    );
    assert_eq!(
        metric(&metrics, r#"vigil_config_reloads_total{result="failure"}"#),
        Some(1.0)
    );
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

/// A webhook receiver on 127.0.0.1 that answers 200 to every request and
/// counts them (one request per connection). Returns its port and count.
fn counting_receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let complete = |buf: &[u8]| {
                let text = String::from_utf8_lossy(buf);
                let end = text.find("\r\n\r\n")?;
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                (buf.len() >= end + 4 + len).then_some(())
            };
            while complete(&buf).is_none() {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            if complete(&buf).is_some() {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        }
    });
    (port, count)
}

/// `config/example.toml` with `sinks` (TOML) as its `[alert]` section.
fn config_with_sinks(dir: &std::path::Path, name: &str, alert: &str) -> std::path::PathBuf {
    let example = read(&root().join("config/example.toml"));
    let at = example.find("[[watches]]").unwrap();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("{}{alert}\n{}", &example[..at], &example[at..]),
    )
    .unwrap();
    path
}

/// Issue 12, item 4, through the binary: a webhook receiver that accepts
/// and never answers holds neither stdout (every alert printed at once) nor
/// shutdown (`alert.shutdown_timeout_secs`, what was left is named); after a
/// restart with the receiver back, the outbox delivers those alerts to the
/// webhook only.
#[test]
fn issue_12_a_hanging_webhook_holds_neither_stdout_nor_shutdown_and_the_outbox_resends() {
    let dir = temp_dir("issue-12-outbox");
    let data = dir.join("data");
    // Accepts and holds every connection, never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = hang.incoming().collect();
        drop(held);
    });
    let sinks = |port: u16| {
        format!(
            "[alert]\nshutdown_timeout_secs = 1\n[[alert.sinks]]\ntype = \"stdout\"\n\
             [[alert.sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
             timeout_ms = 60000\nmax_retries = 0\n"
        )
    };
    let config = config_with_sinks(&dir, "hang.toml", &sinks(hang_port));
    let started = std::time::Instant::now();
    let out = run_to_end(
        vigil().env("VIGIL__INCIDENTS__DATA_DIR", &data),
        &config,
        "examples/posts.jsonl",
    );
    let took = started.elapsed();
    let stderr = succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 6);
    assert!(took < Duration::from_secs(20), "took {took:?}: {stderr}");
    assert!(
        stderr.contains("undelivered at shutdown: webhook=6"),
        "{stderr}"
    );

    let (port, received) = counting_receiver();
    let config = config_with_sinks(&dir, "back.toml", &sinks(port));
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let out = run_to_end(
        vigil().env("VIGIL__INCIDENTS__DATA_DIR", &data),
        &config,
        &empty,
    );
    let stderr = succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        0,
        "stdout had them already"
    );
    assert_eq!(
        received.load(std::sync::atomic::Ordering::SeqCst),
        6,
        "{stderr}"
    );
    assert!(!stderr.contains("undelivered at shutdown"), "{stderr}");
}

#[test]
fn a_damaged_store_file_stops_the_run_with_a_clear_error_never_a_panic_or_a_reset() {
    let run = |data: &Path| {
        run_to_end(
            vigil().env("VIGIL__INCIDENTS__DATA_DIR", data),
            "config/example.toml",
            "examples/posts.jsonl",
        )
    };
    let data = temp_dir("damaged-store");
    let store = data.join("incidents.redb");
    assert!(run(&data).status.success());
    let full = std::fs::metadata(&store).unwrap().len();
    for keep in [full / 2, 100, 0] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&store)
            .unwrap()
            .set_len(keep)
            .unwrap();
        let out = run(&data);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "cut to {keep} bytes: {stderr}");
        assert!(
            stderr.contains(&store.display().to_string()) && stderr.contains("move it aside"),
            "cut to {keep} bytes: {stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "cut to {keep} bytes: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no alert may go out");
        assert_eq!(
            std::fs::metadata(&store).unwrap().len(),
            keep,
            "left as it was"
        );
    }
}

#[test]
fn the_summary_accounts_for_every_line_read_exactly_once() {
    // Issue 12 item 8: three late posts that each match two watches were
    // counted once per watch ("6 lines read, rejected=12").
    let cfg = write_config(
        "summary-accounting",
        "two.toml",
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[[watches]]\nid = \"zephyr\"\nterms = [\"zephyr\"]\n",
    );
    let line = |id: &str, ts: &str| {
        format!(
            "{{\"id\":\"{id}\",\"source\":\"x\",\"author\":\"a\",\"text\":\"acme zephyr\",\"published_at\":\"{ts}\"}}\n"
        )
    };
    let mut input = String::new();
    for (i, ts) in [
        "2026-03-02T10:00:00Z",
        "2026-03-02T10:05:00Z",
        "2026-03-02T10:10:00Z",
    ]
    .iter()
    .enumerate()
    {
        input += &line(&format!("on{i}"), ts);
    }
    // An hour behind the newest post: late for both watches.
    for i in 0..3 {
        input += &line(&format!("late{i}"), "2026-03-02T09:00:00Z");
    }
    input += "not json\n";
    let posts = cfg.with_file_name("posts.jsonl");
    std::fs::write(&posts, input).unwrap();
    let out = run_to_end(&mut vigil(), &cfg, &posts);
    let stderr = succeeded(&out);
    let summary = summary_line(&stderr);
    assert!(
        summary.contains("posts_read=7 rejected=4 (invalid_json=1 late=3) late=3 matched=6"),
        "{summary}"
    );
}

#[test]
fn a_second_run_over_the_same_store_says_its_spikes_were_already_recorded() {
    // The incident store recognises a replay: the same file read twice
    // over the same store alerts nobody the second time, and says so.
    let store = temp_dir("rerun").join("data");
    let run = || {
        let mut cmd = vigil();
        cmd.env("VIGIL__INCIDENTS__DATA_DIR", &store);
        succeeded(&run_to_end(
            &mut cmd,
            "config/example.toml",
            "examples/posts.jsonl",
        ))
    };
    let first = run();
    let alerts = |summary: &str| -> u64 {
        let v = summary.split(" alerts=").nth(1).expect("alerts=");
        v.split(' ').next().unwrap().parse().unwrap()
    };
    let sent = alerts(summary_line(&first));
    assert!(sent > 0, "{first}");
    assert!(!first.contains("already recorded"), "{first}");
    let second = run();
    assert_eq!(alerts(summary_line(&second)), 0, "{second}");
    let line = second
        .lines()
        .find(|l| l.starts_with("already recorded: "))
        .unwrap_or_else(|| panic!("no `already recorded` line:\n{second}"));
    let n: u64 = line["already recorded: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        n >= sent,
        "{n} spikes recorded before, {sent} alerts: {line}"
    );
    assert!(line.contains(&store.display().to_string()), "{line}");
}

#[test]
fn text_logs_escape_newlines_and_escape_sequences_from_input() {
    // Issue 12 item 12: a rejected line's value is logged; a raw newline in
    // it forged a log line and a raw ESC reached the terminal.
    let mut child = spawn_example(&format!("127.0.0.1:{}", free_port()), Stdio::null());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"id":"a","source":"x","author":"u","text":"acme","published_at":"2026-01-01\nINFO forged line \u001b[31mred"}}"#
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r"2026-01-01\nINFO forged line \u{1b}[31mred"),
        "{stderr}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with("INFO forged")),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}
