//! Storage primitives of WorkTable: fixed-size pages holding rkyv-encoded row versions,
//! the [`Link`] that addresses one version, the per-shard [`PageWriter`] that allocates
//! and reuses space, epoch-based reclamation of dead versions, the indexes that map keys
//! to rows, and the [`RowStore`] that ties them together behind a safe interface.
//!
//! This is the only crate of WorkTable with `unsafe` code, and everything it relies on is
//! enforced here, by types and by what is private, not by what callers promise: no safe
//! function of this crate reaches a mutator of an index or a page, makes a [`Link`], or
//! reads bytes as a row unless they are a row.
//!
//! # Concurrency contract
//!
//! * **Pages.** A page has one writer at a time: the [`PageWriter`] of the shard that
//!   created it (a shard has at most one writer; [`PageWriter::new`] refuses a second).
//!   A writer writes only slots that no reader can reach: fresh space, or space of a
//!   version that was retired and whose readers are gone. A page's memory goes back to
//!   the allocator only when its writer has emptied it (no new version goes there) and
//!   every slot it handed out of it has come back that way (see [`PageWriter`]).
//! * **Versions.** A published row version is immutable; an update writes a new version
//!   elsewhere. A written version is an [`Unpublished`] token (owned, not `Copy`) until a
//!   [`Committer`] consumes it and links it from the indexes; dropping the token frees its
//!   slot at once. A token is only ever committed into the store of its own pages.
//! * **Links.** Only a [`PageWriter`] makes a [`Link`] (its fields are private, it has no
//!   constructor and no `Default`). Outside this crate a link can be compared and carried,
//!   nothing more: no public function reads a page at a link, frees or retires it, or puts
//!   it in an index.
//! * **Indexes.** Readers take no lock: they pin an epoch ([`Guard`]), look a link up in
//!   an index of a [`RowStore`] and read the version there, all inside the store. Index
//!   mutators are private to this crate; the one writer of a store's indexes is its
//!   [`Committer`], which exists once per store, is not `Clone`, and changes indexes only
//!   through `&mut self`. A store changes and reads links from only the secondary indexes
//!   it claimed when it was made (a unique index carries its store's mark), so an index
//!   made elsewhere, or another table's, never leads a store to a page.
//! * **Reclamation.** A version is retired only by the committer, and only when it has left
//!   the primary index and the committer has itself removed as many unique entries of it
//!   as a row has (see `committer.rs`): a retired version is in no index, whatever the
//!   table's description of its indexes ([`index::IndexSet`]) does. Its space is reused
//!   only after every guard pinned when it was retired has been dropped: the slot is
//!   stamped with the epoch of its retirement and its writer waits for the epoch to move
//!   a generation on (see `reclaim.rs`). A vacuum moves a row by committing a copy of
//!   its current version ([`RowStore::relocate`], [`Committer::relocate`]), which
//!   retires the original like any replaced version.
//! * **Rows.** A page holds only encodings of its row type, written by its writers, so a
//!   version is decoded without validation. A row type whose archive needs an alignment
//!   above [`ROW_ALIGN`] is a compile error (see [`RowFormat`]). Bytes from anywhere else
//!   (a file) are decoded only through [`CheckedRowFormat::decode_checked`], which
//!   validates them first, and are written into a page only through
//!   [`PageWriter::write_checked`], which validates them the same way and then copies
//!   them into a slot as they are: rkyv archives are position-independent and slots are
//!   [`ROW_ALIGN`]-aligned, so they are an encoding of the row type there too.
//!   `CheckedRowFormat` is sealed, so that validation is always rkyv's for the row's own
//!   encoding. A version's bytes can be read back without decoding
//!   ([`RowStore::version_bytes`] for a token, [`RowStore::row_bytes`] for a key), to be
//!   copied into a log or a checkpoint; neither reads at a link of the caller's choosing.
//!
//! This crate knows nothing about actors or tokio.

mod committer;
mod data_pages;
mod error;
pub mod index;
mod link;
mod page;
mod reclaim;
mod release;
mod row;
mod row_store;
mod writer;

pub use committer::{CommitError, Committer, Leaving};
pub use data_pages::{DataPages, StorageStats};
pub use error::PageError;
pub use link::Link;
pub use reclaim::{RECLAIM_EPOCHS, Unpublished};
pub use release::{release_free_memory, release_thread_garbage};
pub use row::{CheckedRowFormat, RowFormat};
pub use row_store::{Relocation, RowChange, RowStore};
pub use scc::Guard;
pub use writer::{PageWriter, WriterUsage};

/// Alignment of every row version inside a page, in bytes. rkyv archives are written
/// from buffers with this alignment, so every slot starts at a multiple of it.
pub const ROW_ALIGN: u32 = 16;

/// The smallest page size a table may declare.
pub const MIN_PAGE_SIZE: u32 = 256;

/// The largest page size a table may declare (1 GiB).
pub const MAX_PAGE_SIZE: u32 = 1 << 30;

/// The page size used when a table does not set one: 64 KiB.
///
/// Measured on a 2-core machine, 200,000 rows of `{u64, u64, String, i64}` inserted,
/// read at random and updated by one task (release build, medians of 2 rounds): 4, 16
/// and 64 KiB pages gave the same times within noise (insert 3.3-3.6 µs, select
/// 0.3-0.4 µs, update 1.6-1.7 µs) and the same 32 page bytes per row. A row is one slice
/// of one page, so page size does not enter the read or write path; the default is chosen
/// for what it allows: rows up to 64 KiB, and 16 pages per MiB of rows.
pub const DEFAULT_PAGE_SIZE: u32 = 64 * 1024;
