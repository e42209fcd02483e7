use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::names;

/// Every metric handle, registered in one [`Registry`].
#[derive(Clone, Debug)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// See [`names::INGEST_RECEIVED_POSTS_TOTAL`].
    pub ingest_received_posts: IntCounterVec,
    /// See [`names::INGEST_RECEIVED_BYTES_TOTAL`].
    pub ingest_received_bytes: IntCounterVec,
    /// See [`names::INGEST_DISCARDED_POSTS_TOTAL`].
    pub ingest_discarded_posts: IntCounterVec,
    /// See [`names::SCORE_SCORED_POSTS_TOTAL`].
    pub score_scored_posts: IntCounter,
    /// See [`names::SCORE_MATCHED_POSTS_TOTAL`].
    pub score_matched_posts: IntCounter,
    /// See [`names::SCORE_KEYWORD_HITS_TOTAL`].
    pub score_keyword_hits: IntCounterVec,
    /// See [`names::SCORE_TERM_HITS_TOTAL`].
    pub score_term_hits: IntCounterVec,
    /// See [`names::SCORE_BATCH_DURATION_SECONDS`].
    pub score_batch_duration: Histogram,
    /// See [`names::SCORE_AUTOMATON_MEMORY_BYTES`].
    pub score_automaton_memory: IntGauge,
    /// See [`names::DETECT_WINDOW_POSTS`].
    pub detect_window_posts: IntGaugeVec,
    /// See [`names::DETECT_DISCARDED_POSTS_TOTAL`].
    pub detect_discarded_posts: IntCounterVec,
    /// See [`names::DETECT_EVENT_LAG_SECONDS`].
    pub detect_event_lag: Histogram,
    /// See [`names::DETECT_SPIKES_TOTAL`].
    pub detect_spikes: IntCounterVec,
    /// See [`names::DETECT_CHECKPOINT_BYTES`].
    pub detect_checkpoint_bytes: IntGaugeVec,
    /// See [`names::ALERT_SENT_ALERTS_TOTAL`].
    pub alert_sent_alerts: IntCounterVec,
    /// See [`names::ALERT_FAILED_ALERTS_TOTAL`].
    pub alert_failed_alerts: IntCounterVec,
    /// See [`names::ALERT_SUPPRESSED_ALERTS_TOTAL`].
    pub alert_suppressed_alerts: IntCounterVec,
    /// See [`names::ALERT_DELAY_SECONDS`].
    pub alert_delay: HistogramVec,
    /// See [`names::ALERT_TIME_TO_ACKNOWLEDGE_SECONDS`].
    pub alert_time_to_acknowledge: HistogramVec,
    /// See [`names::INCIDENT_TARGET_BREACHES_TOTAL`].
    pub incident_target_breaches: IntCounterVec,
    /// See [`names::ALERT_ACTIVE_INCIDENTS`].
    pub alert_active_incidents: IntGaugeVec,
    /// See [`names::ALERT_STORE_ERRORS_TOTAL`].
    pub alert_store_errors: IntCounter,
    /// See [`names::ALERT_STORE_DEGRADED`].
    pub alert_store_degraded: IntGauge,
    /// See [`names::ALERT_OUTBOX_NOTIFICATIONS`].
    pub alert_outbox_notifications: IntGauge,
    /// See [`names::ALERT_EXPIRED_NOTIFICATIONS_TOTAL`].
    pub alert_expired_notifications: IntCounterVec,
    /// See [`names::ALERT_UNDELIVERED_AT_SHUTDOWN_TOTAL`].
    pub alert_undelivered_at_shutdown: IntCounterVec,
    /// See [`names::API_REQUESTS_TOTAL`].
    pub api_requests: IntCounterVec,
    /// See [`names::API_EVENT_STREAMS`].
    pub api_event_streams: IntGauge,
    /// See [`names::API_REJECTED_EVENT_STREAMS_TOTAL`].
    pub api_rejected_event_streams: IntCounter,
    /// See [`names::HTTP_CONNECTIONS`].
    pub http_connections: IntGauge,
    /// See [`names::HTTP_REJECTED_CONNECTIONS_TOTAL`].
    pub http_rejected_connections: IntCounterVec,
    /// See [`names::TRANSPORT_SENT_MESSAGES_TOTAL`].
    pub transport_sent_messages: IntCounterVec,
    /// See [`names::TRANSPORT_RECEIVED_MESSAGES_TOTAL`].
    pub transport_received_messages: IntCounterVec,
    /// See [`names::ERRORS_TOTAL`].
    pub errors: IntCounterVec,
    /// See [`names::CONFIG_RELOADS_TOTAL`].
    pub config_reloads: IntCounterVec,
    /// See [`names::KAFKA_CONSUMER_LAG_MESSAGES`].
    pub kafka_consumer_lag: IntGaugeVec,
    /// See [`names::KAFKA_GROUP_LAG_MESSAGES`].
    pub kafka_group_lag: IntGaugeVec,
    /// See [`names::KAFKA_STALLED_PARTITIONS`].
    pub kafka_stalled_partitions: IntGaugeVec,
    /// See [`names::KAFKA_PRODUCE_ERRORS_TOTAL`].
    pub kafka_produce_errors: IntCounterVec,
    /// See [`names::KAFKA_DEAD_LETTERS_TOTAL`].
    pub kafka_dead_letters: IntCounterVec,
    /// See [`names::KAFKA_REBALANCES_TOTAL`].
    pub kafka_rebalances: IntCounterVec,
    /// See [`names::BUILD_INFO`].
    pub build_info: IntGaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("catalogue names are valid");
    r.register(Box::new(c.clone()))
        .expect("each name is registered once");
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("catalogue names are valid");
    r.register(Box::new(c.clone()))
        .expect("each name is registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("catalogue names are valid");
    r.register(Box::new(g.clone()))
        .expect("each name is registered once");
    g
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("catalogue names are valid");
    r.register(Box::new(g.clone()))
        .expect("each name is registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("catalogue names are valid");
    r.register(Box::new(h.clone()))
        .expect("each name is registered once");
    h
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: Vec<f64>,
    labels: &[&str],
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("catalogue names are valid");
    r.register(Box::new(h.clone()))
        .expect("each name is registered once");
    h
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every Vigil metric registered.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let score_automaton_memory = IntGauge::new(
            names::SCORE_AUTOMATON_MEMORY_BYTES,
            "Heap memory of the matching automaton.",
        )
        .expect("catalogue names are valid");
        r.register(Box::new(score_automaton_memory.clone()))
            .expect("each name is registered once");
        let m = Metrics {
            ingest_received_posts: counter_vec(
                &r,
                names::INGEST_RECEIVED_POSTS_TOTAL,
                "Posts read by a source.",
                &["source"],
            ),
            ingest_received_bytes: counter_vec(
                &r,
                names::INGEST_RECEIVED_BYTES_TOTAL,
                "Bytes read by a source.",
                &["source"],
            ),
            ingest_discarded_posts: counter_vec(
                &r,
                names::INGEST_DISCARDED_POSTS_TOTAL,
                "Lines or records rejected by ingest.",
                &["source", "reason"],
            ),
            score_scored_posts: counter(&r, names::SCORE_SCORED_POSTS_TOTAL, "Posts scored."),
            score_matched_posts: counter(
                &r,
                names::SCORE_MATCHED_POSTS_TOTAL,
                "Posts that matched at least one watch.",
            ),
            score_keyword_hits: counter_vec(
                &r,
                names::SCORE_KEYWORD_HITS_TOTAL,
                "Watch term hits.",
                &["watch"],
            ),
            score_term_hits: counter_vec(
                &r,
                names::SCORE_TERM_HITS_TOTAL,
                "Hits per watch and term (only with score.per_term_metrics).",
                &["watch", "term"],
            ),
            score_batch_duration: histogram(
                &r,
                names::SCORE_BATCH_DURATION_SECONDS,
                "Time to score one batch.",
                prometheus::exponential_buckets(0.0001, 4.0, 10).expect("valid buckets"),
            ),
            score_automaton_memory,
            detect_window_posts: gauge_vec(
                &r,
                names::DETECT_WINDOW_POSTS,
                "Posts in a watch's latest closed window.",
                &["watch"],
            ),
            detect_discarded_posts: counter_vec(
                &r,
                names::DETECT_DISCARDED_POSTS_TOTAL,
                "Scored posts dropped by detect.",
                &["reason"],
            ),
            detect_event_lag: histogram(
                &r,
                names::DETECT_EVENT_LAG_SECONDS,
                "Processing time minus the event-time watermark.",
                prometheus::exponential_buckets(0.1, 4.0, 14).expect("valid buckets"),
            ),
            detect_spikes: counter_vec(
                &r,
                names::DETECT_SPIKES_TOTAL,
                "Spikes found.",
                &["watch", "severity"],
            ),
            detect_checkpoint_bytes: gauge_vec(
                &r,
                names::DETECT_CHECKPOINT_BYTES,
                "Size of the latest detect checkpoint of an input partition.",
                &["partition"],
            ),
            alert_sent_alerts: counter_vec(
                &r,
                names::ALERT_SENT_ALERTS_TOTAL,
                "Alerts delivered by a sink.",
                &["sink", "severity"],
            ),
            alert_failed_alerts: counter_vec(
                &r,
                names::ALERT_FAILED_ALERTS_TOTAL,
                "Alerts a sink failed to deliver after its retries.",
                &["sink"],
            ),
            alert_suppressed_alerts: counter_vec(
                &r,
                names::ALERT_SUPPRESSED_ALERTS_TOTAL,
                "Alerts not sent.",
                &["reason"],
            ),
            alert_delay: histogram_vec(&r, names::ALERT_DELAY_SECONDS, "Seconds from the end of an alert's window (event time) to its recording (processing time).", vec![
                        1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                    ], &["level"]),
            alert_time_to_acknowledge: histogram_vec(&r, names::ALERT_TIME_TO_ACKNOWLEDGE_SECONDS, "Seconds from an incident's opening to its first acknowledgement.", vec![
                        10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
                        14400.0, 43200.0, 86400.0,
                    ], &["level"]),
            incident_target_breaches: counter_vec(
                &r,
                names::INCIDENT_TARGET_BREACHES_TOTAL,
                "Response targets incidents missed.",
                &["level", "target"],
            ),
            alert_active_incidents: gauge_vec(
                &r,
                names::ALERT_ACTIVE_INCIDENTS,
                "Incidents not resolved.",
                &["level"],
            ),
            alert_store_errors: counter(
                &r,
                names::ALERT_STORE_ERRORS_TOTAL,
                "Incident store writes that failed in the alert stage.",
            ),
            alert_store_degraded: gauge(
                &r,
                names::ALERT_STORE_DEGRADED,
                "1 while the incident store refuses writes (alerts delivered unrecorded).",
            ),
            alert_outbox_notifications: gauge(
                &r,
                names::ALERT_OUTBOX_NOTIFICATIONS,
                "Notifications in the outbox, not yet delivered to every sink.",
            ),
            alert_expired_notifications: counter_vec(
                &r,
                names::ALERT_EXPIRED_NOTIFICATIONS_TOTAL,
                "Notifications dropped from the outbox undelivered after their expiry.",
                &["sink"],
            ),
            alert_undelivered_at_shutdown: counter_vec(
                &r,
                names::ALERT_UNDELIVERED_AT_SHUTDOWN_TOTAL,
                "Notifications not delivered when the alert stage stopped (kept in the outbox).",
                &["sink"],
            ),
            api_requests: counter_vec(
                &r,
                names::API_REQUESTS_TOTAL,
                "Incident API requests.",
                &["method", "route", "status"],
            ),
            api_event_streams: gauge(
                &r,
                names::API_EVENT_STREAMS,
                "Open live-change streams (GET /api/v1/events).",
            ),
            api_rejected_event_streams: counter(
                &r,
                names::API_REJECTED_EVENT_STREAMS_TOTAL,
                "Event streams refused with 503 because api.max_event_streams were open.",
            ),
            http_connections: gauge(
                &r,
                names::HTTP_CONNECTIONS,
                "Open connections on the admin address.",
            ),
            http_rejected_connections: counter_vec(
                &r,
                names::HTTP_REJECTED_CONNECTIONS_TOTAL,
                "Connections on the admin address closed at once: over api.max_connections, or headers not read within api.header_read_timeout_secs.",
                &["reason"],
            ),
            transport_sent_messages: counter_vec(
                &r,
                names::TRANSPORT_SENT_MESSAGES_TOTAL,
                "Records sent on a stream.",
                &["stream"],
            ),
            transport_received_messages: counter_vec(
                &r,
                names::TRANSPORT_RECEIVED_MESSAGES_TOTAL,
                "Records received from a stream.",
                &["stream"],
            ),
            errors: counter_vec(
                &r,
                names::ERRORS_TOTAL,
                "Runtime errors.",
                &["stage", "error_type"],
            ),
            config_reloads: counter_vec(
                &r,
                names::CONFIG_RELOADS_TOTAL,
                "Configuration reloads by result.",
                &["result"],
            ),
            kafka_consumer_lag: gauge_vec(
                &r,
                names::KAFKA_CONSUMER_LAG_MESSAGES,
                "Kafka consumer lag (high watermark minus committed offset).",
                &["stream", "partition"],
            ),
            kafka_group_lag: gauge_vec(
                &r,
                names::KAFKA_GROUP_LAG_MESSAGES,
                "Kafka consumer group lag on every partition of the stage's input (high watermark minus the group's committed offset), owned by this process or not.",
                &["stream", "partition"],
            ),
            kafka_stalled_partitions: gauge_vec(
                &r,
                names::KAFKA_STALLED_PARTITIONS,
                "Partitions of the stage's input with lag whose committed offset has not moved for transport.kafka.stall_timeout_secs: nobody is working them.",
                &["stream"],
            ),
            kafka_produce_errors: counter_vec(
                &r,
                names::KAFKA_PRODUCE_ERRORS_TOTAL,
                "Records whose production to Kafka failed.",
                &["stage"],
            ),
            kafka_dead_letters: counter_vec(
                &r,
                names::KAFKA_DEAD_LETTERS_TOTAL,
                "Records sent to the dead-letter topic.",
                &["stage", "reason"],
            ),
            kafka_rebalances: counter_vec(
                &r,
                names::KAFKA_REBALANCES_TOTAL,
                "Consumer-group rebalances.",
                &["stage"],
            ),
            build_info: gauge_vec(&r, names::BUILD_INFO, "Always 1.", &["version", "commit"]),
            registry: r,
        };
        m.build_info
            .with_label_values(&[
                env!("CARGO_PKG_VERSION"),
                option_env!("VIGIL_COMMIT").unwrap_or("unknown"),
            ])
            .set(1);
        m
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_name_is_registered() {
        let m = Metrics::new();
        // Touch the labelled families so they appear in the output.
        m.ingest_received_posts.with_label_values(&["x"]).inc();
        m.ingest_received_bytes.with_label_values(&["x"]).inc();
        m.ingest_discarded_posts
            .with_label_values(&["x", "invalid"])
            .inc();
        m.score_keyword_hits.with_label_values(&["w"]).inc();
        m.score_term_hits.with_label_values(&["w", "t"]).inc();
        m.detect_window_posts.with_label_values(&["w"]).set(1);
        m.detect_discarded_posts.with_label_values(&["late"]).inc();
        m.detect_spikes.with_label_values(&["w", "minor"]).inc();
        m.detect_checkpoint_bytes.with_label_values(&["0"]).set(1);
        m.alert_time_to_acknowledge
            .with_label_values(&["minor"])
            .observe(1.0);
        m.alert_active_incidents
            .with_label_values(&["minor"])
            .set(1);
        m.incident_target_breaches
            .with_label_values(&["minor", "acknowledge"])
            .inc();
        m.api_requests
            .with_label_values(&["GET", "/api/v1/incidents", "200"])
            .inc();
        m.http_rejected_connections
            .with_label_values(&["max_connections"])
            .inc();
        m.alert_sent_alerts
            .with_label_values(&["stdout", "minor"])
            .inc();
        m.alert_failed_alerts.with_label_values(&["webhook"]).inc();
        m.alert_expired_notifications
            .with_label_values(&["webhook"])
            .inc();
        m.alert_undelivered_at_shutdown
            .with_label_values(&["webhook"])
            .inc();
        m.alert_suppressed_alerts
            .with_label_values(&["duplicate"])
            .inc();
        m.alert_delay.with_label_values(&["major"]).observe(3.0);
        m.transport_sent_messages
            .with_label_values(&["posts"])
            .inc();
        m.transport_received_messages
            .with_label_values(&["posts"])
            .inc();
        m.errors.with_label_values(&["ingest", "input"]).inc();
        m.config_reloads.with_label_values(&["success"]).inc();
        m.kafka_consumer_lag
            .with_label_values(&["posts", "0"])
            .set(0);
        m.kafka_group_lag.with_label_values(&["posts", "0"]).set(0);
        m.kafka_stalled_partitions
            .with_label_values(&["posts"])
            .set(0);
        m.kafka_produce_errors.with_label_values(&["score"]).inc();
        m.kafka_dead_letters
            .with_label_values(&["ingest", "invalid_json"])
            .inc();
        m.kafka_rebalances.with_label_values(&["score"]).inc();
        m.score_batch_duration.observe(0.01);
        m.detect_event_lag.observe(1.0);
        let text = m.render();
        for name in names::ALL {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
        }
    }

    #[test]
    fn catalogue_names_follow_the_pattern() {
        for name in names::ALL {
            assert!(name.starts_with("vigil_"), "{name}");
            assert!(!name.contains("_ms") && !name.contains("recv"), "{name}");
        }
    }

    #[test]
    fn metrics_doc_lists_every_name() {
        let doc = include_str!("../../../docs/METRICS.md");
        for name in names::ALL {
            assert!(doc.contains(name), "docs/METRICS.md lacks {name}");
        }
    }
}
