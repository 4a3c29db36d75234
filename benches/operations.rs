//! Criterion benches of every public operation of a table, at 10k, 200k and 1M rows
//! (`WT_BENCH_ROWS=10000,200000` picks sizes), and of inserts from 1, 2 and 64 tasks.
//!
//! Run with `cargo bench --bench operations`. Each write bench runs inside a spawned
//! tokio task on a 2-worker runtime, as a user's task would. The peer comparison lives
//! in `benches/compare` (see its README).

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use worktable::prelude::*;

worktable!(
    name: Bench,
    columns: { id: u64 primary_key autoincrement, val: u64, name: String, amount: i64 },
    indexes: { val_idx: val unique, name_idx: name },
    queries: {
        update: { AmountById(amount) by id, AmountByVal(amount) by val, AmountByName(amount) by name },
        delete: { ByVal() by val },
        in_place: { Amount(amount) by id },
    }
);

/// Distinct values of the non-unique `name` column.
const NAMES: u64 = 1_000;

fn row(id: u64) -> BenchRow {
    BenchRow {
        id,
        val: id * 7,
        name: format!("name{}", id % NAMES),
        amount: id as i64,
    }
}

fn sizes() -> Vec<u64> {
    std::env::var("WT_BENCH_ROWS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 200_000, 1_000_000])
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A table holding rows `0..rows`, loaded in batches.
fn loaded(rt: &Runtime, rows: u64) -> BenchWorkTable {
    rt.block_on(async {
        let table = BenchWorkTable::default();
        for start in (0..rows).step_by(1_000) {
            let batch = (start..(start + 1_000).min(rows)).map(row).collect();
            table.insert_many(batch).await.expect("fresh rows");
        }
        table
    })
}

/// A xorshift generator: random keys without an RNG crate.
struct Keys(u64);
impl Keys {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Times `iters` runs of `op` inside one spawned task.
fn timed<F, Fut>(rt: &Runtime, table: &BenchWorkTable, iters: u64, op: F) -> Duration
where
    F: Fn(BenchWorkTable, u64) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let table = table.clone();
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            for i in 0..iters {
                op(table.clone(), i).await;
            }
            start.elapsed()
        })
        .await
        .expect("bench task")
    })
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    for rows in sizes() {
        let table = loaded(&rt, rows);
        let mut group = c.benchmark_group(format!("read/{rows}"));
        let mut keys = Keys(0x9E37_79B9);
        group.bench_function("select_pk", |b| {
            b.iter(|| table.select(keys.next(rows)).expect("loaded"))
        });
        group.bench_function("select_unique", |b| {
            b.iter(|| table.select_by_val(keys.next(rows) * 7).expect("loaded"))
        });
        group.bench_function("select_non_unique", |b| {
            b.iter(|| {
                let name = format!("name{}", keys.next(NAMES));
                table.select_by_name(name).execute().expect("query")
            })
        });
        group.bench_function("select_all_range_order_limit", |b| {
            b.iter(|| {
                let from = keys.next(rows) * 7;
                table
                    .select_all()
                    .where_by(from..from + 7_000, "val")
                    .order_by(Order::Desc, "val")
                    .limit(100)
                    .execute()
                    .expect("query")
            })
        });
        group.finish();
    }
}

fn writes(c: &mut Criterion) {
    let rt = runtime();
    for rows in sizes() {
        let table = loaded(&rt, rows);
        let mut group = c.benchmark_group(format!("write/{rows}"));
        group.sample_size(20);
        group.bench_function("insert", |b| {
            b.iter_custom(|iters| {
                let base = table
                    .get_next_pk()
                    .expect("u64 keys are far from exhausted")
                    .0
                    + 10 * rows;
                timed(&rt, &table, iters, move |t, i| async move {
                    t.insert(row(base + i)).await.expect("fresh key");
                })
            })
        });
        group.bench_function("insert_many_1000", |b| {
            b.iter_custom(|iters| {
                let base = table
                    .get_next_pk()
                    .expect("u64 keys are far from exhausted")
                    .0
                    + 10 * rows;
                let elapsed = timed(&rt, &table, iters, move |t, i| async move {
                    let batch = (0..1_000).map(|k| row(base + i * 1_000 + k)).collect();
                    t.insert_many(batch).await.expect("fresh keys");
                });
                elapsed / 1_000
            })
        });
        let id = move |i: u64| (i * 7_919) % rows;
        group.bench_function("update", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let mut new = row(id(i));
                    new.amount = -(i as i64);
                    new.name = format!("name{}", (i + 1) % NAMES);
                    t.update(new).await.expect("loaded");
                })
            })
        });
        group.bench_function("upsert", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    t.upsert(row(id(i))).await.expect("loaded");
                })
            })
        });
        group.bench_function("query_update_by_pk", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let query = AmountByIdQuery { amount: i as i64 };
                    t.update_amount_by_id(query, id(i)).await.expect("loaded");
                })
            })
        });
        group.bench_function("query_update_by_unique", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let query = AmountByValQuery { amount: i as i64 };
                    t.update_amount_by_val(query, id(i) * 7)
                        .await
                        .expect("loaded");
                })
            })
        });
        group.bench_function("query_update_by_non_unique", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let query = AmountByNameQuery { amount: i as i64 };
                    t.update_amount_by_name(query, format!("name{}", i % NAMES))
                        .await
                        .expect("query");
                })
            })
        });
        group.bench_function("in_place", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    t.update_amount_in_place(id(i), |amount| *amount += 1)
                        .await
                        .expect("loaded");
                })
            })
        });
        group.bench_function("delete_and_reinsert", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let victim = id(i);
                    t.delete(victim).await.expect("loaded");
                    t.insert(row(victim)).await.expect("freed key");
                })
            })
        });
        group.bench_function("query_delete_by_unique_and_reinsert", |b| {
            b.iter_custom(|iters| {
                timed(&rt, &table, iters, move |t, i| async move {
                    let victim = id(i);
                    t.delete_by_val(victim * 7).await.expect("loaded");
                    t.insert(row(victim)).await.expect("freed key");
                })
            })
        });
        group.finish();
    }
}

fn concurrent_inserts(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("insert_tasks");
    group.sample_size(10);
    for tasks in [1u64, 2, 64] {
        group.bench_with_input(BenchmarkId::from_parameter(tasks), &tasks, |b, &tasks| {
            b.iter_custom(|iters| {
                let table = BenchWorkTable::default();
                let per_task = iters.div_ceil(tasks);
                rt.block_on(async {
                    let start = Instant::now();
                    let handles: Vec<_> = (0..tasks)
                        .map(|task| {
                            let table = table.clone();
                            tokio::spawn(async move {
                                for i in 0..per_task {
                                    table.insert(row(task * per_task + i)).await.expect("fresh");
                                }
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await.expect("task");
                    }
                    start.elapsed() * iters as u32 / (per_task * tasks) as u32
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reads, writes, concurrent_inserts);
criterion_main!(benches);
