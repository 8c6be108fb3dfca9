//! The one shape of every error answer of the API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of an error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, in words meant for the developer calling the API. Never an internal detail.
    #[schema(example = "must be greater than zero")]
    pub error: String,
    /// The field of the request at fault, as a path into the JSON body (`options[0].amount`), `""` for the
    /// body as a whole, or `null` when no field is (a wrong key, a failure of ours).
    #[schema(example = "options[0].amount")]
    pub field: Option<String>,
}

/// An error answer: a status and an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An answer with any `status` (404, 409, 422...): say in the operation's `#[utoipa::path]` that it
    /// can be answered, with `body = ErrorBody`.
    pub fn new(status: StatusCode, error: impl Into<String>, field: Option<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                field,
            },
        }
    }

    /// 400: the request is wrong, `field` says where.
    pub fn bad_request(error: impl Into<String>, field: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error, Some(field.into()))
    }

    /// 401: no API key, or not one of the configured keys (answered with `WWW-Authenticate: Bearer`).
    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong API key", None)
    }

    /// 500: our failure; `error` must say nothing of internals (log them where it happens).
    pub fn internal(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error, None)
    }

    /// The body.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.body.error)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            answer.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        answer.json(&self.body)
    }
}
