//! The OpenAPI 3.1 document, derived with `utoipa` from the handlers and their answer types
//! (`api::*`), then completed from what only the running server knows: whether it requires API
//! keys, the model's application fields and their domains (the request bodies), its features
//! (the comparison's parameters) and the batch limit. And a browsable page rendered from it (no
//! script, no network).

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::api::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "riskscore scoring API",
        version = "1",
        description = "Probability of default, decision (granted / refused against a \
                       cost-minimising threshold), exact SHAP explanations and reason codes. \
                       Every decision is committed to a hash-chained journal before it is \
                       answered."
    ),
    tags(
        (name = "clients", description = "Known clients: information, score, explanation, neighbours, comparison, what-if, recourse"),
        (name = "scores", description = "New applications, one or a batch"),
        (name = "model", description = "The served model"),
        (name = "drift", description = "Drift of the scored applications"),
        (name = "monitoring", description = "Outcomes as they mature, and the model's estimated and realized performance"),
        (name = "reviews", description = "Human review of borderline decisions: the queue and the reviewers' final decisions"),
        (name = "health", description = "Liveness, readiness, metrics (open)"),
    )
)]
pub(crate) struct ApiDoc;

/// The derived document completed for this server.
pub fn finish(doc: utoipa::openapi::OpenApi, state: &AppState) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    let keys = !(state.settings.api_keys.is_empty() && state.settings.reviewers.is_empty());
    let secured = if keys {
        json!([{"ApiKey": []}, {"Bearer": []}])
    } else {
        json!([])
    };
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                if path.starts_with("/v1/") {
                    op["security"] = secured.clone();
                    if !keys {
                        // An open server never answers 401.
                        if let Some(r) = op["responses"].as_object_mut() {
                            r.remove("401");
                        }
                    }
                }
            }
        }
    }
    if keys {
        doc["components"]["securitySchemes"] = json!({
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"}
        });
    }
    let pipeline = &state.scorer.pipeline;
    let schemas = &mut doc["components"]["schemas"];
    schemas["Application"] = crate::application::schema(pipeline);
    schemas["Batch"] = json!({
        "type": "object",
        "description": "A batch of new applications: all are valid and journaled, or none is",
        "additionalProperties": false,
        "required": ["applications"],
        "properties": {"applications": {
            "type": "array", "minItems": 1, "maxItems": state.settings.batch_max,
            "items": {"$ref": "#/components/schemas/Application"}
        }}
    });
    schemas["WhatIf"] = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["changes"],
        "properties": {"changes": crate::application::changes_schema(pipeline)}
    });
    // Bodies read field by field: their fields are all they take (422 names any other).
    for name in ["OutcomeBatch", "OutcomeItem", "ReviewDecision"] {
        if schemas[name].is_object() {
            schemas[name]["additionalProperties"] = json!(false);
        }
    }
    // An outcome's time: a date or a UTC time, as `journal::outcomes::check` takes it.
    if schemas["OutcomeItem"]["properties"]["observed_at"].is_object() {
        schemas["OutcomeItem"]["properties"]["observed_at"]["pattern"] = json!(
            "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?([Zz]|\\+00:00))?$"
        );
    }
    // A known client as the example id, so that generated requests reach past the 404.
    if let Some(known) = state.scorer.population.ids.first() {
        if let Some(paths) = doc["paths"].as_object_mut() {
            for item in paths.values_mut().filter_map(Value::as_object_mut) {
                for op in item.values_mut() {
                    let params = op.get_mut("parameters").and_then(Value::as_array_mut);
                    for p in params.into_iter().flatten() {
                        if p["in"] == "path" && p["name"] == "id" {
                            p["example"] = json!(known);
                        }
                    }
                }
            }
        }
    }
    let features = &state.scorer.names;
    if let Some(params) =
        doc["paths"]["/v1/clients/{id}/compare"]["get"]["parameters"].as_array_mut()
    {
        for p in params {
            if p["name"] == "feature" || p["name"] == "other" {
                p["schema"] = json!({"type": "string", "enum": features});
            }
        }
    }
    doc
}

/// The API reference as one HTML page, rendered from the document.
pub fn docs_page(doc: &Value) -> String {
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            let Some(ops) = ops.as_object() else { continue };
            for (method, op) in ops {
                let params: Vec<String> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                format!(
                                    "{} ({})",
                                    esc(p["name"].as_str().unwrap_or("")),
                                    esc(p["in"].as_str().unwrap_or(""))
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let codes: Vec<String> = op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect())
                    .unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    esc(path),
                    esc(op["summary"].as_str().unwrap_or("")),
                    params.join(", "),
                    codes.join(" ")
                ));
            }
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>riskscore API</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;color:#1a1a1a}}\
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:.4rem;text-align:left;vertical-align:top}}</style>\
</head><body><main><h1>riskscore scoring API</h1><p>{}</p>\
<p>The machine-readable document is <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1). \
Endpoints under <code>/v1</code> need an API key (header <code>X-API-Key</code> or <code>Authorization: Bearer</code>) when the server has keys. \
Errors share one shape: <code>{{\"error\": {{\"status\", \"code\", \"message\", \"fields\"}}}}</code>.</p>\
<table><caption>Endpoints</caption><thead><tr><th scope=\"col\">Method</th><th scope=\"col\">Path</th><th scope=\"col\">What</th><th scope=\"col\">Parameters</th><th scope=\"col\">Answers</th></tr></thead><tbody>\n{rows}</tbody></table></main></body></html>",
        esc(doc["info"]["description"].as_str().unwrap_or(""))
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
