//! The incident API as served by the real `vigil` binary: the web console in
//! a real browser (headless Debian Chromium driven by playwright-core, see
//! `scripts/browser.sh` and `tests/console/ack.mjs`), and the `vigil
//! incidents` CLI.
//!
//! Each test starts `vigil run --input -` with a config that has an
//! incident store and API tokens, writes posts that open three incidents
//! (acme major, northwind-air moderate, zephyr-phone minor) and keeps stdin
//! open so the process, its store and its admin server stay up.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::util::{free_port, metric, read, root, temp_dir, vigil, wait_for};

const RESPONDER: &str = "console-responder-0123456789abcdef";
const VIEWER: &str = "console-viewer-0123456789abcdef";
const REPORTER: &str = "console-reporter-0123456789abcdef";

/// Posts (Vigil's JSON shape) from 2026-03-02T08:00Z: 20 quiet minutes of
/// one post per watch per minute (the detector's warm-up), then in minute
/// 20 a burst per watch (acme: a product recall, major; northwind-air: many
/// sources, moderate; zephyr-phone: a smaller one, minor), then three quiet
/// minutes so the watermark passes the burst.
fn posts() -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut post = |sec: u32, text: &str, source: &str| {
        n += 1;
        let (m, s) = (sec / 60, sec % 60);
        let (h, m) = (8 + m / 60, m % 60);
        out.push_str(
            &serde_json::json!({
                "id": format!("c{n}"),
                "source": source,
                "author": format!("u{}", n % 50),
                "lang": "en",
                "text": text,
                "published_at": format!("2026-03-02T{h:02}:{m:02}:{s:02}.000Z"),
            })
            .to_string(),
        );
        out.push('\n');
    };
    let quiet = |post: &mut dyn FnMut(u32, &str, &str), minute: u32| {
        post(minute * 60 + 5, "acme store is open today", "bluesky");
        post(minute * 60 + 15, "my zephyr phone works fine", "bluesky");
        post(minute * 60 + 25, "flying northwind air tomorrow", "bluesky");
    };
    for minute in 0..20 {
        quiet(&mut post, minute);
    }
    let sources = ["bluesky", "mastodon", "reddit", "x"];
    for i in 0..30 {
        post(
            1200 + i,
            "acme recall: the acme blender is dangerous, recall now",
            "bluesky",
        );
        if i < 3 {
            // Markup in a post must show as text on the page.
            post(
                1230 + i,
                "acme <img src=x onerror=alert(1)> <b>recall</b> scam, my refund never came",
                "x",
            );
        }
        post(
            1200 + i,
            "northwind air cancelled my flight, awful",
            sources[i as usize % 4],
        );
        if i < 9 {
            post(
                1200 + i,
                "zephyr phone screen keeps freezing again",
                "bluesky",
            );
        }
    }
    for minute in 21..24 {
        quiet(&mut post, minute);
    }
    out
}

/// A running `vigil run` with its stdin held open; killed when dropped.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    base: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("vigil.log")).unwrap_or_default()
    }

    fn get(&self, path: &str, token: &str) -> Option<(u16, String)> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        Some((r.status().as_u16(), r.text().ok()?))
    }

    /// Runs `vigil incidents ARGS` against this server as `token`.
    fn cli(&self, token: &str, args: &[&str]) -> (bool, String, String) {
        let out = vigil()
            .arg("incidents")
            .args(args)
            .env("VIGIL_API_URL", &self.base)
            .env("VIGIL_API_TOKEN", token)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Starts `vigil run` on `config/example.toml` plus a store and tokens,
/// feeds it [`posts`] and waits until its API lists three incidents.
fn start(name: &str) -> Server {
    let dir = temp_dir(name);
    let config = format!(
        "{}\n[incidents]\ndata_dir = '{}'\n\n[alert]\nstakeholder_sinks = [\"stdout\"]\n[alert.targets.moderate]\nrespond_secs = 2\n\n[api]\n\
         [[api.tokens]]\nname = \"console\"\nrole = \"responder\"\ntoken = \"{RESPONDER}\"\n\
         [[api.tokens]]\nname = \"wallboard\"\nrole = \"viewer\"\ntoken_env = \"VIGIL_TEST_CONSOLE_VIEWER\"\n\
         [[api.tokens]]\nname = \"frontline\"\nrole = \"reporter\"\ntoken = \"{REPORTER}\"\n",
        read(&root().join("config/example.toml")),
        dir.join("data").display()
    );
    let config_path = dir.join("vigil.toml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let mut child = vigil()
        .args(["run", "--input", "-", "--config"])
        .arg(&config_path)
        .args(["--admin-addr", &format!("127.0.0.1:{port}")])
        .env("VIGIL_TEST_CONSOLE_VIEWER", VIEWER)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(dir.join("alerts.jsonl")).unwrap())
        .stderr(std::fs::File::create(dir.join("vigil.log")).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(posts().as_bytes()).unwrap();
    stdin.flush().unwrap();
    let server = Server {
        child,
        stdin: Some(stdin),
        base: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let listed = wait_for(Duration::from_secs(60), || {
        let (status, body) = server.get("/api/v1/incidents", VIEWER)?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && v["count"] == 3).then_some(v)
    });
    assert!(
        listed.is_some(),
        "the API never listed 3 incidents; last answer {:?}; vigil log:\n{}",
        server.get("/api/v1/incidents", VIEWER),
        server.log()
    );
    server
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium, node and playwright-core, or why the browser test is skipped.
fn browser() -> Result<(PathBuf, PathBuf, PathBuf), String> {
    let chromium = match std::env::var_os("VIGIL_TEST_CHROMIUM") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "VIGIL_TEST_CHROMIUM={} is not a file",
                p.display()
            );
            p
        }
        None => ["chromium", "chromium-browser"]
            .into_iter()
            .find_map(on_path)
            .ok_or("no Chromium (VIGIL_TEST_CHROMIUM unset, none on PATH)")?,
    };
    let node = on_path("node").ok_or("no node on PATH")?;
    let cache = match std::env::var_os("VIGIL_BROWSER_CACHE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?)
            .join(".cache/vigil/browser"),
    };
    if !cache
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err(format!(
            "no playwright-core under {}",
            cache.join("node_modules").display()
        ));
    }
    Ok((chromium, node, cache))
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn console_acknowledges_incidents_in_a_real_browser() {
    let (chromium, node, playwright) = match browser() {
        Ok(b) => b,
        Err(why) => {
            println!("SKIP: console browser test: {why}; scripts/browser.sh installs them");
            return;
        }
    };
    let server = start("console");
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("console-ack.png");
    let _ = std::fs::remove_file(&shot);

    let mut script = Command::new(node)
        .arg(root().join("tests/console/ack.mjs"))
        .env("VIGIL_CONSOLE_URL", &server.base)
        .env("VIGIL_CONSOLE_TOKEN", RESPONDER)
        .env("VIGIL_CONSOLE_ACTOR", "console")
        .env("VIGIL_TEST_CHROMIUM", &chromium)
        .env("VIGIL_PLAYWRIGHT_DIR", &playwright)
        .env("VIGIL_ARTIFACTS", &artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = script.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = script.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = script.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.is_some_and(|s| s.success()),
        "the browser script failed ({status:?}):\n{stderr}\n{stdout}\nvigil log:\n{}",
        server.log()
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(result["incidents"], 3, "{result}");
    assert_eq!(
        result["groups"],
        serde_json::json!(["major", "moderate", "minor"])
    );
    assert!(result["chart_points"].as_u64().unwrap() >= 1, "{result}");
    // The major incident's page shows its stories, largest first, with their
    // counts and texts (issue 14), and post markup only as text.
    let stories = result["stories"].as_array().unwrap();
    assert_eq!(stories[0]["count"], "30 posts", "{result}");
    assert_eq!(
        stories[0]["text"],
        "acme recall: the acme blender is dangerous, recall now"
    );
    assert_eq!(stories[1]["count"], "3 posts", "{result}");
    assert!(
        stories[1]["text"]
            .as_str()
            .unwrap()
            .contains("<img src=x onerror=alert(1)> <b>recall</b>"),
        "{result}"
    );
    assert_eq!(result["markup_in_evidence"], 0, "{result}");
    assert!(result["samples"].as_u64().unwrap() >= 2, "{result}");
    let when = result["evidence_when"].as_str().unwrap();
    assert!(
        when.contains("2026-03-02 08:20:00 UTC") && when.contains("seen by Vigil"),
        "{when}"
    );
    assert!(is_png(&artifacts.join("console-stories.png")));
    for (id, state) in result["states"].as_object().unwrap() {
        assert_eq!(state, "acknowledged", "{id}");
    }
    assert!(is_png(&shot), "no screenshot at {}", shot.display());
    assert!(is_png(&artifacts.join("console-incident.png")));
    println!("screenshot: {}", shot.display());

    // The store recorded who acknowledged, and the metric saw it.
    let id = result["acknowledged_on_page"].as_str().unwrap();
    let (_, body) = server
        .get(&format!("/api/v1/incidents/{id}"), VIEWER)
        .unwrap();
    let incident: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(incident["acknowledged"]["by"], "console");
    let (_, metrics) = server.get("/metrics", VIEWER).unwrap();
    let count: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("vigil_alert_time_to_acknowledge_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(count, 3.0, "{metrics}");

    // The report made in the browser (issue 15): a new incident with the
    // form's fields, by the signed-in token's name.
    let reported = result["reported"].as_str().unwrap();
    assert!(reported.starts_with("reported-report-"), "{result}");
    assert_eq!(
        result["report_links"],
        serde_json::json!(["https://weibo.example/p/1", "https://x.example/s/2"])
    );
    assert!(is_png(&artifacts.join("console-report.png")));
    let (_, body) = server
        .get(&format!("/api/v1/incidents/{reported}"), VIEWER)
        .unwrap();
    let incident: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(incident["report"]["by"], "console");
    assert_eq!(
        incident["report"]["description"],
        "Three customers sent photos"
    );
    assert_eq!(incident["level"], "moderate");
    assert_eq!(
        incident["crisis_kinds"],
        serde_json::json!(["product_safety"])
    );
    // Its clock (moderate: a status update within 2 s), met in the browser
    // in time or late, and the role given there.
    let clock = result["respond_clock"].as_str().unwrap();
    assert!(clock.starts_with("met "), "{result}");
    // The Chinese template's draft, with the report's title for the
    // watch it has not got, edited and published to the stakeholder sink.
    let draft = result["draft"].as_str().unwrap();
    assert!(
        draft.starts_with("我们已关注到有关Cracked jars in Shanghai stores产品安全的反馈"),
        "{draft}"
    );
    let published = format!("{draft} We are investigating reports of cracked jars.");
    assert!(
        incident["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "status_update"
                && e["text"] == published.as_str()
                && e["published_to"] == serde_json::json!(["stdout"])
                && e["actor"] == "console"),
        "{incident}"
    );
    let stdout = read(&server.dir.join("alerts.jsonl"));
    assert!(
        stdout.contains(&format!("Status update: {published}")),
        "the stdout sink (the stakeholders) never got it:\n{stdout}"
    );
    assert_eq!(
        result["playbook"], "Playbook: Product quality or safety",
        "{result}"
    );
    assert!(
        result["step_event"]
            .as_str()
            .unwrap()
            .contains("Step 2 done: "),
        "{result}"
    );
    assert_eq!(incident["checklist"]["steps"][1]["done"]["by"], "console");
    assert!(incident["checklist"]["steps"][0]["done"].is_null());
    assert_eq!(incident["communications_lead"], "erin");
    assert_eq!(incident["first_response"]["by"], "console");
    // The period report in the console: the three detected incidents and
    // the one reported by hand, four tables.
    let period = result["period_summary"].as_str().unwrap();
    assert!(
        period.starts_with("4 incidents (1 reported by hand), 0 resolved; "),
        "{period}"
    );
    assert_eq!(result["period_tables"], 4, "{result}");
    assert!(is_png(&artifacts.join("console-period.png")));
}

#[test]
fn incidents_cli_talks_to_the_api() {
    let server = start("incidents-cli");
    let (ok, out, err) = server.cli(VIEWER, &["list", "--json"]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["count"], 3);
    let id_of = |watch: &str| {
        list["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["watch"] == watch)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let acme = id_of("acme");
    assert!(acme.starts_with("acme-20260302T08"), "{acme}");

    let (ok, out, _) = server.cli(VIEWER, &["list", "--level", "major"]);
    assert!(ok);
    assert!(out.starts_with("ID "), "{out}");
    assert!(
        out.contains(&acme) && out.ends_with("1 incident\n"),
        "{out}"
    );

    // A viewer may not act; an unknown token gets nowhere.
    let (ok, _, err) = server.cli(VIEWER, &["ack", &acme]);
    assert!(!ok);
    assert!(
        err.contains("403 Forbidden: token `wallboard` has role viewer"),
        "{err}"
    );
    let (ok, _, err) = server.cli("not-a-token-0123456789", &["list"]);
    assert!(
        !ok && err.contains("401 Unauthorized: unknown token"),
        "{err}"
    );

    let (ok, out, err) = server.cli(RESPONDER, &["ack", &acme]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "{acme}: ack recorded; state acknowledged; time to acknowledge "
        )),
        "{out}"
    );
    let (_, out, _) = server.cli(RESPONDER, &["ack", &acme]);
    assert!(out.contains("no change"), "{out}");
    let (ok, out, _) = server.cli(RESPONDER, &["assign", &acme, "carol"]);
    assert!(
        ok && out.contains("state assigned, assignee carol"),
        "{out}"
    );
    let (ok, _, _) = server.cli(RESPONDER, &["comment", &acme, "Recall notice drafted."]);
    assert!(ok);
    let (ok, out, _) = server.cli(RESPONDER, &["resolve", &acme]);
    assert!(ok && out.contains("state resolved"), "{out}");

    let (ok, out, _) = server.cli(VIEWER, &["show", &acme]);
    assert!(ok);
    for want in [
        "  assignee      carol\n",
        "console  acknowledged\n",
        "console  comment: Recall notice drafted.\n",
        "console  resolved\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let (ok, md, _) = server.cli(VIEWER, &["export", &acme]);
    assert!(
        ok && md.contains(&acme) && md.contains("Recall notice drafted."),
        "{md}"
    );
    let (ok, json, _) = server.cli(VIEWER, &["export", &acme, "--format", "json"]);
    assert!(ok);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert!(
        report["time_to_acknowledge_secs"].as_f64().is_some(),
        "{report}"
    );
    assert!(
        report["time_to_resolve_secs"].as_f64().is_some(),
        "{report}"
    );
    // A customer-service agent reports trouble by hand (issue 15): a new
    // incident (acme's detected one is resolved), notified and listed.
    let (ok, out, err) = server.cli(
        REPORTER,
        &[
            "open",
            "--title",
            "Cracked jars in Shanghai stores",
            "--level",
            "moderate",
            "--watch",
            "acme",
            "--kind",
            "product_safety",
            "--link",
            "https://weibo.example/p/1",
            "--post",
            "w1",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains(": reported; level moderate, state open"),
        "{out}"
    );
    let reported = out.split(':').next().unwrap().to_string();
    assert!(reported.starts_with("acme-report-"), "{reported}");
    let (ok, out, _) = server.cli(VIEWER, &["show", &reported]);
    assert!(ok);
    for want in [
        "  reported      Cracked jars in Shanghai stores by frontline\n",
        "  crisis kinds  product_safety\n",
        "frontline  reported at moderate: Cracked jars in Shanghai stores\n",
        "notified ",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // A second report on the watch joins it; a reporter may not act on it.
    let (ok, out, err) = server.cli(
        REPORTER,
        &[
            "open",
            "--title",
            "Hotline flooded",
            "--level",
            "major",
            "--watch",
            "acme",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!(
            "{reported}: the report joined this active incident of watch acme; level major"
        )),
        "{out}"
    );
    let (ok, _, err) = server.cli(REPORTER, &["ack", &reported]);
    assert!(!ok && err.contains("403 Forbidden"), "{err}");
    // Its playbook from the command line: tick step 1, see it in `show`.
    let (ok, out, err) = server.cli(RESPONDER, &["step", &reported, "1"]);
    assert!(ok && out.contains("step recorded"), "{out}{err}");
    let (ok, out, _) = server.cli(VIEWER, &["show", &reported]);
    assert!(ok);
    assert!(out.contains("playbook: Product safety: major"), "{out}");
    assert!(out.contains("  [x] 1. Page the executive on call"), "{out}");
    assert!(out.contains("  [ ] 2. "), "{out}");
    let (ok, _, err) = server.cli(RESPONDER, &["step", &reported, "0"]);
    assert!(!ok && err.contains("numbered from 1"), "{err}");

    // Roles, a missed response target and a status update (items 3, 4):
    // moderate incidents must get a status update within 2 s.
    let (ok, out, err) = server.cli(RESPONDER, &["role", &reported, "lead", "dana"]);
    assert!(ok && out.contains("role recorded"), "{out}{err}");
    let missed = wait_for(Duration::from_secs(20), || {
        let (_, body) = server.get(&format!("/api/v1/incidents/{reported}"), VIEWER)?;
        let v: Value = serde_json::from_str(&body).ok()?;
        v["clocks"]
            .as_array()?
            .iter()
            .any(|c| c["target"] == "respond" && !c["missed_at"].is_null())
            .then_some(v)
    })
    .unwrap_or_else(|| {
        panic!(
            "the respond target was never missed; log:\n{}",
            server.log()
        )
    });
    let kinds: Vec<&str> = missed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"target_missed"), "{kinds:?}");
    let (_, metrics) = server.get("/metrics", VIEWER).unwrap();
    let breaches = metric(
        &metrics,
        "vigil_incident_target_breaches_total{level=\"moderate\",target=\"respond\"}",
    )
    .unwrap_or(0.0);
    assert!(breaches >= 1.0, "{metrics}");
    let (ok, out, err) = server.cli(RESPONDER, &["status", &reported, "We are investigating."]);
    assert!(ok && out.contains("status recorded"), "{out}{err}");
    let (ok, out, _) = server.cli(VIEWER, &["show", &reported]);
    assert!(ok);
    for want in [
        "  lead          dana\n",
        "  targets       respond due ",
        " MISSED at ",
        "  incident lead: dana\n",
        "status update: We are investigating.\n",
        "respond target missed (due ",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }

    // Merge (item 7): the zephyr incident is about the same crisis.
    let zephyr = id_of("zephyr-phone");
    let (ok, out, err) = server.cli(RESPONDER, &["merge", &zephyr, &reported]);
    assert!(
        ok && out.starts_with(&format!("{reported}: merge recorded")),
        "{out}{err}"
    );
    let (ok, out, _) = server.cli(VIEWER, &["show", &zephyr]);
    assert!(
        ok && out.contains(&format!("  merged        into {reported}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("merged into incident {reported}")),
        "{out}"
    );
    let (ok, out, _) = server.cli(VIEWER, &["show", &reported]);
    assert!(
        ok && out.contains(&format!("  merged        from {zephyr}\n")),
        "{out}"
    );
    let (ok, _, err) = server.cli(RESPONDER, &["ack", &zephyr]);
    assert!(!ok && err.contains("act on that one"), "{err}");

    // The review and the period report (item 8).
    let (ok, out, err) = server.cli(
        RESPONDER,
        &[
            "review",
            &reported,
            "--root-cause",
            "A bad seal batch.",
            "--actions",
            "Recall batch 42.",
        ],
    );
    assert!(ok && out.contains("review recorded"), "{out}{err}");
    let (ok, md, err) = server.cli(VIEWER, &["export", &reported]);
    assert!(ok, "{err}");
    for want in [
        "- **Root cause:** A bad seal batch.",
        "## Response targets",
        "| respond | ",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    let (ok, period, err) = server.cli(VIEWER, &["report"]);
    assert!(ok, "{err}");
    for want in [
        "4 incidents (1 reported by hand), 2 resolved; ",
        "| first status update | ",
        "| acme | 2 | major |",
    ] {
        assert!(period.contains(want), "missing {want:?} in\n{period}");
    }
    let (ok, json, _) = server.cli(
        VIEWER,
        &[
            "report",
            "--format",
            "json",
            "--since",
            "2000-01-01T00:00:00Z",
        ],
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(
        ok && v["incidents"] == 4 && v["target_misses"]["respond"].as_u64() >= Some(1),
        "{v}"
    );

    let (ok, _, err) = server.cli(VIEWER, &["show", "no-such-incident"]);
    assert!(
        !ok && err.contains("404 Not Found: no incident `no-such-incident`"),
        "{err}"
    );
}
