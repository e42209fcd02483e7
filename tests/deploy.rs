//! Checks of `deploy/`: the Prometheus rules and config (with the real
//! `promtool` when it is installed), the compose file (with `docker compose
//! config` when a compose implementation is installed), and, always, the
//! structure of the compose file and the Kubernetes manifests, the two copies
//! of the pipeline config (identical, and accepted by `vigil config check`
//! with the environment overrides the deployments set), and every PromQL
//! expression of the Grafana dashboard and the alert rules against the metric
//! catalogue in docs/METRICS.md.
//!
//! No YAML parser is a dependency, so the YAML checks read the files by
//! indentation: enough to find a key's block and a list's items in these
//! hand-written files, and strict enough to fail when one is broken.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::util::{read, root, vigil};

const STAGES: [&str; 4] = ["ingest", "score", "detect", "alert"];

/// Metrics that the dashboard and rules may use beyond docs/METRICS.md:
/// the incident metrics planned for the alert stage, and the series of
/// Prometheus itself, the blackbox exporter and kube-state-metrics.
const EXTRA_METRICS: &[(&str, &str)] = &[
    ("vigil_alert_active_incidents", "gauge"),
    ("vigil_alert_time_to_acknowledge_seconds", "histogram"),
    ("up", "gauge"),
    ("probe_success", "gauge"),
    ("kube_deployment_status_replicas_unavailable", "gauge"),
];

/// Label names a query may group or match by: Vigil's bounded labels
/// (STYLE.md section 7, docs/METRICS.md), `level` of the incident metrics,
/// and the target labels Prometheus and the exporters attach.
const KNOWN_LABELS: &[&str] = &[
    "stage",
    "source",
    "watch",
    "severity",
    "reason",
    "error_type",
    "stream",
    "sink",
    "partition",
    "result",
    "version",
    "commit",
    "level",
    "le",
    "job",
    "instance",
    "pod",
    "namespace",
    "deployment",
];

/// PromQL functions and aggregations the queries may call.
const KNOWN_FUNCTIONS: &[&str] = &[
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "group",
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "idelta",
    "histogram_quantile",
    "absent",
    "absent_over_time",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "clamp_min",
    "clamp_max",
    "time",
    "timestamp",
    "vector",
    "scalar",
];

const AGGREGATIONS: &[&str] = &[
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "quantile", "group",
];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset"];

fn deploy(rel: &str) -> PathBuf {
    root().join("deploy").join(rel)
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd`, or returns `None` when its program is not installed.
fn run_if_installed(cmd: &mut Command) -> Option<Output> {
    match cmd.output() {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("running {cmd:?}: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Tools, when installed.

#[test]
fn promtool_checks_rules_rule_tests_and_prometheus_config() {
    if run_if_installed(Command::new("promtool").arg("--version")).is_none() {
        println!("SKIP: promtool not installed (apt-get install prometheus provides it)");
        return;
    }
    for args in [
        &["check", "rules", "deploy/prometheus/vigil-rules.yml"][..],
        &["test", "rules", "deploy/prometheus/vigil-rules.test.yml"][..],
        &["check", "config", "deploy/compose/prometheus.yml"][..],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(out.status.success(), "promtool {args:?}\n{}", show(&out));
    }
}

#[test]
fn docker_compose_config_is_valid() {
    // `config` only parses, interpolates and validates: no engine, no pulls.
    // Prefer the compose plugin; fall back to the standalone docker-compose
    // (Debian's package) when the plugin is missing.
    let compose: Vec<&str> = if run_if_installed(
        Command::new("docker").args(["compose", "version"]),
    )
    .is_some_and(|o| o.status.success())
    {
        vec!["docker", "compose"]
    } else if run_if_installed(Command::new("docker-compose").arg("version"))
        .is_some_and(|o| o.status.success())
    {
        vec!["docker-compose"]
    } else {
        println!(
            "SKIP: docker compose not installed (neither the docker compose plugin nor docker-compose)"
        );
        return;
    };
    for profile in [None, Some("demo")] {
        let mut cmd = Command::new(compose[0]);
        cmd.args(&compose[1..])
            .args(["-f", "deploy/compose/compose.yaml"])
            .current_dir(root());
        if let Some(p) = profile {
            cmd.args(["--profile", p]);
        }
        let out = cmd.args(["config", "-q"]).output().unwrap();
        assert!(
            out.status.success(),
            "{compose:?} config (profile {profile:?})\n{}",
            show(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// The pipeline config and its copies.

/// The `vigil.toml: |` block of the ConfigMap, de-indented.
fn configmap_toml(configmap: &str) -> String {
    let lines: Vec<&str> = configmap.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "  vigil.toml: |")
        .expect("configmap.yaml has a `vigil.toml: |` block under data");
    let mut out = String::new();
    for l in &lines[start + 1..] {
        if l.is_empty() {
            out.push('\n');
        } else if let Some(body) = l.strip_prefix("    ") {
            out.push_str(body);
            out.push('\n');
        } else {
            break;
        }
    }
    // A literal block keeps one final newline (`|` clips the trailing blank lines).
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `KEY: value` pairs of the mapping under `key:` (one level, quotes removed).
fn mapping_under(text: &str, key: &str) -> BTreeMap<String, String> {
    block_under(text, key)
        .iter()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once(": ")?;
            Some((k.to_string(), unquote(v).to_string()))
        })
        .collect()
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

#[test]
fn pipeline_config_copies_are_identical_and_valid() {
    let compose_toml = read(&deploy("compose/vigil.toml"));
    let configmap = read(&deploy("k8s/configmap.yaml"));
    assert_eq!(
        configmap_toml(&configmap),
        compose_toml,
        "deploy/k8s/configmap.yaml must embed deploy/compose/vigil.toml verbatim"
    );

    let v: toml::Value = toml::from_str(&compose_toml).expect("vigil.toml parses");
    let kafka = &v["transport"]["kafka"];
    assert_eq!(v["transport"]["type"].as_str(), Some("kafka"));
    assert!(
        !kafka["source_kafka_topic"].as_str().unwrap().is_empty(),
        "ingest runs --input kafka: transport.kafka.source_kafka_topic must be set"
    );
    assert!(
        kafka["partitions"].as_integer().unwrap() >= 2,
        "score runs 2 replicas: it needs at least 2 partitions"
    );
    let watches = v["watches"].as_array().expect("[[watches]]");
    assert!(watches.len() >= 2);
    let terms: Vec<&str> = watches
        .iter()
        .flat_map(|w| w["terms"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(terms.iter().any(|t| t.is_ascii()), "an English term");
    assert!(
        terms
            .iter()
            .any(|t| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "a Chinese term"
    );

    // The file with each environment's overrides must pass `vigil config
    // check` (unknown keys, bad values and bad env overrides are errors).
    let compose = read(&deploy("compose/compose.yaml"));
    let compose_env = mapping_under(&service_block(&compose, "x-vigil", 0), "environment");
    let k8s_env = mapping_under(
        configmap
            .split("\n---\n")
            .nth(1)
            .expect("vigil-env ConfigMap"),
        "data",
    );
    assert!(compose_env.contains_key("VIGIL__TRANSPORT__KAFKA__BROKERS"));
    assert!(k8s_env.contains_key("VIGIL__TRANSPORT__KAFKA__BROKERS"));
    for (name, env) in [("compose", compose_env), ("k8s", k8s_env)] {
        let mut cmd = vigil();
        cmd.args(["config", "check", "deploy/compose/vigil.toml"])
            .current_dir(root());
        for (k, v) in &env {
            // ${VAR:-default} interpolation: check the default.
            let v = match v.strip_prefix("${").and_then(|s| s.strip_suffix('}')) {
                Some(inner) => inner.split_once(":-").map(|x| x.1).unwrap_or(""),
                None => v.as_str(),
            };
            cmd.env(k, v);
        }
        cmd.env("VIGIL__INGEST__AUTHOR_SALT", "test-salt");
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "vigil config check with the {name} environment\n{}",
            show(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// Indentation-based YAML reading.

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn is_blank_or_comment(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

/// The lines more indented than the first line `key:` (or `key: ...`), up to
/// the next line at its indentation or less. Comments and blanks are dropped.
fn block_under(text: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let head = format!("{key}:");
    let Some(start) = lines.iter().position(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        t == head || t.starts_with(&format!("{head} "))
    }) else {
        return Vec::new();
    };
    let base = indent(lines[start]);
    lines[start + 1..]
        .iter()
        .filter(|l| !is_blank_or_comment(l))
        .take_while(|l| indent(l) > base)
        .map(|l| l.to_string())
        .collect()
}

/// The items of the block list under `key:` (`- item`, quotes removed).
fn list_under(text: &str, key: &str) -> Vec<String> {
    block_under(text, key)
        .iter()
        .filter_map(|l| l.trim().strip_prefix("- ").map(|v| unquote(v).to_string()))
        .collect()
}

/// The block of the top-level (indent 0) or service-level (indent 2) key
/// `name:`, including its header line.
fn service_block(text: &str, name: &str, at: usize) -> String {
    let head = format!("{}{name}:", " ".repeat(at));
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&head) && indent(l) == at)
        .unwrap_or_else(|| panic!("no `{name}:` at indent {at}"));
    let mut out = vec![lines[start]];
    out.extend(
        lines[start + 1..]
            .iter()
            .take_while(|l| is_blank_or_comment(l) || indent(l) > at)
            .copied(),
    );
    out.join("\n")
}

fn yaml_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("deploy"), &mut out);
    out.sort();
    out
}

#[test]
fn yaml_files_are_well_formed_at_a_glance() {
    let files = yaml_files();
    assert!(files.len() >= 12, "deploy/ YAML files: {files:?}");
    for f in &files {
        let text = read(f);
        let name = f.display();
        for (n, l) in text.lines().enumerate() {
            assert!(!l.contains('\t'), "{name}:{}: tab character", n + 1);
            assert!(l == l.trim_end(), "{name}:{}: trailing whitespace", n + 1);
            if !is_blank_or_comment(l) {
                assert!(indent(l) % 2 == 0, "{name}:{}: odd indentation", n + 1);
            }
        }
        // Balanced flow collections and quotes outside comments and literal
        // blocks (`key: |`, free text such as the embedded vigil.toml).
        let mut literal: Option<usize> = None;
        for (n, l) in text.lines().enumerate() {
            if let Some(at) = literal {
                if l.trim().is_empty() || indent(l) > at {
                    continue;
                }
                literal = None;
            }
            let code = strip_comment(l).trim_end();
            if code.ends_with(": |") || code.ends_with(": >") || code.ends_with(": |-") {
                literal = Some(indent(l));
            }
            let count = |c: char| code.chars().filter(|&x| x == c).count();
            assert_eq!(count('['), count(']'), "{name}:{}: unbalanced [ ]", n + 1);
            assert_eq!(count('{'), count('}'), "{name}:{}: unbalanced {{ }}", n + 1);
            assert_eq!(count('"') % 2, 0, "{name}:{}: unbalanced quote", n + 1);
        }
    }
}

/// `l` without a trailing ` # comment` (outside quotes).
fn strip_comment(l: &str) -> &str {
    let mut in_q = false;
    let b = l.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => in_q = !in_q,
            b'#' if !in_q && (i == 0 || b[i - 1] == b' ') => return &l[..i],
            _ => {}
        }
    }
    l
}

// ---------------------------------------------------------------------------
// Compose.

#[test]
fn compose_runs_a_kraft_broker_every_stage_prometheus_and_grafana() {
    let compose = read(&deploy("compose/compose.yaml"));
    let services = service_block(&compose, "services", 0);

    let kafka = service_block(&services, "kafka", 2);
    assert!(kafka.contains("image: apache/kafka:"), "{kafka}");
    let env = mapping_under(&kafka, "environment");
    assert_eq!(
        env["KAFKA_PROCESS_ROLES"], "broker,controller",
        "KRaft, combined"
    );
    assert!(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].starts_with("1@kafka:"));
    assert!(env.contains_key("CLUSTER_ID"));
    assert!(
        env["KAFKA_ADVERTISED_LISTENERS"].contains("//kafka:9092"),
        "containers reach the broker as kafka:9092"
    );
    let code: String = compose.lines().map(strip_comment).collect();
    assert!(
        !code.to_lowercase().contains("zookeeper"),
        "no ZooKeeper in KRaft mode"
    );

    // Every stage runs the vigil image with the mounted config, one stage per
    // process, its admin server on 0.0.0.0:9464; they share the x-vigil anchor.
    let anchor = service_block(&compose, "x-vigil", 0);
    assert!(anchor.contains("x-vigil: &vigil"));
    assert!(anchor.contains("image: vigil:latest"));
    assert!(anchor.contains("dockerfile: deploy/Dockerfile"));
    assert!(anchor.contains("- ./vigil.toml:/etc/vigil/vigil.toml:ro"));
    assert!(anchor.contains("/readyz"), "health check on /readyz");
    for stage in STAGES {
        let s = service_block(&services, stage, 2);
        assert!(s.contains("<<: *vigil"), "{stage} uses the x-vigil anchor");
        let cmd_line = s
            .lines()
            .find_map(|l| l.trim().strip_prefix("command: "))
            .unwrap_or_else(|| panic!("{stage}: a one-line command array"));
        let cmd: Vec<String> = serde_json::from_str(cmd_line)
            .unwrap_or_else(|e| panic!("{stage}: command is not a flow array: {e}"));
        let mut want = vec!["run", "--config", "/etc/vigil/vigil.toml", "--stage", stage];
        if stage == "ingest" {
            want.extend(["--input", "kafka"]);
        }
        want.extend(["--admin-addr", "0.0.0.0:9464"]);
        assert_eq!(cmd, want, "{stage} command");
    }
    assert!(
        service_block(&services, "score", 2).contains("replicas: 2"),
        "score runs two replicas"
    );

    let prometheus = service_block(&services, "prometheus", 2);
    assert!(prometheus.contains("- ../prometheus/vigil-rules.yml:/etc/prometheus/rules/"));
    assert!(prometheus.contains("- ./prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
    let grafana = service_block(&services, "grafana", 2);
    assert!(grafana.contains("- ../grafana/provisioning:/etc/grafana/provisioning:ro"));
    assert!(grafana.contains("- ../grafana/dashboards:/etc/grafana/dashboards:ro"));
    let provider = read(&deploy("grafana/provisioning/dashboards/vigil.yml"));
    assert!(
        provider.contains("path: /etc/grafana/dashboards"),
        "the dashboard provider reads where compose mounts the dashboards"
    );

    // Every relative bind mount and the build context exist.
    let dir = deploy("compose");
    let mut mounts = 0;
    for l in compose.lines() {
        let t = l.trim();
        if t.starts_with("- ./") || t.starts_with("- ../") {
            let src = t[2..].split(':').next().unwrap();
            assert!(dir.join(src).exists(), "bind mount source {src} is missing");
            mounts += 1;
        }
    }
    assert!(mounts >= 6, "bind mounts found: {mounts}");
    assert!(dir.join("../../Cargo.lock").exists(), "build context");
    assert!(deploy("Dockerfile").exists());

    // Prometheus scrapes every stage as job vigil-<stage> on the admin port.
    let prom = read(&deploy("compose/prometheus.yml"));
    assert!(
        prom.contains("- /etc/prometheus/rules/*.yml"),
        "rule files load"
    );
    for stage in STAGES {
        let job = prom
            .split("  - job_name: ")
            .find(|j| j.starts_with(&format!("vigil-{stage}\n")))
            .unwrap_or_else(|| panic!("prometheus.yml: a job vigil-{stage}"));
        assert!(job.contains(&format!("names: [{stage}]")), "{job}");
        assert!(job.contains("port: 9464"), "{job}");
    }
    let ds = read(&deploy("grafana/provisioning/datasources/prometheus.yml"));
    assert!(ds.contains("url: http://prometheus:9090"));
}

#[test]
fn dockerfile_builds_locked_release_and_runs_as_non_root() {
    let d = read(&deploy("Dockerfile"));
    let froms: Vec<&str> = d.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:1"), "{froms:?}");
    assert!(
        froms[1].starts_with("FROM debian:bookworm-slim"),
        "{froms:?}"
    );
    assert!(d.contains("cargo build --release --locked"));
    assert!(d.contains("COPY --from=builder"));
    let user = d
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "runs as non-root, not {user}"
    );
    assert!(d.contains("ENTRYPOINT [\"/usr/local/bin/vigil\"]"));
    let ignore = read(&deploy("Dockerfile.dockerignore"));
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

// ---------------------------------------------------------------------------
// Kubernetes.

fn k8s_docs(file: &str) -> Vec<String> {
    read(&deploy(&format!("k8s/{file}")))
        .split("\n---\n")
        .map(str::to_string)
        .collect()
}

fn kind_of(doc: &str) -> Option<&str> {
    doc.lines()
        .find_map(|l| l.strip_prefix("kind: "))
        .map(str::trim)
}

#[test]
fn k8s_has_a_deployment_and_service_per_stage_with_probes_and_resources() {
    let kustomization = read(&deploy("k8s/kustomization.yaml"));
    let listed = list_under(&kustomization, "resources");
    let mut on_disk: Vec<String> = std::fs::read_dir(deploy("k8s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, on_disk, "kustomization.yaml lists every manifest");

    let ns = k8s_docs("namespace.yaml");
    assert_eq!(kind_of(&ns[0]), Some("Namespace"));
    assert!(ns[0].contains("  name: vigil\n"));
    let cms = k8s_docs("configmap.yaml");
    assert!(cms.iter().all(|d| kind_of(d) == Some("ConfigMap")));
    assert!(cms.iter().any(|d| d.contains("  name: vigil-config\n")));
    assert!(cms.iter().any(|d| d.contains("  name: vigil-env\n")));

    for stage in STAGES {
        let docs = k8s_docs(&format!("{stage}.yaml"));
        let dep = docs
            .iter()
            .find(|d| kind_of(d) == Some("Deployment"))
            .unwrap_or_else(|| panic!("{stage}.yaml: a Deployment"));
        let svc = docs
            .iter()
            .find(|d| kind_of(d) == Some("Service"))
            .unwrap_or_else(|| panic!("{stage}.yaml: a Service"));
        for d in [dep, svc] {
            assert!(d.contains("apiVersion: "), "{stage}: apiVersion");
            assert!(
                d.contains(&format!("  name: vigil-{stage}\n")),
                "{stage}: name"
            );
            assert!(d.contains("  namespace: vigil\n"), "{stage}: namespace");
            assert!(
                d.contains(&format!("app.kubernetes.io/component: {stage}\n")),
                "{stage}: component label"
            );
        }

        let args = list_under(dep, "args");
        let mut want = vec!["run", "--config", "/etc/vigil/vigil.toml", "--stage", stage];
        if stage == "ingest" {
            want.extend(["--input", "kafka"]);
        }
        want.extend(["--admin-addr", "0.0.0.0:9464"]);
        assert_eq!(args, want, "{stage} args");

        let replicas = if stage == "score" { "2" } else { "1" };
        assert!(
            dep.contains(&format!("\n  replicas: {replicas}\n")),
            "{stage}: {replicas} replica(s)"
        );

        let ready = block_under(dep, "readinessProbe").join("\n");
        assert!(
            ready.contains("path: /readyz"),
            "{stage} readiness: {ready}"
        );
        assert!(ready.contains("port: metrics"), "{stage} readiness port");
        let live = block_under(dep, "livenessProbe").join("\n");
        assert!(live.contains("path: /healthz"), "{stage} liveness: {live}");
        assert!(live.contains("port: metrics"), "{stage} liveness port");
        let ports = block_under(dep, "ports").join("\n");
        assert!(ports.contains("name: metrics") && ports.contains("containerPort: 9464"));

        let resources = block_under(dep, "resources").join("\n");
        for part in ["requests", "limits"] {
            let block = block_under(&resources, part).join("\n");
            assert!(
                block.contains("cpu: ") && block.contains("memory: "),
                "{stage}: resources.{part} has cpu and memory: {resources}"
            );
        }
        assert!(dep.contains("runAsNonRoot: true"), "{stage}: non-root");
        assert!(
            dep.contains("name: vigil-env"),
            "{stage}: envFrom vigil-env"
        );
        let mounts = block_under(dep, "volumeMounts").join("\n");
        assert!(
            mounts.contains("mountPath: /etc/vigil"),
            "{stage}: config mount"
        );
        assert!(
            block_under(dep, "volumes")
                .join("\n")
                .contains("name: vigil-config"),
            "{stage}: the vigil-config ConfigMap"
        );

        let svc_ports = block_under(svc, "ports").join("\n");
        assert!(svc_ports.contains("port: 9464") && svc_ports.contains("targetPort: metrics"));
        let selector = block_under(svc, "selector").join("\n");
        assert!(selector.contains(&format!("app.kubernetes.io/component: {stage}")));
    }
    assert!(
        k8s_docs("ingest.yaml")[0].contains("name: vigil-secrets"),
        "ingest takes the author salt from a Secret"
    );
    let readme = read(&deploy("k8s/README.md"));
    assert!(readme.contains("kubectl apply -k deploy/k8s"));
}

// ---------------------------------------------------------------------------
// PromQL of the dashboard and the rules.

/// Known metric names and their types: docs/METRICS.md plus EXTRA_METRICS.
fn known_metrics() -> BTreeMap<String, String> {
    let doc = read(&root().join("docs/METRICS.md"));
    let mut out = BTreeMap::new();
    for l in doc.lines() {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let name = cells[1].trim_matches('`');
        if name.starts_with("vigil_") && cells[1].starts_with('`') {
            out.insert(name.to_string(), cells[2].to_string());
        }
    }
    assert!(out.len() >= 20, "METRICS.md table not found: {out:?}");
    for (n, t) in EXTRA_METRICS {
        out.entry(n.to_string()).or_insert_with(|| t.to_string());
    }
    out
}

/// What a PromQL expression references.
#[derive(Debug, Default)]
struct Refs {
    /// (series name, innermost enclosing function).
    metrics: Vec<(String, Option<String>)>,
    labels: Vec<String>,
    functions: Vec<String>,
}

/// A small PromQL lexer: enough to pull out series names (with the function
/// that encloses each), label names and function names. Strings, ranges,
/// numbers, durations and Grafana `$variables` are skipped.
fn promql_refs(expr: &str) -> Refs {
    let b: Vec<char> = expr.chars().collect();
    let n = b.len();
    let mut r = Refs::default();
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut pending_fn: Option<String> = None;
    let mut i = 0;
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let skip_string = |i: &mut usize| {
        let q = b[*i];
        *i += 1;
        while *i < n && b[*i] != q {
            if b[*i] == '\\' {
                *i += 1;
            }
            *i += 1;
        }
        assert!(*i < n, "unterminated string in `{expr}`");
        *i += 1;
    };
    let skip_ws = |i: &mut usize| {
        while *i < n && b[*i].is_whitespace() {
            *i += 1;
        }
    };
    let read_ident = |i: &mut usize| {
        let s = *i;
        while *i < n && ident_char(b[*i]) {
            *i += 1;
        }
        b[s..*i].iter().collect::<String>()
    };
    while i < n {
        let c = b[i];
        if c == '"' || c == '\'' || c == '`' {
            skip_string(&mut i);
        } else if c == '{' {
            // Label matchers: name op "value", ...
            i += 1;
            loop {
                skip_ws(&mut i);
                assert!(i < n, "unterminated {{ in `{expr}`");
                if b[i] == '}' {
                    i += 1;
                    break;
                }
                assert!(ident_start(b[i]), "bad matcher in `{expr}` at {i}");
                r.labels.push(read_ident(&mut i));
                skip_ws(&mut i);
                let op: String = b[i..].iter().take_while(|c| "=!~".contains(**c)).collect();
                assert!(
                    ["=", "!=", "=~", "!~"].contains(&op.as_str()),
                    "bad matcher operator `{op}` in `{expr}`"
                );
                i += op.len();
                skip_ws(&mut i);
                assert!(
                    i < n && b[i] == '"',
                    "matcher value must be a string in `{expr}`"
                );
                skip_string(&mut i);
                skip_ws(&mut i);
                if i < n && b[i] == ',' {
                    i += 1;
                }
            }
        } else if c == '[' {
            while i < n && b[i] != ']' {
                i += 1;
            }
            assert!(i < n, "unterminated [ in `{expr}`");
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            while i < n && ident_char(b[i]) {
                i += 1;
            }
        } else if c == '(' {
            stack.push(pending_fn.take());
            i += 1;
        } else if c == ')' {
            assert!(stack.pop().is_some(), "unbalanced ) in `{expr}`");
            i += 1;
        } else if ident_start(c) {
            let word = read_ident(&mut i);
            let mut j = i;
            skip_ws(&mut j);
            let next = b.get(j).copied();
            if GROUPING.contains(&word.as_str()) {
                assert_eq!(next, Some('('), "`{word}` needs a label list in `{expr}`");
                i = j + 1;
                loop {
                    skip_ws(&mut i);
                    assert!(i < n, "unterminated label list in `{expr}`");
                    if b[i] == ')' {
                        i += 1;
                        break;
                    }
                    if b[i] == ',' {
                        i += 1;
                        continue;
                    }
                    assert!(ident_start(b[i]), "bad label list in `{expr}`");
                    r.labels.push(read_ident(&mut i));
                }
            } else if KEYWORDS.contains(&word.as_str()) {
            } else if next == Some('(') || AGGREGATIONS.contains(&word.as_str()) {
                r.functions.push(word.clone());
                pending_fn = Some(word);
            } else {
                let enclosing = stack.iter().rev().find_map(|f| f.clone());
                r.metrics.push((word, enclosing));
            }
        } else {
            i += 1;
        }
    }
    assert!(stack.is_empty(), "unbalanced ( in `{expr}`");
    r
}

/// Checks one expression against the catalogue; returns its problems.
fn check_expr(expr: &str, known: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let refs = promql_refs(expr);
    if refs.metrics.is_empty() {
        problems.push(format!("`{expr}` references no metric"));
    }
    for f in &refs.functions {
        if !KNOWN_FUNCTIONS.contains(&f.as_str()) {
            problems.push(format!("`{expr}`: unknown function `{f}`"));
        }
    }
    for l in &refs.labels {
        if !KNOWN_LABELS.contains(&l.as_str()) {
            problems.push(format!("`{expr}`: unknown label `{l}`"));
        }
    }
    for (m, func) in &refs.metrics {
        let (base, suffix) = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let b = m.strip_suffix(s)?;
                (known.get(b).map(String::as_str) == Some("histogram")).then_some((b, *s))
            })
            .unwrap_or((m.as_str(), ""));
        let Some(kind) = known.get(base) else {
            problems.push(format!("`{expr}`: metric `{m}` is not in docs/METRICS.md"));
            continue;
        };
        let counter_like = kind == "counter" || !suffix.is_empty();
        match func.as_deref() {
            Some("rate" | "irate" | "increase") if !counter_like => problems.push(format!(
                "`{expr}`: {} of `{m}`, a {kind}",
                func.as_deref().unwrap()
            )),
            Some("delta" | "deriv" | "idelta") if kind != "gauge" => problems.push(format!(
                "`{expr}`: {} of `{m}`, a {kind}",
                func.as_deref().unwrap()
            )),
            _ => {}
        }
        if kind == "histogram" && suffix.is_empty() {
            problems.push(format!(
                "`{expr}`: histogram `{m}` needs _bucket, _sum or _count"
            ));
        }
        if suffix == "_bucket" && !refs.functions.iter().any(|f| f == "histogram_quantile") {
            problems.push(format!("`{expr}`: `{m}` outside histogram_quantile"));
        }
    }
    problems
}

#[test]
fn promql_checker_rejects_broken_expressions() {
    let known = known_metrics();
    let good = [
        "sum by (stage, error_type) (rate(vigil_errors_total[$__rate_interval]))",
        r#"up{job=~"vigil-(ingest|score)"} == 0"#,
        "histogram_quantile(0.9, sum by (le) (rate(vigil_detect_event_lag_seconds_bucket[5m]))) > 300",
        "sum(delta(vigil_kafka_consumer_lag_messages[10m])) > 0 and sum(vigil_kafka_consumer_lag_messages) > 1",
    ];
    for e in good {
        assert_eq!(check_expr(e, &known), Vec::<String>::new(), "{e}");
    }
    let bad = [
        "sum(rate(vigil_ingest_recv_posts_total[5m]))",
        "rate(vigil_kafka_consumer_lag_messages[5m])",
        "delta(vigil_errors_total[5m])",
        "sum by (levl) (vigil_alert_active_incidents)",
        "sum(rat(vigil_errors_total[5m]))",
        "vigil_detect_event_lag_seconds",
        "sum(rate(vigil_errors_total[5m])",
        r#"vigil_errors_total{error_type=internal}"#,
    ];
    for e in bad {
        let r = std::panic::catch_unwind(|| check_expr(e, &known));
        assert!(
            r.map(|p| !p.is_empty()).unwrap_or(true),
            "accepted a broken expression: {e}"
        );
    }
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

#[test]
fn grafana_dashboard_queries_only_known_metrics() {
    let known = known_metrics();
    let text = read(&deploy("grafana/dashboards/vigil.json"));
    let dash: serde_json::Value = serde_json::from_str(&text).expect("vigil.json parses");
    assert_eq!(dash["uid"], "vigil-overview");
    let panels = dash["panels"].as_array().expect("panels");

    let titles: BTreeSet<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for want in [
        "Throughput",
        "Consumer lag by stream and partition",
        "Spikes by level",
        "Active incidents by level",
        "Time to acknowledge",
        "Dead letters",
        "Errors",
    ] {
        assert!(titles.contains(want), "a panel `{want}`: {titles:?}");
    }
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate panel id"
        );
        assert!(p["gridPos"]["w"].as_u64().is_some(), "gridPos: {p}");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}: no query", p["title"]);
        for t in targets {
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
    let wants = [
        ("Throughput", "vigil_ingest_received_posts_total"),
        ("Throughput", "vigil_score_scored_posts_total"),
        (
            "Consumer lag by stream and partition",
            "vigil_kafka_consumer_lag_messages",
        ),
        ("Active incidents by level", "vigil_alert_active_incidents"),
        (
            "Time to acknowledge",
            "vigil_alert_time_to_acknowledge_seconds_bucket",
        ),
        ("Dead letters", "vigil_kafka_dead_letters_total"),
        ("Errors", "vigil_errors_total"),
        ("Spikes by level", "vigil_detect_spikes_total"),
    ];
    for (title, metric) in wants {
        let p = panels.iter().find(|p| p["title"] == title).unwrap();
        let mut exprs = Vec::new();
        collect_exprs(p, &mut exprs);
        assert!(
            exprs.iter().any(|e| e.contains(metric)),
            "`{title}` queries {metric}: {exprs:?}"
        );
    }

    let mut exprs = Vec::new();
    collect_exprs(&dash, &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let problems: Vec<String> = exprs.iter().flat_map(|e| check_expr(e, &known)).collect();
    assert!(
        problems.is_empty(),
        "dashboard queries:\n{}",
        problems.join("\n")
    );

    // The datasource variable defaults to the provisioned datasource.
    let var = &dash["templating"]["list"][0];
    assert_eq!(var["name"], "datasource");
    assert_eq!(var["type"], "datasource");
    let ds = read(&deploy("grafana/provisioning/datasources/prometheus.yml"));
    let uid = var["current"]["value"].as_str().unwrap();
    assert!(
        ds.contains(&format!("uid: {uid}\n")),
        "provisioned datasource uid {uid}"
    );
}

/// The rules of vigil-rules.yml: (alert name, the rule's lines).
fn rules() -> Vec<(String, String)> {
    let text = read(&deploy("prometheus/vigil-rules.yml"));
    let mut out: Vec<(String, String)> = Vec::new();
    for l in text.lines() {
        if let Some(name) = l.trim().strip_prefix("- alert: ") {
            out.push((name.to_string(), String::new()));
        } else if l.trim_start().starts_with("- name: ") {
            out.push((String::new(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(l);
            body.push('\n');
        }
    }
    out.retain(|(n, _)| !n.is_empty());
    out
}

#[test]
fn alert_rules_are_complete_and_query_only_known_metrics() {
    let known = known_metrics();
    let rules = rules();
    let names: BTreeSet<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), rules.len(), "alert names are unique");
    for want in [
        "VigilStageDown",
        "VigilStageNotReady",
        "VigilConsumerLagHigh",
        "VigilConsumerLagGrowing",
        "VigilDeadLetters",
        "VigilInternalError",
        "VigilExternalErrorsSustained",
        "VigilAlertSinkFailing",
    ] {
        assert!(names.contains(want), "a rule {want}: {names:?}");
    }
    let mut problems = Vec::new();
    for (name, body) in &rules {
        let field = |k: &str| {
            body.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(&format!("{k}:"))
                    .map(|v| v.trim().to_string())
            })
        };
        let expr = field("expr").unwrap_or_else(|| panic!("{name}: expr"));
        assert!(
            !expr.is_empty() && !expr.starts_with('|') && !expr.starts_with('>'),
            "{name}: keep expr on one line"
        );
        problems.extend(check_expr(&expr, &known));
        let for_ = field("for").unwrap_or_else(|| panic!("{name}: for"));
        assert!(
            for_.ends_with('m') || for_.ends_with('s') || for_.ends_with('h'),
            "{name}: for: {for_}"
        );
        let sev = field("severity").unwrap_or_else(|| panic!("{name}: labels.severity"));
        assert!(
            ["critical", "warning", "info"].contains(&sev.as_str()),
            "{name}: severity {sev}"
        );
        for k in ["summary", "description"] {
            let v = field(k).unwrap_or_else(|| panic!("{name}: annotations.{k}"));
            assert!(v.len() > 10, "{name}: {k}");
        }
    }
    assert!(
        problems.is_empty(),
        "rule expressions:\n{}",
        problems.join("\n")
    );

    let by_name = |n: &str| &rules.iter().find(|(x, _)| x == n).unwrap().1;
    assert!(by_name("VigilConsumerLagHigh").contains("for: 10m"));
    assert!(by_name("VigilConsumerLagGrowing").contains("for: 10m"));
    assert!(by_name("VigilInternalError").contains(r#"error_type="internal""#));
    assert!(by_name("VigilExternalErrorsSustained").contains(r#"error_type="external""#));
    assert!(by_name("VigilStageDown").contains("up{"));
}
