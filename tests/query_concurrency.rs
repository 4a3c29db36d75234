//! Declared queries under concurrency: partial updates of different fields of one row
//! from different tasks all land, in-place increments are never lost, and updates and
//! deletes racing on the same rows leave every index exactly matching the rows.

use std::collections::{BTreeMap, BTreeSet};

use worktable::prelude::*;

worktable!(
    name: Fields,
    columns: { id: u64 primary_key, a: u64, b: u64, c: u64, d: u64 },
    queries: {
        update: { AById(a) by id, BById(b) by id, CById(c) by id, DById(d) by id },
    }
);

mod query_table;

use query_table::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_of_different_fields_are_never_lost() {
    const CALLS: u64 = 10_000;
    let table = FieldsWorkTable::default();
    table
        .insert(FieldsRow {
            id: 1,
            a: 0,
            b: 0,
            c: 0,
            d: 0,
        })
        .await
        .expect("row");
    let tasks: Vec<_> = (0..4u64)
        .map(|field| {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 1..=CALLS {
                    let value = field * 1_000_000 + i;
                    let done = match field {
                        0 => table.update_a_by_id(AByIdQuery { a: value }, 1).await,
                        1 => table.update_b_by_id(BByIdQuery { b: value }, 1).await,
                        2 => table.update_c_by_id(CByIdQuery { c: value }, 1).await,
                        _ => table.update_d_by_id(DByIdQuery { d: value }, 1).await,
                    };
                    done.expect("row 1 exists");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let row = table.select(1u64).expect("row");
    assert_eq!(
        (row.a, row.b, row.c, row.d),
        (
            CALLS,
            1_000_000 + CALLS,
            2_000_000 + CALLS,
            3_000_000 + CALLS
        ),
        "each field holds its task's last value"
    );
}

fn test_row(id: u64, test: i64, exchange: &str) -> TestRow {
    TestRow {
        id,
        test,
        another: None,
        exchange: exchange.into(),
        counter: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_place_increments_are_never_lost() {
    let table = TestWorkTable::default();
    table.insert(test_row(1, 1, "x")).await.expect("row");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(async move {
                for _ in 0..10_000 {
                    table
                        .update_counter_by_id_in_place(1u64, |counter| *counter += 1)
                        .await
                        .expect("row 1 exists");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(table.select(1u64).map(|row| row.counter), Some(80_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_place_increments_survive_racing_multi_row_updates() {
    let table = TestWorkTable::default();
    for id in 0..8u64 {
        table
            .insert(test_row(id, id as i64, "shared"))
            .await
            .expect("row");
    }
    let counters: Vec<_> = (0..4)
        .map(|_| {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..2_000u64 {
                    table
                        .update_counter_by_id_in_place(i % 8, |counter| *counter += 1)
                        .await
                        .expect("rows are never deleted here");
                }
            })
        })
        .collect();
    let group = {
        let table = table.clone();
        tokio::spawn(async move {
            for i in 0..500u64 {
                let query = AnotherByExchangeQuery { another: Some(i) };
                table
                    .update_another_by_exchange(query, "shared".into())
                    .await
                    .expect("group");
            }
        })
    };
    // A reservation never released would leave the counters waiting forever.
    let finished = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        for task in counters {
            task.await.expect("task");
        }
        group.await.expect("group task");
    });
    finished
        .await
        .expect("every write finished: reserved rows are released");
    let rows = table.select_all().execute().expect("query");
    assert_eq!(
        rows.iter().map(|r| r.counter).sum::<u64>(),
        8_000,
        "no increment lost"
    );
    assert!(
        rows.iter().all(|r| r.another == Some(499)),
        "the last group update holds"
    );
}

/// Every index lists exactly the rows that hold each value.
fn assert_indexes_match_rows(table: &TestWorkTable, tests: &[i64], exchanges: &[&str]) {
    let rows = table.select_all().execute().expect("query");
    assert_eq!(rows.len(), table.count());
    let by_id: BTreeMap<u64, TestRow> = rows.iter().map(|r| (r.id, r.clone())).collect();
    for test in tests {
        let holder = rows.iter().find(|r| r.test == *test).map(|r| r.id);
        assert_eq!(
            table.select_by_test(*test).map(|r| r.id),
            holder,
            "test_idx at {test}"
        );
    }
    let mut by_test: Vec<&TestRow> = rows.iter().collect();
    by_test.sort_by_key(|r| r.test);
    // An ordered walk of `test_idx`: a row it listed twice, or missed, shows here.
    let walked = table
        .select_all()
        .order_by(Order::Asc, "test")
        .execute_keys()
        .expect("query");
    assert_eq!(
        walked.into_iter().map(u64::from).collect::<Vec<_>>(),
        by_test.iter().map(|r| r.id).collect::<Vec<_>>(),
        "test_idx lists every row once, in value order"
    );
    for exchange in exchanges {
        let holders: BTreeSet<u64> = rows
            .iter()
            .filter(|r| r.exchange == *exchange)
            .map(|r| r.id)
            .collect();
        let listed: BTreeSet<u64> = exchange_idx_keys(table, exchange).into_iter().collect();
        assert_eq!(listed, holders, "exchange_idx at {exchange}");
    }
    for row in by_id.values() {
        assert_eq!(table.select_by_test(row.test).as_ref(), Some(row));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_updates_and_deletes_keep_indexes_exact() {
    const TESTS: i64 = 40;
    const EXCHANGES: [&str; 4] = ["a", "b", "c", "d"];
    let table = TestWorkTable::default();
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                let mut seed = task * 7919 + 1;
                let mut next = |bound: u64| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % bound
                };
                for _ in 0..1_500 {
                    let id = next(30);
                    let test = next(TESTS as u64) as i64;
                    let exchange = EXCHANGES[next(4) as usize];
                    // A refusal is an answer; a failure of the table is not. The indexes
                    // are checked afterwards.
                    let outcome = match next(8) {
                        0 => table.insert(test_row(id, test, exchange)).await.map(drop),
                        1 => table.upsert(test_row(id, test, exchange)).await,
                        2 => {
                            let query = TestAndExchangeByIdQuery {
                                test,
                                exchange: exchange.into(),
                            };
                            table.update_test_and_exchange_by_id(query, id).await
                        }
                        3 => {
                            let query = AnotherByExchangeQuery { another: Some(id) };
                            table
                                .update_another_by_exchange(query, exchange.into())
                                .await
                        }
                        4 => table.delete(id).await,
                        5 => table.delete_by_exchange(exchange.into()).await,
                        6 => table.delete_by_test(test).await,
                        _ => table.update_counter_by_id_in_place(id, |c| *c += 1).await,
                    };
                    match outcome {
                        Ok(())
                        | Err(WorkTableError::NotFound | WorkTableError::AlreadyExists { .. }) => {}
                        Err(failure) => {
                            panic!("a write failed instead of being answered: {failure:?}")
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let tests: Vec<i64> = (0..TESTS).collect();
    assert_indexes_match_rows(&table, &tests, &EXCHANGES);
}
