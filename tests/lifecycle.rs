//! A table's life: it is created with no runtime, starts its actors on the first write,
//! is shared by cloning, shuts down cleanly on request (writes then fail, reads go on),
//! and stops its actors when the last handle is dropped.

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
fn a_table_needs_no_runtime_until_it_writes() {
    assert_shareable::<TestWorkTable>();
    let table = TestWorkTable::default();
    assert_eq!(table.name(), "Test");
    assert_eq!(table.count(), 0);
    assert!(table.select(1u64).is_none());
    assert!(table.select_all().execute().expect("query").is_empty());
    assert_eq!(
        block_on(table.insert(row(1, 1))),
        Err(WorkTableError::NoRuntime)
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(table.insert(row(1, 1)))
        .expect("inside a runtime it works");
    assert_eq!(table.select(1u64), Some(row(1, 1)));
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
async fn dropping_the_last_handle_stops_the_actors() {
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
    // The commit actor stopped and dropped its side of the feed.
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), feed.recv()).await;
    assert_eq!(end, Ok(Err(SubscriptionError::Closed)));
}
