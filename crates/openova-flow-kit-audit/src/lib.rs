//! Bootstrap-kit audit for OpenovaFlow.
//!
//! Flux installs a Sovereign from the bootstrap kit: one HelmRelease per
//! numbered slot file, ordered only by `dependsOn`. A wrong or circular
//! `dependsOn` stalls an install silently, and a placeholder without a
//! substitute key silently becomes `""`. This crate checks a kit against its
//! declared DAG (`expected-bootstrap-deps.yaml`) and the cloud-init
//! template's `postBuild.substitute` keys:
//!
//! * [`yaml`]: multi-document parsing with absolute line numbers;
//! * [`expected`], [`kit`]: the declared DAG, slot files, `kustomization.yaml`;
//! * [`graph`]: cycles as paths and topological order;
//! * [`placeholder`]: envsubst forms and the template's substitute keys;
//! * [`audit`](mod@audit): the phases, over in-memory [`audit::Inputs`];
//! * [`render`]: the phase log and json / dot / mermaid documents;
//! * [`schema`]: the `kit-schema` gate's request and verdicts;
//! * [`load`], [`cli`]: file system and command line.
//!
//! Exit codes: 0 pass, 1 drift or kit finding, 2 cycle, 3 input error.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod expected;
pub mod graph;
pub mod kit;
pub mod load;
pub mod placeholder;
pub mod render;
pub mod report;
pub mod schema;
pub mod slot;
pub mod yaml;

pub use audit::{FileInput, Inputs, audit};
pub use report::{Code, Report};

/// An input the audit cannot work with (exit code 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A problem at a line of a file.
    #[error("{file}:{line}: {message}")]
    At {
        /// Display path.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A problem with a whole file or directory.
    #[error("{file}: {message}")]
    File {
        /// Display path.
        file: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Anything else, as one sentence.
    #[error("{0}")]
    Other(String),
}

impl InputError {
    /// An error at `file:line`.
    pub fn at(file: &str, line: usize, message: impl Into<String>) -> InputError {
        InputError::At {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }

    /// An error about `file` as a whole.
    pub fn file(file: &str, message: impl Into<String>) -> InputError {
        InputError::File {
            file: file.to_string(),
            message: message.into(),
        }
    }

    /// The file concerned, if any.
    pub fn file_name(&self) -> Option<&str> {
        match self {
            InputError::At { file, .. } | InputError::File { file, .. } => Some(file),
            InputError::Other(_) => None,
        }
    }

    /// The line concerned, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            InputError::At { line, .. } => Some(*line),
            _ => None,
        }
    }
}
