//! The metric-name catalogue: every metric Vigil emits is named here and
//! nowhere else (docs/METRICS.md mirrors this list; a test checks it).
//! Pattern: `vigil_<stage>_<noun>_<unit>`, counters end in `_total`.

/// Posts read by a source (counter; labels: source).
pub const INGEST_RECEIVED_POSTS_TOTAL: &str = "vigil_ingest_received_posts_total";
/// Bytes read by a source (counter; labels: source).
pub const INGEST_RECEIVED_BYTES_TOTAL: &str = "vigil_ingest_received_bytes_total";
/// Lines or records rejected by ingest (counter; labels: source, reason).
pub const INGEST_DISCARDED_POSTS_TOTAL: &str = "vigil_ingest_discarded_posts_total";
/// Posts scored (counter).
pub const SCORE_SCORED_POSTS_TOTAL: &str = "vigil_score_scored_posts_total";
/// Posts that matched at least one watch (counter).
pub const SCORE_MATCHED_POSTS_TOTAL: &str = "vigil_score_matched_posts_total";
/// Watch term hits (counter; labels: watch).
pub const SCORE_KEYWORD_HITS_TOTAL: &str = "vigil_score_keyword_hits_total";
/// Hits per watch and term (counter; labels: watch, term), only with
/// `score.per_term_metrics = true`: one series per configured term.
pub const SCORE_TERM_HITS_TOTAL: &str = "vigil_score_term_hits_total";
/// Time to score one batch (histogram, seconds).
pub const SCORE_BATCH_DURATION_SECONDS: &str = "vigil_score_batch_duration_seconds";
/// Heap memory of the matching automaton (gauge, bytes).
pub const SCORE_AUTOMATON_MEMORY_BYTES: &str = "vigil_score_automaton_memory_bytes";
/// Posts in a watch's current window (gauge; labels: watch).
pub const DETECT_WINDOW_POSTS: &str = "vigil_detect_window_posts";
/// Scored posts dropped by detect (counter; labels: reason).
pub const DETECT_DISCARDED_POSTS_TOTAL: &str = "vigil_detect_discarded_posts_total";
/// Processing time minus the event-time watermark at each batch (histogram, seconds).
pub const DETECT_EVENT_LAG_SECONDS: &str = "vigil_detect_event_lag_seconds";
/// Spikes found (counter; labels: watch, severity).
pub const DETECT_SPIKES_TOTAL: &str = "vigil_detect_spikes_total";
/// Size of the latest detect checkpoint of an input partition (gauge, bytes;
/// labels: partition). Kafka mode only.
pub const DETECT_CHECKPOINT_BYTES: &str = "vigil_detect_checkpoint_bytes";
/// Alerts delivered by a sink (counter; labels: sink, severity).
pub const ALERT_SENT_ALERTS_TOTAL: &str = "vigil_alert_sent_alerts_total";
/// Alerts a sink failed to deliver after its retries, or that found its
/// queue full (counter; labels: sink).
pub const ALERT_FAILED_ALERTS_TOTAL: &str = "vigil_alert_failed_alerts_total";
/// Alerts not sent (counter; labels: reason: duplicate, ongoing).
pub const ALERT_SUPPRESSED_ALERTS_TOTAL: &str = "vigil_alert_suppressed_alerts_total";
/// Seconds from the end of an alert's window (event time) to when the
/// alert stage recorded it (processing time): how late alerts go out
/// (allowed lateness, the bin's close, the pipeline). A replayed file
/// shows its age. (histogram; labels: level).
pub const ALERT_DELAY_SECONDS: &str = "vigil_alert_delay_seconds";
/// Seconds from an incident's opening to its first acknowledgement
/// (histogram; labels: level).
pub const ALERT_TIME_TO_ACKNOWLEDGE_SECONDS: &str = "vigil_alert_time_to_acknowledge_seconds";
/// Response targets an incident missed: not acknowledged, no status update
/// or not resolved in time (counter; labels: level, target).
pub const INCIDENT_TARGET_BREACHES_TOTAL: &str = "vigil_incident_target_breaches_total";
/// Incidents not resolved (gauge; labels: level).
pub const ALERT_ACTIVE_INCIDENTS: &str = "vigil_alert_active_incidents";
/// Incident store writes that failed in the alert stage; each one puts the
/// stage in degraded mode (counter).
pub const ALERT_STORE_ERRORS_TOTAL: &str = "vigil_alert_store_errors_total";
/// 1 while the incident store refuses writes and alerts are delivered
/// without being recorded (degraded mode), else 0 (gauge).
pub const ALERT_STORE_DEGRADED: &str = "vigil_alert_store_degraded";
/// Notifications in the durable outbox: committed, not yet delivered to
/// every sink they name (gauge).
pub const ALERT_OUTBOX_NOTIFICATIONS: &str = "vigil_alert_outbox_notifications";
/// Notifications dropped from the outbox undelivered after
/// `alert.outbox_expiry_secs` (counter; labels: sink).
pub const ALERT_EXPIRED_NOTIFICATIONS_TOTAL: &str = "vigil_alert_expired_notifications_total";
/// Notifications not delivered when the alert stage stopped (shutdown
/// bounded by `alert.shutdown_timeout_secs`); they stay in the outbox
/// (counter; labels: sink).
pub const ALERT_UNDELIVERED_AT_SHUTDOWN_TOTAL: &str = "vigil_alert_undelivered_at_shutdown_total";
/// Incident API requests (counter; labels: method, route, status).
pub const API_REQUESTS_TOTAL: &str = "vigil_api_requests_total";
/// Open live-change streams, `GET /api/v1/events` (gauge).
pub const API_EVENT_STREAMS: &str = "vigil_api_event_streams";
/// Event streams refused because `api.max_event_streams` were open (counter).
pub const API_REJECTED_EVENT_STREAMS_TOTAL: &str = "vigil_api_rejected_event_streams_total";
/// Open connections on the admin address (gauge).
pub const HTTP_CONNECTIONS: &str = "vigil_http_connections";
/// Connections on the admin address closed at once, and why (counter;
/// labels: reason = `max_connections` or `header_timeout`).
pub const HTTP_REJECTED_CONNECTIONS_TOTAL: &str = "vigil_http_rejected_connections_total";
/// Records sent on a stream (counter; labels: stream).
pub const TRANSPORT_SENT_MESSAGES_TOTAL: &str = "vigil_transport_sent_messages_total";
/// Records received from a stream (counter; labels: stream).
pub const TRANSPORT_RECEIVED_MESSAGES_TOTAL: &str = "vigil_transport_received_messages_total";
/// Runtime errors (counter; labels: stage, error_type).
pub const ERRORS_TOTAL: &str = "vigil_errors_total";
/// Kafka consumer lag: high watermark minus committed offset (gauge; labels: stream, partition).
pub const KAFKA_CONSUMER_LAG_MESSAGES: &str = "vigil_kafka_consumer_lag_messages";
/// Kafka: the consumer group's lag on every partition of the stage's input,
/// owned by this process or not (gauge; labels: stream, partition).
pub const KAFKA_GROUP_LAG_MESSAGES: &str = "vigil_kafka_group_lag_messages";
/// Kafka: partitions of the stage's input that are stalled, with lag and a
/// committed offset that has not moved for `stall_timeout_secs` (gauge;
/// labels: stream).
pub const KAFKA_STALLED_PARTITIONS: &str = "vigil_kafka_stalled_partitions";
/// Records whose production to Kafka failed (counter; labels: stage).
pub const KAFKA_PRODUCE_ERRORS_TOTAL: &str = "vigil_kafka_produce_errors_total";
/// Records sent to the dead-letter topic (counter; labels: stage, reason).
pub const KAFKA_DEAD_LETTERS_TOTAL: &str = "vigil_kafka_dead_letters_total";
/// Consumer-group rebalances (counter; labels: stage).
pub const KAFKA_REBALANCES_TOTAL: &str = "vigil_kafka_rebalances_total";
/// Configuration reloads (SIGHUP), by result (counter; labels: result: success, failure).
pub const CONFIG_RELOADS_TOTAL: &str = "vigil_config_reloads_total";
/// Always 1 (gauge; labels: version, commit).
pub const BUILD_INFO: &str = "vigil_build_info";

/// Every name above, for the docs check.
pub const ALL: &[&str] = &[
    INGEST_RECEIVED_POSTS_TOTAL,
    INGEST_RECEIVED_BYTES_TOTAL,
    INGEST_DISCARDED_POSTS_TOTAL,
    SCORE_SCORED_POSTS_TOTAL,
    SCORE_MATCHED_POSTS_TOTAL,
    SCORE_KEYWORD_HITS_TOTAL,
    SCORE_TERM_HITS_TOTAL,
    SCORE_BATCH_DURATION_SECONDS,
    SCORE_AUTOMATON_MEMORY_BYTES,
    DETECT_WINDOW_POSTS,
    DETECT_DISCARDED_POSTS_TOTAL,
    DETECT_EVENT_LAG_SECONDS,
    DETECT_SPIKES_TOTAL,
    DETECT_CHECKPOINT_BYTES,
    ALERT_SENT_ALERTS_TOTAL,
    ALERT_FAILED_ALERTS_TOTAL,
    ALERT_SUPPRESSED_ALERTS_TOTAL,
    ALERT_DELAY_SECONDS,
    ALERT_TIME_TO_ACKNOWLEDGE_SECONDS,
    INCIDENT_TARGET_BREACHES_TOTAL,
    ALERT_ACTIVE_INCIDENTS,
    ALERT_STORE_ERRORS_TOTAL,
    ALERT_STORE_DEGRADED,
    ALERT_OUTBOX_NOTIFICATIONS,
    ALERT_EXPIRED_NOTIFICATIONS_TOTAL,
    ALERT_UNDELIVERED_AT_SHUTDOWN_TOTAL,
    API_REQUESTS_TOTAL,
    API_EVENT_STREAMS,
    API_REJECTED_EVENT_STREAMS_TOTAL,
    HTTP_CONNECTIONS,
    HTTP_REJECTED_CONNECTIONS_TOTAL,
    TRANSPORT_SENT_MESSAGES_TOTAL,
    TRANSPORT_RECEIVED_MESSAGES_TOTAL,
    ERRORS_TOTAL,
    CONFIG_RELOADS_TOTAL,
    KAFKA_CONSUMER_LAG_MESSAGES,
    KAFKA_GROUP_LAG_MESSAGES,
    KAFKA_STALLED_PARTITIONS,
    KAFKA_PRODUCE_ERRORS_TOTAL,
    KAFKA_DEAD_LETTERS_TOTAL,
    KAFKA_REBALANCES_TOTAL,
    BUILD_INFO,
];
