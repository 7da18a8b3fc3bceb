//! The document: reading it ([`load`], [`parse`]), normalizing it for the
//! generators ([`normalize`]), the view of it progenitor accepts
//! ([`client_view`]), and the walks and JSON pointers they share.

mod client_view;
mod load;
mod normalize;
mod pointers;
mod walk;

pub use client_view::client_view;
pub use load::{Syntax, load, parse};
pub use normalize::{Normalized, normalize};
pub use walk::{
    components_only, essence, is_form, is_json, is_json_only, is_success, operations, parameter_data,
    pointer, ref_name, remove_operations, retain_operations, synthetic_operation_id,
};
