//! The OpenAPI 3.0 document of the API and a browsable page rendered from it (no script, no
//! network).

use serde_json::{json, Value};

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": "Client id (SK_ID_CURR or the table's id)",
           "schema": {"type": "integer", "format": "int64"}})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn client_responses(schema: &str, description: &str) -> Value {
    json!({
        "200": ok(description, json!({"$ref": format!("#/components/schemas/{schema}")})),
        "400": err("A query parameter cannot be read (not a number, or given twice)"),
        "401": err("Missing or unknown API key"),
        "404": err("Unknown client"),
        "422": err("The id is not an integer"),
        "503": err("The decision journal is unavailable, or the request timed out"),
    })
}

/// The document; `keys` says whether the server requires API keys (without them the `/v1`
/// operations are declared open, as they are).
pub fn document(keys: bool) -> Value {
    let secured = if keys {
        json!([{"ApiKey": []}, {"Bearer": []}])
    } else {
        json!([])
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "riskscore scoring API",
            "version": "1",
            "description": "Probability of default, decision (granted / refused against a cost-minimising threshold), exact SHAP explanations and reason codes. Every decision is committed to a hash-chained journal before it is answered."
        },
        "paths": {
            "/v1/clients/{id}": {"get": {
                "summary": "Whether the client is known, and descriptive information",
                "operationId": "getClient", "security": secured, "parameters": [id_param()],
                "responses": client_responses("Client", "The client's information")}},
            "/v1/clients/{id}/score": {"get": {
                "summary": "Default probability, decision, threshold, distance and band",
                "operationId": "getScore", "security": secured, "parameters": [id_param()],
                "responses": client_responses("ScoreAnswer", "The decision (journaled)")}},
            "/v1/clients/{id}/explanation": {"get": {
                "summary": "Top SHAP contributions, base value and reason codes",
                "operationId": "getExplanation", "security": secured,
                "parameters": [id_param(), {"name": "top", "in": "query", "required": false,
                    "description": "Contributions returned (1-100, default 10)", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": client_responses("Explanation", "The explanation (journaled)")}},
            "/v1/clients/{id}/similar": {"get": {
                "summary": "Nearest labelled clients in a standardised feature space, with their outcomes",
                "operationId": "getSimilar", "security": secured,
                "parameters": [id_param(), {"name": "k", "in": "query", "required": false,
                    "description": "Neighbours (1-100, default 10)", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": client_responses("Similar", "The neighbours")}},
            "/v1/clients/{id}/compare": {"get": {
                "summary": "The client's value of a feature among all clients, the granted, the refused and the 50 most similar; optionally a scatter of two features",
                "operationId": "compareClient", "security": secured,
                "parameters": [id_param(),
                    {"name": "feature", "in": "query", "required": true, "description": "A feature of the model", "schema": {"type": "string"}},
                    {"name": "other", "in": "query", "required": false, "description": "A second feature: adds a scatter of up to 1,000 clients with their decision", "schema": {"type": "string"}}],
                "responses": {
                    "200": ok("Histograms over 20 equal bins between the 1st and 99th percentiles (and the client's value), medians, the client's percentile", json!({"type": "object"})),
                    "400": err("A query parameter given twice"),
                    "401": err("Missing or unknown API key"), "404": err("Unknown client"),
                    "422": err("Unknown feature, named in fields")}}},
            "/v1/clients/{id}/whatif": {"post": {
                "summary": "Re-score the client's application with some fields changed, through the model's fitted pipeline (not journaled)",
                "operationId": "whatIf", "security": secured, "parameters": [id_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["changes"],
                    "properties": {"changes": {"type": "object", "description": "Application fields and their new values, e.g. {\"AMT_CREDIT\": 400000}"}}}}}},
                "responses": {
                    "200": ok("The score before and after, the change, the features that moved, the reasons after", json!({"type": "object"})),
                    "400": err("Malformed JSON"), "401": err("Missing or unknown API key"),
                    "404": err("Unknown client"), "409": err("The server has no raw applications (started on a feature matrix)"),
                    "422": err("Unknown fields, wrong types or values outside their domain, each named (changes.FIELD)")}}},
            "/v1/score": {"post": {
                "summary": "Score and explain a new application through the model's fitted pipeline",
                "operationId": "scoreApplication", "security": secured,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Application"}}}},
                "responses": {
                    "200": ok("The decision (journaled)", json!({"$ref": "#/components/schemas/NewScore"})),
                    "400": err("Malformed JSON"), "401": err("Missing or unknown API key"),
                    "413": err("Body too large"), "422": err("Invalid fields, each named: unknown, wrong type, a required field absent, a value outside its domain"),
                    "503": err("Journal unavailable or timeout")}}},
            "/v1/score/batch": {"post": {
                "summary": "Score a bounded batch of new applications",
                "operationId": "scoreBatch", "security": secured,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["applications"],
                    "properties": {"applications": {"type": "array", "minItems": 1, "maxItems": 100,
                        "items": {"$ref": "#/components/schemas/Application"}}}}}}},
                "responses": {
                    "200": ok("The decisions (journaled)", json!({"type": "object", "properties": {
                        "results": {"type": "array", "items": {"type": "object"}},
                        "model_version": {"type": "string"}, "request_id": {"type": "string"}}})),
                    "400": err("Malformed JSON"), "401": err("Missing or unknown API key"),
                    "413": err("Body too large"), "422": err("Invalid fields, each named (applications[i].application.FIELD): unknown, wrong type, required and absent, outside its domain"),
                    "503": err("Journal unavailable or timeout")}}},
            "/v1/model": {"get": {
                "summary": "Model metadata, metrics, threshold, cost matrix and global importance",
                "operationId": "getModel", "security": secured,
                "responses": {"200": ok("The model", json!({"type": "object"})), "401": err("Missing or unknown API key")}}},
            "/v1/drift": {"get": {
                "summary": "Drift of the journal's recent scores against the model's training sample",
                "description": "The feature rows the model scored (known clients and new applications, each (client, row) once, the latest kept) in the window, against the bundle's reference.parquet (training rows with their out-of-fold probability): Evidently's DataDriftPreset tests per feature and for the predicted probability, PSI, the share of drifted columns and the verdict.",
                "operationId": "getDrift", "security": secured,
                "parameters": [
                    {"name": "since", "in": "query", "required": false, "description": "From this time: a date (2026-11-28), a UTC time (2026-11-28T14:30:00Z) or a span before now (90m, 24h, 7d)", "schema": {"type": "string"}},
                    {"name": "until", "in": "query", "required": false, "description": "Before this time (same forms)", "schema": {"type": "string"}},
                    {"name": "last", "in": "query", "required": false, "description": "The most recent N scores of the window (1-100000; default 10000 without since, 100000 with it)", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
                    {"name": "format", "in": "query", "required": false, "description": "json (default) or html (the self-contained report)", "schema": {"type": "string", "enum": ["json", "html"]}}],
                "responses": {
                    "200": ok("The window and the drift", json!({"type": "object", "properties": {
                        "model_version": {"type": "string"},
                        "window": {"type": "object", "properties": {
                            "read": {"type": "integer"}, "used": {"type": "integer"}, "repeated": {"type": "integer"},
                            "without_row": {"type": "integer"}, "other_models": {"type": "integer"},
                            "first_time": {"type": "string", "nullable": true}, "last_time": {"type": "string", "nullable": true}}},
                        "drift": {"type": "object", "description": "As `riskscore drift --json`: columns (test, score, threshold, drifted, psi, psi_band, buckets), tested, drifted, share, dataset_drift"}}})),
                    "400": err("A query parameter given twice"),
                    "401": err("Missing or unknown API key"),
                    "409": err("No scored applications of this model with rows in the window, or a bundle without a training sample"),
                    "422": err("A parameter is invalid, named in fields"),
                    "503": err("The journal is unavailable, or the request timed out")}}},
            "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz",
                "responses": {"200": ok("Alive", json!({"type": "object"}))}}},
            "/readyz": {"get": {"summary": "Readiness (model loaded, journal writer running)", "operationId": "readyz",
                "responses": {"200": ok("Ready", json!({"type": "object"})), "503": err("Not ready")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
                "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
        },
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["status", "code", "message"],
                    "properties": {
                        "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"},
                        "fields": {"type": "array", "nullable": true, "items": {"type": "object",
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}}},
                "Score": {"type": "object", "required": ["probability", "decision", "threshold", "distance", "band"],
                    "properties": {
                        "probability": {"type": "number"}, "decision": {"type": "string", "enum": ["granted", "refused"]},
                        "threshold": {"type": "number"}, "distance": {"type": "number", "description": "probability - threshold"},
                        "band": {"type": "string", "enum": ["clear", "review"]},
                        "review_reasons": {"type": "array", "items": {"type": "string"},
                            "description": "why the intake sent a posted application to review (a value outside the training data)"}}},
                "Reason": {"type": "object", "properties": {
                    "rank": {"type": "integer"}, "feature": {"type": "string"}, "text": {"type": "string"},
                    "value": {"type": "number", "nullable": true}, "typical": {"type": "number", "nullable": true},
                    "shap": {"type": "number"}, "sentence": {"type": "string"}}},
                "Client": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "known": {"type": "boolean"}, "fields": {"type": "object"},
                    "age_years": {"type": "number"}, "years_employed": {"type": "number", "nullable": true},
                    "history_records": {"type": "object"}, "outcome": {"type": "integer", "nullable": true}}},
                "ScoreAnswer": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "score": {"$ref": "#/components/schemas/Score"},
                    "model_version": {"type": "string"}, "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}},
                    "journal_entry": {"type": "integer"}, "request_id": {"type": "string"}}},
                "Explanation": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "probability": {"type": "number"},
                    "decision": {"type": "string"}, "threshold": {"type": "number"},
                    "raw_score": {"type": "number"}, "base_value": {"type": "number"},
                    "base_probability": {"type": "number"},
                    "contributions": {"type": "array", "items": {"type": "object"}},
                    "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/Reason"}},
                    "score": {"$ref": "#/components/schemas/Score"}, "journal_entry": {"type": "integer"}}},
                "Similar": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "k": {"type": "integer"}, "default_rate": {"type": "number"},
                    "neighbours": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "distance": {"type": "number"},
                        "probability": {"type": "number"}, "target": {"type": "integer"}}}}}},
                "Application": {"type": "object", "required": ["application"], "properties": {
                    "application": {"type": "object", "description": "The application's fields (columns of application_test, or of the single table)"},
                    "bureau": {"type": "array", "items": {"type": "object"}},
                    "bureau_balance": {"type": "array", "items": {"type": "object"}},
                    "previous_application": {"type": "array", "items": {"type": "object"}},
                    "POS_CASH_balance": {"type": "array", "items": {"type": "object"}},
                    "installments_payments": {"type": "array", "items": {"type": "object"}},
                    "credit_card_balance": {"type": "array", "items": {"type": "object"}}}},
                "NewScore": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "score": {"$ref": "#/components/schemas/Score"},
                    "explanation": {"$ref": "#/components/schemas/Explanation"},
                    "model_version": {"type": "string"}, "journal_entry": {"type": "integer"}}}
            }
        }
    })
}

/// The API reference as one HTML page, rendered from the document.
pub fn docs_page(keys: bool) -> String {
    let doc = document(keys);
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
<p>The machine-readable document is <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.0). \
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
