//! The hand-written runtime that generated routers call: trace ids, the
//! failure responses, parameter and body parsing, the security hooks, the
//! documented responses and the router's fallbacks and limits.
//!
//! Generated code (`generated.rs` of this crate, and of any crate generated
//! by `cargo xtask generate`) only calls into this module; nothing here knows
//! about a particular operation or document: what differs between documents
//! (the failure format, the error codes) arrives as generated [`Conventions`].

#![allow(
    clippy::result_large_err,
    reason = "ApiError is the cold path of a request; boxing it would cost an allocation per failure"
)]

mod body;
mod conventions;
mod error;
mod guard;
mod json;
mod loopback;
mod metrics;
mod object;
mod params;
mod parse;
mod pattern;
mod response;
mod router;
mod security;
mod serve;
mod trace;

pub use body::{
    BodyRules, MAX_BODY_BYTES, is_json_media_type, read_blob, read_bytes, read_structured, read_text,
    require_body,
};
pub use conventions::{Code, Conventions, Failure, FailureFormat, RuntimeCodes};
pub use error::ApiError;
pub use guard::{
    CatchPanic, CatchPanicFuture, CatchPanicLayer, HeaderLimit, HeaderLimitLayer, Timeout, TimeoutFuture,
    TimeoutLayer,
};
pub use json::{Json, RawJson, RawJsonArray};
pub use loopback::{LoopbackServer, serve_loopback};
pub use metrics::{
    DURATION, IN_FLIGHT, Metered, MeteredFuture, MetricsLayer, Operation, RATE_LIMITED, REQUESTS, UNMATCHED,
    label, operation_of,
};
pub use object::{EnvelopePart, RawObject, envelope};
pub use params::{Location, RawParams, Separator};
pub use parse::{
    IntegerRules, NumberRules, StringRules, ValueSyntax, check_items, parse_boolean, parse_from_str,
    parse_integer, parse_named, parse_named_values, parse_number, parse_string, require_value,
};
pub use pattern::Pattern;
pub use response::{
    AnyStatus, Blob, ClientErrorStatus, InformationalStatus, RedirectionStatus, ServerErrorStatus,
    StatusInClass, StatusOutOfRange, SuccessStatus, blob_response, bytes_response, empty_response,
    insert_header, insert_rate_limit_headers, json_response, json_response_as, raw_envelope_response,
    raw_json_response, status, text_response,
};
pub use router::{RouterLimits, finish_router, finish_router_with};
pub use security::{
    Credentials, RateLimitStatus, RequestContext, Scheme, SchemeKind, Security, authorize, authorize_optional,
};
pub use serve::{ServeOptions, serve};
#[cfg(feature = "tls")]
pub use serve::{tls_config, tls_config_pem};
pub use trace::{TRACE_ID_HEADER, Trace, TraceFuture, TraceId, TraceLayer, caller_trace_id, trace_id_of};

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use axum::http::StatusCode;

    use super::pattern::{Matcher, simple_class};

    static HEX24: Pattern = Pattern::new("^[0-9a-fA-F]{24}$");

    fn limit_rules() -> IntegerRules {
        IntegerRules {
            minimum: Some(1),
            maximum: Some(100),
            format: Some("int32"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn an_integer_is_accepted_exactly_when_it_is_decimal_and_in_bounds(raw in "[-+0-9a-z. ]{0,24}|[0-9]{1,4}") {
            let parsed = parse_integer::<i32>(Location::Query, "limit", &raw, &limit_rules());
            let expected = raw
                .strip_prefix('-')
                .unwrap_or(&raw)
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| raw.parse::<i64>().ok())
                .flatten()
                .filter(|value| (1..=100).contains(value));
            match (parsed, expected) {
                (Ok(value), Some(expected)) => prop_assert_eq!(i64::from(value), expected),
                (Err(error), None) => {
                    prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
                    prop_assert_eq!(error.details.as_deref(), Some("limit"));
                }
                (parsed, expected) => prop_assert!(false, "{raw:?}: {parsed:?} but expected {expected:?}"),
            }
        }

        #[test]
        fn the_character_class_fast_path_agrees_with_regress(
            which in 0_usize..6,
            text in "[0-9a-zA-Z_\\-. é]{0,30}",
        ) {
            const PATTERNS: [&str; 6] = [
                "^[0-9a-fA-F]{24}$",
                "^[a-z_]+$",
                "^[A-Za-z0-9_-]*$",
                "^[0-9]{2,5}$",
                "^[a-c.]{3,}$",
                "^[x]$",
            ];
            let pattern = Pattern::new(PATTERNS[which]);
            let fast = matches!(simple_class(PATTERNS[which]), Some(Matcher::Class { .. }));
            prop_assert!(fast, "{} takes the fast path", PATTERNS[which]);
            let reference = regress::Regex::new(PATTERNS[which]).unwrap();
            prop_assert_eq!(pattern.is_match(&text), reference.find(&text).is_some(), "{} on {:?}", PATTERNS[which], text);
        }

        #[test]
        fn a_string_is_accepted_exactly_when_it_meets_its_rules(raw in "\\PC{0,30}|[0-9a-f]{24}") {
            let rules = StringRules {
                min_length: Some(24),
                max_length: Some(24),
                pattern: Some(&HEX24),
            };
            let parsed = parse_string(Location::Path, "audienceId", &raw, &rules);
            let valid = raw.chars().count() == 24 && raw.chars().all(|c| c.is_ascii_hexdigit());
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", raw);
            if let Ok(value) = parsed {
                prop_assert_eq!(value, raw);
            }
        }
    }
}
