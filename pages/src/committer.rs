//! The single writer of a [`RowStore`]'s indexes: it links new row versions from every
//! index, unlinks old ones, and retires an old version once nothing can reach it.
//!
//! # When a version is retired
//!
//! A version's slot may be reused only when no index holds its link. The secondary
//! indexes are described by code of the user's crate ([`IndexSet`]), which the committer
//! does not trust, so it counts instead:
//!
//! * Only this committer puts a link in an index, and only in the operation that publishes
//!   the version (an insert, or the new version of an update), and only in indexes its
//!   store has claimed. There, it counts the unique entries it makes for the link. A store
//!   has `unique` unique indexes (counted when it claimed them); making more entries than
//!   that for one version marks the committer `poisoned`, and it never retires again.
//! * Every removal is exact: an entry is removed only if it holds that very link, and each
//!   successful removal takes away one entry.
//! * The operation that ends a version removes it from the primary index (exactly; a
//!   version is in it once) and counts the unique entries it removes (or relinks to the new
//!   version). The version is retired only if that count is `unique`.
//!
//! Entries made for a version are at most `unique`; an operation that removes `unique` of
//! them leaves none. So a retired version is in no index, whatever the description did:
//! a description that shows other indexes from one call to the next, or getters that give
//! other values, at worst leaves a version unretired (its space is not reused) or an index
//! answering wrongly. The macro's description shows the same indexes every time, so every
//! version ends with exactly `unique` removals.
//!
//! [`RowStore`]: crate::RowStore
//! [`IndexSet`]: crate::index::IndexSet

use std::marker::PhantomData;

use scc::Guard;

use crate::index::{IndexKey, IndexSet, IndexVisitor, NonUniqueIndex, UniqueIndex};
use crate::reclaim::Retirer;
use crate::{Link, Relocation, RowFormat, RowStore, Unpublished};

mod bulk;

/// Why a [`Committer`] refused an operation. A refused operation changes nothing, and the
/// version it was given is dropped, which frees its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Another row holds the row's value in the unique index with this name.
    #[error("another row holds this value in unique index `{0}`")]
    Taken(&'static str),
    /// The version named as the row's current one is not.
    #[error("the version named is not the row's current one")]
    Stale,
    /// The store, or the version's pages, are not this committer's.
    #[error("the store or the version belongs to another table")]
    Foreign,
    /// Rows linked all at once go only into an empty store.
    #[error("the store already holds rows")]
    NotEmpty,
    /// Rows linked all at once must come in strictly ascending key order.
    #[error("the rows' keys are not strictly ascending")]
    Unordered,
}

/// The one writer of the indexes of one [`RowStore`], made with it by [`RowStore::new`].
///
/// It is not `Clone`, and every change takes `&mut self`, so one thread at a time changes
/// the indexes: the single-writer rule of the index structures is this type's. Each
/// operation is checked completely before any index changes, then applied whole.
pub struct Committer<R, Pk, Ix> {
    /// The store whose indexes this changes.
    store: u64,
    /// The pages whose versions this links.
    pages: u64,
    /// The number of unique entries of every row: the unique indexes the store claimed.
    unique: usize,
    retirer: Retirer,
    /// Set when a version got more unique entries than a row has: from then on no version
    /// is retired (see the module docs).
    poisoned: bool,
    _store: PhantomData<StoreTypes<R, Pk, Ix>>,
}

/// The types of the store a committer writes (neither owned nor borrowed).
type StoreTypes<R, Pk, Ix> = fn() -> (R, Pk, Ix);

/// The first half of an update in a multi-row write: the entries of the values the row
/// gives up are gone. [`Committer::enter`] finishes it.
#[must_use = "the update is finished by `Committer::enter`"]
pub struct Leaving {
    store: u64,
    /// The version being replaced.
    base: Link,
    /// Unique entries of `base` removed so far.
    removed: usize,
}

impl<R: RowFormat, Pk: IndexKey, Ix: IndexSet<R, Pk>> Committer<R, Pk, Ix> {
    pub(crate) fn new(store: u64, pages: u64, unique: usize, retirer: Retirer) -> Self {
        Committer {
            store,
            pages,
            unique,
            retirer,
            poisoned: false,
            _store: PhantomData,
        }
    }

    fn check(&self, store: &RowStore<R, Pk, Ix>) -> Result<(), CommitError> {
        if store.id() == self.store {
            Ok(())
        } else {
            Err(CommitError::Foreign)
        }
    }

    fn check_version(&self, version: &Unpublished) -> Result<(), CommitError> {
        if version.pages() == self.pages {
            Ok(())
        } else {
            Err(CommitError::Foreign)
        }
    }

    /// Inserts a new row: `version` holds `row`, whose key `pk` the caller has found
    /// absent. Refused with `Taken` when another row holds one of its unique values.
    pub fn insert(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        row: &R,
        version: Unpublished,
        guard: &Guard,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        self.check_version(&version)?;
        if let Some(index) = store.conflict(row, None, guard) {
            return Err(CommitError::Taken(index));
        }
        self.link_new(store, pk, row, version)
    }

    /// Inserts a new row like [`Committer::insert`], without looking for unique values
    /// held by other rows: the caller has (for a batch, with
    /// [`RowStore::group_conflict`]). If it has not, an index may answer wrongly; nothing
    /// worse.
    pub fn link_new(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        row: &R,
        version: Unpublished,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        self.check_version(&version)?;
        let link = version.publish();
        // Secondary entries first and the primary key last (and the reverse on delete):
        // a row a reader can reach by its key, it can reach by every index.
        let mut enter = Enter {
            store: store.id(),
            old: None,
            new: row,
            pk,
            base: None,
            link,
            added: 0,
            removed: 0,
        };
        store.indexes.visit(&mut enter);
        self.made(enter.added);
        store.primary.insert_new(pk.clone(), link);
        Ok(())
    }

    /// Replaces the current version of the row with `pk`, `old` (its link and row), with
    /// `version`, which holds `row`. Refused with `Taken` when another row holds one of
    /// `row`'s unique values, with `Stale` when `old` is not the current version.
    pub fn replace(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        old: (Link, &R),
        row: &R,
        version: Unpublished,
        guard: &Guard,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        self.check_version(&version)?;
        let (base, old_row) = old;
        if let Some(index) = store.conflict(row, Some(base), guard) {
            return Err(CommitError::Taken(index));
        }
        if !store.primary.replace(pk, base, version.link()) {
            return Err(CommitError::Stale);
        }
        let link = version.publish();
        let removed = self.leave_entries(store, pk, old_row, row, base);
        self.enter_entries(store, pk, old_row, row, base, link, removed, guard);
        Ok(())
    }

    /// Moves the row with `pk` to the copy `relocation` holds
    /// ([`RowStore::relocate`]): points the primary index and the row's unique entries at
    /// the copy and retires the original. Nothing else changes: the values are the same,
    /// so no entry is added or removed and no other row can hold them. Refused with
    /// `Stale` when the original is no longer the row's current version (the copy is then
    /// dropped, which frees it).
    pub fn relocate(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        relocation: Relocation<R>,
        guard: &Guard,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        let Relocation { base, row, version } = relocation;
        self.check_version(&version)?;
        if !store.primary.replace(pk, base, version.link()) {
            return Err(CommitError::Stale);
        }
        let link = version.publish();
        self.enter_entries(store, pk, &row, &row, base, link, 0, guard);
        Ok(())
    }

    /// Removes the row with `pk`, whose current version is `old` (its link and row).
    /// Refused with `Stale` when `old` is not the current version.
    pub fn remove(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        old: (Link, &R),
        guard: &Guard,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        let (base, row) = old;
        if !store.primary.remove(pk, base) {
            return Err(CommitError::Stale);
        }
        let mut remove = Remove {
            store: store.id(),
            row,
            pk,
            base,
            removed: 0,
        };
        store.indexes.visit(&mut remove);
        self.retire_if_unlinked(base, remove.removed, guard);
        Ok(())
    }

    /// First half of an update of a multi-row write, from `old` (the current version's
    /// link and row) to `new`: removes the entries of the values `old` holds and `new`
    /// does not. Entries of unchanged values stay, so readers of those values never miss
    /// the row. Do it for every row of the set, then [`Committer::enter`] each, so that
    /// rows can take values others give up.
    pub fn leave(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        old: (Link, &R),
        new: &R,
    ) -> Result<Leaving, CommitError> {
        self.check(store)?;
        let (base, old_row) = old;
        let removed = self.leave_entries(store, pk, old_row, new, base);
        Ok(Leaving {
            store: self.store,
            base,
            removed,
        })
    }

    /// Second half of the update that `leaving` began: makes `version` (holding `new`) the
    /// row's current version, adds the entries of the values `new` holds and `old` did
    /// not, and points the unique entries of unchanged values at `version`. Refused with
    /// `Stale` when the version `leaving` replaces is no longer current.
    #[expect(
        clippy::too_many_arguments,
        reason = "the second half of one update: its store, row, both versions, the guard"
    )]
    pub fn enter(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        leaving: Leaving,
        pk: &Pk,
        old: &R,
        new: &R,
        version: Unpublished,
        guard: &Guard,
    ) -> Result<(), CommitError> {
        self.check(store)?;
        self.check_version(&version)?;
        if leaving.store != self.store {
            return Err(CommitError::Foreign);
        }
        if !store.primary.replace(pk, leaving.base, version.link()) {
            return Err(CommitError::Stale);
        }
        let link = version.publish();
        self.enter_entries(
            store,
            pk,
            old,
            new,
            leaving.base,
            link,
            leaving.removed,
            guard,
        );
        Ok(())
    }

    /// Removes the entries of the values `old` holds and `new` does not; returns how many
    /// unique entries of `base` it removed.
    fn leave_entries(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        old: &R,
        new: &R,
        base: Link,
    ) -> usize {
        let mut leave = Leave {
            store: store.id(),
            old,
            new,
            pk,
            base,
            removed: 0,
        };
        store.indexes.visit(&mut leave);
        leave.removed
    }

    /// Adds the entries of the values `new` holds and `old` did not, relinks the unique
    /// entries of unchanged values from `base` to `link`, and retires `base` when no entry
    /// is left (`removed` counts those removed before).
    #[expect(
        clippy::too_many_arguments,
        reason = "one update: its store, row, both versions and what left already"
    )]
    fn enter_entries(
        &mut self,
        store: &RowStore<R, Pk, Ix>,
        pk: &Pk,
        old: &R,
        new: &R,
        base: Link,
        link: Link,
        removed: usize,
        guard: &Guard,
    ) {
        let mut enter = Enter {
            store: store.id(),
            old: Some(old),
            new,
            pk,
            base: Some(base),
            link,
            added: 0,
            removed,
        };
        store.indexes.visit(&mut enter);
        self.made(enter.added);
        self.retire_if_unlinked(base, enter.removed, guard);
    }

    /// Records that a new version got `added` unique entries.
    fn made(&mut self, added: usize) {
        if added > self.unique {
            self.poisoned = true;
        }
    }

    /// Retires `base`, which has just left the primary index, if its last unique entry is
    /// gone too.
    fn retire_if_unlinked(&mut self, base: Link, removed: usize, guard: &Guard) {
        if removed == self.unique && !self.poisoned {
            // SAFETY: `base` is a version of this store's pages (only versions whose pages
            // are this committer's are linked) and is in no index now: it left the primary
            // index in this operation (it was there once), and every unique entry made for
            // it, at most `unique` as the committer is not poisoned, is gone, as this
            // operation removed `unique` (see the module docs). It left the primary index
            // once, so it is retired once.
            unsafe { self.retirer.retire(base, guard) };
        }
    }
}

/// Adds a new version's entries: all of them for a new row (`old` is `None`), those of
/// the changed values for an update, whose unchanged unique entries move from `base`.
struct Enter<'a, R, Pk> {
    store: u64,
    old: Option<&'a R>,
    new: &'a R,
    pk: &'a Pk,
    base: Option<Link>,
    link: Link,
    /// Unique entries made for `link`.
    added: usize,
    /// Unique entries of `base` removed (by relinking them to `link`), added to those
    /// removed before.
    removed: usize,
}

impl<R, Pk: IndexKey> IndexVisitor<R, Pk> for Enter<'_, R, Pk> {
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if !index.mark.is(self.store) {
            return;
        }
        let value = get(self.new);
        match (self.old, self.base) {
            (Some(old), Some(base)) if get(old) == value => {
                if index.relink(value, base, self.link) {
                    self.removed += 1;
                    self.added += 1;
                }
            }
            _ => {
                index.insert(value.clone(), self.pk.clone(), self.link);
                self.added += 1;
            }
        }
    }

    fn non_unique<V: IndexKey>(
        &mut self,
        index: &NonUniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if !index.mark.is(self.store) {
            return;
        }
        let value = get(self.new);
        if self.old.is_none_or(|old| get(old) != value) {
            index.insert(value.clone(), self.pk.clone());
        }
    }
}

/// Removes the entries of the values an update gives up.
struct Leave<'a, R, Pk> {
    store: u64,
    old: &'a R,
    new: &'a R,
    pk: &'a Pk,
    base: Link,
    /// Unique entries of `base` removed.
    removed: usize,
}

impl<R, Pk: IndexKey> IndexVisitor<R, Pk> for Leave<'_, R, Pk> {
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        let value = get(self.old);
        if index.mark.is(self.store) && value != get(self.new) && index.remove(value, self.base) {
            self.removed += 1;
        }
    }

    fn non_unique<V: IndexKey>(
        &mut self,
        index: &NonUniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        let value = get(self.old);
        if index.mark.is(self.store) && value != get(self.new) {
            index.remove(value, self.pk);
        }
    }
}

/// Removes every entry of a deleted row.
struct Remove<'a, R, Pk> {
    store: u64,
    row: &'a R,
    pk: &'a Pk,
    base: Link,
    /// Unique entries of `base` removed.
    removed: usize,
}

impl<R, Pk: IndexKey> IndexVisitor<R, Pk> for Remove<'_, R, Pk> {
    fn unique<V: IndexKey>(
        &mut self,
        index: &UniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if index.mark.is(self.store) && index.remove(get(self.row), self.base) {
            self.removed += 1;
        }
    }

    fn non_unique<V: IndexKey>(
        &mut self,
        index: &NonUniqueIndex<V, Pk>,
        _: &'static str,
        get: fn(&R) -> &V,
    ) {
        if index.mark.is(self.store) {
            index.remove(get(self.row), self.pk);
        }
    }
}
