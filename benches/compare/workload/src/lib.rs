//! The workload every comparison program runs, and how it reports: constants, a fixed-seed
//! PRNG, the column values of row `i`, resident memory and the output lines the runner
//! parses. Shared as a library so each system still gets a binary of its own.

use std::time::Duration;

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
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
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
