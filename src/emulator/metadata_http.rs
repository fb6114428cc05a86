//! The VM metadata token endpoint (`169.254.169.254` look-alike) over HTTP/1.1.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Shared;
use crate::auth::{METADATA_FLAVOR, METADATA_FLAVOR_HEADER, METADATA_TOKEN_PATH};

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let flavor = headers
        .get(METADATA_FLAVOR_HEADER)
        .and_then(|v| v.to_str().ok());
    if flavor != Some(METADATA_FLAVOR) {
        return (
            StatusCode::FORBIDDEN,
            format!("Missing required header: Metadata-Flavor: {METADATA_FLAVOR}\n"),
        )
            .into_response();
    }
    let ttl = shared.iam_token_ttl;
    let (token, _) = shared.issue_iam_token(&shared.default_subject, ttl);
    tracing::info!(path = METADATA_TOKEN_PATH, "metadata token issued");
    let body = serde_json::json!({
        "access_token": token,
        "expires_in": ttl.as_secs(),
        "token_type": "Bearer",
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route(METADATA_TOKEN_PATH, get(token))
        .with_state(shared);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "metadata server stopped with an error");
    }
}
