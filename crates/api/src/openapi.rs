//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
//!
//! Written by hand rather than generated (utoipa): the response types live
//! in `vigil-incidents` and `vigil-types`, which stay free of API
//! concerns. A test keeps it honest: the set of documented paths equals the
//! set of mounted paths, every documented operation answers something other
//! than 404 or 405, and every undocumented method on a documented path
//! answers 405.

use std::sync::OnceLock;

use serde_json::{json, Value};

fn id_param(what: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": what, "schema": { "type": "string" }
    })
}

fn err(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn action(summary: &str, description: &str, body: Option<(&str, Value)>) -> Value {
    let mut op = json!({
        "summary": summary,
        "description": description,
        "tags": ["incidents"],
        "parameters": [id_param("Incident id.")],
        "responses": {
            "200": ok_json("The incident after the action; `changed` is false when it changed nothing.", "ActResult"),
            "400": err("Bad JSON body or an invalid value (empty text...)."),
            "401": err("Missing or unknown token."),
            "403": err("The token's role is viewer."),
            "404": err("No such incident."),
            "413": err("Body larger than `api.max_body_bytes`.")
        }
    });
    if let Some((required, schema)) = body {
        op["requestBody"] = json!({
            "required": true,
            "description": required,
            "content": { "application/json": { "schema": schema } }
        });
    }
    op
}

/// The document.
pub(crate) fn document() -> Value {
    let read = |summary: &str, description: &str, ok: Value| {
        json!({
            "summary": summary,
            "description": description,
            "responses": {
                "200": ok,
                "400": err("A bad query parameter."),
                "401": err("Missing or unknown token."),
            }
        })
    };
    let mut list = read(
        "List incidents",
        "Newest opened first. Every filter narrows.",
        ok_json("The incidents.", "IncidentList"),
    );
    list["tags"] = json!(["incidents"]);
    list["parameters"] = json!([
        { "name": "level", "in": "query", "schema": { "$ref": "#/components/schemas/Level" } },
        { "name": "state", "in": "query", "schema": { "$ref": "#/components/schemas/State" } },
        { "name": "watch", "in": "query", "schema": { "type": "string" } },
        { "name": "since", "in": "query", "description": "Only incidents still active at or after this time (RFC 3339).", "schema": { "type": "string", "format": "date-time" } },
        { "name": "until", "in": "query", "description": "Only incidents opened before this time (RFC 3339).", "schema": { "type": "string", "format": "date-time" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1 } }
    ]);
    let mut get_one = read(
        "Get an incident",
        "With its whole timeline and its volume series (observed against baseline per detect window).",
        ok_json("The incident.", "Incident"),
    );
    get_one["tags"] = json!(["incidents"]);
    get_one["parameters"] = json!([id_param("Incident id.")]);
    get_one["responses"]["404"] = err("No such incident.");
    let mut export = read(
        "Export the post-crisis review",
        "Timeline, levels over time, volume figures, top terms, sample post ids, time to acknowledge and to resolve.",
        json!({
            "description": "The review: JSON (default) or Markdown.",
            "content": {
                "application/json": { "schema": { "$ref": "#/components/schemas/ReviewReport" } },
                "text/markdown": { "schema": { "type": "string" } }
            }
        }),
    );
    export["tags"] = json!(["incidents"]);
    export["parameters"] = json!([
        id_param("Incident id."),
        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "md"], "default": "json" } }
    ]);
    export["responses"]["404"] = err("No such incident.");
    let mut silences = read(
        "List silences",
        "Every silence, in force or not yet pruned.",
        json!({
            "description": "The silences.",
            "content": { "application/json": { "schema": {
                "type": "object", "required": ["silences"],
                "properties": { "silences": { "type": "array", "items": { "$ref": "#/components/schemas/Silence" } } }
            } } }
        }),
    );
    silences["tags"] = json!(["silences"]);
    let mut me = read(
        "Who am I",
        "The name and role of the presented token.",
        json!({
            "description": "The caller.",
            "content": { "application/json": { "schema": {
                "type": "object", "required": ["name", "role"],
                "properties": { "name": { "type": "string" }, "role": { "type": "string", "enum": ["viewer", "reporter", "responder"] } }
            } } }
        }),
    );
    me["tags"] = json!(["auth"]);
    let mut events = read(
        "Live changes (server-sent events)",
        "`text/event-stream`. First `ready`, then one event per store change named by its kind (`incident`, `silence`, `pruned`) with the change as JSON data, and `resync` (`{\"missed\": n}`) when the client fell behind and should reload. The token goes in the Authorization header (use fetch streaming in browsers; EventSource cannot send it).",
        json!({
            "description": "The event stream.",
            "content": { "text/event-stream": { "schema": { "type": "string" } } }
        }),
    );
    events["tags"] = json!(["events"]);

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil incident API",
            "version": "1",
            "description": "Incidents detected by Vigil: list, inspect, acknowledge, assign, comment, resolve, reopen, export, silence. Every route but this document needs `Authorization: Bearer <token>` (tokens from `[api]` in the config). Role `viewer` may GET; `responder` may also POST and DELETE. Errors are `{\"error\": \"...\"}`."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "tags": [
            { "name": "incidents" }, { "name": "silences" }, { "name": "events" }, { "name": "auth" }, { "name": "meta" }
        ],
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "tags": ["meta"],
                    "security": [],
                    "responses": { "200": { "description": "The OpenAPI document.", "content": { "application/json": {} } } }
                }
            },
            "/api/v1/me": { "get": me },
            "/api/v1/incidents": {
                "get": list,
                "post": {
                    "summary": "Report an incident by hand",
                    "description": "For staff and customer-service agents who see trouble first (role reporter or responder). On a watch with an active incident the report joins it (`created: false`; a higher level raises it and notifies as a level rise). Otherwise it opens a new incident `<watch>-report-<ms>`, notified and escalated like a detected one; a detector incident that later opens on the same watch joins it. Detect's resolve never resolves a reported incident: people do. A report without a watch is filed under the watch `reported`.",
                    "tags": ["incidents"],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewReport" } } } },
                    "responses": {
                        "201": ok_json("A new incident (its URL in `Location`).", "ReportResult"),
                        "200": ok_json("The report joined the watch's active incident.", "ReportResult"),
                        "400": err("Bad JSON body or an invalid report: an empty title, a link that is not http(s), over 20 links or 25 post ids."),
                        "401": err("Missing or unknown token."),
                        "403": err("The token's role is viewer."),
                        "413": err("Body larger than `api.max_body_bytes`."),
                        "422": err("The watch is not configured.")
                    }
                }
            },
            "/api/v1/incidents/{id}": { "get": get_one },
            "/api/v1/incidents/{id}/ack": {
                "post": action("Acknowledge", "Idempotent: acknowledging an acknowledged incident returns `changed: false` and records nothing. Stops re-notification while the level holds. No body.", None)
            },
            "/api/v1/incidents/{id}/assign": {
                "post": action("Assign", "Sets the owner; acknowledges too when not yet acknowledged.", Some(("The new owner.", json!({
                    "type": "object", "required": ["assignee"], "additionalProperties": false,
                    "properties": { "assignee": { "type": "string", "minLength": 1, "maxLength": 4096 } }
                }))))
            },
            "/api/v1/incidents/{id}/comment": {
                "post": action("Comment", "Adds a comment to the timeline.", Some(("The comment.", json!({
                    "type": "object", "required": ["text"], "additionalProperties": false,
                    "properties": { "text": { "type": "string", "minLength": 1, "maxLength": 4096 } }
                }))))
            },
            "/api/v1/incidents/{id}/role": {
                "post": action("Give a role", "Makes `person` the incident's `lead` or `communications` lead (replacing whoever held it; the same person again changes nothing). A `role` timeline event.", Some(("The role and who holds it.", json!({
                    "type": "object", "required": ["role", "person"], "additionalProperties": false,
                    "properties": {
                        "role": { "type": "string", "enum": ["lead", "communications"] },
                        "person": { "type": "string", "minLength": 1, "maxLength": 4096 }
                    }
                }))))
            },
            "/api/v1/incidents/{id}/status": {
                "post": action("Status update", "Records a status update (a `status_update` timeline event); the first one meets the incident's `respond` target. With `publish`, it is also sent to the stakeholder sinks (`alert.stakeholder_sinks`; 400 when none are configured).", Some(("The update.", json!({
                    "type": "object", "required": ["text"], "additionalProperties": false,
                    "properties": {
                        "text": { "type": "string", "minLength": 1, "maxLength": 4096 },
                        "publish": { "type": "boolean", "default": false }
                    }
                }))))
            },
            "/api/v1/incidents/{id}/drafts": {
                "get": {
                    "summary": "Status-update drafts",
                    "description": "Status updates drafted from the templates of the incident's crisis kinds, then the default ones (English and Chinese built in), with its facts filled in; `{next_update}` is an hour from now.",
                    "tags": ["incidents"],
                    "parameters": [id_param("Incident id.")],
                    "responses": {
                        "200": {
                            "description": "The drafts.",
                            "content": { "application/json": { "schema": {
                                "type": "object", "required": ["drafts"],
                                "properties": { "drafts": { "type": "array", "items": {
                                    "type": "object", "required": ["template", "lang", "text"],
                                    "properties": { "template": { "type": "string" }, "lang": { "type": "string" }, "text": { "type": "string" } }
                                } } }
                            } } }
                        },
                        "401": err("Missing or unknown token."),
                        "404": err("No such incident.")
                    }
                }
            },
            "/api/v1/incidents/{id}/review": {
                "post": action("Fill in the review", "Sets the review's `root_cause`, `actions` and `effectiveness` (each optional, at least one; fields left out are kept). A `reviewed` timeline event naming the fields that changed; the export shows them.", Some(("The review's fields.", json!({
                    "type": "object", "additionalProperties": false, "minProperties": 1,
                    "properties": {
                        "root_cause": { "type": "string", "minLength": 1, "maxLength": 4096 },
                        "actions": { "type": "string", "minLength": 1, "maxLength": 4096 },
                        "effectiveness": { "type": "string", "minLength": 1, "maxLength": 4096 }
                    }
                }))))
            },
            "/api/v1/incidents/{id}/step": {
                "post": action("Tick a playbook step", "Marks step `step` (from 0) of the incident's checklist done (`done`, default true) or to do again. A `step` timeline event with who and when; the same state again changes nothing. 400 when the incident has no checklist or no such step.", Some(("The step.", json!({
                    "type": "object", "required": ["step"], "additionalProperties": false,
                    "properties": { "step": { "type": "integer", "minimum": 0 }, "done": { "type": "boolean", "default": true } }
                }))))
            },
            "/api/v1/incidents/{id}/merge": {
                "post": action("Merge into another incident", "Merges this incident into `into` (two incidents about one crisis, e.g. on two watches). `into` gets its crisis kinds, sample posts, evidence, a higher level (notified as a level rise) and its detector incidents, whose later alerts are recorded on `into`; this one keeps its timeline and is resolved without a notification. Answers with `into`. 400 for itself or an incident already merged; 404 when either does not exist.", Some(("The incident to merge into.", json!({
                    "type": "object", "required": ["into"], "additionalProperties": false,
                    "properties": { "into": { "type": "string", "minLength": 1 } }
                }))))
            },
            "/api/v1/reports/period": {
                "get": {
                    "summary": "Period report",
                    "description": "The incidents opened in `[since, until)` summed up: by level and crisis kind, times from opening to the first acknowledgement, status update and resolve (median and 90th percentile, nearest rank), missed response targets, the watches with most incidents. Default: the 30 days before now.",
                    "tags": ["incidents"],
                    "parameters": [
                        { "name": "since", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                        { "name": "until", "in": "query", "schema": { "type": "string", "format": "date-time" } },
                        { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["json", "md"] } }
                    ],
                    "responses": {
                        "200": {
                            "description": "The report (JSON, or Markdown with `format=md`).",
                            "content": {
                                "application/json": { "schema": { "$ref": "#/components/schemas/PeriodReport" } },
                                "text/markdown": { "schema": { "type": "string" } }
                            }
                        },
                        "400": err("A bad query parameter, or `since` not before `until`."),
                        "401": err("Missing or unknown token.")
                    }
                }
            },
            "/api/v1/incidents/{id}/resolve": {
                "post": action("Resolve", "Idempotent. Notifies `resolved` to every sink told about the incident. No body.", None)
            },
            "/api/v1/incidents/{id}/reopen": {
                "post": action("Reopen", "Reopens a resolved incident (changes nothing on an unresolved one) and runs its level's escalation policy again. No body.", None)
            },
            "/api/v1/incidents/{id}/export": { "get": export },
            "/api/v1/silences": {
                "get": silences,
                "post": {
                    "summary": "Add a silence",
                    "description": "Mutes a watch (or one level of it) from `starts_at` (default now) to `ends_at`, or for `duration_secs`. The end must be in the future and at most 90 days from now. Muted alerts are still recorded in the timeline and counted.",
                    "tags": ["silences"],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/NewSilence" } } } },
                    "responses": {
                        "201": ok_json("The silence.", "Silence"),
                        "400": err("Bad JSON body or an invalid silence: a `duration_secs` of 0 or over 90 days, an end that is not in the future or is over 90 days away."),
                        "401": err("Missing or unknown token."),
                        "403": err("The token's role is viewer."),
                        "413": err("Body larger than `api.max_body_bytes`."),
                        "422": err("The watch is not configured.")
                    }
                }
            },
            "/api/v1/silences/{id}": {
                "delete": {
                    "summary": "Remove a silence",
                    "tags": ["silences"],
                    "parameters": [id_param("Silence id (`sil-<n>`).")],
                    "responses": {
                        "200": { "description": "The removed silence.", "content": { "application/json": { "schema": {
                            "type": "object", "required": ["removed"],
                            "properties": { "removed": { "$ref": "#/components/schemas/Silence" } }
                        } } } },
                        "401": err("Missing or unknown token."),
                        "403": err("The token's role is viewer."),
                        "404": err("No such silence.")
                    }
                }
            },
            "/api/v1/events": { "get": events }
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A token from `[[api.tokens]]`." }
            },
            "schemas": schemas()
        }
    })
}

fn schemas() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let stamp = json!({ "$ref": "#/components/schemas/Stamp" });
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "string", "description": "What went wrong, for people." } }
        },
        "Level": { "type": "string", "enum": ["minor", "moderate", "major"] },
        "State": { "type": "string", "enum": ["open", "escalated", "acknowledged", "assigned", "resolved", "reopened"] },
        "Stamp": {
            "type": "object", "required": ["by", "at"],
            "properties": { "by": { "type": "string" }, "at": time }
        },
        "IncidentSummary": {
            "type": "object",
            "required": ["id", "watch", "level", "state", "crisis_kinds", "opened_at", "last_firing_at", "observed", "baseline", "suppressed_alerts", "events"],
            "properties": {
                "id": { "type": "string" },
                "title": { "type": "string", "description": "The report's title, when reported by hand." },
                "watch": { "type": "string" },
                "level": { "$ref": "#/components/schemas/Level" },
                "state": { "$ref": "#/components/schemas/State" },
                "crisis_kinds": { "type": "array", "items": { "type": "string" } },
                "opened_at": time,
                "acknowledged": stamp,
                "assignee": { "type": "string" },
                "lead": { "type": "string" },
                "missed_targets": { "type": "array", "items": { "$ref": "#/components/schemas/Target" } },
                "resolved": stamp,
                "last_firing_at": time,
                "observed": { "type": "integer" },
                "baseline": { "type": "number" },
                "suppressed_alerts": { "type": "integer" },
                "events": { "type": "integer", "description": "Timeline length." }
            }
        },
        "IncidentList": {
            "type": "object", "required": ["count", "incidents"],
            "properties": {
                "count": { "type": "integer" },
                "incidents": { "type": "array", "items": { "$ref": "#/components/schemas/IncidentSummary" } }
            }
        },
        "Event": {
            "type": "object", "required": ["at", "actor", "kind"],
            "description": "A timeline entry; `kind` is alert, level_change, ack, unack, assign, comment, resolve, reopen, reported, joined, role, status_update, step, reviewed, merged, merged_into, target_missed, suppressed or notified, with that kind's fields (see docs/INCIDENTS.md).",
            "properties": {
                "at": time,
                "actor": { "type": "string" },
                "summary": { "type": "string", "description": "The event in words (in API answers; not stored)." },
                "kind": { "type": "string", "enum": ["alert", "level_change", "ack", "unack", "assign", "comment", "resolve", "reopen", "reported", "joined", "role", "status_update", "step", "reviewed", "merged", "merged_into", "target_missed", "suppressed", "notified"] }
            },
            "additionalProperties": true
        },
        "VolumePoint": {
            "type": "object", "required": ["window_end", "observed", "baseline", "level"],
            "properties": {
                "window_end": time,
                "observed": { "type": "integer" },
                "baseline": { "type": "number" },
                "level": { "$ref": "#/components/schemas/Level" }
            }
        },
        "Story": {
            "type": "object",
            "description": "Posts that say the same thing: an original, its reposts and near-duplicates.",
            "required": ["text", "posts", "originals", "reposts", "first_post", "first_seen", "first_source", "sources"],
            "properties": {
                "text": { "type": "string", "description": "Its first post's text, trimmed (never markup)." },
                "posts": { "type": "integer" },
                "originals": { "type": "integer" },
                "reposts": { "type": "integer" },
                "first_post": { "type": "string" },
                "first_seen": time,
                "first_source": { "type": "string" },
                "sources": { "type": "array", "items": { "type": "string" } },
                "reach": { "type": "integer", "description": "Summed author followers." },
                "engagement": { "type": "integer" }
            }
        },
        "RisingTerm": {
            "type": "object", "required": ["term", "posts", "share", "baseline_share"],
            "properties": {
                "term": { "type": "string" },
                "posts": { "type": "integer" },
                "share": { "type": "number" },
                "baseline_share": { "type": "number" }
            }
        },
        "SamplePost": {
            "type": "object", "required": ["id", "source", "published_at", "text"],
            "properties": {
                "id": { "type": "string" },
                "source": { "type": "string" },
                "published_at": time,
                "text": { "type": "string" },
                "url": { "type": "string" },
                "reach": { "type": "integer" },
                "author": { "type": "string", "description": "Platform handle, only with ingest.keep_author_handle." }
            }
        },
        "Evidence": {
            "type": "object",
            "description": "What people were saying when the incident opened or rose a level.",
            "required": ["level", "state", "window_start", "window_end", "seen_at", "stories", "rising_terms", "samples"],
            "properties": {
                "level": { "$ref": "#/components/schemas/Level" },
                "state": { "type": "string", "enum": ["opened", "escalated"] },
                "window_start": time,
                "window_end": time,
                "seen_at": time,
                "stories": { "type": "array", "items": { "$ref": "#/components/schemas/Story" } },
                "rising_terms": { "type": "array", "items": { "$ref": "#/components/schemas/RisingTerm" } },
                "samples": { "type": "array", "items": { "$ref": "#/components/schemas/SamplePost" } }
            }
        },
        "Incident": {
            "type": "object",
            "description": "An incident with everything about it (see docs/INCIDENTS.md for each field).",
            "required": ["id", "watch", "level", "opened_level", "state", "crisis_kinds", "opened_at", "unacked_since", "detect_resolved", "last_firing_at", "last", "peak", "sample_post_ids", "volume", "notified_sinks", "last_alert", "alert_ids", "suppressed_alerts", "timeline"],
            "properties": {
                "id": { "type": "string" },
                "watch": { "type": "string" },
                "level": { "$ref": "#/components/schemas/Level" },
                "opened_level": { "$ref": "#/components/schemas/Level" },
                "state": { "$ref": "#/components/schemas/State" },
                "crisis_kinds": { "type": "array", "items": { "type": "string" } },
                "opened_at": time,
                "escalated_at": time,
                "reopened_at": time,
                "acknowledged": stamp,
                "first_acknowledged": stamp,
                "unacked_since": time,
                "assignee": { "type": "string" },
                "lead": { "type": "string", "description": "The incident lead." },
                "communications_lead": { "type": "string" },
                "first_response": stamp,
                "clocks": { "type": "array", "items": { "$ref": "#/components/schemas/Clock" } },
                "merged_into": { "type": "string", "description": "The incident this one was merged into." },
                "merged_from": { "type": "array", "items": { "type": "string" }, "description": "Incidents merged into this one." },
                "checklist": {
                    "type": "object", "required": ["playbook", "title", "steps"],
                    "description": "The playbook checklist it follows.",
                    "properties": {
                        "playbook": { "type": "string" },
                        "title": { "type": "string" },
                        "steps": { "type": "array", "items": {
                            "type": "object", "required": ["text"],
                            "properties": { "text": { "type": "string" }, "done": stamp }
                        } }
                    }
                },
                "review": {
                    "type": "object", "description": "The post-crisis review the team wrote.",
                    "properties": { "root_cause": { "type": "string" }, "actions": { "type": "string" }, "effectiveness": { "type": "string" } }
                },
                "resolved": stamp,
                "first_resolved": stamp,
                "detect_resolved": { "type": "boolean" },
                "last_firing_at": time,
                "last": { "type": "object" },
                "peak": { "type": "object" },
                "sample_post_ids": { "type": "array", "items": { "type": "string" } },
                "volume": { "type": "array", "items": { "$ref": "#/components/schemas/VolumePoint" } },
                "evidence": { "type": "array", "items": { "$ref": "#/components/schemas/Evidence" } },
                "report": { "$ref": "#/components/schemas/Report" },
                "detected_as": { "type": "array", "items": { "type": "string" }, "description": "Detector incident ids joined into this reported incident." },
                "notified_sinks": { "type": "array", "items": { "type": "string" } },
                "last_alert": { "type": "object" },
                "alert_ids": { "type": "array", "items": { "type": "string" } },
                "suppressed_alerts": { "type": "integer" },
                "timeline": { "type": "array", "items": { "$ref": "#/components/schemas/Event" } }
            },
            "additionalProperties": true
        },
        "PeriodReport": {
            "type": "object",
            "required": ["since", "until", "incidents", "reported_by_hand", "resolved", "by_level", "by_kind", "time_to_acknowledge", "time_to_respond", "time_to_resolve", "target_misses", "incidents_missing_a_target", "top_watches"],
            "properties": {
                "since": time, "until": time,
                "incidents": { "type": "integer" },
                "reported_by_hand": { "type": "integer" },
                "resolved": { "type": "integer" },
                "by_level": { "type": "object", "additionalProperties": { "type": "integer" } },
                "by_kind": { "type": "object", "additionalProperties": { "type": "integer" } },
                "time_to_acknowledge": { "$ref": "#/components/schemas/Durations" },
                "time_to_respond": { "$ref": "#/components/schemas/Durations" },
                "time_to_resolve": { "$ref": "#/components/schemas/Durations" },
                "target_misses": { "type": "object", "additionalProperties": { "type": "integer" } },
                "incidents_missing_a_target": { "type": "integer" },
                "top_watches": { "type": "array", "items": {
                    "type": "object", "required": ["watch", "incidents", "highest_level"],
                    "properties": { "watch": { "type": "string" }, "incidents": { "type": "integer" }, "highest_level": { "$ref": "#/components/schemas/Level" } }
                } }
            }
        },
        "Durations": {
            "type": "object", "required": ["count"],
            "properties": {
                "count": { "type": "integer" },
                "median_secs": { "type": "number" },
                "p90_secs": { "type": "number" }
            }
        },
        "Target": { "type": "string", "enum": ["acknowledge", "respond", "resolve"] },
        "Clock": {
            "type": "object", "required": ["target", "due_at"],
            "description": "A response target's clock: due from the opening; met by the first acknowledgement, status update or resolve.",
            "properties": {
                "target": { "$ref": "#/components/schemas/Target" },
                "due_at": time,
                "met_at": time,
                "missed_at": time
            }
        },
        "Report": {
            "type": "object", "required": ["title", "by"],
            "properties": {
                "title": { "type": "string" },
                "description": { "type": "string" },
                "links": { "type": "array", "items": { "type": "string" } },
                "by": { "type": "string" }
            }
        },
        "NewReport": {
            "type": "object", "required": ["title", "level"], "additionalProperties": false,
            "properties": {
                "title": { "type": "string", "minLength": 1, "maxLength": 4096 },
                "level": { "$ref": "#/components/schemas/Level" },
                "watch": { "type": "string", "description": "A configured watch id." },
                "crisis_kind": { "type": "string", "enum": ["product_safety", "service_outage", "legal", "data_breach", "negative_media", "disaster"] },
                "description": { "type": "string", "minLength": 1, "maxLength": 4096 },
                "links": { "type": "array", "maxItems": 20, "items": { "type": "string", "pattern": "^https?://" } },
                "post_ids": { "type": "array", "maxItems": 25, "items": { "type": "string" } }
            }
        },
        "ReportResult": {
            "type": "object", "required": ["created", "incident"],
            "properties": {
                "created": { "type": "boolean", "description": "False when the report joined the watch's active incident." },
                "incident": { "$ref": "#/components/schemas/Incident" }
            }
        },
        "ActResult": {
            "type": "object", "required": ["changed", "incident"],
            "properties": {
                "changed": { "type": "boolean", "description": "False when the action changed nothing (no event recorded)." },
                "time_to_acknowledge_secs": { "type": "number", "description": "Present when this action acknowledged the incident." },
                "incident": { "$ref": "#/components/schemas/Incident" }
            }
        },
        "ReviewReport": {
            "type": "object",
            "description": "The post-crisis review (see docs/INCIDENTS.md).",
            "required": ["id", "watch", "level", "state", "opened_at", "levels", "volume", "top_terms", "sample_post_ids", "timeline"],
            "properties": {
                "id": { "type": "string" },
                "watch": { "type": "string" },
                "level": { "$ref": "#/components/schemas/Level" },
                "state": { "$ref": "#/components/schemas/State" },
                "opened_at": time,
                "time_to_acknowledge_secs": { "type": "number" },
                "time_to_resolve_secs": { "type": "number" },
                "levels": { "type": "array", "items": { "type": "object" } },
                "volume": { "type": "array", "items": { "$ref": "#/components/schemas/VolumePoint" } },
                "top_terms": { "type": "array", "items": { "type": "string" } },
                "sample_post_ids": { "type": "array", "items": { "type": "string" } },
                "timeline": { "type": "array", "items": { "$ref": "#/components/schemas/Event" } }
            },
            "additionalProperties": true
        },
        "Silence": {
            "type": "object", "required": ["id", "watch", "starts_at", "ends_at", "reason", "author", "created_at"],
            "properties": {
                "id": { "type": "string" },
                "watch": { "type": "string" },
                "level": { "$ref": "#/components/schemas/Level" },
                "starts_at": time,
                "ends_at": time,
                "reason": { "type": "string" },
                "author": { "type": "string" },
                "created_at": time
            }
        },
        "NewSilence": {
            "type": "object", "required": ["watch", "reason"], "additionalProperties": false,
            "description": "Give `ends_at` or `duration_secs`.",
            "properties": {
                "watch": { "type": "string" },
                "level": { "$ref": "#/components/schemas/Level" },
                "starts_at": time,
                "ends_at": time,
                "duration_secs": { "type": "integer", "minimum": 1, "maximum": 7776000 },
                "reason": { "type": "string", "minLength": 1 }
            }
        }
    })
}

/// The document as JSON text, built once.
pub(crate) fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string_pretty(&document()).expect("a JSON value serialises"))
}
