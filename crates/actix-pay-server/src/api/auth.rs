//! Bearer keys: `Authorization: Bearer <key>` with one of `server.api_keys`, compared in constant time.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::ApiError;
use crate::app::ApiKeys;

/// Proof that the request carried one of the configured API keys: a handler that takes it as an argument
/// answers 401 ([`ApiError::unauthorized`]) to any other request, before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct Authorized(());

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let keys = request.app_data::<web::Data<ApiKeys>>();
        let accepted = match (keys, bearer(request)) {
            (Some(keys), Some(key)) => keys.accepts(key),
            _ => false,
        };
        ready(if accepted {
            Ok(Authorized(()))
        } else {
            Err(ApiError::unauthorized())
        })
    }
}

/// The key of an `Authorization: Bearer <key>` header (the scheme in any case).
fn bearer(request: &HttpRequest) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}
