//! The durable section (`--durable`, `--durable-only`; see ../README.md, "The durable
//! comparison"): runs `ours`, `peer` and `sqlite` with `--durable`, alternated round by
//! round like the in-memory section, and prints the medians over the rounds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Args, Results, fmt_num, median, run_once};

/// The programs with durable measures, in the order each round runs them.
const DURABLE_SYSTEMS: [&str; 3] = ["ours", "peer", "sqlite"];

/// How a measure is printed.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Aggregate ns/op, printed as ops/s; x = that system's ops/s / ours.
    Throughput,
    /// ns per operation, printed in µs; x = that system's / ours.
    Latency,
    /// ns for the whole operation, printed in seconds.
    Seconds,
    /// A quantity (`stat=`), printed as is.
    Quantity,
}
use Kind::*;

type Measure = (&'static str, Kind, &'static str);

const SECTIONS: [(&str, &[Measure]); 6] = [
    (
        "1. 64 tokio tasks on a 2-worker runtime, one row per insert, acknowledged = fsynced (ops/s; x = its ops/s / ours, above 1 is faster)",
        &[
            (
                "sync_insert_64",
                Throughput,
                "ours Sync; sqlite: one connection behind a mutex; peer*: returned (queued)",
            ),
            (
                "sync_insert_64[conns]",
                Throughput,
                "sqlite: 64 connections, one per task, each on a blocking thread",
            ),
            (
                "sync_insert_64[drained]",
                Throughput,
                "peer*: until wait_for_ops() returned (written, not fsynced)",
            ),
        ],
    ),
    (
        "2. one writer, latency of one insert, acknowledged = fsynced (µs; x = its latency / ours, above 1 is slower)",
        &[
            (
                "sync_insert_latency",
                Latency,
                "median; ours Sync in a spawned task; sqlite on the main thread",
            ),
            ("sync_insert_latency.p99", Latency, "99th percentile"),
            (
                "fdatasync_256",
                Latency,
                "the floor: one 256-byte append + fdatasync, same directory, median",
            ),
            ("fdatasync_256.p99", Latency, "99th percentile"),
        ],
    ),
    (
        "3. ours: Buffered (acknowledged before its fsync; one flush() at the end, timed) vs the in-memory table (ops/s)",
        &[
            (
                "memory_insert",
                Throughput,
                "in-memory table, one spawned task",
            ),
            ("buffered_insert", Throughput, "Buffered, one spawned task"),
            ("memory_insert_64", Throughput, "in-memory table, 64 tasks"),
            ("buffered_insert_64", Throughput, "Buffered, 64 tasks"),
            (
                "buffered_insert_ratio",
                Quantity,
                "one task: Buffered / in-memory throughput, median of the round's pairs",
            ),
            (
                "buffered_insert_64_ratio",
                Quantity,
                "64 tasks: Buffered / in-memory throughput, median of the round's pairs",
            ),
        ],
    ),
    (
        "4. ours: reopen of M rows (a checkpoint + M/10 logged updates after it)",
        &[
            (
                "reopen",
                Seconds,
                "open() until the table is usable (rows counted and checked after)",
            ),
            (
                "reopen_dir_bytes",
                Quantity,
                "the directory's bytes before the reopen",
            ),
        ],
    ),
    (
        "5. ours: one writer's Sync insert latency on the reopened table, idle vs during a checkpoint of its rows (µs)",
        &[
            (
                "insert_latency_idle",
                Latency,
                "no checkpoint running, median",
            ),
            ("insert_latency_idle.p99", Latency, "99th percentile"),
            (
                "insert_latency_checkpoint",
                Latency,
                "while checkpoint() runs, median",
            ),
            ("insert_latency_checkpoint.p99", Latency, "99th percentile"),
            ("checkpoint", Seconds, "that checkpoint, call to return"),
            (
                "checkpoint_samples",
                Quantity,
                "inserts timed during the checkpoint",
            ),
        ],
    ),
    (
        "6. ours: bytes per live row after that checkpoint",
        &[
            (
                "dir_bytes_per_row",
                Quantity,
                "the directory (checkpoint + log)",
            ),
            (
                "encoded_bytes_per_row",
                Quantity,
                "the rows' rkyv encodings, summed",
            ),
            (
                "page_bytes_per_row",
                Quantity,
                "in-memory data pages (storage_stats().page_bytes())",
            ),
        ],
    ),
];

/// Where the programs put their files: the default temp directory, and the file system
/// holding it (from /proc/mounts).
fn temp_fs() -> (PathBuf, String) {
    let dir = std::env::temp_dir();
    let dir = dir.canonicalize().unwrap_or(dir);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mount = mounts
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 3 && dir.starts_with(f[1])).then(|| (f[0], f[1], f[2]))
        })
        .max_by_key(|(_, at, _)| at.len());
    let fs = mount.map_or_else(
        || "unknown".to_string(),
        |(dev, at, fs)| format!("{fs}, {dev} mounted at {at}"),
    );
    (dir, fs)
}

/// A system's column name: the peer's marked as not durable.
fn label(system: &str) -> &str {
    if system == "peer" { "peer*" } else { system }
}

fn cell(kind: Kind, ns: f64) -> String {
    match kind {
        Throughput => fmt_num(1e9 / ns),
        Latency => format!("{:.1}", ns / 1e3),
        Seconds => format!("{:.3}", ns / 1e9),
        Quantity => fmt_num(ns),
    }
}

pub fn run(args: &Args, target: &Path, built: Duration) {
    let systems: Vec<&str> = args
        .only
        .iter()
        .copied()
        .filter(|s| DURABLE_SYSTEMS.contains(s))
        .collect();
    let (tmp, fs) = temp_fs();
    let mut results = Results::new();
    let mut notes = Vec::new();
    let run_start = Instant::now();
    for round in 1..=args.rounds {
        let mut line = format!("runner: durable round {round}/{}:", args.rounds);
        for system in &systems {
            let t = Instant::now();
            run_once(
                &target.join("release").join(system),
                system,
                &[
                    "--durable".into(),
                    "--rows".into(),
                    args.durable_rows.to_string(),
                    "--reopen-rows".into(),
                    args.reopen_rows.to_string(),
                    "--round".into(),
                    round.to_string(),
                ],
                &mut results,
                &mut notes,
            );
            line += &format!(" {system} {:.1}s", t.elapsed().as_secs_f64());
        }
        eprintln!("{line}");
    }
    let ran = run_start.elapsed();

    let med = |s: &str, op: &str| {
        results
            .get(s)
            .and_then(|m| m.get(op))
            .filter(|v| !v.is_empty())
            .map(|v| median(v))
    };

    println!("# Durable comparison");
    println!(
        "rows:   {} (measures 1 and 3; a latency: up to 5,000 writes or 2 s)   reopen rows M: {} (measures 4-6)   rounds: {}   systems (run in this order each round): {}",
        args.durable_rows,
        args.reopen_rows,
        args.rounds,
        systems.join(" ")
    );
    println!("files:  {} ({fs})", tmp.display());
    if fs.starts_with("tmpfs") || fs.starts_with("ramfs") {
        println!(
            "WARNING: the temp directory is in memory: fsync costs nothing there. Set TMPDIR to a directory on a disk."
        );
    }
    println!(
        "build:  {:.0}s   runs: {:.0}s",
        built.as_secs_f64(),
        ran.as_secs_f64()
    );
    println!(
        "peer* = the crates.io worktable 1.13.0 with its persistence on: NOT durable (best-effort by its documentation, never fsyncs); shown for what its persisted table costs"
    );
    println!("Medians over the rounds; x = that system against ours.");
    for (title, measures) in SECTIONS {
        let present: Vec<&Measure> = measures
            .iter()
            .filter(|(op, ..)| systems.iter().any(|s| med(s, op).is_some()))
            .collect();
        if present.is_empty() {
            continue;
        }
        println!();
        println!("## {title}");
        let mut header = format!("{:<32}", "op");
        for s in &systems {
            header += &format!(" {:>11}", label(s));
            if *s != "ours" {
                header += &format!(" {:>6}", "x");
            }
        }
        println!("{header}   what");
        for &&(op, kind, what) in &present {
            let mut line = format!("{op:<32}");
            for s in &systems {
                let m = med(s, op);
                line += &format!(
                    " {:>11}",
                    m.map(|ns| cell(kind, ns)).unwrap_or_else(|| "-".into())
                );
                if *s != "ours" {
                    let x = m.zip(med("ours", op)).map(|(m, o)| match kind {
                        Throughput => o / m,
                        _ => m / o,
                    });
                    line += &format!(
                        " {:>6}",
                        x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
                    );
                }
            }
            println!("{line}   {what}");
        }
    }

    println!();
    println!("## Derived");
    // Against the floor measured in the same process: the median over the rounds of each
    // round's ratio, which the disk's swings (the floor moves by 10x between rounds on a
    // shared machine) disturb less than a ratio of medians.
    let per_round = |s: &str, a: &str, b: &str, f: fn(f64, f64) -> f64| {
        let (a, b) = (results.get(s)?.get(a)?, results.get(s)?.get(b)?);
        (a.len() == b.len() && !a.is_empty()).then(|| {
            median(
                &a.iter()
                    .zip(b)
                    .map(|(&a, &b)| f(a, b))
                    .collect::<Vec<f64>>(),
            )
        })
    };
    for s in systems.iter().filter(|&&s| s != "peer") {
        if let Some(x) = per_round(s, "sync_insert_64", "fdatasync_256", |ins, floor| {
            floor / ins
        }) {
            println!(
                "{:<8} sync_insert_64 inserts/s / the floor's rate (1 / fdatasync_256), median of the rounds' ratios: {x:.2}",
                label(s)
            );
        }
        if let Some(x) = per_round(s, "sync_insert_latency", "fdatasync_256", |lat, floor| {
            lat / floor
        }) {
            println!(
                "{:<8} sync_insert_latency / fdatasync_256, median of the rounds' ratios: {x:.2}",
                label(s)
            );
        }
    }
    for (buffered, memory) in [
        ("buffered_insert", "memory_insert"),
        ("buffered_insert_64", "memory_insert_64"),
    ] {
        if let (Some(b), Some(m)) = (med("ours", buffered), med("ours", memory)) {
            println!(
                "ours     {buffered} / {memory} throughput (medians): {:.2}",
                m / b
            );
        }
        if let Some(paired) = med("ours", &format!("{buffered}_ratio")) {
            println!(
                "ours     {buffered} / {memory} throughput, median of the rounds' paired ratios: {paired:.2}"
            );
        }
    }
    if let Some(reopen) = med("ours", "reopen") {
        println!(
            "ours     reopen: {} rows/s ({} rows + {} logged updates)",
            fmt_num(args.reopen_rows as f64 / (reopen / 1e9)),
            args.reopen_rows,
            args.reopen_rows / 10
        );
    }
    if let Some(x) = per_round(
        "ours",
        "insert_latency_checkpoint",
        "insert_latency_idle",
        |during, idle| during / idle,
    ) {
        println!(
            "ours     insert latency during a checkpoint / idle, median of the rounds' ratios: {x:.2}"
        );
    }
    if let (Some(dir), Some(enc)) = (
        med("ours", "dir_bytes_per_row"),
        med("ours", "encoded_bytes_per_row"),
    ) {
        println!(
            "ours     directory bytes / encoded row bytes (medians): {:.2}",
            dir / enc
        );
    }

    println!();
    println!("## Spread over the rounds: min..max (as printed above)");
    println!(
        "{:<32}{}",
        "op",
        systems
            .iter()
            .map(|s| format!(" {:>21}", label(s)))
            .collect::<String>()
    );
    for (_, measures) in SECTIONS {
        for &(op, kind, _) in measures {
            if !systems.iter().any(|s| med(s, op).is_some()) {
                continue;
            }
            let mut line = format!("{op:<32}");
            for s in &systems {
                let v = results
                    .get(s)
                    .and_then(|m| m.get(op))
                    .filter(|v| !v.is_empty());
                let range = v.map(|v| {
                    let (lo, hi) = v
                        .iter()
                        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                    // ops/s: the slowest round is the lowest rate
                    let (a, b) = if kind == Throughput {
                        (hi, lo)
                    } else {
                        (lo, hi)
                    };
                    format!("{}..{}", cell(kind, a), cell(kind, b))
                });
                line += &format!(" {:>21}", range.unwrap_or_else(|| "-".into()));
            }
            println!("{line}");
        }
    }
    for note in &notes {
        println!("note: {note}");
    }
}
