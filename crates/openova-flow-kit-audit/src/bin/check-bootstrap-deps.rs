//! `check-bootstrap-deps`: the bootstrap-kit audit as a standalone binary
//! (default paths relative to the current directory). `cargo xtask
//! check-bootstrap-deps` runs the same code with paths relative to the
//! repository root.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::current_dir().unwrap_or_else(|_| ".".into());
    ExitCode::from(openova_flow_kit_audit::cli::main_with_args(
        std::env::args_os(),
        &root,
    ))
}
