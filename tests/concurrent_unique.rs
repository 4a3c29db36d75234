//! Tasks holding clones of one table race to insert overlapping unique values: for
//! every value exactly one insert wins, and no row is lost or duplicated.

mod common;

use std::collections::BTreeMap;

use common::*;
use worktable::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_winner_per_unique_value() {
    const TASKS: u64 = 64;
    const VALUES: i64 = 2_000;
    let table = TestWorkTable::default();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                // Every task tries every value, starting at a different place.
                for step in 0..VALUES {
                    let value = (step + task as i64 * 31) % VALUES;
                    let id = table
                        .get_next_pk()
                        .expect("u64 keys are far from exhausted")
                        .into();
                    match table.insert(row(id, value)).await {
                        Ok(pk) => won.push((value, u64::from(pk))),
                        Err(WorkTableError::AlreadyExists { index: "test_idx" }) => {}
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
                won
            })
        })
        .collect();

    let mut winners: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for task in tasks {
        for (value, id) in task.await.expect("task") {
            winners.entry(value).or_default().push(id);
        }
    }
    assert_eq!(winners.len(), VALUES as usize, "every value has a winner");
    for (value, ids) in &winners {
        assert_eq!(ids.len(), 1, "value {value} won by {ids:?}");
        assert_eq!(table.select_by_test(*value).map(|r| r.id), Some(ids[0]));
        assert_eq!(table.select(ids[0]).map(|r| r.test), Some(*value));
    }
    assert_eq!(table.count(), VALUES as usize);
    let all = table.select_all().execute().expect("query");
    assert_eq!(all.len(), VALUES as usize, "no duplicated or lost rows");
    assert!(all.iter().all(is_whole));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_inserts_of_one_key_have_one_winner() {
    let table = TestWorkTable::default();
    let tasks: Vec<_> = (0..64i64)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move { table.insert(row(7, task)).await.is_ok() })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.expect("task"));
    }
    assert_eq!(wins, 1);
    assert_eq!(table.count(), 1);
    let winner = table.select(7u64).expect("the winner");
    assert_eq!(table.select_by_test(winner.test).map(|r| r.id), Some(7));
    assert_eq!(table.select_all().execute().expect("query").len(), 1);
}
