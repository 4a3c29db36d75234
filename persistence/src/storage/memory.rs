//! An in-memory disk for tests: written and synced bytes kept apart, crashes at any sync
//! point, faults at any call.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Storage, StorageFile, StorageLock};

/// An in-memory [`Storage`] for tests. Cloning it gives another handle to the same disk.
///
/// It keeps, for every file, the bytes a reader sees and the bytes that were synced, and
/// for the directory, the entries that exist and the entries that were synced. A
/// [`CrashSnapshot`] of it becomes, through [`CrashSnapshot::image`], the disk a machine
/// would find after losing power at that moment.
///
/// Every call of the [`Storage`] and [`StorageFile`] traits is counted
/// ([`Self::calls`]); syncs (of files and of the directory) are also counted on their own
/// ([`Self::syncs`]). [`Self::fail_call`] makes one call fail (an append then writes half
/// its bytes first), and [`Self::crash_at_sync`] captures a snapshot at one sync point
/// (before that sync takes effect) and makes every later call fail, as if the process
/// died there.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    shared: Arc<Mutex<Shared>>,
}

/// How a crash treats what was written but not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Power loss that keeps nothing unsynced.
    LoseUnsynced,
    /// A process crash: the OS keeps everything written.
    KeepWritten,
    /// Power loss that keeps, for every file and for the directory, a prefix of the
    /// unsynced operations chosen from `seed`, the last kept append possibly torn (a
    /// prefix of its bytes, possibly followed by zeros up to its full length).
    Torn {
        /// Seed of the choices.
        seed: u64,
    },
    /// Power loss after out-of-order writeback: every unsynced append of a file is kept
    /// whole, lost (zeros) or torn, independently, so a later append can survive an
    /// earlier one; the file is as long as its last surviving byte, or its full length.
    /// (Directory operations and files with an unsynced truncation keep a prefix, as in
    /// `Torn`.)
    Reordered {
        /// Seed of the choices.
        seed: u64,
    },
}

/// The disk as it was at one moment; [`Self::image`] turns it into a crashed disk.
#[derive(Clone)]
pub struct CrashSnapshot {
    disk: Disk,
}

#[derive(Default)]
struct Shared {
    disk: Disk,
    calls: u64,
    syncs: u64,
    fail_at: Option<u64>,
    crash_at_sync: Option<u64>,
    snapshot: Option<Disk>,
    dead: bool,
}

#[derive(Clone, Default)]
struct Disk {
    inodes: BTreeMap<u64, Inode>,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
    pending_dir: Vec<DirOp>,
    next_inode: u64,
    locked: bool,
}

#[derive(Clone, Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<FileOp>,
    /// Open handles: an unlinked file stays readable through them, as on POSIX.
    handles: usize,
}

#[derive(Clone)]
enum FileOp {
    Append(Vec<u8>),
    Truncate(usize),
}

#[derive(Clone)]
enum DirOp {
    Link(String, u64),
    Rename(String, String),
    Unlink(String),
}

/// What [`Shared::enter`] decided for one call.
enum Verdict {
    Proceed,
    Fail,
}

fn injected() -> io::Error {
    io::Error::other("injected fault")
}

fn dead() -> io::Error {
    io::Error::other("simulated crash: the process is gone")
}

impl Shared {
    fn enter(&mut self, is_sync: bool) -> io::Result<Verdict> {
        if self.dead {
            return Err(dead());
        }
        self.calls += 1;
        if is_sync {
            self.syncs += 1;
            if self.crash_at_sync == Some(self.syncs) {
                self.snapshot = Some(self.disk.clone());
                self.dead = true;
                return Err(dead());
            }
        }
        Ok(if self.fail_at == Some(self.calls) {
            Verdict::Fail
        } else {
            Verdict::Proceed
        })
    }
}

impl Disk {
    fn inode(&mut self, id: u64) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&id)
            .ok_or_else(|| io::Error::other("memory storage: unknown inode"))
    }

    /// Forgets the files no name, durable name, pending link or open handle reaches:
    /// removed files are gone once nothing, not even a crash, can bring them back.
    fn collect(&mut self) {
        let mut reached: std::collections::BTreeSet<u64> = self
            .names
            .values()
            .chain(self.durable_names.values())
            .copied()
            .collect();
        reached.extend(self.pending_dir.iter().filter_map(|op| match op {
            DirOp::Link(_, id) => Some(*id),
            DirOp::Rename(..) | DirOp::Unlink(_) => None,
        }));
        self.inodes
            .retain(|id, inode| inode.handles > 0 || reached.contains(id));
    }

    /// A handle to inode `id` is made.
    fn opened(&mut self, id: u64) -> io::Result<u64> {
        self.inode(id)?.handles += 1;
        Ok(id)
    }

    fn lookup(&self, name: &str) -> io::Result<u64> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))
    }
}

/// A small deterministic generator (splitmix64) for crash choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..=n`.
    fn up_to(&mut self, n: usize) -> usize {
        let n = n as u64;
        usize::try_from(self.next() % (n + 1)).unwrap_or(0)
    }
}

impl CrashSnapshot {
    /// The disk a machine would find after crashing at this snapshot's moment.
    pub fn image(&self, mode: CrashMode) -> MemoryStorage {
        let mut rng = Choices(match mode {
            CrashMode::Torn { seed } | CrashMode::Reordered { seed } => seed,
            _ => 0,
        });
        let keep = |n: usize, rng: &mut Choices| match mode {
            CrashMode::LoseUnsynced => 0,
            CrashMode::KeepWritten => n,
            CrashMode::Torn { .. } | CrashMode::Reordered { .. } => rng.up_to(n),
        };
        let src = &self.disk;
        let mut names = src.durable_names.clone();
        let kept_dir = keep(src.pending_dir.len(), &mut rng);
        for op in src.pending_dir.iter().take(kept_dir) {
            match op {
                DirOp::Link(name, id) => {
                    names.insert(name.clone(), *id);
                }
                DirOp::Rename(from, to) => {
                    if let Some(id) = names.remove(from) {
                        names.insert(to.clone(), id);
                    }
                }
                DirOp::Unlink(name) => {
                    names.remove(name);
                }
            }
        }
        let mut inodes = BTreeMap::new();
        for (id, inode) in &src.inodes {
            let only_appends = inode
                .pending
                .iter()
                .all(|op| matches!(op, FileOp::Append(_)));
            if let (CrashMode::Reordered { .. }, true) = (mode, only_appends) {
                let data = reordered(&inode.durable, &inode.pending, &mut rng);
                inodes.insert(
                    *id,
                    Inode {
                        durable: data.clone(),
                        data,
                        pending: Vec::new(),
                        handles: 0,
                    },
                );
                continue;
            }
            let mut data = inode.durable.clone();
            let kept = keep(inode.pending.len(), &mut rng);
            for op in inode.pending.iter().take(kept) {
                match op {
                    FileOp::Append(bytes) => data.extend_from_slice(bytes),
                    FileOp::Truncate(len) => data.truncate(*len),
                }
            }
            if let (
                CrashMode::Torn { .. } | CrashMode::Reordered { .. },
                Some(FileOp::Append(bytes)),
            ) = (mode, inode.pending.get(kept))
            {
                let cut = rng.up_to(bytes.len());
                data.extend_from_slice(bytes.get(..cut).unwrap_or_default());
                if rng.next().is_multiple_of(2) {
                    data.resize(data.len() + (bytes.len() - cut), 0);
                }
            }
            inodes.insert(
                *id,
                Inode {
                    durable: data.clone(),
                    data,
                    pending: Vec::new(),
                    handles: 0,
                },
            );
        }
        inodes.retain(|id, _| names.values().any(|n| n == id));
        let disk = Disk {
            inodes,
            durable_names: names.clone(),
            names,
            pending_dir: Vec::new(),
            next_inode: src.next_inode,
            locked: false,
        };
        MemoryStorage {
            shared: Arc::new(Mutex::new(Shared {
                disk,
                ..Shared::default()
            })),
        }
    }
}

/// A file after out-of-order writeback of its unsynced appends (see
/// [`CrashMode::Reordered`]).
fn reordered(durable: &[u8], appends: &[FileOp], rng: &mut Choices) -> Vec<u8> {
    let mut data = durable.to_vec();
    let mut surviving_end = data.len();
    for op in appends {
        let FileOp::Append(bytes) = op else { continue };
        let start = data.len();
        let kept = match rng.next() % 3 {
            0 => bytes.len(),
            1 => 0,
            _ => rng.up_to(bytes.len()),
        };
        data.extend_from_slice(bytes.get(..kept).unwrap_or_default());
        data.resize(start + bytes.len(), 0);
        if kept > 0 {
            surviving_end = start + kept;
        }
    }
    if rng.next().is_multiple_of(2) {
        data.truncate(surviving_end);
    }
    data
}

impl MemoryStorage {
    /// An empty disk.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves the disk consistent (every change is one
        // assignment), so a poisoned lock is taken over.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many storage calls were made so far.
    pub fn calls(&self) -> u64 {
        self.shared().calls
    }

    /// How many sync calls (file and directory) were made so far.
    pub fn syncs(&self) -> u64 {
        self.shared().syncs
    }

    /// Makes call number `n` (counting every call since the disk was made, from 1) fail.
    /// An append that fails writes the first half of its bytes.
    pub fn fail_call(&self, n: u64) {
        self.shared().fail_at = Some(n);
    }

    /// At sync number `n` (counting from 1), before it takes effect, captures a
    /// [`CrashSnapshot`] and fails that call and every later one.
    pub fn crash_at_sync(&self, n: u64) {
        self.shared().crash_at_sync = Some(n);
    }

    /// The snapshot taken by [`Self::crash_at_sync`], if that sync point was reached.
    pub fn crash_snapshot(&self) -> Option<CrashSnapshot> {
        self.shared()
            .snapshot
            .clone()
            .map(|disk| CrashSnapshot { disk })
    }

    /// A snapshot of the disk now.
    pub fn snapshot(&self) -> CrashSnapshot {
        CrashSnapshot {
            disk: self.shared().disk.clone(),
        }
    }

    /// The names of the files in the directory now, sorted.
    pub fn file_names(&self) -> Vec<String> {
        self.shared().disk.names.keys().cloned().collect()
    }

    /// A file's content as a reader sees it now.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        let shared = self.shared();
        let id = shared.disk.names.get(name)?;
        shared.disk.inodes.get(id).map(|i| i.data.clone())
    }

    /// Replaces a file's content, durably (for corruption tests). Creates the file if
    /// missing.
    pub fn write(&self, name: &str, content: &[u8]) {
        let mut shared = self.shared();
        let disk = &mut shared.disk;
        let id = match disk.names.get(name) {
            Some(id) => *id,
            None => {
                disk.next_inode += 1;
                let id = disk.next_inode;
                disk.names.insert(name.to_owned(), id);
                disk.durable_names.insert(name.to_owned(), id);
                id
            }
        };
        let handles = disk.inodes.get(&id).map_or(0, |inode| inode.handles);
        disk.inodes.insert(
            id,
            Inode {
                data: content.to_vec(),
                durable: content.to_vec(),
                pending: Vec::new(),
                handles,
            },
        );
    }

    /// Removes a file, durably (for tests).
    pub fn delete(&self, name: &str) {
        let mut shared = self.shared();
        shared.disk.names.remove(name);
        shared.disk.durable_names.remove(name);
    }

    /// Whether the directory lock is held.
    pub fn is_locked(&self) -> bool {
        self.shared().disk.locked
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("files", &self.file_names())
            .finish_non_exhaustive()
    }
}

impl Storage for MemoryStorage {
    fn lock(&self) -> io::Result<Box<dyn StorageLock>> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        if shared.disk.locked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        shared.disk.locked = true;
        Ok(Box::new(MemoryLock {
            shared: Arc::clone(&self.shared),
        }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        Ok(shared.disk.names.keys().cloned().collect())
    }

    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let inode = shared.disk.lookup(name)?;
        let inode = shared.disk.opened(inode)?;
        Ok(Box::new(MemoryFile {
            shared: Arc::clone(&self.shared),
            inode,
        }))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let disk = &mut shared.disk;
        let inode = match disk.names.get(name) {
            Some(id) => {
                let id = *id;
                let file = disk.inode(id)?;
                file.data.clear();
                file.pending.push(FileOp::Truncate(0));
                id
            }
            None => {
                disk.next_inode += 1;
                let id = disk.next_inode;
                disk.inodes.insert(id, Inode::default());
                disk.names.insert(name.to_owned(), id);
                disk.pending_dir.push(DirOp::Link(name.to_owned(), id));
                id
            }
        };
        let inode = disk.opened(inode)?;
        Ok(Box::new(MemoryFile {
            shared: Arc::clone(&self.shared),
            inode,
        }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let disk = &mut shared.disk;
        let id = disk.lookup(from)?;
        disk.names.remove(from);
        disk.names.insert(to.to_owned(), id);
        disk.pending_dir
            .push(DirOp::Rename(from.to_owned(), to.to_owned()));
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let disk = &mut shared.disk;
        disk.lookup(name)?;
        disk.names.remove(name);
        disk.pending_dir.push(DirOp::Unlink(name.to_owned()));
        disk.collect();
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(true)? {
            return Err(injected());
        }
        let disk = &mut shared.disk;
        disk.durable_names = disk.names.clone();
        disk.pending_dir.clear();
        disk.collect();
        Ok(())
    }
}

struct MemoryFile {
    shared: Arc<Mutex<Shared>>,
    inode: u64,
}

impl MemoryFile {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        let inode = self.inode;
        let mut shared = self.shared();
        if let Ok(file) = shared.disk.inode(inode) {
            file.handles = file.handles.saturating_sub(1);
            shared.disk.collect();
        }
    }
}

impl fmt::Debug for MemoryFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFile")
            .field("inode", &self.inode)
            .finish_non_exhaustive()
    }
}

impl StorageFile for MemoryFile {
    fn len(&mut self) -> io::Result<u64> {
        let inode = self.inode;
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        Ok(shared.disk.inode(inode)?.data.len() as u64)
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let inode = self.inode;
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let data = &shared.disk.inode(inode)?.data;
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| data.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let inode = self.inode;
        let mut shared = self.shared();
        let verdict = shared.enter(false)?;
        let file = shared.disk.inode(inode)?;
        let written = match verdict {
            Verdict::Proceed => bytes,
            Verdict::Fail => bytes.get(..bytes.len() / 2).unwrap_or_default(),
        };
        file.data.extend_from_slice(written);
        file.pending.push(FileOp::Append(written.to_vec()));
        match verdict {
            Verdict::Proceed => Ok(()),
            Verdict::Fail => Err(injected()),
        }
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let inode = self.inode;
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(false)? {
            return Err(injected());
        }
        let file = shared.disk.inode(inode)?;
        let len = usize::try_from(len).map_err(io::Error::other)?;
        file.data.resize(len, 0);
        file.pending.push(FileOp::Truncate(len));
        Ok(())
    }

    /// Does nothing (a call that can be made to fail): the memory disk's appends always
    /// grow the file. What preallocation changes in a crash, appends surviving in any
    /// part with zeros where they were lost, is what [`CrashMode::Reordered`] makes.
    fn preallocate(&mut self, _len: u64) -> io::Result<()> {
        if let Verdict::Fail = self.shared().enter(false)? {
            return Err(injected());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let inode = self.inode;
        let mut shared = self.shared();
        if let Verdict::Fail = shared.enter(true)? {
            return Err(injected());
        }
        let file = shared.disk.inode(inode)?;
        file.durable = file.data.clone();
        file.pending.clear();
        Ok(())
    }
}

struct MemoryLock {
    shared: Arc<Mutex<Shared>>,
}

impl fmt::Debug for MemoryLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryLock")
    }
}

impl StorageLock for MemoryLock {}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .disk
            .locked = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_synced_are_kept_apart() {
        let s = MemoryStorage::new();
        let mut f = s.create("a").unwrap();
        s.sync_dir().unwrap();
        f.append(b"synced").unwrap();
        f.sync().unwrap();
        f.append(b"+unsynced").unwrap();
        assert_eq!(s.read("a").unwrap(), b"synced+unsynced");
        let snap = s.snapshot();
        assert_eq!(
            snap.image(CrashMode::LoseUnsynced).read("a").unwrap(),
            b"synced"
        );
        assert_eq!(
            snap.image(CrashMode::KeepWritten).read("a").unwrap(),
            b"synced+unsynced"
        );
        for seed in 0..50 {
            let torn = snap.image(CrashMode::Torn { seed }).read("a").unwrap();
            assert!(torn.starts_with(b"synced"));
            assert!(torn.len() <= b"synced+unsynced".len());
            let tail = &torn[6..];
            assert!(
                tail.iter()
                    .zip(b"+unsynced")
                    .all(|(a, b)| a == b || *a == 0)
            );
        }
    }

    #[test]
    fn unsynced_directory_entries_are_lost() {
        let s = MemoryStorage::new();
        let mut f = s.create("a").unwrap();
        f.append(b"x").unwrap();
        f.sync().unwrap();
        let img = s.snapshot().image(CrashMode::LoseUnsynced);
        assert_eq!(
            img.read("a"),
            None,
            "created but the directory was not synced"
        );
        s.sync_dir().unwrap();
        s.rename("a", "b").unwrap();
        let img = s.snapshot().image(CrashMode::LoseUnsynced);
        assert_eq!(img.read("a").unwrap(), b"x");
        assert_eq!(img.read("b"), None);
    }

    #[test]
    fn crash_at_a_sync_stops_the_process() {
        let s = MemoryStorage::new();
        s.crash_at_sync(2);
        let mut f = s.create("a").unwrap();
        f.append(b"1").unwrap();
        f.sync().unwrap();
        f.append(b"2").unwrap();
        assert!(f.sync().is_err());
        assert!(f.append(b"3").is_err());
        let snap = s.crash_snapshot().unwrap();
        assert_eq!(
            snap.image(CrashMode::KeepWritten).read("a").unwrap(),
            b"12",
            "a process crash keeps what was written"
        );
        assert_eq!(
            snap.image(CrashMode::LoseUnsynced).read("a"),
            None,
            "the directory entry was never synced"
        );
    }

    #[test]
    fn a_failed_append_writes_half() {
        let s = MemoryStorage::new();
        let mut f = s.create("a").unwrap();
        s.fail_call(s.calls() + 1);
        assert!(f.append(b"abcd").is_err());
        assert_eq!(s.read("a").unwrap(), b"ab");
        f.append(b"ef").unwrap();
    }

    #[test]
    fn removed_files_are_forgotten_once_nothing_can_bring_them_back() {
        let s = MemoryStorage::new();
        s.create("keep").unwrap().append(b"k").unwrap();
        s.sync_dir().unwrap();
        for round in 0..100u8 {
            let name = format!("f{round}");
            let mut f = s.create(&name).unwrap();
            f.append(&[round; 1000]).unwrap();
            f.sync().unwrap();
            s.sync_dir().unwrap();
            let mut reader = s.open(&name).unwrap();
            s.remove(&name).unwrap();
            let mut byte = [0u8; 1];
            reader.read_exact_at(999, &mut byte).unwrap();
            assert_eq!(byte, [round], "an open handle still reads a removed file");
            drop((f, reader));
            assert_eq!(
                s.shared().disk.inodes.len(),
                2,
                "until the removal is synced, a crash could bring the file back"
            );
            s.sync_dir().unwrap();
            assert_eq!(s.shared().disk.inodes.len(), 1, "only `keep` is left");
        }
        assert_eq!(s.read("keep").unwrap(), b"k");
    }

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let s = MemoryStorage::new();
        let guard = s.lock().unwrap();
        assert_eq!(s.lock().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(guard);
        assert!(s.lock().is_ok());
    }
}
