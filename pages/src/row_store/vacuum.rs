//! Moving rows out of the pages their writers are emptying.
//!
//! A move is an update that changes nothing: the shard copies the current version's
//! bytes into a slot outside the evacuating pages ([`RowStore::relocate`]), and the
//! committer points the row's index entries at the copy and retires the original
//! ([`Committer::relocate`](crate::Committer::relocate)). Readers see the original or
//! the copy, which are the same row.

use scc::Guard;

use super::RowStore;
use crate::index::{IndexKey, IndexSet};
use crate::{Link, PageError, PageWriter, RowFormat, Unpublished};

/// A copy of a row's current version, written by the row's page writer outside the
/// pages it is emptying, waiting to replace the original
/// ([`Committer::relocate`](crate::Committer::relocate)). Dropping it frees the copy and
/// leaves the row where it was.
#[must_use = "dropping a relocation frees the copy and leaves the row where it was"]
#[derive(Debug)]
pub struct Relocation<R> {
    /// The version copied: the row's current one when the copy was made.
    pub(crate) base: Link,
    /// The row both versions hold.
    pub(crate) row: R,
    /// The copy.
    pub(crate) version: Unpublished,
}

impl<R> Relocation<R> {
    /// The bytes the row takes.
    pub fn len(&self) -> usize {
        self.base.length as usize
    }

    /// Whether the row's encoding is empty (never, for an rkyv row).
    pub fn is_empty(&self) -> bool {
        self.base.length == 0
    }
}

impl<R: RowFormat, Pk: IndexKey, Ix: IndexSet<R, Pk>> RowStore<R, Pk, Ix> {
    /// The keys of the rows whose current version lies in a page that its writer is
    /// emptying ([`PageWriter::evacuate_sparse`]), as of now: a row written meanwhile may
    /// be missed, and a key may name a row that has moved since (relocating it then does
    /// nothing). Reads every row's link once, and decodes the rows it keeps.
    pub fn keys_to_move(&self) -> Vec<Pk> {
        let guard = Guard::new();
        let mut keys = Vec::new();
        self.primary.for_each_link(&guard, |link| {
            if !self.pages.is_evacuating(link.page_id) {
                return;
            }
            // SAFETY: `link` was found in this store's primary index under `guard`, and
            // the row is decoded before `guard` is dropped.
            if let Ok(row) = unsafe { self.pages.read(link, &guard) } {
                keys.push((self.key_of)(&row));
            }
        });
        keys
    }

    /// Copies the current version of the row with `pk` out of the page its writer is
    /// emptying, with that writer: the copy goes to a slot outside every evacuating page.
    /// `Ok(None)` when there is nothing to move: no such row, a row whose version is
    /// not in an evacuating page of `writer`, or a writer of other pages.
    ///
    /// The bytes are copied as they are (a version in these pages is an encoding of `R`
    /// written by a writer of these pages; rkyv archives are position-independent, and
    /// both slots are [`ROW_ALIGN`](crate::ROW_ALIGN)-aligned), so the row is not encoded
    /// again; it is decoded once, which its indexes need.
    pub fn relocate(
        &self,
        writer: &mut PageWriter<R>,
        pk: &Pk,
        guard: &Guard,
    ) -> Result<Option<Relocation<R>>, PageError> {
        if writer.pages().id() != self.pages.id() {
            return Ok(None);
        }
        let Some((base, bytes, row)) = self.find_current(pk, guard) else {
            return Ok(None);
        };
        if !writer.is_evacuating(base) {
            return Ok(None);
        }
        // `bytes` stay valid while `guard` is pinned; the writer never hands out a live
        // slot, so the copy cannot land on them.
        let link = writer.write_bytes(bytes)?;
        Ok(Some(Relocation {
            base,
            row,
            version: writer.token(link),
        }))
    }
}
