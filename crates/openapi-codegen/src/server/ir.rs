//! The model the server emitters work from, computed once per operation by
//! [`super::lower`]: parameters with their Rust types and rules, the body
//! and its media types, every response with its payload and headers, the
//! security alternatives. Every decision is made here; the emitters only
//! write.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::conventions::{Envelope, ErrorCodeDecl};
use crate::report::Skip;

/// The whole document, as the emitters need it.
pub(crate) struct Api {
    pub title: String,
    pub version: String,
    pub trait_name: Ident,
    pub envelope: Option<Envelope>,
    pub error_codes: Vec<ErrorCodeDecl>,
    pub ops: Vec<Op>,
    pub skipped: Vec<Skip>,
    /// Documented examples that do not fit their schemas (left out of the
    /// mock), each naming where it is and why.
    pub bad_examples: Vec<String>,
    /// The components as JSON Schema text, when a body is checked against them.
    pub components_schema: Option<String>,
    /// Rules of the document the server does not enforce, each naming where.
    pub unenforced: Vec<String>,
}

pub(crate) struct Op {
    pub id: String,
    pub method: String,
    pub path: String,
    /// The route axum matches: each segment holding a parameter is
    /// `{p<index>}`, named by its position, so that templates naming their
    /// parameters otherwise share a route.
    pub route: String,
    /// What each parameter segment of the route holds.
    pub segments: Vec<PathSegment>,
    pub doc: String,
    pub permissions: Vec<String>,
    pub security: Option<SecurityModel>,
    pub params: Vec<Param>,
    pub body: Option<BodyModel>,
    pub replies: Vec<Reply>,
}

/// One segment of a path template that holds a parameter: `{p3}` in the
/// route, `prefix{name}suffix` in the document (`{Sid}.json`).
pub(crate) struct PathSegment {
    pub route: String,
    pub name: String,
    pub prefix: String,
    pub suffix: String,
}

pub(crate) struct SecurityModel {
    /// The requirements, each the schemes that must all be presented.
    pub alternatives: Vec<Vec<SchemeModel>>,
    /// The document lists `{}` among the requirements: anonymous calls pass.
    pub optional: bool,
}

pub(crate) struct SchemeModel {
    pub name: String,
    pub kind: SchemeKindModel,
}

pub(crate) enum SchemeKindModel {
    Bearer,
    Basic,
    Header(String),
    Query(String),
    Cookie(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

pub(crate) struct Param {
    pub name: String,
    pub field: Ident,
    pub location: Location,
    pub required: bool,
    pub default: Option<TokenStream>,
    pub shape: Shape,
    pub doc: String,
    /// The parameter's JSON Schema, when it has rules its type and parser
    /// do not check (`multipleOf`, `uniqueItems`, a named schema's bounds):
    /// the parsed value is checked against it.
    pub schema: Option<String>,
}

pub(crate) enum Shape {
    One(Scalar),
    Many {
        item: Scalar,
        separator: Separator,
        min_items: Option<usize>,
        max_items: Option<usize>,
    },
}

/// How the values of an array parameter travel.
#[derive(Clone, Copy)]
pub(crate) enum Separator {
    /// Repeated keys (`explode: true`, the query's default).
    Repeat,
    Comma,
    Space,
    Pipe,
}

pub(crate) struct StringRules {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
    /// A format the runtime checks on a string (`email`, `uri`, `byte`).
    pub format: Option<String>,
}

pub(crate) enum Scalar {
    String(StringRules),
    Formatted {
        rust: TokenStream,
        expected: String,
        rules: StringRules,
    },
    Integer {
        rust: Ident,
        format: Option<String>,
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Number {
        rust: Ident,
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    Named {
        rust: TokenStream,
        expected: String,
        syntax: NamedSyntax,
    },
}

/// How a parameter of a named schema is read from its raw values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedSyntax {
    /// One value, as a JSON string (strings, enums, `oneOf`s of them).
    Text,
    /// One value, as JSON text (numbers, booleans, `content` parameters).
    Json,
    /// A `oneOf` with an array branch: one value or several (repeated keys).
    TextOrList,
}

pub(crate) struct BodyModel {
    pub kind: BodyKind,
    /// The JSON Schema of a structured body, checked before the handler
    /// runs (`None`: the body's type alone).
    pub schema: Option<String>,
    pub required: bool,
    pub media_types: Vec<String>,
}

pub(crate) enum BodyKind {
    /// JSON or a form, deserialized into a type.
    Structured(TokenStream),
    Text,
    Bytes,
    Blob,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusSpec {
    Code(u16),
    Class(u16),
    Default,
}

pub(crate) struct Reply {
    pub status: StatusSpec,
    pub variant: Ident,
    pub doc: String,
    pub payload: Payload,
    pub headers: Vec<ResponseHeader>,
    /// The documented example of the body (checked against its schema).
    pub example: Option<serde_json::Value>,
}

pub(crate) enum Payload {
    None,
    /// A JSON body of a type, in the documented media type.
    Json(TokenStream, String),
    Envelope {
        envelope: TokenStream,
        success: bool,
        payload: TokenStream,
        payload_nullable: bool,
        media: String,
    },
    Text(String),
    Bytes(String),
    Blob,
}

pub(crate) struct ResponseHeader {
    pub name: String,
    pub field: Ident,
    pub rust: TokenStream,
    pub required: bool,
    pub doc: String,
    /// The value a mock answers with: the header's example, else its
    /// schema's default, else the type's zero.
    pub example: TokenStream,
}

impl Op {
    /// The principal type the operation's method receives.
    pub(crate) fn principal_type(&self) -> TokenStream {
        match &self.security {
            None => quote! { () },
            Some(security) if security.optional => quote! { ::std::option::Option<Self::Principal> },
            Some(_) => quote! { Self::Principal },
        }
    }
}
