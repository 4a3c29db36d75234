//! How a table's declaration describes its secondary indexes to the [`RowStore`] that
//! keeps them.
//!
//! The description is code of the user's crate (the `worktable!` macro writes it), so the
//! store trusts none of it: it only reads what the description shows it. Every index it
//! changes carries the store's mark, claimed when the store was made, and a version is
//! retired only when the store has itself removed it from as many unique entries as a row
//! has (see `committer.rs`). A description that shows other indexes from one call to the
//! next, or getters that answer differently, costs wrong answers and unreclaimed space,
//! never a dangling link.
//!
//! [`RowStore`]: crate::RowStore

use std::sync::atomic::{AtomicU64, Ordering};

use super::{IndexKey, NonUniqueIndex, UniqueIndex};

/// The secondary indexes of a table: a struct of [`UniqueIndex`] and [`NonUniqueIndex`]
/// fields, which the `worktable!` macro declares.
///
/// A [`RowStore`](crate::RowStore) makes the set with `Default`, owns it, and changes its
/// indexes itself (their mutators are private to this crate). It learns which indexes the
/// set holds, and which column each one covers, from [`IndexSet::visit`].
pub trait IndexSet<Row, Pk: IndexKey>: Default + Send + Sync + 'static {
    /// Shows `visitor` every index of the set, with its declared name and the function
    /// that reads its column from a row: the same indexes in the same order on every
    /// call.
    fn visit<V: IndexVisitor<Row, Pk>>(&self, visitor: &mut V);
}

/// Receives the indexes of an [`IndexSet`], one call per index.
pub trait IndexVisitor<Row, Pk: IndexKey> {
    /// A unique index named `name` on the column that `get` reads.
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        name: &'static str,
        get: fn(&Row) -> &V,
    );

    /// A non-unique index named `name` on the column that `get` reads.
    fn non_unique<V: IndexKey>(
        &mut self,
        index: &NonUniqueIndex<V, Pk>,
        name: &'static str,
        get: fn(&Row) -> &V,
    );
}

/// Which [`RowStore`](crate::RowStore) maintains a unique index: 0 until a store claims
/// it, then that store's id for good. A store changes, and reads links from, only the
/// unique indexes it has claimed, so the links in an index are always those of the pages
/// of the store that claimed it, however the index is moved or shared.
#[derive(Default)]
pub(crate) struct StoreMark(AtomicU64);

impl StoreMark {
    /// Claims the index for store `id`; `true` when it is now (or already was) `id`'s.
    pub(crate) fn claim(&self, id: u64) -> bool {
        match self
            .0
            .compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(owner) => owner == id,
        }
    }

    /// Whether store `id` has claimed the index.
    pub(crate) fn is(&self, id: u64) -> bool {
        self.0.load(Ordering::Acquire) == id
    }
}
