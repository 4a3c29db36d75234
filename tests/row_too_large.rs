//! A row larger than a page is refused at once with `RowTooLarge`; nothing loops,
//! panics or leaks, and the table keeps working.

mod common;

use common::*;
use worktable::prelude::*;

#[tokio::test]
async fn an_oversized_row_is_refused_with_its_size() {
    let table = TestWorkTable::default();
    let page_size = table.storage_stats().page_size;
    let mut huge = row(1, 1);
    huge.exchange = "x".repeat(page_size + 1);
    match table.insert(huge.clone()).await {
        Err(WorkTableError::RowTooLarge { size, max }) => {
            assert!(size > page_size);
            assert_eq!(max, page_size);
        }
        other => panic!("expected RowTooLarge, got {other:?}"),
    }
    assert!(matches!(
        table.upsert(huge).await,
        Err(WorkTableError::RowTooLarge { .. })
    ));
    assert_eq!(table.count(), 0);
    assert_eq!(
        table.storage_stats().pages,
        0,
        "nothing was allocated for it"
    );

    table
        .insert(row(1, 1))
        .await
        .expect("a normal row still fits");
    let mut grown = row(1, 1);
    grown.exchange = "y".repeat(page_size * 2);
    assert!(matches!(
        table.update(grown).await,
        Err(WorkTableError::RowTooLarge { .. })
    ));
    assert_eq!(
        table.select(1u64),
        Some(row(1, 1)),
        "the refused update changed nothing"
    );
}
