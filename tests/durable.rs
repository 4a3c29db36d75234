//! Durable tables (`persist: true`): what is written comes back after a reopen, in both
//! durability modes; the key generator and the feed's sequence numbers continue; a
//! locked directory and another schema are refused; checkpoints shrink the log.

use worktable::persist::{MemoryStorage, PersistError};
use worktable::prelude::*;

worktable!(
    name: Account,
    persist: true,
    columns: {
        id: u64 primary_key autoincrement,
        name: String,
        balance: i64,
    },
    indexes: { name_idx: name unique },
);

mod other {
    use worktable::prelude::*;

    // The same table name with one more column: another schema.
    worktable!(
        name: Account,
        persist: true,
        columns: {
            id: u64 primary_key autoincrement,
            name: String,
            balance: i64,
            frozen: bool,
        },
        indexes: { name_idx: name unique },
    );
}

fn account(table: &AccountWorkTable, n: i64) -> AccountRow {
    AccountRow {
        id: table.get_next_pk().expect("keys left").into(),
        name: format!("account-{n}"),
        balance: n * 10,
    }
}

fn buffered() -> PersistConfig {
    PersistConfig {
        durability: Durability::Buffered,
        ..Default::default()
    }
}

fn rows(table: &AccountWorkTable) -> Vec<AccountRow> {
    table.select_all().execute().expect("a plain scan")
}

#[tokio::test]
async fn rows_come_back_after_shutdown_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = AccountWorkTable::open(dir.path()).await.expect("open");
    for n in 0..100 {
        table.insert(account(&table, n)).await.expect("insert");
    }
    for n in 0..10u64 {
        table.delete(n).await.expect("delete");
    }
    let mut row = table.select(50u64).expect("row 50");
    row.balance = -1;
    table.update(row).await.expect("update");
    let before = rows(&table);
    table.shutdown().await.expect("shutdown");

    let again = AccountWorkTable::open(dir.path()).await.expect("reopen");
    assert_eq!(rows(&again), before);
    assert_eq!(again.select(50u64).map(|r| r.balance), Some(-1));
    // The unique index was rebuilt.
    assert_eq!(
        again.select_by_name("account-42".to_string()).map(|r| r.id),
        Some(42u64)
    );
    // The generator continues above every recovered key.
    assert_eq!(again.get_next_pk().expect("keys left"), 100u64.into());
    again.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn buffered_writes_survive_a_drop_and_flush_waits_for_the_disk() {
    let disk = MemoryStorage::new();
    let table = AccountWorkTable::open_storage(disk.clone(), buffered())
        .await
        .expect("open");
    for n in 0..50 {
        table.insert(account(&table, n)).await.expect("insert");
    }
    table.flush().await.expect("flush");
    // What a flush covered is on disk: a crash now keeps all of it.
    let image = disk
        .snapshot()
        .image(worktable::persist::CrashMode::LoseUnsynced);
    let before = rows(&table);
    drop(table);
    let crashed = AccountWorkTable::open_storage(image, buffered())
        .await
        .expect("reopen the crash image");
    assert_eq!(rows(&crashed), before);
    drop(crashed);
    // Dropping the last handle made everything durable and released the directory.
    assert!(!disk.is_locked());
    let again = AccountWorkTable::open_storage(disk, buffered())
        .await
        .expect("reopen");
    assert_eq!(rows(&again), before);
}

/// Waits until the table reports `seq` durable; a hang guard, not a timing assertion.
async fn until_durable(table: &AccountWorkTable, seq: u64) {
    let waited = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while table.durable_seq() < seq {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    assert!(
        waited.await.is_ok(),
        "durable_seq stayed at {}, below {seq}",
        table.durable_seq()
    );
}

#[tokio::test]
async fn buffered_writes_reach_the_disk_without_a_flush() {
    // A round starts at most `buffered_interval` after the first write waiting for it.
    let disk = MemoryStorage::new();
    let config = PersistConfig {
        buffered_interval: std::time::Duration::from_millis(1),
        ..buffered()
    };
    let table = AccountWorkTable::open_storage(disk.clone(), config.clone())
        .await
        .expect("open");
    for n in 0..10 {
        table.insert(account(&table, n)).await.expect("insert");
    }
    until_durable(&table, 10).await;
    // ... and a write after an idle spell starts the next round too.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    table.insert(account(&table, 10)).await.expect("insert");
    until_durable(&table, 11).await;
    let image = disk
        .snapshot()
        .image(worktable::persist::CrashMode::LoseUnsynced);
    let crashed = AccountWorkTable::open_storage(image, config)
        .await
        .expect("reopen the crash image");
    assert_eq!(rows(&crashed), rows(&table));
}

#[tokio::test]
async fn a_full_round_or_a_flush_does_not_wait_for_the_interval() {
    // With no interval at all, only a full round (256 KiB of records) or a flush gets
    // writes to the disk.
    let config = PersistConfig {
        buffered_interval: std::time::Duration::MAX,
        ..buffered()
    };
    let table = AccountWorkTable::open_storage(MemoryStorage::new(), config)
        .await
        .expect("open");
    table.insert(account(&table, 0)).await.expect("insert");
    table.flush().await.expect("flush");
    assert_eq!(table.durable_seq(), 1);
    let padding = "x".repeat(1000);
    for n in 1..400 {
        let mut row = account(&table, n);
        row.name = format!("{padding}{n}");
        table.insert(row).await.expect("insert");
    }
    // 399 records of over 1 KB filled a round (about 240 of them): those are durable
    // unasked.
    until_durable(&table, 200).await;
}

#[tokio::test]
async fn sync_writes_are_durable_when_they_resolve() {
    let disk = MemoryStorage::new();
    let table = AccountWorkTable::open_storage(disk.clone(), PersistConfig::default())
        .await
        .expect("open");
    let writers: Vec<_> = (0..8)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let row = AccountRow {
                        id: table.get_next_pk().expect("keys left").into(),
                        name: format!("t{task}-{i}"),
                        balance: i,
                    };
                    table.insert(row).await.expect("insert");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    // Every insert resolved, so every one is synced: a crash now loses none.
    let image = disk
        .snapshot()
        .image(worktable::persist::CrashMode::LoseUnsynced);
    let crashed = AccountWorkTable::open_storage(image, PersistConfig::default())
        .await
        .expect("reopen the crash image");
    assert_eq!(crashed.count(), 200);
    assert_eq!(rows(&crashed), rows(&table));
}

#[tokio::test]
async fn feed_sequence_numbers_continue_after_a_reopen() {
    let disk = MemoryStorage::new();
    let table = AccountWorkTable::open_storage(disk.clone(), buffered())
        .await
        .expect("open");
    for n in 0..5 {
        table.insert(account(&table, n)).await.expect("insert");
    }
    table.shutdown().await.expect("shutdown");
    let again = AccountWorkTable::open_storage(disk, buffered())
        .await
        .expect("reopen");
    let feed = again.subscribe();
    again.insert(account(&again, 5)).await.expect("insert");
    let op = feed.recv().await.expect("an operation");
    assert_eq!(op.seq, 6);
    assert_eq!(op.kind, OperationKind::Insert);
}

#[tokio::test]
async fn a_second_open_of_a_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = AccountWorkTable::open(dir.path()).await.expect("open");
    match AccountWorkTable::open(dir.path()).await {
        Err(WorkTableError::Persist(failure)) => {
            assert!(matches!(*failure, PersistError::Locked), "{failure}")
        }
        other => panic!("a second open gave {:?}", other.map(|t| t.count())),
    }
    table.shutdown().await.expect("shutdown");
    // Released by the shutdown.
    AccountWorkTable::open(dir.path())
        .await
        .expect("open after shutdown");
}

#[tokio::test]
async fn another_schema_is_refused_naming_the_difference() {
    let disk = MemoryStorage::new();
    let table = AccountWorkTable::open_storage(disk.clone(), buffered())
        .await
        .expect("open");
    table.insert(account(&table, 1)).await.expect("insert");
    table.shutdown().await.expect("shutdown");
    match other::AccountWorkTable::open_storage(disk.clone(), buffered()).await {
        Err(WorkTableError::Persist(failure)) => match &*failure {
            PersistError::SchemaMismatch { differences } => {
                let said = failure.to_string();
                assert!(!differences.is_empty());
                assert!(said.contains("frozen"), "{said}");
            }
            other => panic!("expected a schema mismatch, got {other}"),
        },
        other => panic!("another schema gave {:?}", other.map(|t| t.count())),
    }
    // Nothing was changed by the refused open.
    let again = AccountWorkTable::open_storage(disk, buffered())
        .await
        .expect("reopen");
    assert_eq!(again.count(), 1);
}

#[tokio::test]
async fn a_checkpoint_replaces_the_log_and_reopens_exactly() {
    let disk = MemoryStorage::new();
    let config = PersistConfig {
        segment_bytes: 4 << 10,
        ..buffered()
    };
    let table = AccountWorkTable::open_storage(disk.clone(), config.clone())
        .await
        .expect("open");
    for n in 0..300 {
        table.insert(account(&table, n)).await.expect("insert");
    }
    let segments = |disk: &MemoryStorage| {
        disk.file_names()
            .iter()
            .filter(|name| name.ends_with(".log"))
            .count()
    };
    // Buffered writes reach the log when the persistence actor gets to them.
    table.flush().await.expect("flush");
    let before = segments(&disk);
    assert!(before > 2, "small segments: {:?}", disk.file_names());
    table.checkpoint().await.expect("checkpoint");
    assert!(segments(&disk) < before, "{:?}", disk.file_names());
    // Writes after the checkpoint are replayed from the log on top of it.
    for n in 0..20u64 {
        table.delete(n).await.expect("delete");
    }
    table.flush().await.expect("flush");
    let expected = rows(&table);
    drop(table);
    let again = AccountWorkTable::open_storage(disk, config)
        .await
        .expect("reopen");
    assert_eq!(rows(&again), expected);
}

#[tokio::test]
async fn checkpoint_on_a_memory_table_is_refused() {
    worktable!(name: Plain, columns: { id: u64 primary_key });
    let table = PlainWorkTable::default();
    assert_eq!(
        table.table().checkpoint().await,
        Err(WorkTableError::NotDurable)
    );
    assert_eq!(table.table().flush().await, Ok(()));
    assert!(!table.table().is_durable());
}

#[tokio::test]
async fn multi_row_writes_are_logged_whole() {
    let disk = MemoryStorage::new();
    let table = AccountWorkTable::open_storage(disk.clone(), PersistConfig::default())
        .await
        .expect("open");
    let batch: Vec<_> = (0..64).map(|n| account(&table, n)).collect();
    table.insert_many(batch).await.expect("insert_many");
    let image = disk
        .snapshot()
        .image(worktable::persist::CrashMode::LoseUnsynced);
    let crashed = AccountWorkTable::open_storage(image, PersistConfig::default())
        .await
        .expect("reopen");
    assert_eq!(crashed.count(), 64);
}

#[tokio::test]
async fn a_log_past_its_limit_is_checkpointed_in_the_background() {
    let disk = MemoryStorage::new();
    let config = PersistConfig {
        checkpoint_log_bytes: 8 << 10,
        segment_bytes: 4 << 10,
        ..buffered()
    };
    let table = AccountWorkTable::open_storage(disk.clone(), config.clone())
        .await
        .expect("open");
    let checkpoints = |disk: &MemoryStorage| {
        disk.file_names()
            .iter()
            .filter(|name| name.ends_with(".ckpt"))
            .count()
    };
    assert_eq!(checkpoints(&disk), 0);
    let mut n = 0;
    // No checkpoint is asked for: the log's size alone brings one.
    while checkpoints(&disk) == 0 {
        assert!(n < 100_000, "no checkpoint after {n} inserts");
        table.insert(account(&table, n)).await.expect("insert");
        table.flush().await.expect("flush");
        n += 1;
    }
    let expected = rows(&table);
    drop(table);
    let again = AccountWorkTable::open_storage(disk, config)
        .await
        .expect("reopen");
    assert_eq!(rows(&again), expected);
}

#[tokio::test]
async fn a_drop_during_a_checkpoint_leaves_no_temporary_file() {
    let disk = MemoryStorage::new();
    // Every round of the log starts a checkpoint in the background.
    let config = PersistConfig {
        checkpoint_log_bytes: 1,
        ..buffered()
    };
    let table = AccountWorkTable::open_storage(disk.clone(), config.clone())
        .await
        .expect("open");
    let batch: Vec<_> = (0..5_000).map(|n| account(&table, n)).collect();
    table.insert_many(batch).await.expect("insert_many");
    table.flush().await.expect("flush");
    // The last handle goes while that checkpoint's scan may still run: the drop gives it
    // up, waits for it and removes its temporary file before releasing the directory.
    drop(table);
    assert!(!disk.is_locked(), "the directory was released");
    assert!(
        !disk.file_names().iter().any(|name| name.ends_with(".tmp")),
        "{:?}",
        disk.file_names()
    );
    let again = AccountWorkTable::open_storage(disk, config)
        .await
        .expect("reopen");
    assert_eq!(again.count(), 5_000);
}

/// Checkpoints read the commit point's state while writers send to it; a write sent in
/// that moment was once left in the commit point's inbox with nobody to run it, and its
/// caller waited forever. One writer (no later write rescues it) against back-to-back
/// checkpoints; a stranded write shows as the guard below running out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_never_stranded_by_checkpoints_reading_the_commit_point() {
    let table = AccountWorkTable::open_storage(MemoryStorage::new(), buffered())
        .await
        .expect("open");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpoints = {
        let (table, done) = (table.clone(), done.clone());
        tokio::spawn(async move {
            let mut taken = 0u64;
            // At least one checkpoint, however late this task first runs.
            while !done.load(std::sync::atomic::Ordering::Acquire) || taken == 0 {
                match table.checkpoint().await {
                    Ok(()) => taken += 1,
                    Err(WorkTableError::ShutDown) => break,
                    Err(error) => panic!("checkpoint: {error}"),
                }
            }
            taken
        })
    };
    let writes = async {
        for n in 0..20_000 {
            table.insert(account(&table, n)).await.expect("insert");
        }
    };
    // Generous: the writes take well under a second; only a lost write runs this out.
    tokio::time::timeout(std::time::Duration::from_secs(120), writes)
        .await
        .expect("every write was answered: none was stranded in the commit point's inbox");
    done.store(true, std::sync::atomic::Ordering::Release);
    assert_eq!(table.count(), 20_000);
    assert!(checkpoints.await.expect("checkpoint task") > 0);
    table.shutdown().await.expect("shutdown");
}
