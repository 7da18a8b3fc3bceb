//! The runtime of servers generated from an OpenAPI 3.0 document by
//! `openapi-codegen`: what a server team uses ([`Security`], [`ApiError`],
//! [`serve`], the raw JSON types), and, hidden, what the generated routers
//! call (parameter parsing, body reading, response writing, authorization).
//!
//! Nothing here knows a particular document: what differs between documents
//! (the failure format, the error codes) arrives as the generated
//! [`Conventions`].
//!
//! The code is laid out by direction: `inputs/` (parameters, patterns,
//! bodies), `outputs/` (failures and their conventions, responses, JSON,
//! headers), `serving/` (trace, metrics, guards, router, HTTP server), and
//! `security.rs` (the hooks and the order the router calls them in).

#![warn(missing_docs)]
#![allow(
    clippy::result_large_err,
    reason = "ApiError is the cold path of a request; boxing it would cost an allocation per failure"
)]

mod inputs;
pub mod json_schema;
mod outputs;
mod security;
mod serving;

pub use outputs::conventions::{Code, Conventions, Failure, FailureFormat, RuntimeCodes};
pub use outputs::error::ApiError;
pub use outputs::headers::RateLimitStatus;
pub use outputs::json::{Json, RawJson, RawJsonArray};
pub use outputs::object::RawObject;
pub use outputs::violation::{MAX_VIOLATIONS, Violation};
pub use security::{Credentials, RateLimitReport, RequestContext, Security, client_address};
pub use serving::loopback::{LoopbackServer, serve_blocking, serve_loopback};
pub use serving::router::{RouterLimits, finish_router, finish_router_with};
pub use serving::serve::{ServeOptions, serve};
#[cfg(feature = "tls")]
pub use serving::serve::{tls_config, tls_config_pem};
pub use serving::trace::{TRACE_ID_HEADER, TraceId, caller_trace_id};

/// Documented responses: their writers (for routes of your own beside the
/// generated ones) and the statuses of `default` and range responses.
pub mod responses {
    pub use crate::outputs::headers::{insert_header, insert_rate_limit_headers};
    pub use crate::outputs::response::{
        AnyStatus, Blob, ClientErrorStatus, InformationalStatus, RedirectionStatus, ServerErrorStatus,
        StatusInClass, StatusOutOfRange, SuccessStatus, blob_response, bytes_response, empty_response,
        json_response, json_response_as, raw_json_response, text_response,
    };
}

/// The Prometheus names the runtime records under, and the per-operation label.
pub mod metrics {
    pub use crate::serving::metrics::{
        DURATION, IN_FLIGHT, Metered, MeteredFuture, MetricsLayer, Operation, RATE_LIMITED, REQUESTS,
        UNMATCHED, label, operation_of,
    };
}

/// The tower layers [`finish_router`] stacks, for a router built otherwise.
pub mod layers {
    pub use crate::serving::guard::{
        CatchPanic, CatchPanicFuture, CatchPanicLayer, HeaderLimit, HeaderLimitLayer, Timeout, TimeoutFuture,
        TimeoutLayer,
    };
    pub use crate::serving::trace::{Trace, TraceFuture, TraceLayer, trace_id_of};
}

/// What generated code calls; not an API of its own (it changes with the
/// generator).
#[doc(hidden)]
pub mod __private {
    pub use crate::inputs::body::{
        BodyRules, MAX_BODY_BYTES, is_json_media_type, read_blob, read_bytes, read_structured, read_text,
        require_body,
    };
    pub use crate::inputs::params::{Location, PathSegment, RawParams, Separator};
    pub use crate::inputs::parse::{
        IntegerRules, NumberRules, StringRules, ValueSyntax, check_items, parse_boolean, parse_from_str,
        parse_integer, parse_named, parse_named_values, parse_number, parse_string, require_value,
    };
    pub use crate::inputs::pattern::Pattern;
    pub use crate::inputs::validate::{
        CHECKED_FORMATS, SchemaSet, ValueSchema, format_holds, root_schema, validator_options,
    };
    pub use crate::outputs::object::{EnvelopePart, envelope};
    pub use crate::outputs::refusals::all_valid;
    pub use crate::outputs::response::{raw_envelope_response, status};
    pub use crate::responses::*;
    pub use crate::security::{Access, Scheme, SchemeKind, authorize, authorize_optional};
    pub use crate::serving::metrics::Operation;
    pub use crate::serving::trace::trace_id_of;
}
