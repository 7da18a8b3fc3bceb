//! Lowering security: the requirements an operation accepts (each of one
//! scheme or several together), in the order of the document, and whether
//! anonymous calls pass.

use openapiv3::{Operation, ReferenceOr, SecurityScheme};

use super::super::ir::{SchemeKindModel, SchemeModel, SecurityModel};
use super::context::{Context, unsupported};
use crate::document::pointer;
use crate::unsupported::Unsupported;

impl Context<'_> {
    pub(super) fn security(&self, operation: &Operation) -> Result<Option<SecurityModel>, Unsupported> {
        let Some(requirements) = operation.security.as_ref().or(self.document.security.as_ref()) else {
            return Ok(None);
        };
        let optional = requirements.iter().any(|requirement| requirement.is_empty());
        let mut alternatives = Vec::new();
        for requirement in requirements.iter().filter(|requirement| !requirement.is_empty()) {
            let mut schemes = Vec::new();
            for name in requirement.keys() {
                schemes.push(self.scheme(name)?);
            }
            alternatives.push(schemes);
        }
        Ok((!alternatives.is_empty()).then_some(SecurityModel {
            alternatives,
            optional,
        }))
    }

    /// One security scheme of the document, by its name.
    fn scheme(&self, name: &str) -> Result<SchemeModel, Unsupported> {
        {
            let scheme_at = pointer(&["components", "securitySchemes", name]);
            let definition = self
                .document
                .components
                .as_ref()
                .and_then(|components| components.security_schemes.get(name))
                .ok_or_else(|| {
                    unsupported(
                        format!("security scheme `{name}` is not defined"),
                        scheme_at.clone(),
                    )
                })?;
            let kind = match definition {
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })
                    if scheme.eq_ignore_ascii_case("bearer") =>
                {
                    SchemeKindModel::Bearer
                }
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. })
                    if scheme.eq_ignore_ascii_case("basic") =>
                {
                    SchemeKindModel::Basic
                }
                ReferenceOr::Item(SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. }) => {
                    SchemeKindModel::Bearer
                }
                ReferenceOr::Item(SecurityScheme::APIKey { location, name, .. }) => match location {
                    openapiv3::APIKeyLocation::Header => SchemeKindModel::Header(name.to_ascii_lowercase()),
                    openapiv3::APIKeyLocation::Query => SchemeKindModel::Query(name.clone()),
                    openapiv3::APIKeyLocation::Cookie => SchemeKindModel::Cookie(name.clone()),
                },
                ReferenceOr::Item(SecurityScheme::HTTP { scheme, .. }) => {
                    return Err(unsupported(
                        format!("HTTP authentication scheme `{scheme}`"),
                        scheme_at,
                    ));
                }
                ReferenceOr::Reference { .. } => {
                    return Err(unsupported("a security scheme given as a reference", scheme_at));
                }
            };
            if let SchemeKindModel::Header(header) = &kind
                && axum_header_name(header).is_none()
            {
                return Err(unsupported(format!("API key header name `{header}`"), scheme_at));
            }
            Ok(SchemeModel {
                name: name.to_owned(),
                kind,
            })
        }
    }
}

/// A lowercase header name axum accepts as a static name.
pub(crate) fn axum_header_name(lower: &str) -> Option<()> {
    (!lower.is_empty()
        && lower.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&byte)
        }))
    .then_some(())
}
