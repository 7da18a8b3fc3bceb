//! What a response carries: failures ([`error`]) written by the document's
//! conventions, documented responses and their statuses, JSON typed or raw,
//! and the headers the runtime sets.

pub(crate) mod conventions;
pub(crate) mod error;
pub(crate) mod headers;
pub(crate) mod json;
pub(crate) mod object;
pub(crate) mod refusals;
pub(crate) mod response;
pub(crate) mod violation;
