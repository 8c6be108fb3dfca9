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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn check(keys: Option<ApiKeys>, authorization: Option<&str>) -> bool {
        let mut request = TestRequest::default();
        if let Some(keys) = keys {
            request = request.app_data(web::Data::new(keys));
        }
        if let Some(value) = authorization {
            request = request.insert_header((header::AUTHORIZATION, value));
        }
        let (request, mut payload) = request.to_http_parts();
        futures_util::FutureExt::now_or_never(Authorized::from_request(&request, &mut payload))
            .expect("ready at once")
            .is_ok()
    }

    #[test]
    fn only_a_configured_key_in_a_bearer_header_is_authorized() {
        let keys = || Some(ApiKeys::new(["k_shop_7d3f9a1c2b4e6f80".to_owned()]));
        assert!(check(keys(), Some("Bearer k_shop_7d3f9a1c2b4e6f80")));
        assert!(
            check(keys(), Some("bearer k_shop_7d3f9a1c2b4e6f80")),
            "the scheme in any case"
        );
        assert!(!check(keys(), Some("Bearer k_shop_7d3f9a1c2b4e6f8")));
        assert!(!check(keys(), Some("Basic k_shop_7d3f9a1c2b4e6f80")));
        assert!(!check(keys(), Some("k_shop_7d3f9a1c2b4e6f80")));
        assert!(!check(keys(), None));
    }

    #[test]
    fn an_app_that_registered_no_keys_authorizes_nobody() {
        assert!(!check(None, Some("Bearer k_shop_7d3f9a1c2b4e6f80")));
        assert!(!check(Some(ApiKeys::default()), Some("Bearer ")));
    }
}
