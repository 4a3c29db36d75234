//! Damaged files of a durable table. The directory: a checkpoint of 30 rows, then log
//! segments (small ones) holding 20 later writes, each synced before the next was made,
//! all flushed, and the table dropped without a shutdown, so the log after the
//! checkpoint stays. Every byte of every file is flipped (xor 0x01, 0x80 and 0xFF),
//! every file is cut at every length, and every file is deleted; each damaged copy is
//! opened. The rule enforced, from FORMAT.md §8:
//!
//! * damage inside the **last frame of the last segment** (a flip there, or a cut of the
//!   last segment after its header) cannot be told from a write torn by a crash, so it is
//!   cut as a torn tail: the table must open exactly as it was after the last whole frame
//!   before the damage — a prefix of the acknowledged history at a frame boundary — or,
//!   when that prefix ends before the checkpoint, the open must fail;
//! * anywhere else, the open returns `WorkTableError::Persist` or exactly the acknowledged
//!   table.
//!
//! "Exactly" means the same rows, every unique-index lookup agreeing, and the durable
//! sequence number of that state. Never a panic, a hang, or another set of rows.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use worktable::persist::{CrashMode, MemoryStorage};
use worktable::prelude::*;

worktable!(
    name: Ledger,
    persist: true,
    columns: {
        id: u64 primary_key,
        name: String,
        balance: i64,
    },
    indexes: { name_idx: name unique },
);

/// Longer than any open takes on a loaded machine; reaching it means a hang.
const HANG: Duration = Duration::from_secs(60);

/// The file header's length (FORMAT.md §2).
const HEADER: usize = 48;

fn config() -> PersistConfig {
    PersistConfig {
        durability: Durability::Sync,
        segment_bytes: 512,
        ..PersistConfig::default()
    }
}

fn row(id: u64, version: i64) -> LedgerRow {
    LedgerRow {
        id,
        name: format!("row-{id}"),
        balance: i64::try_from(id).expect("small ids") * 1000 + version,
    }
}

/// Every key the fixture uses.
const IDS: std::ops::Range<u64> = 0..36;

async fn within<T>(what: &str, step: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, step).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {HANG:?} (a hang)"),
    }
}

/// Drops the last handle (it blocks while it syncs) off the runtime's threads.
async fn drop_table(what: &str, table: LedgerWorkTable) {
    within(what, tokio::task::spawn_blocking(move || drop(table)))
        .await
        .unwrap_or_else(|e| panic!("{what}: dropping the table panicked: {e}"));
}

/// One frame of the last segment (FORMAT.md §5).
#[derive(Debug, Clone, Copy)]
struct Frame {
    start: usize,
    end: usize,
    first_seq: u64,
    last_seq: u64,
}

/// The directory, and what was written into it.
struct Fixture {
    disk: MemoryStorage,
    /// Every write, in commit order: write `i` has sequence number `i + 1`.
    history: Vec<(u64, Option<LedgerRow>)>,
    checkpoint_seq: u64,
    last_segment: String,
    /// The last segment's base: the sequence number before its first frame.
    base: u64,
    frames: Vec<Frame>,
}

impl Fixture {
    fn state_at(&self, seq: u64) -> BTreeMap<u64, LedgerRow> {
        let mut rows = BTreeMap::new();
        for (id, row) in self.history.iter().take(seq as usize) {
            match row {
                Some(row) => rows.insert(*id, row.clone()),
                None => rows.remove(id),
            };
        }
        rows
    }

    fn last(&self) -> u64 {
        self.history.len() as u64
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

async fn fixture() -> Fixture {
    let disk = MemoryStorage::new();
    let table = LedgerWorkTable::open_storage(disk.clone(), config())
        .await
        .expect("open");
    let mut history = Vec::new();
    for id in 0..30 {
        table.insert(row(id, 0)).await.expect("insert");
        history.push((id, Some(row(id, 0))));
    }
    table.checkpoint().await.expect("checkpoint");
    for id in 0..8 {
        table.update(row(id, 1)).await.expect("update");
        history.push((id, Some(row(id, 1))));
    }
    for id in 8..14 {
        table.delete(id).await.expect("delete");
        history.push((id, None));
    }
    for id in 30..36 {
        table.insert(row(id, 0)).await.expect("insert");
        history.push((id, Some(row(id, 0))));
    }
    table.flush().await.expect("flush");
    assert_eq!(table.durable_seq(), history.len() as u64);
    // Dropped without a shutdown: no checkpoint at the end, the log after it stays.
    drop_table("the fixture", table).await;

    let files = disk.file_names();
    let checkpoints: Vec<_> = files.iter().filter(|f| f.ends_with(".ckpt")).collect();
    assert_eq!(checkpoints.len(), 1, "{files:?}");
    let checkpoint = disk.read(checkpoints[0]).expect("the checkpoint");
    let checkpoint_seq = u64_at(&checkpoint, 24);
    assert_eq!(checkpoint_seq, 30, "the checkpoint's sequence number");
    let segments: Vec<_> = files.iter().filter(|f| f.ends_with(".log")).collect();
    assert!(segments.len() >= 3, "several segments: {files:?}");
    // File numbers are zero-padded: the last segment sorts last.
    let last_segment = segments.last().copied().expect("a segment").clone();
    let bytes = disk.read(&last_segment).expect("the last segment");
    let base = u64_at(&bytes, 24);
    let mut frames = Vec::new();
    let mut at = HEADER;
    while at < bytes.len() {
        assert_eq!(&bytes[at..at + 4], b"WTFR", "a frame at {at}");
        let body = u32_at(&bytes, at + 4) as usize;
        let first_seq = u64_at(&bytes, at + 8);
        let count = u64::from(u32_at(&bytes, at + 24));
        let end = at + 32 + body + 16;
        frames.push(Frame {
            start: at,
            end,
            first_seq,
            last_seq: first_seq + count - 1,
        });
        at = end;
    }
    assert_eq!(at, bytes.len(), "frames fill {last_segment}");
    assert!(frames.len() >= 2, "{frames:?}");
    assert_eq!(
        frames.last().map(|f| f.last_seq),
        Some(history.len() as u64)
    );
    Fixture {
        disk,
        history,
        checkpoint_seq,
        last_segment,
        base,
        frames,
    }
}

/// What opening a damaged copy must give.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A persistence error, or exactly the acknowledged table.
    ErrorOrExact,
    /// Exactly the table after this sequence number (a torn tail was cut).
    Prefix(u64),
    /// A persistence error.
    Error,
}

/// What an open gave, for the counts.
#[derive(Debug, Default)]
struct Tally {
    errors: usize,
    exact: usize,
    prefixes: usize,
}

/// Opens `disk` and checks the result against `expect`; `what` names the damage.
async fn check(f: &Fixture, disk: MemoryStorage, expect: Expect, what: &str, tally: &mut Tally) {
    let opened = within(what, LedgerWorkTable::open_storage(disk, config())).await;
    let table = match (opened, expect) {
        (Err(WorkTableError::Persist(_)), Expect::Error | Expect::ErrorOrExact) => {
            tally.errors += 1;
            return;
        }
        (Err(e), _) => panic!("{what}: expected {expect:?}, the open gave {e:?}"),
        (Ok(table), _) => table,
    };
    let seq = match expect {
        Expect::Error => panic!(
            "{what}: expected an error, the open gave {} rows through {}",
            table.count(),
            table.durable_seq()
        ),
        Expect::ErrorOrExact => {
            tally.exact += 1;
            f.last()
        }
        Expect::Prefix(seq) => {
            tally.prefixes += 1;
            seq
        }
    };
    let want = f.state_at(seq);
    let got: BTreeMap<u64, LedgerRow> = table
        .select_all()
        .execute()
        .expect("a plain scan")
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    assert!(
        got == want,
        "{what}: expected the table through {seq} ({expect:?}), got other rows\n\
         got: {got:?}\nwant: {want:?}"
    );
    assert_eq!(
        table.durable_seq(),
        seq,
        "{what}: the durable sequence number"
    );
    for id in IDS {
        assert_eq!(
            table.select_by_name(format!("row-{id}")),
            want.get(&id).cloned(),
            "{what}: the unique index disagrees for row-{id}"
        );
    }
    drop_table(what, table).await;
}

/// The fixture's disk with `file` replaced by `content`.
fn damaged(f: &Fixture, file: &str, content: &[u8]) -> MemoryStorage {
    let disk = f.disk.snapshot().image(CrashMode::KeepWritten);
    disk.write(file, content);
    disk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_undamaged_directory_opens_exactly() {
    let f = fixture().await;
    let mut tally = Tally::default();
    let disk = f.disk.snapshot().image(CrashMode::KeepWritten);
    check(&f, disk, Expect::Prefix(f.last()), "undamaged", &mut tally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flipped_byte_is_an_error_the_exact_table_or_a_cut_last_frame() {
    let started = Instant::now();
    let f = fixture().await;
    let last_frame = *f.frames.last().expect("frames");
    let mut tally = Tally::default();
    let mut bytes_total = 0;
    for file in f.disk.file_names() {
        let bytes = f.disk.read(&file).expect("listed");
        bytes_total += bytes.len();
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut content = bytes.clone();
                content[i] ^= mask;
                let expect = if file == f.last_segment && i >= last_frame.start {
                    Expect::Prefix(last_frame.first_seq - 1)
                } else {
                    Expect::ErrorOrExact
                };
                let what = format!("{file} byte {i} ^ {mask:#04x}");
                check(&f, damaged(&f, &file, &content), expect, &what, &mut tally).await;
            }
        }
    }
    println!(
        "{:?}, {bytes_total} bytes, 3 masks: {tally:?} in {:?}",
        f.disk.file_names(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_truncation_is_an_error_the_exact_table_or_a_shorter_last_segment() {
    let started = Instant::now();
    let f = fixture().await;
    let mut tally = Tally::default();
    for file in f.disk.file_names() {
        let bytes = f.disk.read(&file).expect("listed");
        for len in 0..bytes.len() {
            let expect = if file == f.last_segment && len >= HEADER {
                // Whole frames before the cut survive; the rest is a torn tail.
                let last = f
                    .frames
                    .iter()
                    .filter(|frame| frame.end <= len)
                    .map(|frame| frame.last_seq)
                    .max()
                    .unwrap_or(f.base);
                if last < f.checkpoint_seq {
                    Expect::Error
                } else {
                    Expect::Prefix(last)
                }
            } else {
                Expect::ErrorOrExact
            };
            let what = format!("{file} cut to {len} bytes");
            check(
                &f,
                damaged(&f, &file, &bytes[..len]),
                expect,
                &what,
                &mut tally,
            )
            .await;
        }
    }
    println!("truncations: {tally:?} in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_is_an_error_or_the_exact_table() {
    let f = fixture().await;
    let mut tally = Tally::default();
    for file in f.disk.file_names() {
        let disk = f.disk.snapshot().image(CrashMode::KeepWritten);
        disk.delete(&file);
        let what = format!("{file} deleted");
        check(&f, disk, Expect::ErrorOrExact, &what, &mut tally).await;
    }
    println!("deletions: {tally:?}");
}
