//! The primary keys of the rows that share one value of a non-unique index.
//!
//! A value held by a few rows keeps their keys in a small sorted list that the writer
//! replaces as a whole; past [`FEW`] keys the list becomes an ordered tree changed in
//! place. Readers load the current list under a guard and never wait for the writer.

use std::sync::atomic::{AtomicUsize, Ordering};

use scc::{AtomicShared, Guard, Shared, TreeIndex};

use super::IndexKey;

/// The most keys kept in a list that is copied on every change. Copying 16 keys costs
/// less than an insert into a tree, and a tree holding one key takes ~700 bytes.
const FEW: usize = 16;

/// The keys of the rows holding one value, in order. Written by one thread at a time.
pub(super) struct Postings<P> {
    list: AtomicShared<List<P>>,
    len: AtomicUsize,
}

enum List<P> {
    /// Sorted keys; replaced, never changed.
    Few(Vec<P>),
    /// Keys in a tree that takes inserts and removals in place.
    Many(TreeIndex<P, ()>),
}

impl<P: IndexKey> Postings<P> {
    /// Postings holding just `pk`.
    pub(super) fn new(pk: P) -> Self {
        Postings {
            list: AtomicShared::new(List::Few(vec![pk])),
            len: AtomicUsize::new(1),
        }
    }

    /// Postings holding `keys`, which are sorted and distinct (at least one).
    pub(super) fn from_sorted(keys: Vec<P>) -> Self {
        let len = keys.len();
        let list = if len <= FEW {
            List::Few(keys)
        } else {
            let tree = TreeIndex::new();
            for key in keys {
                let _ = tree.insert_sync(key, ());
            }
            List::Many(tree)
        };
        Postings {
            list: AtomicShared::new(list),
            len: AtomicUsize::new(len),
        }
    }

    /// Adds `pk`. Writer only.
    pub(super) fn insert(&self, pk: P) {
        let guard = Guard::new();
        let replacement = match self.list.load(Ordering::Acquire, &guard).as_ref() {
            Some(List::Many(tree)) => {
                if tree.insert_sync(pk, ()).is_ok() {
                    self.len.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            Some(List::Few(keys)) => {
                let Err(at) = keys.binary_search(&pk) else {
                    return;
                };
                if keys.len() < FEW {
                    let mut keys = keys.clone();
                    keys.insert(at, pk);
                    List::Few(keys)
                } else {
                    let tree = TreeIndex::new();
                    for key in keys.iter().cloned().chain(std::iter::once(pk)) {
                        let _ = tree.insert_sync(key, ());
                    }
                    List::Many(tree)
                }
            }
            None => List::Few(vec![pk]),
        };
        self.replace(replacement);
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes `pk` and returns how many keys are left. Writer only.
    pub(super) fn remove(&self, pk: &P) -> usize {
        let guard = Guard::new();
        match self.list.load(Ordering::Acquire, &guard).as_ref() {
            Some(List::Many(tree)) if tree.remove_sync(pk) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
            Some(List::Few(keys)) => {
                if let Ok(at) = keys.binary_search(pk) {
                    let mut keys = keys.clone();
                    keys.remove(at);
                    self.replace(List::Few(keys));
                    self.len.fetch_sub(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
        self.len.load(Ordering::Relaxed)
    }

    /// Publishes `list`; readers still holding the old one keep it until their guards drop.
    fn replace(&self, list: List<P>) {
        let (old, _) = self
            .list
            .swap((Some(Shared::new(list)), scc::Tag::None), Ordering::AcqRel);
        drop(old);
    }

    /// Appends the keys, in order (or reversed), to `out` until it holds `limit` keys.
    pub(super) fn collect(&self, reverse: bool, limit: usize, out: &mut Vec<P>) {
        let guard = Guard::new();
        let room = limit.saturating_sub(out.len());
        match self.list.load(Ordering::Acquire, &guard).as_ref() {
            Some(List::Few(keys)) if reverse => out.extend(keys.iter().rev().take(room).cloned()),
            Some(List::Few(keys)) => out.extend(keys.iter().take(room).cloned()),
            Some(List::Many(tree)) if reverse => {
                out.extend(tree.iter(&guard).rev().take(room).map(|(k, ())| k.clone()))
            }
            Some(List::Many(tree)) => {
                out.extend(tree.iter(&guard).take(room).map(|(k, ())| k.clone()))
            }
            None => {}
        }
    }
}
