//! The vacuum section (`--vacuum`, `--vacuum-only`; see ../README.md, "The vacuum
//! measures"): runs `ours --vacuum <measure>` for each of its four measures, each in a
//! fresh process, round by round, and prints the medians over the rounds with their
//! min..max. The peer runs the insert measure too (its own vacuum, started the same way),
//! right after ours in each round, unless `--only` leaves it out.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Args, Results, fmt_num, median, run_once};

/// The measures, each one process of `ours --vacuum <measure>` per round
/// (`--vacuum-measures` picks some).
pub const MEASURES: [&str; 4] = ["rss", "churn", "insert", "dir"];

/// How a value is printed.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Bytes, printed in MiB.
    Bytes,
    /// A ratio or share, printed with 3 decimals.
    Ratio,
    /// A count, printed as is.
    Count,
    /// Per second.
    Rate,
    /// ns for the whole operation, printed in seconds.
    Seconds,
    /// ns per operation.
    Nanos,
}
use Kind::*;

type Line = (&'static str, Kind, &'static str);

const SECTIONS: [(&str, &[Line]); 4] = [
    (
        "1. Resident memory (statm): an empty table, then N rows inserted, all deleted, one vacuum() (automatic passes off). Target: rss.ratio <= 1.1",
        &[
            (
                "rss.empty",
                Bytes,
                "process RSS with the empty table (after one row in and out)",
            ),
            ("rss.full", Bytes, "after inserting N rows"),
            ("rss.deleted", Bytes, "after deleting all N"),
            ("rss.after_vacuum", Bytes, "after one vacuum().await"),
            (
                "rss.ratio",
                Ratio,
                "after_vacuum / empty (per round, then median)",
            ),
            ("rss.empty_trimmed", Bytes, "empty, after malloc_trim(0)"),
            (
                "rss.after_trimmed",
                Bytes,
                "after the vacuum, after malloc_trim(0)",
            ),
            ("rss.ratio_trimmed", Ratio, "after_trimmed / empty_trimmed"),
            (
                "rss.stats_full.page_bytes",
                Bytes,
                "storage_stats: pages x page size, loaded",
            ),
            (
                "rss.stats_deleted.page_bytes",
                Bytes,
                "... all rows deleted, before the vacuum",
            ),
            ("rss.stats_deleted.live_bytes", Bytes, "... live bytes then"),
            ("rss.stats_after.pages", Count, "pages after the vacuum"),
            (
                "rss.stats_after.live_bytes",
                Bytes,
                "live bytes after the vacuum",
            ),
            (
                "rss.vacuum.pages_freed",
                Count,
                "the pass: pages given back",
            ),
            (
                "rss.vacuum.pages_pending",
                Count,
                "the pass: pages still being emptied",
            ),
            ("rss.vacuum.elapsed", Seconds, "the pass: how long"),
            (
                "rss.second_vacuum.pages_freed",
                Count,
                "diagnostic: a second pass, pages it gave back",
            ),
            (
                "rss.second_trimmed",
                Bytes,
                "diagnostic: after the second pass and a trim",
            ),
            (
                "rss.dropped_trimmed",
                Bytes,
                "diagnostic: the table shut down and dropped, then a trim",
            ),
        ],
    ),
    (
        "2. Churn: 10,000 rows, payload 0..=4,000 B, U updates of random rows to a random length. Target: ratio <= 1.3",
        &[
            (
                "churn[auto].ratio",
                Ratio,
                "automatic passes at defaults: page bytes / live bytes at the end",
            ),
            (
                "churn[auto].ratio_encoded",
                Ratio,
                "page bytes / the rows' rkyv encodings summed",
            ),
            (
                "churn[auto].peak_ratio",
                Ratio,
                "highest page bytes / live bytes, sampled every 10k updates",
            ),
            (
                "churn[auto].page_bytes",
                Bytes,
                "pages x page size at the end",
            ),
            (
                "churn[auto].live_bytes",
                Bytes,
                "live bytes (storage_stats) at the end",
            ),
            (
                "churn[auto].encoded_bytes",
                Bytes,
                "the rows' rkyv encodings summed",
            ),
            (
                "churn[auto].update",
                Nanos,
                "ns per update (one spawned task)",
            ),
            (
                "churn[every_1m].ratio",
                Ratio,
                "automatic passes off, vacuum().await every 1M updates",
            ),
            (
                "churn[every_1m].ratio_encoded",
                Ratio,
                "page bytes / encoded rows",
            ),
            (
                "churn[every_1m].peak_ratio",
                Ratio,
                "highest page bytes / live bytes, sampled every 10k updates",
            ),
            (
                "churn[every_1m].page_bytes",
                Bytes,
                "pages x page size at the end",
            ),
            (
                "churn[every_1m].live_bytes",
                Bytes,
                "live bytes (storage_stats) at the end",
            ),
            (
                "churn[every_1m].update",
                Nanos,
                "ns per update, the vacuum() calls included",
            ),
            ("churn[every_1m].passes", Count, "vacuum() calls"),
            (
                "churn[every_1m].pages_freed",
                Count,
                "pages they gave back, summed",
            ),
            (
                "churn[every_1m].rows_moved",
                Count,
                "rows they moved, summed",
            ),
        ],
    ),
    (
        "3. Inserts from one spawned task into a table of N rows with 60% deleted at random. Target: ratio[during] >= 0.85",
        &[
            (
                "insert[no_vacuum].per_s",
                Rate,
                "(a) automatic passes off, nothing else running",
            ),
            (
                "insert[vacuum].per_s",
                Rate,
                "(b) passes off, one vacuum() asked for just before the inserts start",
            ),
            (
                "insert[vacuum].per_s_during",
                Rate,
                "(b) the inserts made while that pass ran / its time (the whole loop's rate if the pass outlasted it)",
            ),
            (
                "insert[auto].per_s",
                Rate,
                "(c) automatic passes at defaults, checked every 50 ms",
            ),
            (
                "insert.ratio[during]",
                Ratio,
                "(b) during the pass / (a), per round then median: the target's figure",
            ),
            ("insert.ratio[vacuum]", Ratio, "(b) whole loop / (a)"),
            ("insert.ratio[auto]", Ratio, "(c) / (a)"),
            (
                "insert[no_vacuum].live_share_before",
                Ratio,
                "storage_stats live share when the inserts start (deleted versions not yet reclaimed count as live)",
            ),
            (
                "insert[auto].live_share_before",
                Ratio,
                "the same for (c): its passes start during the deletes",
            ),
            (
                "insert[vacuum].overlap",
                Ratio,
                "the pass's time / the insert loop's, at most 1",
            ),
            (
                "insert[vacuum].vacuum.elapsed",
                Seconds,
                "the pass: how long",
            ),
            (
                "insert[vacuum].vacuum.rows_moved",
                Count,
                "the pass: rows moved",
            ),
            (
                "insert[vacuum].vacuum.pages_freed",
                Count,
                "the pass: pages given back",
            ),
            (
                "insert[no_vacuum].after.page_bytes",
                Bytes,
                "page bytes after the inserts",
            ),
            (
                "insert[vacuum].after.page_bytes",
                Bytes,
                "page bytes after the inserts",
            ),
            (
                "insert[auto].after.page_bytes",
                Bytes,
                "page bytes after the inserts",
            ),
        ],
    ),
    (
        "4. Directory of a durable table: N rows, checkpoint(), 90% deleted, flush(), one vacuum(). Target: ratio <= 1.5",
        &[
            ("dir.bytes_loaded", Bytes, "after loading and checkpoint()"),
            ("dir.bytes_deleted", Bytes, "after the deletes and flush()"),
            ("dir.bytes_after", Bytes, "after vacuum().await"),
            (
                "dir.encoded_bytes",
                Bytes,
                "the live rows' rkyv encodings summed",
            ),
            ("dir.ratio", Ratio, "bytes_after / encoded_bytes"),
            (
                "dir.vacuum.checkpoint",
                Count,
                "1 = the vacuum took a checkpoint",
            ),
            ("dir.vacuum.elapsed", Seconds, "the pass (report.elapsed)"),
            (
                "dir.vacuum_call",
                Seconds,
                "vacuum().await, its checkpoint included",
            ),
            (
                "dir.stats_after.page_bytes",
                Bytes,
                "in-memory pages after the vacuum",
            ),
        ],
    ),
];

fn cell(kind: Kind, v: f64) -> String {
    match kind {
        Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Ratio => format!("{v:.3}"),
        Count | Rate => fmt_num(v),
        Seconds => format!("{:.3} s", v / 1e9),
        Nanos => format!("{v:.0} ns"),
    }
}

pub fn run(args: &Args, target: &Path, built: Duration) {
    let mut results = Results::new();
    let mut notes = Vec::new();
    let run_start = Instant::now();
    let with_peer = args.only.contains(&"peer");
    for round in 1..=args.rounds {
        let mut line = format!("runner: vacuum round {round}/{}:", args.rounds);
        // The peer's insert measure right after ours.
        let runs = args.vacuum_measures.iter().flat_map(|&m| {
            std::iter::once(("ours", m)).chain((with_peer && m == "insert").then_some(("peer", m)))
        });
        for (system, measure) in runs {
            let t = Instant::now();
            run_once(
                &target.join("release").join(system),
                system,
                &[
                    "--vacuum".into(),
                    measure.into(),
                    "--vacuum-rows".into(),
                    args.vacuum_rows.to_string(),
                    "--vacuum-inserts".into(),
                    args.vacuum_inserts.to_string(),
                    "--churn-updates".into(),
                    args.churn_updates.to_string(),
                    "--round".into(),
                    round.to_string(),
                ],
                &mut results,
                &mut notes,
            );
            line += &format!(" {system}:{measure} {:.1}s", t.elapsed().as_secs_f64());
        }
        eprintln!("{line}");
    }
    let ran = run_start.elapsed();

    println!("# Vacuum measures (ours; the peer in measure 3)");
    println!(
        "rows N: {}   inserts M: {}   churn updates U: {}   rounds: {}   (one process per measure and round)",
        args.vacuum_rows, args.vacuum_inserts, args.churn_updates, args.rounds
    );
    println!("files:  {} (measure 4)", std::env::temp_dir().display());
    println!(
        "build:  {:.0}s   runs: {:.0}s",
        built.as_secs_f64(),
        ran.as_secs_f64()
    );
    println!(
        "peer = the crates.io worktable 1.13.0: measure 3 only, its sweep table.vacuum().vacuum().await (default pacing) in place of vacuum(); it has no automatic passes unless a VacuumManager is started, so it has no [auto] row"
    );
    for (title, lines) in SECTIONS {
        let present = |system: &str, name: &str| {
            results
                .get(system)
                .and_then(|m| m.get(name))
                .is_some_and(|v| !v.is_empty())
        };
        if !lines
            .iter()
            .any(|(name, ..)| present("ours", name) || present("peer", name))
        {
            continue;
        }
        println!();
        println!("## {title}");
        println!(
            "{:<38} {:>14} {:>28}   what",
            "measure", "median", "min..max"
        );
        for (system, &(name, kind, what)) in ["ours", "peer"]
            .iter()
            .flat_map(|s| lines.iter().map(move |line| (*s, line)))
        {
            let Some(v) = results
                .get(system)
                .and_then(|m| m.get(name))
                .filter(|v| !v.is_empty())
            else {
                continue;
            };
            let name = if system == "ours" {
                name.to_string()
            } else {
                format!("{system} {name}")
            };
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            println!(
                "{name:<38} {:>14} {:>28}   {what}",
                cell(kind, median(v)),
                format!("{}..{}", cell(kind, lo), cell(kind, hi))
            );
        }
    }
    for note in &notes {
        println!("note: {note}");
    }
}
