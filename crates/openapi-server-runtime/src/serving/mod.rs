//! The serving stack around a generated router: trace ids, metrics, the
//! guards (header limits, panics, time limits), the router's fallbacks, and
//! the HTTP server itself.

pub(crate) mod guard;
pub(crate) mod loopback;
pub(crate) mod metrics;
pub(crate) mod router;
pub(crate) mod serve;
pub(crate) mod trace;
