//! The storage trait: every byte this crate reads or writes goes through it.
//!
//! A [`Storage`] is one flat directory of named files. [`FsStorage`] is the real file
//! system; [`MemoryStorage`] is an in-memory disk for tests that keeps what was written
//! apart from what was synced, can be crashed at any sync point (dropping or tearing
//! unsynced writes) and can fail any call.
//!
//! What the format's crash safety assumes of an implementation (and what `FsStorage`
//! gets from a POSIX file system):
//! * [`StorageFile::sync`] makes every byte appended (and every truncation) before it
//!   durable, together with the file's length.
//! * [`Storage::sync_dir`] makes every create, rename and remove before it durable.
//!   Until then a crash may undo any suffix of them (in order).
//! * [`Storage::rename`] replaces the target atomically.
//! * Unsynced appends may survive a crash in part: a prefix, possibly followed by
//!   zeros up to a longer length. Appends into zeros a file holds after
//!   [`StorageFile::preallocate`] may survive in any part: each of their disk blocks
//!   written or still zero.

mod fs;
mod memory;

use std::fmt;
use std::io;

pub use fs::FsStorage;
pub use memory::{CrashMode, CrashSnapshot, MemoryStorage};

/// A directory of files. Names are plain file names without separators.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Takes the directory's exclusive lock, held until the returned guard is dropped.
    /// If someone else holds it: an error of kind [`io::ErrorKind::WouldBlock`].
    fn lock(&self) -> io::Result<Box<dyn StorageLock>>;
    /// The names of the files in the directory, in no particular order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Opens an existing file for reading and appending.
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;
    /// Creates a file (truncating one of that name) for reading and appending.
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>>;
    /// Renames `from` to `to`, atomically replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    fn sync_dir(&self) -> io::Result<()>;
}

/// A shared storage is a storage: one directory can be handed to [`crate::Dir::open`]
/// again after a handle was dropped (a table reopens it after a restart).
impl<T: Storage + ?Sized> Storage for std::sync::Arc<T> {
    fn lock(&self) -> io::Result<Box<dyn StorageLock>> {
        (**self).lock()
    }
    fn list(&self) -> io::Result<Vec<String>> {
        (**self).list()
    }
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        (**self).open(name)
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        (**self).create(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        (**self).rename(from, to)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        (**self).remove(name)
    }
    fn sync_dir(&self) -> io::Result<()> {
        (**self).sync_dir()
    }
}

/// An open file.
#[expect(
    clippy::len_without_is_empty,
    reason = "a file's length is a storage call, emptiness is never asked"
)]
pub trait StorageFile: Send + fmt::Debug {
    /// The file's current length (including unsynced appends).
    fn len(&mut self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; an error if the file ends first.
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Appends `data` (one write) after the last byte appended: the end of the file, or,
    /// after [`Self::preallocate`], the start of the zeros it wrote.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Cuts the file to `len` bytes; appends go on from there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file at least `len` bytes long by writing zeros after its last byte
    /// appended, and syncs them; appends then overwrite those zeros. A sync that covers
    /// such appends writes only them: the file's length and blocks are already on disk,
    /// which makes it about half as long as the sync of an append that grows the file.
    /// The zeros count in [`Self::len`]; readers must take a run of zeros at the end
    /// for unwritten space. An implementation may do nothing.
    fn preallocate(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file's data and length durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// A held directory lock; dropping it releases the lock.
pub trait StorageLock: Send + fmt::Debug {}
