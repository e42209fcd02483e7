//! `vigil incidents list|show|open|ack|assign|role|step|comment|drafts|status|merge|resolve|reopen|review|export|report`:
//! the incident API (`/api/v1`, served by `vigil run` on its admin address)
//! from the command line. Tables for people by default, the API's JSON with
//! `--json`.

use std::{borrow::Cow, fmt::Write as _, process::ExitCode, time::Duration};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

/// Connection options and the incident command.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Base URL of a running `vigil run` (its --admin-addr).
    #[arg(
        long,
        global = true,
        env = "VIGIL_API_URL",
        default_value = "http://127.0.0.1:9464"
    )]
    url: String,
    /// API token (`[[api.tokens]]` in the server's config). The variable
    /// keeps it out of the process list.
    #[arg(long, global = true, env = "VIGIL_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: IncidentsCommand,
}

#[derive(Debug, Subcommand)]
enum IncidentsCommand {
    /// List incidents, newest opened first.
    List {
        /// Only this level (minor, moderate, major).
        #[arg(long)]
        level: Option<String>,
        /// Only this state (open, escalated, acknowledged, assigned,
        /// resolved, reopened).
        #[arg(long)]
        state: Option<String>,
        /// Only this watch.
        #[arg(long)]
        watch: Option<String>,
        /// Only incidents still active at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only incidents opened before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one incident with its timeline.
    Show {
        /// Incident id.
        id: String,
    },
    /// Report an incident by hand (role reporter or responder). On a watch
    /// with an active incident the report joins it.
    Open {
        /// A one-line title.
        #[arg(long)]
        title: String,
        /// minor, moderate or major.
        #[arg(long)]
        level: String,
        /// The watch it concerns (a configured watch id).
        #[arg(long)]
        watch: Option<String>,
        /// The kind of crisis (product_safety, service_outage, legal,
        /// data_breach, negative_media, disaster).
        #[arg(long)]
        kind: Option<String>,
        /// What you saw.
        #[arg(long)]
        description: Option<String>,
        /// A link to a post or page (repeat for more).
        #[arg(long = "link")]
        links: Vec<String>,
        /// The id of a post it is about (repeat for more).
        #[arg(long = "post")]
        posts: Vec<String>,
    },
    /// Acknowledge an incident (idempotent): stops re-notification while its
    /// level holds.
    Ack {
        /// Incident id.
        id: String,
    },
    /// Assign an owner (acknowledges too).
    Assign {
        /// Incident id.
        id: String,
        /// The new owner.
        assignee: String,
    },
    /// Give someone a role on the response team (replaces its holder).
    Role {
        /// Incident id.
        id: String,
        /// The role.
        #[arg(value_enum)]
        role: RoleArg,
        /// Who.
        person: String,
    },
    /// Tick a step of the incident's playbook checklist (`show` lists them,
    /// numbered from 1).
    Step {
        /// Incident id.
        id: String,
        /// The step's number, from 1.
        number: usize,
        /// Mark it to do again instead.
        #[arg(long)]
        undo: bool,
    },
    /// Status updates drafted from the templates for this incident (its
    /// crisis kinds' and the default ones, English and Chinese).
    Drafts {
        /// Incident id.
        id: String,
    },
    /// Record a status update (the first meets the `respond` target).
    Status {
        /// Incident id.
        id: String,
        /// The update.
        text: String,
        /// Also publish it to the stakeholder sinks
        /// (`alert.stakeholder_sinks`).
        #[arg(long)]
        publish: bool,
    },
    /// Add a comment to the timeline.
    Comment {
        /// Incident id.
        id: String,
        /// The comment.
        text: String,
    },
    /// Resolve an incident (notifies the sinks told about it).
    Resolve {
        /// Incident id.
        id: String,
    },
    /// Reopen a resolved incident.
    Reopen {
        /// Incident id.
        id: String,
    },
    /// Merge an incident into another about the same crisis (it keeps its
    /// timeline and is resolved without a notification; the other goes on).
    Merge {
        /// The incident to merge.
        id: String,
        /// The incident to merge it into.
        into: String,
    },
    /// Fill in the review (fields left out are kept).
    Review {
        /// Incident id.
        id: String,
        /// What caused the crisis.
        #[arg(long)]
        root_cause: Option<String>,
        /// What was done and what is to change.
        #[arg(long)]
        actions: Option<String>,
        /// How well the response worked.
        #[arg(long)]
        effectiveness: Option<String>,
    },
    /// A period's incidents summed up: by level and kind, times to
    /// acknowledge, respond and resolve (median, p90), missed targets, top
    /// watches.
    Report {
        /// Incidents opened at or after this time (RFC 3339; default 30
        /// days before --until).
        #[arg(long)]
        since: Option<String>,
        /// Incidents opened before this time (RFC 3339; default now).
        #[arg(long)]
        until: Option<String>,
        /// Markdown or JSON.
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
    },
    /// The post-crisis review: timeline, levels over time, volume, top
    /// terms, sample posts, time to acknowledge and to resolve.
    Export {
        /// Incident id.
        id: String,
        /// Markdown (for a post-mortem document) or JSON.
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    Lead,
    Communications,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Md,
    Json,
}

struct Client {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

/// Everything but RFC 3986's unreserved characters.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a path segment or query value.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

impl Client {
    fn new(url: &str, token: Option<String>) -> anyhow::Result<Client> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            bail!("no API token: pass --token or set VIGIL_API_TOKEN (a token from [[api.tokens]] in the server's config)");
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Client {
            http,
            base: url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// Sends a request; the body of a 2xx, or an error with the API's
    /// message.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let response = req.send().with_context(|| {
            format!("{method} {url} (is `vigil run` up there? set --url or VIGIL_API_URL)")
        })?;
        let status = response.status();
        let text = response
            .text()
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(text);
            bail!("{method} {url}: {status}: {message}");
        }
        Ok(text)
    }

    fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let text = self.send(method, path, body)?;
        serde_json::from_str(&text).context("the API answered something other than JSON")
    }
}

/// Runs `vigil incidents ...`.
pub fn run(args: IncidentsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.url, args.token)?;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let out = match args.command {
        IncidentsCommand::List {
            level,
            state,
            watch,
            since,
            until,
            limit,
        } => {
            let mut query = Vec::new();
            for (k, v) in [
                ("level", level),
                ("state", state),
                ("watch", watch),
                ("since", since),
                ("until", until),
                ("limit", limit.map(|n| n.to_string())),
            ] {
                if let Some(v) = v {
                    query.push(format!("{k}={}", encode(&v)));
                }
            }
            let path = if query.is_empty() {
                "/api/v1/incidents".to_string()
            } else {
                format!("/api/v1/incidents?{}", query.join("&"))
            };
            let v = client.json(get, &path, None)?;
            if args.json {
                pretty(&v)
            } else {
                list_table(&v)
            }
        }
        IncidentsCommand::Show { id } => {
            let v = client.json(get, &format!("/api/v1/incidents/{}", encode(&id)), None)?;
            if args.json {
                pretty(&v)
            } else {
                show(&v)
            }
        }
        IncidentsCommand::Export { id, format } => {
            let f = match format {
                ExportFormat::Md => "md",
                ExportFormat::Json => "json",
            };
            let text = client.send(
                get,
                &format!("/api/v1/incidents/{}/export?format={f}", encode(&id)),
                None,
            )?;
            match format {
                ExportFormat::Md => text,
                ExportFormat::Json => pretty(&serde_json::from_str(&text)?),
            }
        }
        IncidentsCommand::Open {
            title,
            level,
            watch,
            kind,
            description,
            links,
            posts,
        } => {
            let mut body = serde_json::json!({ "title": title, "level": level });
            for (k, v) in [
                ("watch", watch),
                ("crisis_kind", kind),
                ("description", description),
            ] {
                if let Some(v) = v {
                    body[k] = Value::from(v);
                }
            }
            if !links.is_empty() {
                body["links"] = Value::from(links);
            }
            if !posts.is_empty() {
                body["post_ids"] = Value::from(posts);
            }
            let v = client.json(post, "/api/v1/incidents", Some(body))?;
            if args.json {
                pretty(&v)
            } else {
                opened_summary(&v)
            }
        }
        IncidentsCommand::Review {
            id,
            root_cause,
            actions,
            effectiveness,
        } => {
            let mut body = serde_json::json!({});
            for (k, v) in [
                ("root_cause", root_cause),
                ("actions", actions),
                ("effectiveness", effectiveness),
            ] {
                if let Some(v) = v {
                    body[k] = Value::from(v);
                }
            }
            act(&client, &post, &id, "review", Some(body), args.json)?
        }
        IncidentsCommand::Report {
            since,
            until,
            format,
        } => {
            let f = match format {
                ExportFormat::Md => "md",
                ExportFormat::Json => "json",
            };
            let mut path = format!("/api/v1/reports/period?format={f}");
            for (k, v) in [("since", since), ("until", until)] {
                if let Some(v) = v {
                    path.push_str(&format!("&{k}={}", encode(&v)));
                }
            }
            let text = client.send(get.clone(), &path, None)?;
            match format {
                ExportFormat::Md => text,
                ExportFormat::Json => pretty(&serde_json::from_str(&text)?),
            }
        }
        IncidentsCommand::Ack { id } => act(&client, &post, &id, "ack", None, args.json)?,
        IncidentsCommand::Resolve { id } => act(&client, &post, &id, "resolve", None, args.json)?,
        IncidentsCommand::Reopen { id } => act(&client, &post, &id, "reopen", None, args.json)?,
        IncidentsCommand::Assign { id, assignee } => act(
            &client,
            &post,
            &id,
            "assign",
            Some(serde_json::json!({ "assignee": assignee })),
            args.json,
        )?,
        IncidentsCommand::Role { id, role, person } => act(
            &client,
            &post,
            &id,
            "role",
            Some(serde_json::json!({
                "role": match role {
                    RoleArg::Lead => "lead",
                    RoleArg::Communications => "communications",
                },
                "person": person
            })),
            args.json,
        )?,
        IncidentsCommand::Step { id, number, undo } => {
            if number == 0 {
                bail!("steps are numbered from 1 (as `vigil incidents show` lists them)");
            }
            act(
                &client,
                &post,
                &id,
                "step",
                Some(serde_json::json!({ "step": number - 1, "done": !undo })),
                args.json,
            )?
        }
        IncidentsCommand::Merge { id, into } => act(
            &client,
            &post,
            &id,
            "merge",
            Some(serde_json::json!({ "into": into })),
            args.json,
        )?,
        IncidentsCommand::Drafts { id } => {
            let v = client.json(
                get.clone(),
                &format!("/api/v1/incidents/{}/drafts", encode(&id)),
                None,
            )?;
            if args.json {
                pretty(&v)
            } else {
                let mut out = String::new();
                for d in v["drafts"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "[{}]\n{}\n", s(&d["template"]), s(&d["text"]));
                }
                out
            }
        }
        IncidentsCommand::Status { id, text, publish } => act(
            &client,
            &post,
            &id,
            "status",
            Some(serde_json::json!({ "text": text, "publish": publish })),
            args.json,
        )?,
        IncidentsCommand::Comment { id, text } => act(
            &client,
            &post,
            &id,
            "comment",
            Some(serde_json::json!({ "text": text })),
            args.json,
        )?,
    };
    // Tables escaped their cells; JSON and Markdown keep their lines.
    let out = safe(&out, true);
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn act(
    client: &Client,
    post: &reqwest::Method,
    id: &str,
    action: &str,
    body: Option<Value>,
    json: bool,
) -> anyhow::Result<String> {
    let v = client.json(
        post.clone(),
        &format!("/api/v1/incidents/{}/{action}", encode(id)),
        body,
    )?;
    Ok(if json {
        pretty(&v)
    } else {
        act_summary(action, &v)
    })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value serialises") + "\n"
}

/// Makes text from the server safe to print on a terminal: control
/// characters (escape sequences, carriage returns, backspaces, C1 controls)
/// and bidirectional overrides become visible JSON-style escapes (`\u001b`,
/// so JSON output stays valid JSON). Newlines (and tabs) are kept only when
/// `keep_lines`: a table cell shows them as `\n`, so a comment cannot forge
/// timeline rows.
fn safe(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_lines && (c == '\n' || c == '\t')))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// A string field of the server's JSON, safe for one table cell or line.
fn s(v: &Value) -> Cow<'_, str> {
    safe(v.as_str().unwrap_or(""), false)
}

/// An optional string field: `-` when absent.
fn or_dash(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| "-".to_string(), |a| safe(a, false).into_owned())
}

/// `2026-11-23T14:00:00.000Z` → `2026-11-23 14:00:00Z`.
fn time(v: &Value) -> String {
    let t = s(v);
    if t.is_empty() {
        return "-".into();
    }
    let t = t.replacen('T', " ", 1);
    match t.strip_suffix(".000Z") {
        Some(base) => format!("{base}Z"),
        None => t,
    }
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.1}"),
        None => "-".into(),
    }
}

fn duration(secs: f64) -> String {
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let pad = w - c.chars().count();
                let _ = write!(l, "{c}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, header.to_vec());
    for r in rows {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

fn list_table(v: &Value) -> String {
    let empty = Vec::new();
    let incidents = v["incidents"].as_array().unwrap_or(&empty);
    if incidents.is_empty() {
        return "no incidents\n".into();
    }
    let rows: Vec<Vec<String>> = incidents
        .iter()
        .map(|i| {
            vec![
                s(&i["id"]).to_string(),
                s(&i["level"]).to_string(),
                s(&i["state"]).to_string(),
                s(&i["watch"]).to_string(),
                time(&i["opened_at"]),
                num(&i["observed"]),
                num(&i["baseline"]),
                or_dash(&i["assignee"]),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "ID", "LEVEL", "STATE", "WATCH", "OPENED", "POSTS", "BASELINE", "ASSIGNEE",
        ],
        &rows,
    );
    let n = incidents.len();
    let _ = writeln!(out, "{n} incident{}", if n == 1 { "" } else { "s" });
    out
}

fn stamp(v: &Value) -> String {
    if v.is_null() {
        "-".into()
    } else {
        format!("{} at {}", s(&v["by"]), time(&v["at"]))
    }
}

/// One timeline event in words (the store's describer; an event this
/// build does not know, from a newer server, shows its kind).
fn describe(e: &Value) -> String {
    match serde_json::from_value::<vigil_incidents::Event>(e.clone()) {
        Ok(ev) => ev.kind.describe(&|t| safe(t, false).into_owned()),
        Err(_) => s(&e["kind"]).into_owned(),
    }
}

fn show(i: &Value) -> String {
    let mut out = format!("{}  {}  {}\n", s(&i["id"]), s(&i["level"]), s(&i["state"]));
    let kinds: Vec<Cow<str>> = i["crisis_kinds"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let terms: Vec<Cow<str>> = i["last"]["top_terms"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let volume = i["volume"].as_array().cloned().unwrap_or_default();
    let peak = volume
        .iter()
        .max_by_key(|p| p["observed"].as_u64().unwrap_or(0));
    let report = &i["report"];
    let reported = if report.is_null() {
        "-".to_string()
    } else {
        format!("{} by {}", s(&report["title"]), s(&report["by"]))
    };
    let joined: Vec<Cow<str>> = i["detected_as"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let rows = [
        ("watch", s(&i["watch"]).to_string()),
        ("opened", time(&i["opened_at"])),
        ("reported", reported),
        ("merged", merged(i)),
        (
            "detected as",
            if joined.is_empty() {
                "-".into()
            } else {
                joined.join(", ")
            },
        ),
        (
            "crisis kinds",
            if kinds.is_empty() {
                "-".into()
            } else {
                kinds.join(", ")
            },
        ),
        ("acknowledged", stamp(&i["acknowledged"])),
        ("assignee", or_dash(&i["assignee"])),
        ("lead", or_dash(&i["lead"])),
        ("comms lead", or_dash(&i["communications_lead"])),
        ("targets", clocks(&i["clocks"])),
        ("resolved", stamp(&i["resolved"])),
        (
            "latest window",
            format!(
                "{} posts, baseline {}, z {}",
                num(&i["last"]["observed"]),
                num(&i["last"]["baseline"]),
                num(&i["last"]["z"])
            ),
        ),
        (
            "top terms",
            if terms.is_empty() {
                "-".into()
            } else {
                terms.join(", ")
            },
        ),
        (
            "volume",
            match peak {
                Some(p) => format!(
                    "{} windows, peak {} posts at {} (baseline {})",
                    volume.len(),
                    num(&p["observed"]),
                    time(&p["window_end"]),
                    num(&p["baseline"])
                ),
                None => "-".into(),
            },
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<14}{v}");
    }
    evidence(&mut out, i);
    if let Some(steps) = i["checklist"]["steps"].as_array() {
        let _ = writeln!(out, "playbook: {}", s(&i["checklist"]["title"]));
        for (n, st) in steps.iter().enumerate() {
            let mark = if st["done"].is_null() { "[ ]" } else { "[x]" };
            let who = if st["done"].is_null() {
                String::new()
            } else {
                format!("  ({})", stamp(&st["done"]))
            };
            let _ = writeln!(out, "  {mark} {}. {}{who}", n + 1, s(&st["text"]));
        }
    }
    out.push_str("timeline:\n");
    let events = i["timeline"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| vec![time(&e["at"]), s(&e["actor"]).to_string(), describe(e)])
        .collect();
    for l in table(&["AT", "BY", "WHAT"], &rows).lines() {
        let _ = writeln!(out, "  {l}");
    }
    out
}

/// The newest evidence (opening or level rise): rising terms, stories with
/// their counts, sample posts with their text.
fn evidence(out: &mut String, i: &Value) {
    let Some(ev) = i["evidence"].as_array().and_then(|a| a.last()) else {
        return;
    };
    let _ = writeln!(
        out,
        "what people say (at {} {}; happened {} to {}, event time; seen by vigil {}):",
        s(&ev["state"]),
        s(&ev["level"]),
        time(&ev["window_start"]),
        time(&ev["window_end"]),
        time(&ev["seen_at"])
    );
    let rising: Vec<String> =
        serde_json::from_value::<Vec<vigil_types::RisingTerm>>(ev["rising_terms"].clone())
            .unwrap_or_default()
            .iter()
            .map(|r| safe(&r.to_string(), false).into_owned())
            .collect();
    if !rising.is_empty() {
        let _ = writeln!(out, "  rising: {}", rising.join(", "));
    }
    for st in ev["stories"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {} posts ({} original, {} reposts; first on {} at {}): \"{}\"",
            num(&st["posts"]),
            num(&st["originals"]),
            num(&st["reposts"]),
            s(&st["first_source"]),
            time(&st["first_seen"]),
            s(&st["text"])
        );
    }
    let samples = ev["samples"].as_array().cloned().unwrap_or_default();
    if !samples.is_empty() {
        out.push_str("sample posts:\n");
    }
    for p in &samples {
        let mut head = format!(
            "  {}  {}  {}",
            time(&p["published_at"]),
            s(&p["source"]),
            s(&p["id"])
        );
        if let Some(a) = p["author"].as_str() {
            let _ = write!(head, "  @{}", safe(a, false));
        }
        if let Some(r) = p["reach"].as_u64() {
            let _ = write!(head, "  reach {r}");
        }
        if let Some(u) = p["url"].as_str() {
            let _ = write!(head, "  {}", safe(u, false));
        }
        let _ = writeln!(out, "{head}\n    \"{}\"", s(&p["text"]));
    }
}

/// `into X` or `from A, B`, or `-`.
fn merged(i: &Value) -> String {
    if let Some(into) = i["merged_into"].as_str() {
        return format!("into {}", safe(into, false));
    }
    let from: Vec<Cow<str>> = i["merged_from"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    if from.is_empty() {
        "-".into()
    } else {
        format!("from {}", from.join(", "))
    }
}

/// Response-target clocks in words: `acknowledge due 14:10 met 14:05;
/// respond due 14:30 MISSED at 14:30`.
fn clocks(v: &Value) -> String {
    let Some(cs) = v.as_array().filter(|a| !a.is_empty()) else {
        return "-".into();
    };
    cs.iter()
        .map(|c| {
            let mut out = format!("{} due {}", s(&c["target"]), time(&c["due_at"]));
            if !c["met_at"].is_null() {
                let _ = write!(out, " met {}", time(&c["met_at"]));
            }
            if !c["missed_at"].is_null() {
                let _ = write!(out, " MISSED at {}", time(&c["missed_at"]));
            }
            out
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn opened_summary(v: &Value) -> String {
    let i = &v["incident"];
    let (id, level, state) = (s(&i["id"]), s(&i["level"]), s(&i["state"]));
    if v["created"] == Value::Bool(true) {
        format!("{id}: reported; level {level}, state {state}\n")
    } else {
        format!("{id}: the report joined this active incident of watch {}; level {level}, state {state}\n", s(&i["watch"]))
    }
}

fn act_summary(action: &str, v: &Value) -> String {
    let i = &v["incident"];
    let id = s(&i["id"]);
    let state = s(&i["state"]);
    if v["changed"] == Value::Bool(false) {
        return format!("{id}: no change ({action} changed nothing); state {state}\n");
    }
    let mut out = format!("{id}: {action} recorded; state {state}");
    if let Some(a) = i["assignee"].as_str() {
        let _ = write!(out, ", assignee {}", safe(a, false));
    }
    if let Some(secs) = v["time_to_acknowledge_secs"].as_f64() {
        let _ = write!(out, "; time to acknowledge {}", duration(secs));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: IncidentsArgs,
    }

    #[test]
    fn flags_go_anywhere_and_default_to_the_local_admin_address() {
        let c = Cli::try_parse_from(["incidents", "list", "--level", "major", "--json"]).unwrap();
        assert_eq!(c.args.url, "http://127.0.0.1:9464");
        assert!(c.args.json);
        assert!(matches!(
            c.args.command,
            IncidentsCommand::List { level: Some(ref l), .. } if l == "major"
        ));
        let c = Cli::try_parse_from([
            "incidents",
            "--url",
            "http://vigil:9464/",
            "export",
            "acme-1",
            "--format",
            "json",
            "--token",
            "t0123456789abcdef",
        ])
        .unwrap();
        assert_eq!(c.args.token.as_deref(), Some("t0123456789abcdef"));
        assert!(matches!(
            c.args.command,
            IncidentsCommand::Export {
                format: ExportFormat::Json,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["incidents", "export", "x", "--format", "pdf"]).is_err());
        assert!(Cli::try_parse_from(["incidents", "assign", "x"]).is_err());
    }

    #[test]
    fn a_missing_token_is_a_clear_error() {
        let e = Client::new("http://127.0.0.1:1", None).err().unwrap();
        assert!(e.to_string().contains("VIGIL_API_TOKEN"), "{e}");
    }

    #[test]
    fn ids_are_percent_encoded() {
        assert_eq!(encode("acme-20261123T1400"), "acme-20261123T1400");
        assert_eq!(encode("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(
            encode("2026-01-01T00:00:00+01:00"),
            "2026-01-01T00%3A00%3A00%2B01%3A00"
        );
    }

    #[test]
    fn list_is_a_table() {
        let v = json!({"count": 2, "incidents": [
            {"id": "acme-1", "level": "major", "state": "acknowledged", "watch": "acme",
             "opened_at": "2026-11-23T14:00:00.000Z", "observed": 412, "baseline": 3.12, "assignee": "carol"},
            {"id": "zephyr-phone-1", "level": "minor", "state": "open", "watch": "zephyr-phone",
             "opened_at": "2026-11-23T15:30:00.250Z", "observed": 9, "baseline": 1.0}
        ]});
        assert_eq!(
            list_table(&v),
            "ID              LEVEL  STATE         WATCH         OPENED                    POSTS  BASELINE  ASSIGNEE\n\
             acme-1          major  acknowledged  acme          2026-11-23 14:00:00Z      412    3.1       carol\n\
             zephyr-phone-1  minor  open          zephyr-phone  2026-11-23 15:30:00.250Z  9      1         -\n\
             2 incidents\n"
        );
        assert_eq!(
            list_table(&json!({"count": 0, "incidents": []})),
            "no incidents\n"
        );
    }

    #[test]
    fn show_has_facts_and_timeline() {
        let v = json!({
            "id": "acme-1", "level": "major", "state": "assigned", "watch": "acme",
            "opened_at": "2026-11-23T14:00:00.000Z", "crisis_kinds": ["product_safety"],
            "acknowledged": {"by": "alice", "at": "2026-11-23T14:02:03.000Z"}, "assignee": "carol",
            "last": {"observed": 40, "baseline": 4.0, "z": 9.5, "top_terms": ["recall", "acme"]},
            "volume": [
                {"window_end": "2026-11-23T14:00:00.000Z", "observed": 12, "baseline": 4.0, "level": "minor"},
                {"window_end": "2026-11-23T14:01:00.000Z", "observed": 40, "baseline": 4.0, "level": "major"}
            ],
            "timeline": [
                {"at": "2026-11-23T14:00:00.000Z", "actor": "vigil", "kind": "alert", "transition": "opened", "level": "major", "alert_id": "a1"},
                {"at": "2026-11-23T14:00:00.000Z", "actor": "vigil", "kind": "notified", "sinks": ["stdout", "slack"], "reason": "new", "step": 0},
                {"at": "2026-11-23T14:02:03.000Z", "actor": "alice", "kind": "ack"},
                {"at": "2026-11-23T14:05:00.000Z", "actor": "alice", "kind": "assign", "assignee": "carol"},
                {"at": "2026-11-23T14:06:00.000Z", "actor": "carol", "kind": "comment", "text": "Legal is on it."}
            ],
            "evidence": [{
                "level": "major", "state": "opened",
                "window_start": "2026-11-23T13:59:00.000Z", "window_end": "2026-11-23T14:00:00.000Z",
                "seen_at": "2026-11-23T14:00:31.000Z",
                "stories": [{"text": "my acme x1 blender exploded\u{1b}[2J", "posts": 41, "originals": 1, "reposts": 40,
                    "first_post": "p1", "first_seen": "2026-11-23T13:59:01.000Z", "first_source": "x",
                    "sources": ["x"], "reach": 0, "engagement": 0}],
                "rising_terms": [{"term": "exploded", "posts": 41, "share": 0.76, "baseline_share": 0.0}],
                "samples": [{"id": "p1", "source": "x", "published_at": "2026-11-23T13:59:01.000Z",
                    "text": "my acme x1 blender exploded", "url": "https://x.example/p1", "reach": 1200}]
            }]
        });
        let out = show(&v);
        for want in [
            "acme-1  major  assigned\n",
            "what people say (at opened major; happened 2026-11-23 13:59:00Z to 2026-11-23 14:00:00Z, event time; seen by vigil 2026-11-23 14:00:31Z):\n",
            "  rising: exploded 76% (was 0%)\n",
            "  41 posts (1 original, 40 reposts; first on x at 2026-11-23 13:59:01Z): \"my acme x1 blender exploded\\u001b[2J\"\n",
            "  2026-11-23 13:59:01Z  x  p1  reach 1200  https://x.example/p1\n    \"my acme x1 blender exploded\"\n",
            "  acknowledged  alice at 2026-11-23 14:02:03Z\n",
            "  crisis kinds  product_safety\n",
            "  latest window 40 posts, baseline 4, z 9.5\n",
            "  volume        2 windows, peak 40 posts at 2026-11-23 14:01:00Z (baseline 4)\n",
            "  2026-11-23 14:00:00Z  vigil  notified stdout, slack (new, step 0)\n",
            "  2026-11-23 14:06:00Z  carol  comment: Legal is on it.\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn server_text_cannot_drive_the_terminal_or_forge_lines() {
        // Issue 12: comments and assignees were printed raw.
        let hostile = "ok\u{1b}]0;pwned\u{7}\u{1b}[2J\nFAKE  vigil  resolved\r\u{9b}31m\u{202e}txt";
        let v = json!({
            "id": "acme-1", "level": "major", "state": "assigned", "watch": "acme",
            "assignee": hostile,
            "timeline": [
                {"at": "2026-11-23T14:06:00.000Z", "actor": "carol\u{1b}[8m", "kind": "comment", "text": hostile},
                {"at": "2026-11-23T14:07:00.000Z", "actor": "carol", "kind": "assign", "assignee": hostile}
            ]
        });
        let list = json!({"incidents": [v.clone()]});
        let acted = json!({"changed": true, "incident": v.clone()});
        for out in [show(&v), list_table(&list), act_summary("assign", &acted)] {
            assert!(
                !out.chars().any(|c| c.is_control() && c != '\n') && !out.contains('\u{202e}'),
                "raw control characters in\n{out:?}"
            );
            assert!(!out.contains("\nFAKE"), "a forged line in\n{out}");
            assert!(
                out.contains(r"ok\u001b]0;pwned\u0007\u001b[2J\nFAKE"),
                "{out}"
            );
        }
        assert!(show(&v).contains(
            r"  2026-11-23 14:06:00Z  carol\u001b[8m  comment: ok\u001b]0;pwned\u0007\u001b[2J\nFAKE  vigil  resolved\r\u009b31m\u202etxt"
        ));
        // Whole outputs keep their lines, and JSON stays JSON.
        let text = pretty(&json!({"text": hostile}));
        let printed = safe(&text, true);
        assert!(printed.contains('\n') && !printed.contains('\u{9b}'));
        let back: Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(back["text"], hostile);
        assert!(matches!(safe("plain 艾克美\n", true), Cow::Borrowed(_)));
    }

    #[test]
    fn action_summaries_say_what_changed() {
        let v = json!({"changed": true, "time_to_acknowledge_secs": 123.4,
                       "incident": {"id": "acme-1", "state": "acknowledged"}});
        assert_eq!(
            act_summary("ack", &v),
            "acme-1: ack recorded; state acknowledged; time to acknowledge 2m 03s\n"
        );
        let v = json!({"changed": false, "incident": {"id": "acme-1", "state": "acknowledged"}});
        assert_eq!(
            act_summary("ack", &v),
            "acme-1: no change (ack changed nothing); state acknowledged\n"
        );
        assert_eq!(duration(3723.0), "1h 02m 03s");
        assert_eq!(duration(7.0), "7s");
    }
}
