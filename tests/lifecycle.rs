//! A table's life: it needs no runtime (its actors run on their callers' threads), works
//! from any runtime for as long as it lives, outliving the runtimes it was used from, is
//! shared by cloning, shuts down cleanly on request (writes then fail, reads go on), and
//! ends its change feed when the last handle is dropped.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::*;
use worktable::prelude::*;

fn assert_shareable<T: Clone + Send + Sync + Default + 'static>() {}

/// Polls a future to completion on this thread, outside any tokio runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn a_table_needs_no_runtime() {
    assert_shareable::<TestWorkTable>();
    let table = TestWorkTable::default();
    assert_eq!(table.name(), "Test");
    assert_eq!(table.count(), 0);
    assert!(table.select(1u64).is_none());
    assert!(table.select_all().execute().expect("query").is_empty());
    let feed = table.subscribe();
    assert_eq!(block_on(table.insert(row(1, 1))), Ok(1u64.into()));
    assert_eq!(block_on(table.update(row(1, 2))), Ok(()));
    assert_eq!(table.select(1u64), Some(row(1, 2)));
    assert_eq!(block_on(table.shutdown()), Ok(()));
    assert_eq!(block_on(feed.recv()).map(|op| op.seq), Ok(1));
    assert_eq!(block_on(feed.recv()).map(|op| op.seq), Ok(2));
    assert_eq!(block_on(feed.recv()), Err(SubscriptionError::Closed));
}

/// A table kept in a `static` and used from several runtimes, one after another (as two
/// `#[tokio::test]`s would): each runtime's end takes nothing of the table with it.
#[test]
fn a_table_outlives_the_runtimes_it_was_used_from() {
    static TABLE: std::sync::LazyLock<TestWorkTable> =
        std::sync::LazyLock::new(TestWorkTable::default);
    let timeout = std::time::Duration::from_secs(30);
    let feed = TABLE.subscribe();
    for id in 0..3u64 {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let writers: Vec<_> = (0..4u64)
                .map(|k| {
                    tokio::spawn(async move {
                        TABLE.insert(row(id * 10 + k, (id * 10 + k) as i64)).await
                    })
                })
                .collect();
            for writer in writers {
                writer
                    .await
                    .expect("task")
                    .expect("a later runtime writes as well");
            }
        });
        drop(runtime);
    }
    assert_eq!(TABLE.count(), 12);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for seq in 1..=12 {
            let op = tokio::time::timeout(timeout, feed.recv())
                .await
                .expect("the feed never hangs");
            assert_eq!(op.map(|op| op.seq), Ok(seq));
        }
        tokio::time::timeout(timeout, TABLE.shutdown())
            .await
            .expect("shutdown never hangs")
            .expect("clean shutdown");
        let end = tokio::time::timeout(timeout, feed.recv())
            .await
            .expect("the feed never hangs");
        assert_eq!(end, Err(SubscriptionError::Closed));
    });
}

#[tokio::test]
async fn shutdown_finishes_accepted_writes_then_refuses_new_ones() {
    let table = TestWorkTable::default();
    let pending: Vec<_> = (0..1_000u64)
        .map(|id| {
            let table = table.clone();
            tokio::spawn(async move { table.insert(row(id, id as i64)).await })
        })
        .collect();
    tokio::task::yield_now().await;
    table.shutdown().await.expect("clean shutdown");
    let mut accepted = 0;
    for write in pending {
        match write.await.expect("task") {
            Ok(_) => accepted += 1,
            Err(WorkTableError::ShutDown) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        table.count(),
        accepted,
        "every acknowledged write is there, nothing else"
    );
    assert_eq!(
        table.insert(row(5_000, 5_000)).await,
        Err(WorkTableError::ShutDown)
    );
    assert_eq!(table.delete(1u64).await, Err(WorkTableError::ShutDown));
    table
        .shutdown()
        .await
        .expect("a second shutdown is harmless");
    let late = table.subscribe();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), late.recv()).await;
    assert_eq!(
        ended,
        Ok(Err(SubscriptionError::Closed)),
        "the feed has ended"
    );
    assert_eq!(
        table.select_all().execute().expect("reads go on").len(),
        accepted
    );
}

#[tokio::test]
async fn dropping_the_last_handle_ends_the_feed() {
    let table = TestWorkTable::default();
    let feed = table.subscribe();
    let clone = table.clone();
    clone.insert(row(1, 1)).await.expect("row 1");
    drop(table);
    clone
        .insert(row(2, 2))
        .await
        .expect("a clone keeps the table alive");
    drop(clone);
    assert_eq!(feed.recv().await.map(|op| op.seq), Ok(1));
    assert_eq!(feed.recv().await.map(|op| op.seq), Ok(2));
    // The table is gone, and with it the feed's sending side.
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), feed.recv()).await;
    assert_eq!(end, Ok(Err(SubscriptionError::Closed)));
}
