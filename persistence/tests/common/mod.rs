//! Shared by the integration tests: a deterministic workload of commit groups, the model
//! state it produces, and a recovery that collects (and checks the alignment of)
//! everything handed out.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use worktable_persistence::{
    ColumnDescription, Dir, IndexDescription, OperationKind, Options, PersistError, Record,
    RecoveryStats, SchemaDescription, Storage,
};

pub fn schema() -> SchemaDescription {
    SchemaDescription {
        table: "Test".into(),
        columns: vec![
            ColumnDescription {
                name: "id".into(),
                ty: "u64".into(),
                optional: false,
                autoincrement: true,
            },
            ColumnDescription {
                name: "another".into(),
                ty: "u64".into(),
                optional: true,
                autoincrement: false,
            },
            ColumnDescription {
                name: "exchange".into(),
                ty: "String".into(),
                optional: false,
                autoincrement: false,
            },
        ],
        primary_key: vec!["id".into()],
        indexes: vec![IndexDescription {
            name: "exchange_idx".into(),
            columns: vec!["exchange".into()],
            unique: false,
        }],
    }
}

/// An owned record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub seq: u64,
    pub kind: OperationKind,
    pub pk: Vec<u8>,
    pub row: Option<Vec<u8>>,
}

impl Op {
    pub fn record(&self) -> Record<'_> {
        Record {
            seq: self.seq,
            kind: self.kind,
            pk: &self.pk,
            row: self.row.as_deref(),
        }
    }

    pub fn from_record(r: &Record<'_>) -> Op {
        Op {
            seq: r.seq,
            kind: r.kind,
            pk: r.pk.to_vec(),
            row: r.row.map(<[u8]>::to_vec),
        }
    }
}

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Commit groups over a small key space: inserts, updates and deletes, rows of 0 to 60
/// bytes, groups of 1 to `max_group` records.
pub fn groups(seed: u64, count: usize, max_group: u64) -> Vec<Vec<Op>> {
    let mut rng = Rng(seed);
    let mut live = BTreeSet::new();
    let mut seq = 0;
    let mut out = Vec::new();
    for _ in 0..count {
        let n = 1 + rng.below(max_group);
        let mut g = Vec::new();
        for _ in 0..n {
            seq += 1;
            let key = rng.below(12);
            let pk = format!("key-{key:02}").into_bytes();
            let len = rng.below(61) as usize;
            let row: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
            let kind = if live.contains(&key) {
                if rng.below(3) == 0 {
                    OperationKind::Delete
                } else {
                    OperationKind::Update
                }
            } else {
                OperationKind::Insert
            };
            if kind == OperationKind::Delete {
                live.remove(&key);
            } else {
                live.insert(key);
            }
            g.push(Op {
                seq,
                kind,
                pk,
                row: (kind != OperationKind::Delete).then_some(row),
            });
        }
        out.push(g);
    }
    out
}

pub type State = BTreeMap<Vec<u8>, Vec<u8>>;

pub fn apply(state: &mut State, op: &Op) {
    match &op.row {
        Some(row) => {
            state.insert(op.pk.clone(), row.clone());
        }
        None => {
            state.remove(&op.pk);
        }
    }
}

/// The state after every operation up to and including `seq`.
pub fn state_at(groups: &[Vec<Op>], seq: u64) -> State {
    let mut s = State::new();
    for op in groups.iter().flatten().filter(|op| op.seq <= seq) {
        apply(&mut s, op);
    }
    s
}

/// The sequence numbers that end a group (0 for the empty prefix).
pub fn boundaries(groups: &[Vec<Op>]) -> BTreeSet<u64> {
    let mut b: BTreeSet<u64> = groups
        .iter()
        .filter_map(|g| g.last().map(|op| op.seq))
        .collect();
    b.insert(0);
    b
}

pub fn refs(group: &[Op]) -> Vec<Record<'_>> {
    group.iter().map(Op::record).collect()
}

/// Everything a recovery handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub checkpoint_seq: u64,
    pub rows: Vec<(Vec<u8>, Vec<u8>)>,
    pub records: Vec<Op>,
    pub stats: RecoveryStats,
}

impl Recovered {
    pub fn last_seq(&self) -> u64 {
        self.stats.last_seq
    }

    /// The checkpoint's rows with the records redone over them.
    pub fn state(&self) -> State {
        let mut s: State = self.rows.iter().cloned().collect();
        for op in &self.records {
            apply(&mut s, op);
        }
        s
    }
}

fn aligned(bytes: &[u8]) -> bool {
    bytes.is_empty() || (bytes.as_ptr() as usize).is_multiple_of(16)
}

/// Opens and recovers, collecting everything. Panics if a slice handed out is not
/// 16-byte aligned or the rows are not in the order they were written (key order).
pub fn recover<S: Storage + 'static>(
    storage: S,
    options: Options,
) -> Result<(Dir, Recovered), PersistError> {
    let mut rec = Dir::open(storage, &schema(), options)?;
    let checkpoint_seq = rec.checkpoint_seq();
    let mut rows = Vec::new();
    while let Some(r) = rec.next_row()? {
        assert!(
            aligned(r.pk) && aligned(r.row),
            "checkpoint slices are 16-byte aligned"
        );
        rows.push((r.pk.to_vec(), r.row.to_vec()));
    }
    assert!(
        rows.windows(2).all(|w| w[0].0 < w[1].0),
        "rows come back in key order"
    );
    let mut records = Vec::new();
    while let Some(r) = rec.next_record()? {
        assert!(
            aligned(r.pk) && r.row.is_none_or(aligned),
            "record slices are 16-byte aligned"
        );
        records.push(Op::from_record(&r));
    }
    let (dir, stats) = rec.finish()?;
    Ok((
        dir,
        Recovered {
            checkpoint_seq,
            rows,
            records,
            stats,
        },
    ))
}

/// Checks a recovery against the workload: it ends at a group boundary at or after
/// `acked` and at or before `appended`, its records are exactly the workload's after
/// the checkpoint, and its state is the workload's state at its end.
pub fn check_prefix(groups: &[Vec<Op>], got: &Recovered, acked: u64, appended: u64) {
    let last = got.last_seq();
    assert!(
        boundaries(groups).contains(&last),
        "recovered to {last}, inside a group"
    );
    assert!(
        last >= acked,
        "lost acknowledged groups: recovered {last}, acked {acked}"
    );
    assert!(
        last <= appended,
        "recovered {last}, more than was appended ({appended})"
    );
    let expected: Vec<Op> = groups
        .iter()
        .flatten()
        .filter(|op| op.seq > got.checkpoint_seq && op.seq <= last)
        .cloned()
        .collect();
    assert_eq!(got.records, expected, "records after the checkpoint");
    assert_eq!(got.state(), state_at(groups, last), "state at {last}");
}

/// How many extra rounds the opt-in soak runs (`WORKTABLE_PERSIST_SOAK=N`, default 0).
pub fn soak() -> u64 {
    std::env::var("WORKTABLE_PERSIST_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Options that make a small workload roll segments over and write several blocks.
pub fn small_options() -> Options {
    Options::default()
        .segment_size(400)
        .checkpoint_block_size(64)
}

/// What a workload run got to before it stopped.
#[derive(Debug)]
pub struct Run {
    /// The last sequence number a successful `sync` (or checkpoint) reported durable.
    pub acked: u64,
    /// The last sequence number passed to `append_group`, successfully or not.
    pub attempted: u64,
    /// The directory, if the open got that far.
    pub dir: Option<Dir>,
    /// The error that stopped it.
    pub error: Option<PersistError>,
}

/// Opens, then appends `groups`, syncing after every second one, with a checkpoint
/// after the 5th group and a fuzzy one (one group appended during the scan) after the
/// 10th, and a final sync. Stops at the first error.
pub fn run_workload(storage: MemoryStorage, groups: &[Vec<Op>], options: Options) -> Run {
    let mut run = Run {
        acked: 0,
        attempted: 0,
        dir: None,
        error: None,
    };
    run.error = drive(&mut run, storage, groups, options).err();
    run
}

fn drive(
    run: &mut Run,
    storage: MemoryStorage,
    groups: &[Vec<Op>],
    options: Options,
) -> Result<(), PersistError> {
    let (dir, _) = recover(storage, options)?;
    let dir = run.dir.insert(dir);
    let mut i = 0;
    while i < groups.len() {
        let g = &groups[i];
        run.attempted = g.last().map_or(run.attempted, |op| op.seq);
        dir.append_group(&refs(g))?;
        if i % 2 == 1 {
            run.acked = dir.sync()?;
        }
        if i == 4 || i == 9 {
            let s = dir.last_seq();
            let mut w = dir.begin_checkpoint(s)?;
            let mut end = s;
            if i == 9 && i + 1 < groups.len() {
                i += 1;
                let g = &groups[i];
                run.attempted = g.last().map_or(run.attempted, |op| op.seq);
                dir.append_group(&refs(g))?;
                end = dir.last_seq();
            }
            for (pk, row) in state_at(groups, end) {
                w.push(&pk, &row)?;
            }
            dir.finish_checkpoint(w, end)?;
            run.acked = dir.durable_seq();
        }
        i += 1;
    }
    run.acked = dir.sync()?;
    Ok(())
}

pub use worktable_persistence::{CrashMode, MemoryStorage};

/// The crash modes every crash point is checked with: nothing unsynced kept, all of it
/// kept, `seeds` seeded choices of torn prefixes and as many of out-of-order writeback.
pub fn crash_modes(seeds: u64) -> Vec<CrashMode> {
    let mut modes = vec![CrashMode::LoseUnsynced, CrashMode::KeepWritten];
    modes.extend((0..seeds).map(|seed| CrashMode::Torn { seed }));
    modes.extend((0..seeds).map(|seed| CrashMode::Reordered { seed }));
    modes
}
