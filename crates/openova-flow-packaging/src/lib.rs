//! Pure logic behind the packaging gates of `cargo xtask ci` (`charts`, `nix`,
//! `musl`, `container-smoke`), kept out of xtask so it is unit-tested:
//!
//! * [`binaries`]: the service binaries that are packaged, with their ports.
//! * [`manifests`]: parsing rendered Helm output and asserting what the charts
//!   promise (security context, probes, images, RBAC, PDB, DSN, …).
//! * [`failcase`]: the `# expect: <substring>` header of `ci/fail/*.yaml`.
//! * [`envsubst`]: Flux's `postBuild` substitution (`${X}`, `${X:=d}`, `${X:-d}`).
//! * [`elf`]: "is this binary static" (no `PT_INTERP` program header).
//! * [`image`]: FROM-scratch image contexts and the OCI labels.
//! * [`kit`]: bootstrap-kit slot values as Flux substitutes them.
//! * [`nixstub`]: checks on the image configs the stubbed Nix flake writes.
//!
//! The Helm driver run inside the tools virtualenv is [`HELM_DRIVER`].
#![forbid(unsafe_code)]

pub mod binaries;
pub mod elf;
pub mod envsubst;
pub mod failcase;
pub mod image;
pub mod kit;
pub mod manifests;
pub mod nixstub;

/// Python driver for Helm's Go SDK (`helm-python-sdk`) and `kubernetes-validate`:
/// one JSON request on stdin, one JSON answer on stdout.
pub const HELM_DRIVER: &str = include_str!("../assets/helm_driver.py");
