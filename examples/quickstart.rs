//! Quickstart: declare a table, share it between tasks, and use every kind of query.
//!
//! Run with `cargo run --release --example quickstart`. Set `RUST_LOG=debug` to see the
//! table's own tracing spans and events.

use worktable::prelude::*;

worktable!(
    name: Test,
    columns: {
        id: u64 primary_key autoincrement,
        test: i64,
        another: u64 optional,
        exchange: String,
    },
    indexes: {
        test_idx: test unique,
        exchange_idx: exchange,
    }
);

const EXCHANGES: [&str; 3] = ["binance", "kraken", "okx"];

#[tokio::main]
async fn main() -> Result<(), WorkTableError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let table = TestWorkTable::default();

    // Four tasks, each with its own clone of the handle, insert 250 rows each.
    let writers: Vec<_> = (0..4i64)
        .map(|task| {
            let table = table.clone();
            tokio::spawn(async move {
                for i in 0..250i64 {
                    let n = task * 250 + i;
                    let row = TestRow {
                        id: table.get_next_pk()?.into(),
                        test: n,
                        another: (n % 2 == 0).then_some(n as u64 * 10),
                        exchange: EXCHANGES[n as usize % 3].to_string(),
                    };
                    table.insert(row).await?;
                }
                Ok::<_, WorkTableError>(())
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task panicked")?;
    }
    println!("inserted {} rows from 4 tasks", table.count());

    let first = table.select_all().limit(1).execute()?.remove(0);
    println!(
        "select by primary key {}: {:?}",
        first.id,
        table.select(first.id)
    );
    println!(
        "select by unique index test = 42: {:?}",
        table.select_by_test(42)
    );
    let on_kraken = table.select_by_exchange("kraken").execute()?;
    println!(
        "select by non-unique index exchange = kraken: {} rows",
        on_kraken.len()
    );

    let page = table
        .select_all()
        .where_by(100..=199, "test")
        .order_by(Order::Desc, "test")
        .offset(10)
        .limit(5)
        .execute()?;
    let tests: Vec<i64> = page.iter().map(|row| row.test).collect();
    println!("test in 100..=199, descending, offset 10, limit 5: {tests:?}");

    let mut row = table.select_by_test(42).expect("row 42 was inserted");
    row.exchange = "coinbase".into();
    row.test = 100_042;
    table.update(row.clone()).await?;
    println!(
        "updated row {}: select_by_test(42) = {:?}, select_by_test(100042).exchange = {:?}",
        row.id,
        table.select_by_test(42).map(|r| r.id),
        table.select_by_test(100_042).map(|r| r.exchange),
    );

    let clash = TestRow {
        id: table.get_next_pk()?.into(),
        test: 7,
        another: None,
        exchange: "x".into(),
    };
    match table.insert(clash).await {
        Err(WorkTableError::AlreadyExists { index }) => {
            println!("inserting test = 7 again is refused by index `{index}`")
        }
        other => println!("unexpected: {other:?}"),
    }

    table.delete(row.id).await?;
    println!(
        "deleted row {}: select = {:?}, count = {}",
        row.id,
        table.select(row.id),
        table.count()
    );

    table.shutdown().await?;
    println!("shut down cleanly");
    Ok(())
}
