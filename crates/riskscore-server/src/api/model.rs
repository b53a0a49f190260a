//! The served model (`GET /v1/model`): its version, decision rule, cost matrix, calibration,
//! cross-validated metrics and global importance.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use riskscore_model::calibration::Calibration;
use riskscore_model::cost::CostMatrix;
use riskscore_model::imbalance::Strategy;
use riskscore_model::train::TrainSummary;

use super::AppState;
use crate::error::{ApiError, ErrorBody};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(model))
        .routes(routes!(model_fairness))
}

/// A feature's share in the model's splits, in words.
#[derive(Debug, Serialize, ToSchema)]
pub struct Importance {
    pub feature: String,
    pub text: String,
    /// Total gain of the feature's splits.
    pub gain: f64,
}

/// The served model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelAnswer {
    pub model_version: String,
    pub riskscore_version: String,
    pub created_unix: u64,
    pub n_features: usize,
    /// Refused when the calibrated probability is at or above it.
    pub threshold: f64,
    /// Probabilities within this distance of the threshold are marked for review.
    pub review_band: f64,
    /// The business cost of a missed defaulter (`fn_cost`) and of a wrongly refused client
    /// (`fp_cost`).
    pub cost: CostMatrix,
    pub calibration: Calibration,
    /// The class-imbalance strategy chosen in training.
    pub strategy: Strategy,
    /// The cross-validated metrics of training (AUC, cost per client, per fold and overall).
    #[schema(value_type = Object)]
    pub metrics: TrainSummary,
    /// The 30 features of highest gain, highest first.
    pub global_importance: Vec<Importance>,
    /// Clients the server knows.
    pub clients: usize,
}

/// Model metadata, metrics, threshold, cost matrix and global importance.
#[utoipa::path(get, path = "/v1/model", operation_id = "getModel", tag = "model",
    responses(
        (status = 200, description = "The model", body = ModelAnswer),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ))]
async fn model(State(s): State<AppState>) -> Json<ModelAnswer> {
    let m = &s.scorer.explainer.manifest;
    let mut importance: Vec<(&str, f64)> = m
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.gain))
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let global_importance = importance
        .iter()
        .take(30)
        .map(|(n, g)| Importance {
            feature: (*n).to_owned(),
            text: s.scorer.explainer.wording.describe(n),
            gain: *g,
        })
        .collect();
    Json(ModelAnswer {
        model_version: s.scorer.model_version.clone(),
        riskscore_version: m.riskscore_version.clone(),
        created_unix: m.created_unix,
        n_features: m.features.len(),
        threshold: m.threshold,
        review_band: m.review_band,
        cost: m.cost,
        calibration: m.calibration.clone(),
        strategy: m.strategy,
        metrics: m.metrics.clone(),
        global_importance,
        clients: s.scorer.n_clients(),
    })
}

/// The served model's fairness at its threshold.
#[derive(Debug, Serialize, ToSchema)]
pub struct FairnessAnswer {
    pub model_version: String,
    /// Per protected attribute and age band: each group's count, default rate, approval rate
    /// (95 % interval), true and false positive rates, predicted and observed default rates,
    /// adverse impact ratio; fairlearn's disparity measures with 95 % bootstrap intervals; and
    /// Regulation B's age rule (`age_rule`). See docs/fair-lending.md.
    #[schema(value_type = Object)]
    pub fairness: riskscore_model::fairness::Fairness,
}

/// Fairness at the decision threshold, measured on the training's out-of-fold decisions.
#[utoipa::path(get, path = "/v1/model/fairness", operation_id = "getModelFairness", tag = "model",
    responses(
        (status = 200, description = "The fairness figures", body = FairnessAnswer),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "The bundle has no fairness figures (trained before they were measured)", body = ErrorBody),
    ))]
async fn model_fairness(State(s): State<AppState>) -> Result<Json<FairnessAnswer>, ApiError> {
    let fairness = s.scorer.fairness.clone().ok_or_else(|| {
        ApiError::not_found(
            "this model's bundle has no fairness figures (fairness.json): it was trained before \
             riskscore measured them; retrain it, or run `riskscore fairness --model DIR --data DATA`",
        )
    })?;
    Ok(Json(FairnessAnswer {
        model_version: s.scorer.model_version.clone(),
        fairness,
    }))
}
