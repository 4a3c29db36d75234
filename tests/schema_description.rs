//! The macro describes each declaration (`TableSchema::describe`) for the persistence
//! layer: the full description of a few tables, and `differences()` naming what changed
//! between two declarations of the same table. The generated row and key types encode
//! and decode through the validating `CheckedRowFormat`.
#![deny(missing_docs, unused)]
#![forbid(unsafe_code)]

use worktable_actors::TableSchema;
use worktable_pages::{CheckedRowFormat, PageError, RowFormat};
use worktable_persistence::{ColumnDescription, IndexDescription, SchemaDescription};

/// The README's table, and a composite-key table with unusual types.
pub mod base {
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

    worktable!(
        name: Pairs,
        columns: {
            r#type: String primary_key,
            seq: u32 primary_key,
            data: Vec<u8>,
            pair: ( u8 , ::std::string::String ) optional,
        },
        indexes: {
            data_idx: data,
        }
    );
}

/// `Test` with `another` retyped to `i64`.
pub mod retyped {
    use worktable::prelude::*;

    worktable!(
        name: Test,
        columns: {
            id: u64 primary_key autoincrement,
            test: i64,
            another: i64 optional,
            exchange: String,
        },
        indexes: {
            test_idx: test unique,
            exchange_idx: exchange,
        }
    );
}

/// `Test` with `another` and `exchange` swapped.
pub mod reordered {
    use worktable::prelude::*;

    worktable!(
        name: Test,
        columns: {
            id: u64 primary_key autoincrement,
            test: i64,
            exchange: String,
            another: u64 optional,
        },
        indexes: {
            test_idx: test unique,
            exchange_idx: exchange,
        }
    );
}

/// `Test` with one more column, `extra`.
pub mod added {
    use worktable::prelude::*;

    worktable!(
        name: Test,
        columns: {
            id: u64 primary_key autoincrement,
            test: i64,
            another: u64 optional,
            exchange: String,
            extra: bool,
        },
        indexes: {
            test_idx: test unique,
            exchange_idx: exchange,
        }
    );
}

/// `Test` with `exchange_idx` made unique.
pub mod reindexed {
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
            exchange_idx: exchange unique,
        }
    );
}

/// `Test` without `autoincrement` and with the index on `another` instead.
pub mod other_key_and_index {
    use worktable::prelude::*;

    worktable!(
        name: Test,
        columns: {
            id: u64 primary_key,
            test: i64,
            another: u64 optional,
            exchange: String,
        },
        indexes: {
            test_idx: test unique,
            exchange_idx: another,
        }
    );
}

fn column(name: &str, ty: &str, optional: bool, autoincrement: bool) -> ColumnDescription {
    ColumnDescription {
        name: name.into(),
        ty: ty.into(),
        optional,
        autoincrement,
    }
}

fn index(name: &str, column: &str, unique: bool) -> IndexDescription {
    IndexDescription {
        name: name.into(),
        columns: vec![column.into()],
        unique,
    }
}

/// The differences from `base::Test` to `given`, as displayed.
fn differences_from_base(given: SchemaDescription) -> Vec<String> {
    base::TestSchema::describe()
        .differences(&given)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_description_is_the_declaration() {
    assert_eq!(
        base::TestSchema::describe(),
        SchemaDescription {
            table: "Test".into(),
            columns: vec![
                column("id", "u64", false, true),
                column("test", "i64", false, false),
                column("another", "u64", true, false),
                column("exchange", "String", false, false),
            ],
            primary_key: vec!["id".into()],
            indexes: vec![
                index("test_idx", "test", true),
                index("exchange_idx", "exchange", false),
            ],
        }
    );
    assert_eq!(
        base::PairsSchema::describe(),
        SchemaDescription {
            table: "Pairs".into(),
            columns: vec![
                column("type", "String", false, false),
                column("seq", "u32", false, false),
                column("data", "Vec<u8>", false, false),
                column("pair", "(u8,::std::string::String)", true, false),
            ],
            primary_key: vec!["type".into(), "seq".into()],
            indexes: vec![index("data_idx", "data", false)],
        }
    );
    assert!(
        base::TestSchema::describe()
            .differences(&base::TestSchema::describe())
            .is_empty()
    );
}

#[test]
fn a_retyped_column_is_named() {
    assert_eq!(
        differences_from_base(retyped::TestSchema::describe()),
        ["column 2 (`another`) type: stored `u64`, given `i64`"]
    );
}

#[test]
fn a_reordered_column_is_named() {
    assert_eq!(
        differences_from_base(reordered::TestSchema::describe()),
        [
            "column 2 (`another`) name: stored `another`, given `exchange`",
            "column 2 (`another`) type: stored `u64`, given `String`",
            "column 2 (`another`) optional: stored `true`, given `false`",
            "column 3 (`exchange`) name: stored `exchange`, given `another`",
            "column 3 (`exchange`) type: stored `String`, given `u64`",
            "column 3 (`exchange`) optional: stored `false`, given `true`",
        ]
    );
}

#[test]
fn an_added_column_is_named() {
    let given = added::TestSchema::describe();
    assert_eq!(given.columns[4], column("extra", "bool", false, false));
    assert_eq!(
        differences_from_base(given),
        [
            "columns: stored `id: u64, test: i64, another: u64, exchange: String`, \
             given `id: u64, test: i64, another: u64, exchange: String, extra: bool`"
        ]
    );
}

#[test]
fn a_changed_index_is_named() {
    assert_eq!(
        differences_from_base(reindexed::TestSchema::describe()),
        ["index 1 (`exchange_idx`) unique: stored `false`, given `true`"]
    );
    assert_eq!(
        differences_from_base(other_key_and_index::TestSchema::describe()),
        [
            "column 0 (`id`) autoincrement: stored `true`, given `false`",
            "index 1 (`exchange_idx`) columns: stored `exchange`, given `another`",
        ]
    );
}

/// Rows and keys of generated tables go through the validating decode: what a file
/// hands back is checked before it becomes a row or a key.
#[test]
fn generated_rows_and_keys_decode_checked() {
    let row = base::PairsRow {
        r#type: "kind".into(),
        seq: 3,
        data: vec![1, 2, 3],
        pair: Some((4, "four".into())),
    };
    let bytes = row.encode().expect("rows encode");
    assert_eq!(base::PairsRow::decode_checked(&bytes), Ok(row.clone()));
    let key = base::PairsSchema::primary_key(&row);
    let bytes = key.encode().expect("keys encode");
    assert_eq!(base::PairsPrimaryKey::decode_checked(&bytes), Ok(key));
    let key = base::TestPrimaryKey(7);
    let bytes = key.encode().expect("keys encode");
    assert_eq!(base::TestPrimaryKey::decode_checked(&bytes), Ok(key));
    assert!(matches!(
        base::TestRow::decode_checked(&bytes),
        Err(PageError::InvalidBytes(_))
    ));
}
