//! The real file system.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Storage, StorageFile, StorageLock};
use crate::format::LOCK;

/// A directory on the real file system, through `std::fs`.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Uses the directory at `root`, creating it (and its parents) if missing.
    pub fn new(root: impl AsRef<Path>) -> io::Result<FsStorage> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            fs::create_dir_all(&root)?;
            if let Some(parent) = root.parent() {
                sync_directory(parent)?;
            }
        }
        Ok(FsStorage { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

#[cfg(unix)]
fn sync_directory(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_path: &Path) -> io::Result<()> {
    // Directories cannot be opened as files here; renames are durable with the file
    // system's own metadata journal.
    Ok(())
}

impl Storage for FsStorage {
    fn lock(&self) -> io::Result<Box<dyn StorageLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path(LOCK))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(FsLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Ok(name) = entry.file_name().into_string()
            {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(name))?;
        let end = file.metadata()?.len();
        Ok(Box::new(FsFile { file, end }))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(name))?;
        drop(file);
        self.open(name)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path(from), self.path(to))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path(name))
    }

    fn sync_dir(&self) -> io::Result<()> {
        sync_directory(&self.root)
    }
}

/// How many zeros [`StorageFile::preallocate`] writes at a time.
const ZEROS_PER_WRITE: usize = 256 << 10;

#[derive(Debug)]
struct FsFile {
    file: File,
    /// Where the next append goes: the file's length, unless zeros were preallocated
    /// beyond it.
    end: u64,
}

impl FsFile {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(data)
    }
}

impl StorageFile for FsFile {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read_exact(buf)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        // Advanced only once the whole write is done: after a failed one the file's end
        // is unknown, and the caller's failure is sticky.
        self.write_at(self.end, data)?;
        self.end += data.len() as u64;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.end = len;
        Ok(())
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let mut at = self.file.metadata()?.len().max(self.end);
        if at >= len {
            return Ok(());
        }
        let zeros = vec![0u8; ZEROS_PER_WRITE];
        while at < len {
            let n = usize::try_from(len - at).map_or(ZEROS_PER_WRITE, |n| n.min(ZEROS_PER_WRITE));
            self.write_at(at, zeros.get(..n).unwrap_or_default())?;
            at += n as u64;
        }
        self.file.sync_data()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[derive(Debug)]
struct FsLock {
    _file: File,
}

impl StorageLock for FsLock {}
