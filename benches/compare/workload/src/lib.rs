//! The workload every comparison program runs, and how it reports: constants, a fixed-seed
//! PRNG, the column values of row `i`, the timed loops and their checks, the modes the
//! writes are timed in and the runtimes they run on, resident memory and the output lines
//! the runner parses. Shared as a library so each system still gets a binary of its own.

use std::time::{Duration, Instant};

/// Distinct values of the non-unique `name` column.
pub const NAMES: u64 = 1_000;
/// Range queries per measurement.
pub const RANGE_QUERIES: u64 = 2_000;
/// Rows per `insert_many` batch.
pub const BATCH: u64 = 1_000;
/// Concurrent tasks of `insert_64`.
pub const TASKS: u64 = 64;
/// A fixed-seed splitmix64 generator, so every system sees the same keys.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
pub fn val_of(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1 << 62) - 1) // a bijection on [0, 2^62)
}
pub fn amount_of(i: u64) -> i64 {
    i as i64 * 3 - 1_000
}
pub fn keys(seed: u64, count: u64, below: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    (0..count).map(|_| rng.below(below)).collect()
}
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}
pub fn report(op: &str, elapsed: Duration, ops: u64) {
    println!("op={op} ns={:.1}", elapsed.as_nanos() as f64 / ops as f64);
}
pub fn rows_arg() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--rows").expect("--rows N");
    args[at + 1].parse().expect("--rows N")
}

/// The distinct values of the `name` column.
pub fn names() -> Vec<String> {
    (0..NAMES).map(|k| format!("name-{k:04}")).collect()
}

/// What lookups of rows `ks` by key must sum to, adding up their `val`s.
pub fn val_sum(ks: &[u64]) -> u64 {
    ks.iter().fold(0u64, |s, &k| s.wrapping_add(val_of(k)))
}

/// What lookups of rows `ks` by `val` must sum to, adding up their keys (`first + k`).
pub fn id_sum(first: u64, ks: &[u64]) -> u64 {
    ks.iter().fold(0u64, |s, &k| s.wrapping_add(first + k))
}

/// Runs `select_pk_2threads`: two threads look up `n` random rows each through `lookup`
/// (which returns the row's `val`), checked, timed inside the threads (on 2 cores the
/// main thread may run only after they finish), and reported as one aggregate.
pub fn two_threads<F>(n: u64, lookup: F)
where
    F: Fn(u64) -> u64 + Clone + Send + 'static,
{
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let (lookup, barrier, ks) = (lookup.clone(), barrier.clone(), keys(10 + t, n, n));
            std::thread::spawn(move || {
                barrier.wait();
                let start = std::time::Instant::now();
                let sum = ks.iter().fold(0u64, |s, &k| s.wrapping_add(lookup(k)));
                let end = std::time::Instant::now();
                assert_eq!(sum, val_sum(&ks), "select_pk_2threads results");
                (start, end)
            })
        })
        .collect();
    let spans: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("reader thread"))
        .collect();
    let start = spans.iter().map(|s| s.0).min().expect("two threads");
    let end = spans.iter().map(|s| s.1).max().expect("two threads");
    report("select_pk_2threads", end - start, 2 * n);
}

/// Prints `rss_per_row`: resident bytes grown since `before`, per row of `n`.
pub fn report_rss(before: u64, n: u64) {
    println!(
        "rss_per_row={:.1}",
        (rss_bytes() as f64 - before as f64) / n as f64
    );
}

/// Runs `select_pk`: `n` lookups of random rows, timed and checked. `val_at(k)` returns the
/// `val` of the row with key `first + k`.
pub fn select_pk(n: u64, mut val_at: impl FnMut(u64) -> u64) {
    let ks = keys(1, n, n);
    let (start, mut sum) = (Instant::now(), 0u64);
    for &k in &ks {
        sum = sum.wrapping_add(val_at(k));
    }
    report("select_pk", start.elapsed(), n);
    assert_eq!(sum, val_sum(&ks), "select_pk results");
}

/// Runs `select_unique`: `n` lookups of random rows by `val`, timed and checked.
/// `id_of(val)` returns the key of the row holding `val`; keys start at `first`.
pub fn select_unique(n: u64, first: u64, mut id_of: impl FnMut(u64) -> u64) {
    let ks = keys(2, n, n);
    let (start, mut sum) = (Instant::now(), 0u64);
    for &k in &ks {
        sum = sum.wrapping_add(id_of(val_of(k)));
    }
    report("select_unique", start.elapsed(), n);
    assert_eq!(sum, id_sum(first, &ks), "select_unique results");
}

/// Runs `select_nonunique`, timed and checked. `rows_of(name)` looks up the rows holding
/// the name with that index and returns how many there are and their `amount`s summed
/// (wrapping, as `u64`).
pub fn select_nonunique(n: u64, mut rows_of: impl FnMut(usize) -> (u64, u64)) {
    let ks = nonunique_keys(n);
    let (start, mut count, mut sum) = (Instant::now(), 0u64, 0u64);
    for &k in &ks {
        let (rows, amounts) = rows_of(k as usize);
        count += rows;
        sum = sum.wrapping_add(amounts);
    }
    report("select_nonunique", start.elapsed(), ks.len() as u64);
    assert_eq!(
        (count, sum),
        nonunique_expected(n, &ks),
        "select_nonunique results"
    );
}

/// Runs `select_range`, timed and checked. `query(start, end)` returns the rows with `val`
/// in `start..end`, by `val` descending, at most 100, summarized by [`ranked`].
pub fn select_range(n: u64, mut query: impl FnMut(u64, u64) -> (u64, u64)) {
    let span = range_span(n);
    let ks = range_starts(n);
    let (start, mut count, mut sum) = (Instant::now(), 0u64, 0u64);
    for &s in &ks {
        let (rows, weighted) = query(s, s + span);
        count += rows;
        sum = sum.wrapping_add(weighted);
    }
    report("select_range", start.elapsed(), RANGE_QUERIES);
    assert_eq!((count, sum), range_expected(n, &ks), "select_range results");
}

/// How many `vals` there are and each times its 1-based position, summed (wrapping): what
/// [`select_range`] checks of one query's result.
pub fn ranked(vals: impl Iterator<Item = u64>) -> (u64, u64) {
    vals.enumerate().fold((0, 0), |(count, sum), (p, val)| {
        (count + 1, sum.wrapping_add(val.wrapping_mul(p as u64 + 1)))
    })
}

/// The names looked up by `select_nonunique`.
pub fn nonunique_keys(n: u64) -> Vec<u64> {
    keys(3, n / 100, NAMES)
}

/// What `select_nonunique` over names `ks` must return: rows counted, `amount`s summed.
pub fn nonunique_expected(n: u64, ks: &[u64]) -> (u64, u64) {
    let (mut count, mut sum) = (vec![0u64; NAMES as usize], vec![0u64; NAMES as usize]);
    for i in 0..n {
        let name = (i % NAMES) as usize;
        count[name] += 1;
        sum[name] = sum[name].wrapping_add(amount_of(i) as u64);
    }
    let total = ks.iter().map(|&k| count[k as usize]).sum();
    (
        total,
        ks.iter()
            .fold(0u64, |s, &k| s.wrapping_add(sum[k as usize])),
    )
}

/// The width of a `select_range` query on `val`: about 200 rows.
pub fn range_span(n: u64) -> u64 {
    ((1u64 << 62) / n) * 200
}

/// The start of each `select_range` query: `val` in `start..start + range_span(n)`.
pub fn range_starts(n: u64) -> Vec<u64> {
    keys(4, RANGE_QUERIES, (1u64 << 62) - range_span(n))
}

/// What `select_range` must return over `starts`: rows counted, and each row's `val`
/// times its position (1-based, `val` descending, at most 100) summed.
pub fn range_expected(n: u64, starts: &[u64]) -> (u64, u64) {
    let span = range_span(n);
    let mut vals: Vec<u64> = (0..n).map(val_of).collect();
    vals.sort_unstable();
    let (mut count, mut sum) = (0u64, 0u64);
    for &s in starts {
        let hi = vals.partition_point(|&v| v < s + span);
        let lo = vals.partition_point(|&v| v < s).max(hi.saturating_sub(100));
        count += (hi - lo) as u64;
        for (p, &v) in vals[lo..hi].iter().rev().enumerate() {
            sum = sum.wrapping_add(v.wrapping_mul(p as u64 + 1));
        }
    }
    (count, sum)
}

/// The rows `update` rewrites.
pub fn update_keys(n: u64) -> Vec<u64> {
    keys(5, n, n)
}

/// One full-row write of `update`: row `first + k` gets `val` (its own), `names[name]`
/// and `amount`.
#[derive(Clone, Copy)]
pub struct Update {
    pub k: u64,
    pub val: u64,
    pub name: usize,
    pub amount: i64,
}

/// The writes of `update`, in order: N random rows, each with a new amount and name.
pub fn update_plan(n: u64) -> Vec<Update> {
    update_keys(n)
        .into_iter()
        .enumerate()
        .map(|(j, k)| {
            let j = j as u64;
            Update {
                k,
                val: val_of(k),
                name: ((k + j + 1) % NAMES) as usize,
                amount: -(j as i64),
            }
        })
        .collect()
}

/// Checks every row after `update`: `row_of(k)` returns the `(amount, name)` of the row
/// with key `first + k`.
pub fn check_updates(n: u64, names: &[String], mut row_of: impl FnMut(u64) -> (i64, String)) {
    let mut model: Vec<(i64, usize)> = (0..n)
        .map(|i| (amount_of(i), (i % NAMES) as usize))
        .collect();
    for update in update_plan(n) {
        model[update.k as usize] = (update.amount, update.name);
    }
    for (k, &(amount, name)) in model.iter().enumerate() {
        let (found_amount, found_name) = row_of(k as u64);
        assert_eq!(
            (found_amount, found_name.as_str()),
            (amount, names[name].as_str()),
            "row {k} after update"
        );
    }
}

/// Checks the table after `delete`: `count` rows are left, and `found(k)` (whether the row
/// with key `first + k` exists) is false for every deleted row.
pub fn check_deletes(n: u64, count: u64, mut found: impl FnMut(u64) -> bool) {
    assert_eq!(count, n - n / 2, "rows left after delete");
    assert!(
        delete_order(n).into_iter().all(|k| !found(k)),
        "a deleted row is still found"
    );
}

/// Checks a table that `insert_64` or `insert_many` loaded: `count` is N, and
/// `amount_by_val(val)` finds every 97th row by its `val`, with its amount.
pub fn check_loaded(
    op: &str,
    n: u64,
    count: u64,
    mut amount_by_val: impl FnMut(u64) -> Option<i64>,
) {
    assert_eq!(count, n, "{op}: rows after loading");
    assert!(
        (0..n)
            .step_by(97)
            .all(|i| amount_by_val(val_of(i)) == Some(amount_of(i))),
        "{op}: a loaded row is missing or wrong"
    );
}

/// How a write phase is issued (see the README): awaited one at a time in `block_on` on the
/// main thread of the 2-worker multi-thread runtime (what `#[tokio::main]` does), inside a
/// task spawned on that runtime, or awaited one at a time in `block_on` on a
/// `current_thread` runtime. Sync systems run the same plain loop in every mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    BlockOn,
    Spawned,
    CurrentThread,
}

/// The modes.
pub const MODES: [Mode; 3] = [Mode::BlockOn, Mode::Spawned, Mode::CurrentThread];

/// The modes in the order this run takes them: [`MODES`] rotated by the runner's round
/// (`--round R`, from 1; 1 without it), so that over the rounds each mode also comes first
/// (on a fresh process, loading the table the reads and `rss_per_row` use) and last.
pub fn modes() -> [Mode; 3] {
    let args: Vec<String> = std::env::args().collect();
    let round: usize = args
        .iter()
        .position(|a| a == "--round")
        .map_or(1, |at| args[at + 1].parse().expect("--round R"));
    assert!(round >= 1, "--round counts from 1");
    let mut modes = MODES;
    modes.rotate_left((round - 1) % MODES.len());
    modes
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::BlockOn => "block_on",
            Mode::Spawned => "spawned",
            Mode::CurrentThread => "current_thread",
        }
    }

    /// The name `op` is reported under in this mode: `op[mode]`.
    pub fn op(self, op: &str) -> String {
        format!("{op}[{}]", self.name())
    }
}

/// The runtimes async systems write from: a 2-worker multi-thread runtime (which also runs
/// `insert_64` and `insert_many`) and a `current_thread` one.
pub struct Runtimes {
    multi: tokio::runtime::Runtime,
    current: tokio::runtime::Runtime,
}

impl Default for Runtimes {
    fn default() -> Self {
        Runtimes {
            multi: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the multi-thread runtime"),
            current: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the current_thread runtime"),
        }
    }
}

impl Runtimes {
    /// The 2-worker multi-thread runtime.
    pub fn multi(&self) -> &tokio::runtime::Runtime {
        &self.multi
    }

    /// The runtime `mode` writes on, where a table written in that mode starts its tasks
    /// and must be shut down.
    pub fn of(&self, mode: Mode) -> &tokio::runtime::Runtime {
        match mode {
            Mode::BlockOn | Mode::Spawned => &self.multi,
            Mode::CurrentThread => &self.current,
        }
    }

    /// Runs the write phase `phase` as `mode` says, timed from its first poll to its end
    /// (spawning is not timed), reports it as `op[mode]` and returns what it returned.
    pub fn run<F, T>(&self, mode: Mode, phase: Phase<F>) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (elapsed, output) = match mode {
            Mode::BlockOn | Mode::CurrentThread => self.of(mode).block_on(timed(phase.work)),
            Mode::Spawned => timed_task(&self.multi, phase.work),
        };
        report(&mode.op(phase.op), elapsed, phase.ops);
        output
    }
}

/// A write phase of an async system, ready to run ([`Runtimes::run`]): its loop, with the
/// plan already computed, and what it is reported as.
pub struct Phase<F> {
    op: &'static str,
    ops: u64,
    work: F,
}

async fn timed<T>(work: impl Future<Output = T>) -> (Duration, T) {
    let start = Instant::now();
    let output = work.await;
    (start.elapsed(), output)
}

/// Runs `work` as one task spawned on `rt` (not in `block_on` on the main thread) and
/// returns how long it took, timed inside the task, with what it returned.
pub fn timed_task<F, T>(rt: &tokio::runtime::Runtime, work: F) -> (Duration, T)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    rt.block_on(rt.spawn(timed(work))).expect("the timed task")
}

/// Times a sync system's write phase in `mode`: the same plain loop on the calling thread
/// whatever the mode, reported as `op[mode]`.
fn sync_phase<T>(mode: Mode, op: &str, ops: u64, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let output = work();
    report(&mode.op(op), start.elapsed(), ops);
    output
}

/// `insert`: rows `0..n` into an empty table, in order, each awaited before the next.
/// `insert(i)` inserts row `i` and returns its key; keys must be consecutive. The phase
/// returns the first key.
pub fn insert_rows(
    n: u64,
    mut insert: impl AsyncFnMut(u64) -> u64,
) -> Phase<impl Future<Output = u64>> {
    let work = async move {
        let mut first = 0;
        for i in 0..n {
            let pk = insert(i).await;
            if i == 0 {
                first = pk;
            }
            assert_eq!(pk, first + i, "autoincrement keys");
        }
        first
    };
    Phase {
        op: "insert",
        ops: n,
        work,
    }
}

/// [`insert_rows`] for a sync system, run and reported in `mode`.
pub fn insert_rows_sync(mode: Mode, n: u64, mut insert: impl FnMut(u64) -> u64) -> u64 {
    sync_phase(mode, "insert", n, || {
        let mut first = 0;
        for i in 0..n {
            let pk = insert(i);
            if i == 0 {
                first = pk;
            }
            assert_eq!(pk, first + i, "autoincrement keys");
        }
        first
    })
}

/// `update`: the writes of [`update_plan`], each awaited before the next.
pub fn update_rows(n: u64, mut update: impl AsyncFnMut(Update)) -> Phase<impl Future<Output = ()>> {
    let plan = update_plan(n);
    let work = async move {
        for u in plan {
            update(u).await;
        }
    };
    Phase {
        op: "update",
        ops: n,
        work,
    }
}

/// [`update_rows`] for a sync system, run and reported in `mode`.
pub fn update_rows_sync(mode: Mode, n: u64, update: impl FnMut(Update)) {
    let plan = update_plan(n);
    sync_phase(mode, "update", n, || plan.into_iter().for_each(update));
}

/// `delete`: the rows of [`delete_order`], each awaited before the next; `delete(k)`
/// deletes the row with key `first + k`.
pub fn delete_rows(n: u64, mut delete: impl AsyncFnMut(u64)) -> Phase<impl Future<Output = ()>> {
    let order = delete_order(n);
    let work = async move {
        for k in order {
            delete(k).await;
        }
    };
    Phase {
        op: "delete",
        ops: n / 2,
        work,
    }
}

/// [`delete_rows`] for a sync system, run and reported in `mode`.
pub fn delete_rows_sync(mode: Mode, n: u64, delete: impl FnMut(u64)) {
    let order = delete_order(n);
    sync_phase(mode, "delete", n / 2, || order.into_iter().for_each(delete));
}

/// Runs `insert_64`'s `TASKS` tasks on `rt`, task `t` running `work(t)`, and returns the
/// wall time from spawning the first to the end of the last.
pub fn timed_tasks<F, W>(rt: &tokio::runtime::Runtime, work: W) -> Duration
where
    W: Fn(u64) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS).map(|task| rt.spawn(work(task))).collect();
    rt.block_on(async {
        for task in tasks {
            task.await.expect("an insert_64 task");
        }
    });
    start.elapsed()
}

/// The rows task `task` of `insert_64` inserts.
pub fn task_rows(task: u64, n: u64) -> impl Iterator<Item = u64> {
    (task..n).step_by(TASKS as usize)
}

/// The N/2 distinct rows `delete` removes, in random order.
pub fn delete_order(n: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..n).collect();
    let mut rng = Rng(6);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order.truncate((n / 2) as usize);
    order
}

// ---------------------------------------------------------------------------------------
// The durable comparison (`--durable`; see the README's "The durable comparison").

/// A single-writer latency measure times writes one by one until it has `LATENCY_OPS`, or
/// until `LATENCY_BUDGET` has passed and it has at least `LATENCY_MIN`, so a slow disk
/// (fsyncs of several ms are not rare on a shared machine) does not stretch a run to
/// minutes.
pub const LATENCY_OPS: u64 = 5_000;
/// See [`LATENCY_OPS`].
pub const LATENCY_BUDGET: Duration = Duration::from_secs(2);
/// See [`LATENCY_OPS`].
pub const LATENCY_MIN: u64 = 100;

/// Whether a latency measure that has taken `samples` samples since `start` stops.
fn latency_done(samples: usize, start: Instant) -> bool {
    samples as u64 >= LATENCY_OPS
        || (samples as u64 >= LATENCY_MIN && start.elapsed() >= LATENCY_BUDGET)
}
/// Bytes of one append of the fdatasync floor.
pub const FLOOR_BYTES: usize = 256;

/// Whether the program was asked for the durable measures instead of the in-memory ones.
pub fn durable_arg() -> bool {
    std::env::args().any(|a| a == "--durable")
}

/// `--reopen-rows M`: the rows of the reopen and checkpoint measures (default 1,000,000).
pub fn reopen_rows_arg() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--reopen-rows")
        .map_or(1_000_000, |at| {
            args[at + 1].parse().expect("--reopen-rows M")
        })
}

/// A fresh directory for a durable measure's files, in the default temp directory
/// (`TMPDIR`, else `/tmp`), removed when dropped. The runner prints which file system that
/// is, so a tmpfs (where fsync costs nothing) cannot pass unnoticed.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wt-compare-")
        .tempdir()
        .expect("a temp directory")
}

/// The median of `samples`, in ns.
pub fn median_ns(samples: &[Duration]) -> f64 {
    quantile_ns(samples, 0.5)
}

/// The `q` quantile of `samples` (nearest rank), in ns; the median of an even count is the
/// mean of the two middle samples.
pub fn quantile_ns(samples: &[Duration], q: f64) -> f64 {
    assert!(!samples.is_empty(), "no samples");
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_nanos() as f64).collect();
    v.sort_by(|a, b| a.partial_cmp(b).expect("durations are ordered"));
    if q == 0.5 && v.len().is_multiple_of(2) {
        let m = v.len() / 2;
        return (v[m - 1] + v[m]) / 2.0;
    }
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

/// Reports per-operation latencies: `op=<op> ns=<median>` and `op=<op>.p99 ns=<p99>`.
pub fn report_latency(op: &str, samples: &[Duration]) {
    println!("op={op} ns={:.1}", median_ns(samples));
    println!("op={op}.p99 ns={:.1}", quantile_ns(samples, 0.99));
}

/// Prints a measured quantity that is not a time: `stat=<name> value=<value>`.
pub fn stat(name: &str, value: f64) {
    println!("stat={name} value={value:.4}");
}

/// The floor of a durable write on this disk: append `FLOOR_BYTES` bytes to one file in
/// `dir` with one `write` and `fdatasync` it (`File::sync_data`), each timed, as many times
/// as a latency measure; reported as `fdatasync_256`, the median.
pub fn fdatasync_floor(dir: &std::path::Path) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("floor.bin"))
        .expect("the floor file");
    file.sync_all().expect("fsync of the new floor file");
    let block = [0x5a_u8; FLOOR_BYTES];
    let samples = latencies_sync(|_| {
        file.write_all(&block).expect("append");
        file.sync_data().expect("fdatasync");
    });
    report_latency("fdatasync_256", &samples);
}

/// Bytes of the regular files under `dir`, recursively.
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                dir_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Times single-row writes issued one after another by one writer, `write(0)`,
/// `write(1)`, … (`write(i)` performs write `i` and resolves when it is acknowledged), as
/// many as [`LATENCY_OPS`] and [`LATENCY_BUDGET`] allow. Returns each write's latency: as
/// many as writes were made.
pub async fn latencies(mut write: impl AsyncFnMut(u64)) -> Vec<Duration> {
    let (all, mut samples) = (Instant::now(), Vec::with_capacity(LATENCY_OPS as usize));
    while !latency_done(samples.len(), all) {
        let start = Instant::now();
        write(samples.len() as u64).await;
        samples.push(start.elapsed());
    }
    samples
}

/// [`latencies`] for a sync system.
pub fn latencies_sync(mut write: impl FnMut(u64)) -> Vec<Duration> {
    let (all, mut samples) = (Instant::now(), Vec::with_capacity(LATENCY_OPS as usize));
    while !latency_done(samples.len(), all) {
        let start = Instant::now();
        write(samples.len() as u64);
        samples.push(start.elapsed());
    }
    samples
}

/// A fixed-seed permutation of `0..n`.
pub fn permutation(seed: u64, n: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..n).collect();
    let mut rng = Rng(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
}
