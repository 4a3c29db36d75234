//! The one command of the comparison (see ../README.md):
//!
//! `cargo run --release --manifest-path benches/compare/Cargo.toml -p runner -- [--rows N | --large] [--rounds R] [--only system,…] [--durable | --durable-only] [--durable-rows N] [--reopen-rows M] [--vacuum | --vacuum-only] [--vacuum-measures rss,churn,insert,dir] [--vacuum-rows N] [--vacuum-inserts M] [--churn-updates U]`
//!
//! Builds the four programs (`ours`, `peer`, `sqlite`, `btree`) with one `cargo build
//! --release`, runs them in turn, A B C D A B C D …, for `--rounds` rounds (default and
//! minimum 5) so machine drift hits every system alike, reads the `op=<name> ns=<float>`
//! and `rss_per_row=<float>` lines each prints (the writes once per mode, `insert[block_on]`,
//! `insert[spawned]`, `insert[current_thread]`, …), and prints per operation the median over
//! the rounds for each system and its ratio to ours, throughput for the aggregate
//! operations, resident bytes per row, and the spread (min–max) of every median.
//!
//! With `--durable` (or `--durable-only`, which skips the in-memory section), it then runs
//! the durable programs (`ours`, `peer`, `sqlite` with `--durable`: files in a temp
//! directory, writes acknowledged after fsync), again alternated round by round, and
//! prints their medians the same way (see the README's "The durable comparison").
//!
//! With `--vacuum` (or `--vacuum-only`, which skips the in-memory section; with
//! `--durable`, both run), it then runs ours' vacuum measures (`ours --vacuum <measure>`,
//! one process per measure and round) and prints their medians and min..max (see the
//! README's "The vacuum measures").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod durable;
mod vacuum;

const SYSTEMS: [&str; 4] = ["ours", "peer", "sqlite", "btree"];
/// In the order the runner prints them; every program reports every one. The writes are
/// reported once per mode, `op[mode]` (see the workload crate's `Mode`).
const OPS: [&str; 17] = [
    "insert[block_on]",
    "insert[spawned]",
    "insert[current_thread]",
    "select_pk",
    "select_unique",
    "select_pk_2threads",
    "select_nonunique",
    "select_range",
    "update[block_on]",
    "update[spawned]",
    "update[current_thread]",
    "delete[block_on]",
    "delete[spawned]",
    "delete[current_thread]",
    "insert_64",
    "insert_many",
    "rss_per_row",
];
/// The width of the op column.
const OP_WIDTH: usize = 24;
/// Aggregate operations: ns/op is wall time over all ops of all threads or tasks.
const THROUGHPUT_OPS: [&str; 2] = ["select_pk_2threads", "insert_64"];

struct Args {
    rows: u64,
    rounds: usize,
    only: Vec<&'static str>,
    memory: bool,
    durable: bool,
    durable_rows: u64,
    reopen_rows: u64,
    vacuum: bool,
    vacuum_rows: u64,
    vacuum_inserts: u64,
    churn_updates: u64,
    vacuum_measures: Vec<&'static str>,
}

fn usage(msg: &str) -> ! {
    eprintln!("error: {msg}");
    eprintln!(
        "usage: runner [--rows N | --large] [--rounds R (>= 5)] [--only ours,peer,sqlite,btree] [--durable | --durable-only] [--durable-rows N] [--reopen-rows M] [--vacuum | --vacuum-only] [--vacuum-measures rss,churn,insert,dir] [--vacuum-rows N] [--vacuum-inserts M] [--churn-updates U]"
    );
    std::process::exit(2);
}

fn args() -> Args {
    let mut args = Args {
        rows: 200_000,
        rounds: 5,
        only: SYSTEMS.to_vec(),
        memory: true,
        durable: false,
        durable_rows: 20_000,
        reopen_rows: 1_000_000,
        vacuum: false,
        vacuum_rows: 1_000_000,
        vacuum_inserts: 500_000,
        churn_updates: 10_000_000,
        vacuum_measures: vacuum::MEASURES.to_vec(),
    };
    let mut durable_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--rows" => {
                args.rows = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--rows takes a number"))
            }
            "--large" => args.rows = 1_000_000,
            "--rounds" => {
                args.rounds = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--rounds takes a number"))
            }
            "--only" => {
                args.only = value()
                    .split(',')
                    .map(|s| {
                        *SYSTEMS
                            .iter()
                            .find(|&&k| k == s.trim())
                            .unwrap_or_else(|| usage(&format!("unknown system {s}")))
                    })
                    .collect();
                args.only
                    .sort_by_key(|s| SYSTEMS.iter().position(|k| k == s));
                args.only.dedup();
            }
            "--durable" => args.durable = true,
            "--durable-only" => (args.durable, durable_only) = (true, true),
            "--vacuum" => args.vacuum = true,
            "--vacuum-only" => (args.vacuum, args.memory) = (true, false),
            "--vacuum-rows" => {
                args.vacuum_rows = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--vacuum-rows takes a number"))
            }
            "--vacuum-inserts" => {
                args.vacuum_inserts = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--vacuum-inserts takes a number"))
            }
            "--vacuum-measures" => {
                args.vacuum_measures = value()
                    .split(',')
                    .map(|s| {
                        *vacuum::MEASURES
                            .iter()
                            .find(|&&k| k == s.trim())
                            .unwrap_or_else(|| usage(&format!("unknown vacuum measure {s}")))
                    })
                    .collect();
                args.vacuum_measures
                    .sort_by_key(|s| vacuum::MEASURES.iter().position(|k| k == s));
                args.vacuum_measures.dedup();
            }
            "--churn-updates" => {
                args.churn_updates = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--churn-updates takes a number"))
            }
            "--durable-rows" => {
                args.durable_rows = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--durable-rows takes a number"))
            }
            "--reopen-rows" => {
                args.reopen_rows = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--reopen-rows takes a number"))
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if durable_only {
        args.memory = false;
    }
    if args.rounds < 5 {
        usage("--rounds must be at least 5: medians of fewer runs are not worth quoting");
    }
    if args.rows < 1_000 {
        usage("--rows must be at least 1000");
    }
    if args.durable_rows < 1_000 || args.reopen_rows < 1_000 {
        usage("--durable-rows and --reopen-rows must be at least 1000");
    }
    if args.vacuum_rows < 1_000 || args.vacuum_inserts < 1_000 || args.churn_updates < 1_000 {
        usage("--vacuum-rows, --vacuum-inserts and --churn-updates must be at least 1000");
    }
    args
}

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split_once(':').unwrap().1.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// One `cargo build --release` of all four programs, whatever `--only` says, so a program is
/// always the same binary (built together, their dependencies' features are unified; built
/// apart, they would differ).
fn build(cargo: &str, ws: &Path, target: &Path) {
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(ws.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target);
    for s in SYSTEMS {
        cmd.args(["-p", s]);
    }
    let built = cmd
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        eprintln!("runner: the build failed");
        std::process::exit(1);
    }
}

type Results = BTreeMap<&'static str, BTreeMap<String, Vec<f64>>>;

fn run_once(
    bin: &Path,
    system: &str,
    args: &[String],
    results: &mut Results,
    notes: &mut Vec<String>,
) {
    let out = Command::new(bin)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    if !out.status.success() {
        eprintln!(
            "runner: {system} failed ({}); its output:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        std::process::exit(1);
    }
    let by_op = results
        .entry(SYSTEMS.iter().find(|&&s| s == system).unwrap())
        .or_default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .collect();
        if line.starts_with("skip ") {
            let note = format!("{system}: {}", line.trim_start_matches("skip "));
            if !notes.contains(&note) {
                notes.push(note);
            }
        } else if let (Some(op), Some(ns)) = (fields.get("op"), fields.get("ns")) {
            by_op
                .entry(op.to_string())
                .or_default()
                .push(ns.parse().expect("ns=<float>"));
        } else if let (Some(name), Some(value)) = (fields.get("stat"), fields.get("value")) {
            by_op
                .entry(name.to_string())
                .or_default()
                .push(value.parse().expect("value=<float>"));
        } else if let Some(rss) = fields.get("rss_per_row") {
            by_op
                .entry("rss_per_row".into())
                .or_default()
                .push(rss.parse().expect("rss_per_row=<float>"));
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn fmt_num(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn main() {
    let args = args();
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());

    let date = output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]);
    let started = Instant::now();
    build(&cargo, &ws, &target);
    let built = started.elapsed();

    if args.memory {
        memory(&args, &target, &date, &rustc, built);
    }
    if args.durable {
        if args.memory {
            println!();
        } else {
            print_header(&date, &rustc);
        }
        durable::run(&args, &target, built);
    }
    if args.vacuum {
        if args.memory || args.durable {
            println!();
        } else {
            print_header(&date, &rustc);
        }
        vacuum::run(&args, &target, built);
    }
}

fn print_header(date: &str, rustc: &str) {
    println!("# WorkTable comparison");
    println!("date:   {date} (start)");
    println!(
        "nproc:  {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("cpu:    {}", cpu_model());
    println!("rustc:  {}", output(rustc, &["--version"]));
}

/// The in-memory comparison: runs the four programs round by round and prints its tables.
fn memory(args: &Args, target: &Path, date: &str, rustc: &str, built: std::time::Duration) {
    let mut results = Results::new();
    let mut notes = Vec::new();
    let run_start = Instant::now();
    for round in 1..=args.rounds {
        let mut line = format!("runner: round {round}/{}:", args.rounds);
        for system in &args.only {
            let t = Instant::now();
            run_once(
                &target.join("release").join(system),
                system,
                &[
                    "--rows".into(),
                    args.rows.to_string(),
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
    let has_ours = args.only.contains(&"ours");

    print_header(date, rustc);
    println!(
        "rows:   {}   rounds: {}   systems (run in this order each round): {}",
        args.rows,
        args.rounds,
        args.only.join(" ")
    );
    println!(
        "build:  {:.0}s   runs: {:.0}s",
        built.as_secs_f64(),
        ran.as_secs_f64()
    );
    println!();
    println!(
        "## Median ns per operation (x = that system's time / ours: above 1 is slower than ours)"
    );
    println!(
        "writes, each mode on a fresh table, the modes' order rotated each round: [block_on] awaited one at a time in block_on on the main thread of a 2-worker multi-thread runtime (#[tokio::main]), [spawned] in a task spawned on it, [current_thread] awaited one at a time on a current_thread runtime; sqlite and btree are sync: the same plain loop in every mode"
    );
    let mut header = format!("{:<OP_WIDTH$}", "op");
    for s in &args.only {
        header += &format!(" {:>11}", format!("{s} ns"));
        if *s != "ours" && has_ours {
            header += &format!(" {:>7}", "x");
        }
    }
    println!("{header}");
    for op in OPS.iter().filter(|&&op| op != "rss_per_row") {
        let mut line = format!("{op:<OP_WIDTH$}");
        for s in &args.only {
            let m = med(s, op);
            line += &format!(" {:>11}", m.map(fmt_num).unwrap_or_else(|| "-".into()));
            if *s != "ours" && has_ours {
                let r = m.zip(med("ours", op)).map(|(m, o)| format!("{:.2}", m / o));
                line += &format!(" {:>7}", r.unwrap_or_else(|| "-".into()));
            }
        }
        println!("{line}");
    }
    println!();
    println!(
        "## Throughput of the aggregate operations (ops/s = 1e9 / median ns; x = that system's ops/s / ours: above 1 is faster than ours)"
    );
    for op in THROUGHPUT_OPS {
        let mut line = format!("{op:<OP_WIDTH$}");
        for s in &args.only {
            let m = med(s, op).map(|ns| 1e9 / ns);
            line += &format!(" {:>11}", m.map(fmt_num).unwrap_or_else(|| "-".into()));
            if *s != "ours" && has_ours {
                let r = m
                    .zip(med("ours", op))
                    .map(|(m, o)| format!("{:.2}", m / (1e9 / o)));
                line += &format!(" {:>7}", r.unwrap_or_else(|| "-".into()));
            }
        }
        println!("{line}");
    }
    println!();
    println!("## select_pk_2threads: 2-thread throughput / 1-thread select_pk throughput");
    for s in &args.only {
        let own = med(s, "select_pk")
            .zip(med(s, "select_pk_2threads"))
            .map(|(one, two)| one / two);
        let vs_ours = med("ours", "select_pk")
            .zip(med(s, "select_pk_2threads"))
            .map(|(one, two)| one / two);
        println!(
            "{s:<8} / its own 1-thread: {:>6}   / our 1-thread: {:>6}",
            own.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
            vs_ours
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    println!();
    println!(
        "## Resident bytes per row after loading (VmRSS after inserting N rows minus before creating the table, / N)"
    );
    let mut line = format!("{:<OP_WIDTH$}", "rss_per_row");
    for s in &args.only {
        let m = med(s, "rss_per_row");
        line += &format!(" {:>11}", m.map(fmt_num).unwrap_or_else(|| "-".into()));
        if *s != "ours" && has_ours {
            let r = m
                .zip(med("ours", "rss_per_row"))
                .map(|(m, o)| format!("{:.2}", m / o));
            line += &format!(" {:>7}", r.unwrap_or_else(|| "-".into()));
        }
    }
    println!("{line}");
    println!();
    println!("## Spread over the rounds: min..max (ns per op; bytes per row)");
    println!(
        "{:<OP_WIDTH$}{}",
        "op",
        args.only
            .iter()
            .map(|s| format!(" {s:>19}"))
            .collect::<String>()
    );
    for op in OPS {
        let mut line = format!("{op:<OP_WIDTH$}");
        for s in &args.only {
            let v = results
                .get(s)
                .and_then(|m| m.get(op))
                .filter(|v| !v.is_empty());
            let cell = v.map(|v| {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                format!("{}..{}", fmt_num(lo), fmt_num(hi))
            });
            line += &format!(" {:>19}", cell.unwrap_or_else(|| "-".into()));
        }
        println!("{line}");
    }
    for note in &notes {
        println!("note: {note}");
    }
}
