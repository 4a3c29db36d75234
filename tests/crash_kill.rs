//! A durable table survives `SIGKILL` at any moment: every write acknowledged under
//! `Durability::Sync` is there after a reopen, nothing that was never written appears,
//! a multi-row batch is all or nothing, the unique index finds every recovered row and no
//! other, and the autoincrement generator continues above every recovered key.
//!
//! Each round re-runs this test binary as a child process (the `crash_child` test, which
//! does nothing unless `WORKTABLE_CRASH_CHILD` names a directory). The child opens the
//! table and writes to it from 16 to 32 tokio tasks of a multi-thread runtime: inserts,
//! updates, upserts, deletes, `insert_many` batches and `checkpoint()` calls, while one
//! more task runs `vacuum()` passes back to back (moving rows out of sparse pages, and
//! taking a checkpoint when the directory has grown past the rows). Every key
//! is written by one task only, one operation at a time, and the child prints each
//! operation on stdout before it starts (`@op <task> <n> …`) and again the moment its
//! future resolved `Ok` (`@ack <task> <n>`). The parent kills the child with `SIGKILL` at
//! a moment picked from a seeded RNG: a few milliseconds after the start or after the
//! child began opening (recovery), after a number of acknowledged writes, or just after a
//! `checkpoint()` began. It then reopens the directory in-process and checks that, for
//! every task, the keys the task touched hold exactly the state after its acknowledged
//! operations, or after one more (the one in flight, which may have committed before
//! its answer reached stdout); keys no task touched are as the previous round left them.
//! Only lines complete when the child died count.
//!
//! The same directory goes on across rounds (the next child recovers what the previous
//! one left and writes more); sometimes a round starts from a fresh directory. Half the
//! children use small log segments and a small checkpoint threshold, so segments roll and
//! background checkpoints run too. After its check the parent closes the table with
//! `shutdown` (a checkpoint) or by dropping it. A reopen that has not finished after two
//! minutes fails the round as a hang; nothing else depends on timing.
//!
//! Run: `cargo test --test crash_kill` (add `-- --nocapture` to see the seed and counts).
//!
//! Environment: `WORKTABLE_CRASH_ROUNDS` sets the number of rounds (50 by default);
//! `WORKTABLE_CRASH_SEED` sets the base seed (taken from the clock otherwise; every
//! failure message names it, the round and the round's seed). Kill moments depend on
//! timing as well as on the seed, so a seed replays the same plan, not the same crash.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use worktable::prelude::*;

worktable!(
    name: Item,
    persist: true,
    columns: {
        id: u64 primary_key autoincrement,
        value: i64,
        tag: String,
        payload: Vec<u8>,
    },
    indexes: { tag_idx: tag unique },
    // Small pages, so deletes leave sparse pages for the vacuum to empty.
    config: { shards: 4, page_size: 4096 },
);

/// Names the child's directory; set only in the child.
const CHILD_DIR: &str = "WORKTABLE_CRASH_CHILD";
/// The child's seed.
const CHILD_SEED: &str = "WORKTABLE_CRASH_CHILD_SEED";
/// The number of rounds.
const ROUNDS: &str = "WORKTABLE_CRASH_ROUNDS";
/// The base seed.
const SEED: &str = "WORKTABLE_CRASH_SEED";
const DEFAULT_ROUNDS: u64 = 50;
/// Operations each child task performs before it stops (if it is not killed first).
const OPS_PER_TASK: usize = 200;
/// A task owning more live keys than this deletes more often than it inserts.
const LIVE_PER_TASK: usize = 40;
/// A child that has not met its kill condition by then is killed anyway.
const KILL_CAP: Duration = Duration::from_secs(10);
/// `SIGKILL`'s number (the same on every Unix).
const SIGKILL: i32 = 9;
/// A reopen that takes longer than this is reported as a hang.
const REOPEN_HANG: Duration = Duration::from_secs(120);

/// A small deterministic RNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The row every write of `value` to key `id` stores: every column follows from the two,
/// so a recovered row is either exactly one that was written or wrong.
fn item(id: u64, value: i64) -> ItemRow {
    let len = value.rem_euclid(120) as usize;
    let byte = (id as u8) ^ (value as u8);
    ItemRow {
        id,
        value,
        tag: format!("{id}/{value}"),
        payload: vec![byte; len],
    }
}

/// A digest of a table's rows, for comparing the child's view of the state it opened
/// with the parent's.
fn digest<'a>(rows: impl IntoIterator<Item = &'a ItemRow>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    };
    for row in rows {
        eat(&row.id.to_le_bytes());
        eat(&row.value.to_le_bytes());
        eat(row.tag.as_bytes());
        eat(&row.payload);
    }
    hash
}

/// One write of a child task, as printed on its `@op` line.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// `insert` of a key fresh from the generator.
    Insert { id: u64, value: i64 },
    /// `insert_many` of keys fresh from the generator.
    Many(Vec<(u64, i64)>),
    /// `update` of a live key.
    Update { id: u64, value: i64 },
    /// `upsert` of a live key or of one fresh from the generator.
    Upsert { id: u64, value: i64 },
    /// `delete` of a live key.
    Delete { id: u64 },
    /// `checkpoint()`.
    Checkpoint,
}

impl Op {
    fn encode(&self) -> String {
        match self {
            Op::Insert { id, value } => format!("insert {id} {value}"),
            Op::Many(rows) => {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|(id, value)| format!("{id}={value}"))
                    .collect();
                format!("many {}", rows.join(","))
            }
            Op::Update { id, value } => format!("update {id} {value}"),
            Op::Upsert { id, value } => format!("upsert {id} {value}"),
            Op::Delete { id } => format!("delete {id}"),
            Op::Checkpoint => "checkpoint".to_string(),
        }
    }

    fn parse(words: &[&str]) -> Option<Op> {
        let pair = |id: &str, value: &str| -> Option<(u64, i64)> {
            Some((id.parse().ok()?, value.parse().ok()?))
        };
        match words {
            ["insert", id, value] => pair(id, value).map(|(id, value)| Op::Insert { id, value }),
            ["update", id, value] => pair(id, value).map(|(id, value)| Op::Update { id, value }),
            ["upsert", id, value] => pair(id, value).map(|(id, value)| Op::Upsert { id, value }),
            ["delete", id] => id.parse().ok().map(|id| Op::Delete { id }),
            ["checkpoint"] => Some(Op::Checkpoint),
            ["many", rows] => rows
                .split(',')
                .map(|row| {
                    let (id, value) = row.split_once('=')?;
                    pair(id, value)
                })
                .collect::<Option<Vec<_>>>()
                .map(Op::Many),
            _ => None,
        }
    }

    /// Every key the operation writes.
    fn keys(&self) -> Vec<u64> {
        match self {
            Op::Insert { id, .. }
            | Op::Update { id, .. }
            | Op::Upsert { id, .. }
            | Op::Delete { id } => vec![*id],
            Op::Many(rows) => rows.iter().map(|(id, _)| *id).collect(),
            Op::Checkpoint => Vec::new(),
        }
    }

    /// The keys the generator handed out for the operation: none may have existed.
    fn fresh_keys(&self) -> Vec<u64> {
        match self {
            Op::Insert { id, .. } => vec![*id],
            Op::Many(rows) => rows.iter().map(|(id, _)| *id).collect(),
            _ => Vec::new(),
        }
    }

    /// The operation's effect on a model of the table.
    fn apply(&self, state: &mut BTreeMap<u64, ItemRow>) {
        match self {
            Op::Insert { id, value } | Op::Update { id, value } | Op::Upsert { id, value } => {
                state.insert(*id, item(*id, *value));
            }
            Op::Many(rows) => {
                for (id, value) in rows {
                    state.insert(*id, item(*id, *value));
                }
            }
            Op::Delete { id } => {
                state.remove(id);
            }
            Op::Checkpoint => {}
        }
    }
}

/// Writes one line to stdout at once, and flushes it.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    // A parent that went away leaves nobody to report to.
    let _ = out.write_all(&bytes).and_then(|()| out.flush());
}

// ---------------------------------------------------------------------------------------
// The child.

/// The child process: a no-op unless `WORKTABLE_CRASH_CHILD` is set.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let seed = std::env::var(CHILD_SEED)
        .ok()
        .and_then(|seed| seed.parse::<u64>().ok())
        .expect("the parent passes a numeric seed");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime for the child");
    runtime.block_on(child(Path::new(&dir), seed));
}

async fn child(dir: &Path, seed: u64) {
    let mut rng = Rng::new(seed);
    // Ends the test harness's "test crash_child ... " line.
    say("");
    let config = if rng.below(2) == 0 {
        PersistConfig {
            durability: Durability::Sync,
            segment_bytes: 32 << 10,
            checkpoint_log_bytes: 128 << 10,
            ..Default::default()
        }
    } else {
        PersistConfig {
            durability: Durability::Sync,
            ..Default::default()
        }
    };
    say("@opening");
    let table = match ItemWorkTable::open_with(dir, config).await {
        Ok(table) => table,
        Err(error) => {
            say(&format!("@fail open: {error}"));
            return;
        }
    };
    let rows = match table.select_all().execute() {
        Ok(rows) => rows,
        Err(error) => {
            say(&format!("@fail scan after open: {error}"));
            return;
        }
    };
    say(&format!("@opened {} {}", rows.len(), digest(&rows)));
    let tasks = rng.range(16, 32);
    let mut owned: Vec<Vec<(u64, i64)>> = vec![Vec::new(); tasks as usize];
    for row in &rows {
        if let Some(live) = owned.get_mut((row.id % tasks) as usize) {
            live.push((row.id, row.value));
        }
    }
    // Vacuum passes run back to back beside the writers, each followed by a checkpoint
    // when the directory has grown past the rows: a kill may land anywhere in them.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let vacuum = {
        let (table, writing) = (table.clone(), std::sync::Arc::clone(&writing));
        tokio::spawn(async move {
            while writing.load(std::sync::atomic::Ordering::Acquire) {
                if let Err(error) = table.vacuum().await {
                    say(&format!("@fail vacuum: {error}"));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let workers: Vec<_> = owned
        .into_iter()
        .enumerate()
        .map(|(task, live)| {
            let table = table.clone();
            let seed = rng.next();
            tokio::spawn(async move { worker(table, task, seed, live).await })
        })
        .collect();
    for (task, worker) in workers.into_iter().enumerate() {
        if let Err(error) = worker.await {
            say(&format!("@fail task {task} ended abnormally: {error}"));
        }
    }
    writing.store(false, std::sync::atomic::Ordering::Release);
    if let Err(error) = vacuum.await {
        say(&format!("@fail the vacuum task ended abnormally: {error}"));
    }
    match table.shutdown().await {
        Ok(()) => say("@done"),
        Err(error) => say(&format!("@fail shutdown: {error}")),
    }
}

/// One writer task: `live` are the keys it owns, with their values.
async fn worker(table: ItemWorkTable, task: usize, seed: u64, mut live: Vec<(u64, i64)>) {
    let mut rng = Rng::new(seed);
    for n in 0..OPS_PER_TASK {
        let fresh = |table: &ItemWorkTable| -> Result<u64, String> {
            table
                .get_next_pk()
                .map(Into::into)
                .map_err(|error| format!("get_next_pk: {error}"))
        };
        let value = |rng: &mut Rng| rng.below(1_000_000) as i64;
        let roll = rng.below(100);
        let crowded = live.len() > LIVE_PER_TASK;
        let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize].0;
        let op = if roll < 2 {
            Ok(Op::Checkpoint)
        } else if !live.is_empty() && (roll >= 70 || (crowded && roll < 60)) {
            Ok(Op::Delete { id: pick(&mut rng) })
        } else if live.is_empty() || roll < 32 {
            fresh(&table).map(|id| Op::Insert {
                id,
                value: value(&mut rng),
            })
        } else if roll < 42 {
            let size = rng.range(2, 8);
            (0..size)
                .map(|_| fresh(&table).map(|id| (id, value(&mut rng))))
                .collect::<Result<Vec<_>, _>>()
                .map(Op::Many)
        } else if roll < 47 {
            let id = if rng.below(3) == 0 {
                fresh(&table)
            } else {
                Ok(pick(&mut rng))
            };
            id.map(|id| Op::Upsert {
                id,
                value: value(&mut rng),
            })
        } else {
            Ok(Op::Update {
                id: pick(&mut rng),
                value: value(&mut rng),
            })
        };
        let op = match op {
            Ok(op) => op,
            Err(error) => {
                say(&format!("@fail {task} {n} {error}"));
                return;
            }
        };
        say(&format!("@op {task} {n} {}", op.encode()));
        let outcome = match &op {
            Op::Insert { id, value } => table.insert(item(*id, *value)).await.map(drop),
            Op::Many(rows) => table
                .insert_many(rows.iter().map(|(id, value)| item(*id, *value)).collect())
                .await
                .map(drop),
            Op::Update { id, value } => table.update(item(*id, *value)).await,
            Op::Upsert { id, value } => table.upsert(item(*id, *value)).await,
            Op::Delete { id } => table.delete(*id).await,
            Op::Checkpoint => table.checkpoint().await,
        };
        if let Err(error) = outcome {
            say(&format!("@fail {task} {n} {}: {error}", op.encode()));
            return;
        }
        say(&format!("@ack {task} {n}"));
        match op {
            Op::Insert { id, value } | Op::Update { id, value } | Op::Upsert { id, value } => {
                match live.iter_mut().find(|(key, _)| *key == id) {
                    Some(entry) => entry.1 = value,
                    None => live.push((id, value)),
                }
            }
            Op::Many(rows) => live.extend(rows),
            Op::Delete { id } => live.retain(|(key, _)| *key != id),
            Op::Checkpoint => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// The parent.

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// This long after the child was started.
    AfterStart(Duration),
    /// This long after the child printed that it is opening the table (recovery).
    InOpen(Duration),
    /// Once this many writes were acknowledged.
    AfterAcks(usize),
    /// This long after the `nth` `checkpoint()` call began.
    InCheckpoint { nth: usize, delay: Duration },
}

impl Plan {
    fn pick(rng: &mut Rng) -> Plan {
        let micros =
            |rng: &mut Rng, low: u64, high: u64| Duration::from_micros(rng.range(low, high));
        match rng.below(100) {
            0..15 => Plan::AfterStart(micros(rng, 0, 40_000)),
            15..25 => Plan::InOpen(micros(rng, 0, 3_000)),
            25..55 => Plan::AfterStart(micros(rng, 40_000, 700_000)),
            55..85 => {
                // Spread over orders of magnitude: 1 to about 2,500.
                let scale = 1u64 << rng.below(12);
                Plan::AfterAcks(rng.range(1, scale.max(1) + scale / 4) as usize)
            }
            _ => Plan::InCheckpoint {
                nth: rng.range(1, 3) as usize,
                delay: micros(rng, 0, 2_000),
            },
        }
    }
}

/// What the child printed, parsed.
#[derive(Default)]
struct Transcript {
    /// Rows and digest of what the child found when it opened the table.
    opened: Option<(usize, u64)>,
    /// Every task's operations, in order (`@op` lines).
    ops: BTreeMap<usize, Vec<Op>>,
    /// How many of each task's operations were acknowledged (a prefix of them).
    acked: BTreeMap<usize, usize>,
    /// `@fail` lines and protocol errors.
    failures: Vec<String>,
    done: bool,
}

impl Transcript {
    /// Whether some task's unacknowledged operation is a `checkpoint()`.
    fn checkpoint_in_flight(&self) -> bool {
        self.ops.iter().any(|(task, ops)| {
            let acked = self.acked.get(task).copied().unwrap_or(0);
            ops.get(acked) == Some(&Op::Checkpoint)
        })
    }

    fn parse(lines: &[String]) -> Transcript {
        let mut transcript = Transcript::default();
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["@opening"] => {}
                ["@opened", rows, digest] => {
                    transcript.opened = rows.parse().ok().zip(digest.parse().ok());
                }
                ["@done"] => transcript.done = true,
                ["@op", task, n, op @ ..] => {
                    let parsed = task.parse::<usize>().ok().zip(n.parse::<usize>().ok());
                    match (parsed, Op::parse(op)) {
                        (Some((task, n)), Some(op)) => {
                            let ops = transcript.ops.entry(task).or_default();
                            if ops.len() == n {
                                ops.push(op);
                            } else {
                                transcript.failures.push(format!(
                                    "protocol: task {task} printed op {n} after {} ops",
                                    ops.len()
                                ));
                            }
                        }
                        _ => transcript
                            .failures
                            .push(format!("protocol: bad line {line:?}")),
                    }
                }
                ["@ack", task, n] => {
                    match task.parse::<usize>().ok().zip(n.parse::<usize>().ok()) {
                        Some((task, n)) => {
                            let printed = transcript.ops.get(&task).map_or(0, Vec::len);
                            let acked = transcript.acked.entry(task).or_default();
                            if *acked == n && n < printed {
                                *acked += 1;
                            } else {
                                transcript.failures.push(format!(
                                    "protocol: task {task} acknowledged op {n} with {acked} acknowledged and {printed} printed"
                                ));
                            }
                        }
                        None => transcript
                            .failures
                            .push(format!("protocol: bad line {line:?}")),
                    }
                }
                [first, ..] if first.starts_with("@fail") => {
                    transcript
                        .failures
                        .push(format!("the child reported {line:?}"));
                }
                [first, ..] if first.starts_with('@') => {
                    transcript
                        .failures
                        .push(format!("protocol: unknown line {line:?}"));
                }
                // The test harness's own lines.
                _ => {}
            }
        }
        transcript
    }
}

/// A child's run: its complete stdout lines and how it ended.
struct Run {
    lines: Vec<String>,
    /// Killed by us (`true`), or ended on its own.
    killed: bool,
    status: std::process::ExitStatus,
    stderr: String,
}

/// Runs the child on `dir` and kills it as `plan` says.
fn run_child(dir: &Path, seed: u64, plan: Plan) -> Run {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process");
    let started = Instant::now();
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let mut stderr = child.stderr.take().expect("the child's stderr is piped");
    let (send, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdout.read_until(b'\n', &mut line) {
                // Only complete lines count: a tail without its newline is dropped.
                Ok(_) if line.last() == Some(&b'\n') => {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    if send.send(text).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });

    let mut seen = Vec::new();
    let mut kill_at = match plan {
        Plan::AfterStart(delay) => Some(started + delay),
        _ => None,
    };
    let mut acks = 0usize;
    let mut checkpoints = 0usize;
    let cap = started + KILL_CAP;
    let ended_on_its_own = loop {
        let now = Instant::now();
        let until = kill_at.unwrap_or(cap).min(cap);
        if now >= until {
            break false;
        }
        match lines.recv_timeout(until - now) {
            Ok(line) => {
                match (plan, line.as_str()) {
                    (Plan::InOpen(delay), "@opening") => kill_at = Some(Instant::now() + delay),
                    (Plan::AfterAcks(target), text) if text.starts_with("@ack ") => {
                        acks += 1;
                        if acks >= target {
                            kill_at = Some(Instant::now());
                        }
                    }
                    (Plan::InCheckpoint { nth, delay }, text)
                        if text.starts_with("@op ") && text.ends_with(" checkpoint") =>
                    {
                        checkpoints += 1;
                        if checkpoints == nth {
                            kill_at = Some(Instant::now() + delay);
                        }
                    }
                    _ => {}
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break true,
        }
    };
    if !ended_on_its_own {
        // SIGKILL. An error means the child has already exited, which `wait` tells.
        let _ = child.kill();
    }
    let status = child.wait().expect("wait for the child");
    seen.extend(lines.iter());
    reader.join().expect("the stdout reader thread");
    let stderr = errors.join().expect("the stderr reader thread");
    Run {
        lines: seen,
        killed: status.signal() == Some(SIGKILL),
        status,
        stderr,
    }
}

/// How a row looks in a failure message.
fn show(row: Option<&ItemRow>) -> String {
    match row {
        None => "absent".to_string(),
        Some(row) if *row == item(row.id, row.value) => format!("value {}", row.value),
        Some(row) => format!(
            "value {} with a torn row (tag {:?}, {} payload bytes)",
            row.value,
            row.tag,
            row.payload.len()
        ),
    }
}

/// The rows of `state` whose keys are in `keys`.
fn restrict(state: &BTreeMap<u64, ItemRow>, keys: &BTreeSet<u64>) -> BTreeMap<u64, ItemRow> {
    keys.iter()
        .filter_map(|key| state.get(key).map(|row| (*key, row.clone())))
        .collect()
}

/// Checks the reopened `table` against the state before the round and what the child
/// printed; returns the recovered rows, the state the next round starts from.
fn verify(
    before: &BTreeMap<u64, ItemRow>,
    transcript: &Transcript,
    table: &ItemWorkTable,
) -> Result<BTreeMap<u64, ItemRow>, String> {
    let rows = table
        .select_all()
        .execute()
        .map_err(|error| format!("select_all after reopen: {error}"))?;
    let recovered: BTreeMap<u64, ItemRow> = rows.into_iter().map(|row| (row.id, row)).collect();
    if table.count() != recovered.len() {
        return Err(format!(
            "count() is {} but a scan finds {} rows",
            table.count(),
            recovered.len()
        ));
    }
    if let Some((rows, sum)) = transcript.opened {
        if rows != before.len() || sum != digest(before.values()) {
            return Err(format!(
                "the child opened {rows} rows (digest {sum:#x}); the previous round left {} (digest {:#x})",
                before.len(),
                digest(before.values())
            ));
        }
    }

    // Which task touched each key: one task per key, and fresh keys were new.
    let mut owner: HashMap<u64, usize> = HashMap::new();
    let mut fresh: BTreeSet<u64> = BTreeSet::new();
    for (task, ops) in &transcript.ops {
        for (n, op) in ops.iter().enumerate() {
            for key in op.fresh_keys() {
                if before.contains_key(&key) || !fresh.insert(key) {
                    return Err(format!(
                        "the generator handed out key {key} twice or for an existing row (task {task} op {n}: {})",
                        op.encode()
                    ));
                }
            }
            for key in op.keys() {
                if let Some(other) = owner.insert(key, *task) {
                    if other != *task {
                        return Err(format!(
                            "key {key} was written by tasks {other} and {task} (a bug of this test)"
                        ));
                    }
                }
            }
        }
    }

    // Every task's keys hold the state after its acknowledged operations, or after one
    // more: the one in flight.
    for (task, ops) in &transcript.ops {
        let keys: BTreeSet<u64> = ops.iter().flat_map(Op::keys).collect();
        let acked = transcript.acked.get(task).copied().unwrap_or(0);
        let actual = restrict(&recovered, &keys);
        let mut expected = restrict(before, &keys);
        for op in ops.iter().take(acked) {
            op.apply(&mut expected);
        }
        if actual == expected {
            continue;
        }
        let in_flight = ops.get(acked);
        let with_next = in_flight.map(|op| {
            let mut next = expected.clone();
            op.apply(&mut next);
            next
        });
        if with_next.as_ref() == Some(&actual) {
            continue;
        }
        let mut differences = Vec::new();
        for key in &keys {
            let found = actual.get(key);
            let after = expected.get(key);
            let next = with_next.as_ref().and_then(|next| next.get(key));
            if found != after || (with_next.is_some() && found != next) {
                differences.push(match &with_next {
                    Some(_) => format!(
                        "key {key}: found {}, expected {} (acknowledged ops) or {} (with the op in flight)",
                        show(found),
                        show(after),
                        show(next)
                    ),
                    None => format!("key {key}: found {}, expected {}", show(found), show(after)),
                });
            }
        }
        let last: Vec<String> = ops
            .iter()
            .enumerate()
            .skip(acked.saturating_sub(3))
            .take(4)
            .map(|(n, op)| format!("#{n} {}", op.encode()))
            .collect();
        return Err(format!(
            "task {task}: {acked} of {} ops acknowledged (in flight: {}); last ops [{}]; {}",
            ops.len(),
            in_flight.map_or("none".to_string(), Op::encode),
            last.join("; "),
            differences.join("; ")
        ));
    }

    // Keys no task touched are as the previous round left them; no other key appears.
    for (key, row) in before {
        if !owner.contains_key(key) && recovered.get(key) != Some(row) {
            return Err(format!(
                "key {key}, untouched this round: found {}, expected {}",
                show(recovered.get(key)),
                show(Some(row))
            ));
        }
    }
    for (key, row) in &recovered {
        if !owner.contains_key(key) && !before.contains_key(key) {
            return Err(format!(
                "key {key} was never written but was recovered as {}",
                show(Some(row))
            ));
        }
    }

    // The unique index finds every recovered row by its tag, and no other tag.
    let held: BTreeSet<&str> = recovered.values().map(|row| row.tag.as_str()).collect();
    for row in recovered.values() {
        let found = table.select_by_tag(row.tag.clone());
        if found.as_ref() != Some(row) {
            return Err(format!(
                "select_by_tag({:?}) gave {}, the row with key {} holds it",
                row.tag,
                show(found.as_ref()),
                row.id
            ));
        }
    }
    let written = transcript
        .ops
        .values()
        .flatten()
        .flat_map(|op| {
            let mut state = BTreeMap::new();
            op.apply(&mut state);
            state.into_values()
        })
        .chain(before.values().cloned());
    for row in written {
        if !held.contains(row.tag.as_str()) {
            if let Some(found) = table.select_by_tag(row.tag.clone()) {
                return Err(format!(
                    "select_by_tag({:?}) found key {} ({}) though no recovered row holds the tag",
                    row.tag,
                    found.id,
                    show(Some(&found))
                ));
            }
        }
    }

    // The generator continues above every recovered key.
    if let Some(max) = recovered.keys().last() {
        let next: u64 = table
            .get_next_pk()
            .map_err(|error| format!("get_next_pk after reopen: {error}"))?
            .into();
        if next <= *max {
            return Err(format!(
                "get_next_pk gave {next} after reopen, not above the recovered key {max}"
            ));
        }
    }
    Ok(recovered)
}

/// Reopens the table in `dir`, checks it with [`verify`], and closes it with `shutdown`
/// (a checkpoint) if `close_cleanly`, else by dropping it.
async fn reopen_and_verify(
    dir: &Path,
    before: &BTreeMap<u64, ItemRow>,
    transcript: &Transcript,
    close_cleanly: bool,
) -> Result<BTreeMap<u64, ItemRow>, String> {
    let table = tokio::time::timeout(REOPEN_HANG, ItemWorkTable::open(dir))
        .await
        .map_err(|_| format!("the reopen did not finish in {REOPEN_HANG:?} (a hang)"))?
        .map_err(|error| format!("the reopen failed: {error}"))?;
    let verified = verify(before, transcript, &table)?;
    if close_cleanly {
        table
            .shutdown()
            .await
            .map_err(|error| format!("shutdown after the check: {error}"))?;
    } else {
        drop(table);
    }
    Ok(verified)
}

fn round_failed(round: u64, base: u64, seed: u64, what: String) -> ! {
    panic!("round {round} ({SEED}={base}, round seed {seed}): {what}")
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rounds = std::env::var(ROUNDS)
        .ok()
        .map(|rounds| {
            rounds
                .parse::<u64>()
                .expect("WORKTABLE_CRASH_ROUNDS is a number")
        })
        .unwrap_or(DEFAULT_ROUNDS);
    let base = std::env::var(SEED)
        .ok()
        .map(|seed| {
            seed.parse::<u64>()
                .expect("WORKTABLE_CRASH_SEED is a number")
        })
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |since| since.as_nanos() as u64)
        });
    eprintln!("crash_kill: {rounds} rounds, {SEED}={base}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the parent");
    let mut dir = tempfile::tempdir().expect("a temp dir");
    let mut state: BTreeMap<u64, ItemRow> = BTreeMap::new();
    let mut killed = 0u64;
    // Children killed before they had opened the table, and during a `checkpoint()`.
    let mut before_open = 0u64;
    let mut in_checkpoint = 0u64;
    let mut acknowledged = 0usize;
    for round in 0..rounds {
        let seed = mix(base ^ mix(round.wrapping_add(1)));
        let mut rng = Rng::new(seed);
        let fail = |what: String| round_failed(round, base, seed, what);
        if round > 0 && rng.below(10) == 0 {
            dir = tempfile::tempdir().expect("a temp dir");
            state.clear();
        }
        let plan = Plan::pick(&mut rng);
        let run = run_child(dir.path(), rng.next(), plan);
        let transcript = Transcript::parse(&run.lines);
        let stderr_tail = || {
            let tail: Vec<&str> = run.stderr.lines().rev().take(20).collect();
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        if !run.killed && !run.status.success() {
            fail(format!(
                "the child (plan {plan:?}) exited with {}; stderr:\n{}",
                run.status,
                stderr_tail()
            ));
        }
        if !run.killed && !transcript.done {
            fail(format!(
                "the child (plan {plan:?}) exited without finishing its writes; stderr:\n{}",
                stderr_tail()
            ));
        }
        if !transcript.failures.is_empty() {
            fail(format!(
                "plan {plan:?}: {}; stderr:\n{}",
                transcript.failures.join("; "),
                stderr_tail()
            ));
        }
        killed += u64::from(run.killed);
        before_open += u64::from(run.killed && transcript.opened.is_none());
        in_checkpoint += u64::from(run.killed && transcript.checkpoint_in_flight());
        acknowledged += transcript.acked.values().sum::<usize>();
        let close_cleanly = rng.below(3) != 0;
        let outcome = runtime.block_on(reopen_and_verify(
            dir.path(),
            &state,
            &transcript,
            close_cleanly,
        ));
        match outcome {
            Ok(recovered) => state = recovered,
            Err(what) => fail(format!(
                "plan {plan:?}, {} lines from the child: {what}",
                run.lines.len()
            )),
        }
    }
    eprintln!(
        "crash_kill: {rounds} rounds, {killed} children killed ({before_open} before the table was open, {in_checkpoint} during a checkpoint() call), {acknowledged} acknowledged writes checked, {} rows at the end",
        state.len()
    );
}
