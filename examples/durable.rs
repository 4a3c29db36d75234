//! A durable table: open a directory, write from several tasks, shut down, reopen, and
//! show what came back.
//!
//! Run with `cargo run --release --example durable [DIR]` (default `target/durable-example`).
//! Run it twice: the second run recovers the first run's rows and adds more. Set
//! `RUST_LOG=debug` to see recovery and checkpoints.

use worktable::prelude::*;

worktable!(
    name: Order,
    persist: true,
    columns: {
        id: u64 primary_key autoincrement,
        sym: String,
        qty: i64,
    },
    indexes: { sym_idx: sym },
);

const SYMBOLS: [&str; 3] = ["BTC", "ETH", "SOL"];

#[tokio::main]
async fn main() -> Result<(), WorkTableError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/durable-example".into());

    // Creates the directory, or recovers it: the newest checkpoint and the log after it.
    let orders = OrderWorkTable::open(&dir).await?;
    let before = orders.count();
    println!("opened {dir}: {before} rows");

    // Four tasks, each with its own handle, insert 250 orders each. With the default
    // `Durability::Sync` each insert resolves once it is on disk; the tasks' inserts share
    // fsyncs (group commit).
    let writers: Vec<_> = (0..4i64)
        .map(|task| {
            let orders = orders.clone();
            tokio::spawn(async move {
                for i in 0..250i64 {
                    let symbol = SYMBOLS[(i % 3) as usize];
                    let row = OrderRow {
                        id: orders.get_next_pk()?.into(),
                        sym: symbol.to_string(),
                        qty: task * 1_000 + i,
                    };
                    orders.insert(row).await?;
                }
                Ok::<_, WorkTableError>(())
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer task panicked")?;
    }
    println!(
        "written: {} rows, durable through operation {}",
        orders.count(),
        orders.durable_seq()
    );

    // Drains, makes everything durable, writes a checkpoint and releases the directory.
    orders.shutdown().await?;

    // Reopen with buffered writes: they resolve at commit; `flush` waits for the disk.
    let again = OrderWorkTable::open_with(
        &dir,
        PersistConfig {
            durability: Durability::Buffered,
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(again.count(), before + 1_000);
    for symbol in SYMBOLS {
        let orders = again.select_by_sym(symbol.to_string()).execute()?;
        println!("{symbol}: {} orders", orders.len());
    }
    let newest = again
        .select_all()
        .order_by(Order::Desc, "id")
        .limit(3)
        .execute()?;
    println!("newest: {newest:?}");

    let id = again
        .insert(OrderRow {
            id: again.get_next_pk()?.into(),
            sym: "BTC".into(),
            qty: -1,
        })
        .await?;
    again.flush().await?; // every committed write is on disk when this returns
    again.checkpoint().await?; // a checkpoint now; older log segments are dropped
    println!("inserted {id:?}; {} rows in {dir}", again.count());
    again.shutdown().await
}
