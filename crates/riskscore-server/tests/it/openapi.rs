//! The OpenAPI document and what it promises: the JSON error shape of every rejection,
//! security as configured, the model's own application, and schemathesis' findings fixed.

use axum::http::StatusCode;
use http_body_util::BodyExt;
use riskscore_server::{router, Settings};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::api::{assert_error, call, get, ids, post};
use crate::common::{application_body, fixture, state};

/// Issue 25 (schemathesis' findings): a query parameter that cannot be read is answered in the
/// JSON error shape, and the document declares API keys only when the server requires them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_rejections_and_security_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (id, _) = ids();
    // A parameter given twice cannot be read (400); a value that is not one (`top=abc`, `k=0`,
    // `format=pdf`) is an invalid field, named (422), on every endpoint alike.
    for (uri, field) in [
        (format!("/v1/clients/{id}/explanation?top=abc"), "top"),
        (format!("/v1/clients/{id}/similar?k=abc"), "k"),
        (format!("/v1/clients/{id}/recourse?k=0"), "k"),
        (format!("/v1/clients/{id}/notice?format=pdf"), "format"),
        ("/v1/drift?format=pdf".to_owned(), "format"),
    ] {
        let (s, v) = call(&st, get(&uri)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {v}");
        assert_error(&v, 422, "invalid_fields");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{uri}: {v}");
    }
    for uri in [
        format!("/v1/clients/{id}/explanation?top=1&top=2"),
        format!("/v1/clients/{id}/compare?feature=AMT_CREDIT&feature=AMT_ANNUITY"),
        "/v1/drift?last=1&last=2".to_owned(),
    ] {
        let (s, v) = call(&st, get(&uri)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_error(&v, 400, "invalid_query");
    }
    let (_, open) = call(&st, get("/openapi.json")).await;
    assert_eq!(open["paths"]["/v1/model"]["get"]["security"], json!([]));
    let keyed = Settings {
        api_keys: vec!["k".into()],
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), keyed);
    let (_, doc) = call(&st, get("/openapi.json")).await;
    assert_eq!(
        doc["paths"]["/v1/model"]["get"]["security"],
        json!([{"ApiKey": []}, {"Bearer": []}])
    );
    assert!(doc["paths"]["/v1/clients/{id}/explanation"]["get"]["responses"]["400"].is_object());
}

/// The OpenAPI document passes Python's openapi-spec-validator (RISKSCORE_PYTHON, a venv with
/// it; required when RISKSCORE_REQUIRE_ORACLES=1).
#[test]
fn openapi_document_is_valid() {
    let Some(python) =
        riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with openapi-spec-validator")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keyed = Settings {
        api_keys: vec!["k".into()],
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), keyed);
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, riskscore_server::api::document(&st).to_string()).unwrap();
    let o = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Issue 25, schemathesis' findings fixed: integers written as JSON Schema allows them (`1.0`)
/// are read as integers, and a long number is read as the nearest double (an integer code of
/// 16 digits written with `.0` is still an integer); axum's own 405 answers in the JSON error
/// shape with its `Allow` header; the document states the model's application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_what_the_server_takes() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let f = fixture();
    let id = ids().0;
    let body = application_body(&f.data, id);
    let (s, plain) = call(&st, post("/v1/score", body.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{plain}");
    let mut floats = body.clone();
    floats["application"]["SK_ID_CURR"] = json!(id as f64);
    floats["bureau_balance"] = json!([{"SK_ID_BUREAU": 7.0, "MONTHS_BALANCE": -1.0,
                                       "STATUS": -2251799813685247.0}]);
    let mut ints = body.clone();
    ints["bureau_balance"] =
        json!([{"SK_ID_BUREAU": 7, "MONTHS_BALANCE": -1, "STATUS": "-2251799813685247"}]);
    let (s, a) = call(&st, post("/v1/score", floats.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let (_, b) = call(&st, post("/v1/score", ints.to_string())).await;
    assert_eq!(a["id"], id);
    assert_eq!(a["score"]["probability"], b["score"]["probability"]);
    floats["application"]["SK_ID_CURR"] = json!(1.5);
    let (s, v) = call(&st, post("/v1/score", floats.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "application.SK_ID_CURR");

    // A body key the document does not list is refused by name, not ignored.
    let extra = json!({"changes": {}, "note": "x"});
    let (s, v) = call(
        &st,
        post(&format!("/v1/clients/{id}/whatif"), extra.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "note");
    let extra = json!({"applications": [body], "dry_run": true});
    let (s, v) = call(&st, post("/v1/score/batch", extra.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "dry_run");

    let resp = router(st.clone()).oneshot(get("/v1/score")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "POST");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&v, 405, "method_not_allowed");

    let keyed = Settings {
        batch_max: 7,
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), keyed);
    let (_, doc) = call(&st, get("/openapi.json")).await;
    let schemas = &doc["components"]["schemas"];
    let app = &schemas["Application"]["properties"]["application"];
    assert_eq!(app["additionalProperties"], false);
    let required: Vec<&str> = app["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, riskscore_data::intake::REQUIRED);
    assert_eq!(app["properties"]["AMT_CREDIT"]["exclusiveMinimum"], 0);
    assert!(app["properties"]["TARGET"].is_null());
    assert!(schemas["WhatIf"]["properties"]["changes"]["properties"]["SK_ID_CURR"].is_null());
    assert_eq!(
        schemas["Batch"]["properties"]["applications"]["maxItems"],
        7
    );
    let compare = &doc["paths"]["/v1/clients/{id}/compare"]["get"]["parameters"];
    let feature = compare
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "feature")
        .unwrap();
    assert_eq!(feature["schema"]["enum"], json!(f.scorer.names));
    // Open server: no key declared, no 401 promised.
    assert!(doc["components"]["securitySchemes"].is_null());
    assert!(doc["paths"]["/v1/model"]["get"]["responses"]["401"].is_null());
}
