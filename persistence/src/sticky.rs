//! Sticky failure: the first I/O error of a directory ends it for good.

use std::io;
use std::sync::{Arc, OnceLock};

use crate::error::PersistError;

/// The failure state one [`crate::Dir`] shares with its checkpoint writers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sticky(Arc<OnceLock<String>>);

impl Sticky {
    /// `Err(PreviousError)` once anything has failed.
    pub(crate) fn check(&self) -> Result<(), PersistError> {
        match self.0.get() {
            Some(first) => Err(PersistError::PreviousError {
                first: first.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records `err` as the failure (if it is the first) and returns it.
    pub(crate) fn fail(&self, err: PersistError) -> PersistError {
        let _first = self.0.set(err.to_string());
        tracing::error!(error = %err, "table directory failed; every later call will report it");
        err
    }

    /// Maps a storage result, recording an error as the failure.
    pub(crate) fn io<T>(
        &self,
        op: &'static str,
        file: &str,
        r: io::Result<T>,
    ) -> Result<T, PersistError> {
        r.map_err(|source| {
            self.fail(PersistError::Io {
                op,
                file: file.to_owned(),
                source,
            })
        })
    }

    /// Whether `other` is this same failure state (the same directory handle).
    pub(crate) fn same(&self, other: &Sticky) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
