//! Durable tables: the settings, the log queue the commit point feeds, the persistence
//! actor that writes it, and recovery on open.
//!
//! ```text
//! commit point ──records, one group per message──► LogQueue ──► persistence actor (own thread)
//!      │                                             ▲              │ append frames, fdatasync,
//!      │ answers the write                           │              │ publish the durable seq,
//!      ▼                                             │              │ checkpoints (scan thread)
//! Sync writer waits for durable ≥ its seq ◄──────────┴──────────────┘
//! ```
//!
//! The persistence actor runs on a thread of its own, not on a tokio worker: its work is
//! blocking file I/O, and a table must not depend on a runtime that may be gone (a table
//! outlives every runtime it was used from). It is supervised: a panic restarts it on the
//! same queue after reopening the directory, and whatever it had taken but not appended is
//! appended by its successor. An I/O error is sticky: the table fails with
//! [`WorkTableError::Persist`](crate::WorkTableError::Persist), writes, `flush`,
//! `checkpoint` and `shutdown` report it, and reads keep working.

mod actor;
mod config;
mod load;
mod queue;
mod sink;

pub(crate) use actor::{Persister, Source};
pub use config::{Durability, PersistConfig};
pub(crate) use load::{load, persist as persist_error};
pub(crate) use queue::LogQueue;
pub(crate) use sink::{EncodePk, LogSink};

use std::sync::Arc;

use worktable_persistence::PersistError;

/// A persistence failure, shared by every operation that reports it: compare it, print
/// it, or look at the [`PersistError`] inside (`Deref`) to match on what went wrong.
#[derive(Debug, Clone)]
pub struct PersistFailure(Arc<PersistError>);

impl PersistFailure {
    /// The error.
    pub fn error(&self) -> &PersistError {
        &self.0
    }
}

impl From<PersistError> for PersistFailure {
    fn from(error: PersistError) -> Self {
        PersistFailure(Arc::new(error))
    }
}

impl std::ops::Deref for PersistFailure {
    type Target = PersistError;

    fn deref(&self) -> &PersistError {
        &self.0
    }
}

impl std::fmt::Display for PersistFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for PersistFailure {
    /// The same failure, or failures that read the same.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for PersistFailure {}
