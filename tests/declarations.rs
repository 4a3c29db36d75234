//! Valid `worktable!` declarations compile and work: every key generator (autoincrement
//! over several integer types, custom, none), composite keys, every kind of column type,
//! indexes on strings and optional columns, the `config`, `persist: false` and `queries`
//! sections, and the README's comma-less form. Each table inserts rows and reads them
//! back through the generated API.
//!
//! The crate denies `missing_docs` and `unused`: the generated public items must carry
//! docs, and a table with no indexes or no generator must expand without warnings.
#![deny(missing_docs, unused)]

/// The declaration of `tests/hand_expanded.rs`, through the macro.
pub mod contract {
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

    #[tokio::test]
    async fn macro_expansion_passes_the_hand_expansion_test() {
        let table = TestWorkTable::default();
        for i in 0..100i64 {
            let id = table.get_next_pk();
            table
                .insert(TestRow {
                    id: id.into(),
                    test: i,
                    another: None,
                    exchange: format!("ex{}", i % 3),
                })
                .await
                .expect("insert");
        }
        assert_eq!(table.count(), 100);
        assert_eq!(table.select(5u64).map(|r| r.test), Some(5));
        assert_eq!(table.select_by_test(7).map(|r| r.id), Some(7));
        assert_eq!(
            table
                .select_by_exchange("ex1")
                .execute()
                .expect("query")
                .len(),
            33
        );
        let err = table
            .insert(TestRow {
                id: 1000,
                test: 5,
                another: None,
                exchange: "z".into(),
            })
            .await
            .expect_err("duplicate test");
        assert_eq!(err, WorkTableError::AlreadyExists { index: "test_idx" });
        let rows = table
            .select_all()
            .where_by(10..=30, "test")
            .order_by(Order::Desc, "test")
            .offset(5)
            .limit(3)
            .execute()
            .expect("query");
        assert_eq!(
            rows.iter().map(|r| r.test).collect::<Vec<_>>(),
            vec![25, 24, 23]
        );
        table.delete(3u64).await.expect("delete");
        assert!(table.select(3u64).is_none());
        table.shutdown().await.expect("clean shutdown");
    }

    #[tokio::test]
    async fn names_and_column_enum_follow_the_declaration() {
        use worktable::__private::{TableColumn, TableSchema};
        let table = TestWorkTable::default();
        assert_eq!(table.name(), "Test");
        assert_eq!(TestSchema::NAME, "Test");
        assert_eq!(TestColumn::from_name("another"), Some(TestColumn::Another));
        assert_eq!(TestColumn::Exchange.name(), "exchange");
        assert_eq!(TestColumn::from_name("nope"), None);
        assert_eq!(u64::from(TestPrimaryKey::from(7u64)), 7);
        let rows = table
            .select_all()
            .where_eq(5u64, TestColumn::Id)
            .execute()
            .expect("query");
        assert!(rows.is_empty());
    }
}

/// `autoincrement` keys over several integer types.
pub mod autoincrement {
    use worktable::prelude::*;

    worktable!(name: SmallKey, columns: { id: u8 primary_key autoincrement, v: u8 });
    worktable!(name: SignedKey, columns: { id: i32 primary_key autoincrement, v: u8 });
    worktable!(name: WideKey, columns: { id: u128 primary_key autoincrement, v: u8 });
    worktable!(name: SizeKey, columns: { id: usize primary_key autoincrement, v: u8 });
    worktable!(name: PathKey, columns: { id: std::primitive::u16 primary_key autoincrement, v: u8 });

    #[tokio::test]
    async fn keys_count_from_zero_in_each_integer_type() {
        let small = SmallKeyWorkTable::default();
        let signed = SignedKeyWorkTable::default();
        let wide = WideKeyWorkTable::default();
        let size = SizeKeyWorkTable::default();
        let path = PathKeyWorkTable::default();
        for v in 0..3u8 {
            let id: u8 = small.get_next_pk().into();
            assert_eq!(id, v);
            small
                .insert(SmallKeyRow { id, v })
                .await
                .expect("insert u8");
            let id: i32 = signed.get_next_pk().into();
            assert_eq!(id, i32::from(v));
            signed
                .insert(SignedKeyRow { id, v })
                .await
                .expect("insert i32");
            let id: u128 = wide.get_next_pk().into();
            assert_eq!(id, u128::from(v));
            wide.insert(WideKeyRow { id, v })
                .await
                .expect("insert u128");
            let id: usize = size.get_next_pk().into();
            size.insert(SizeKeyRow { id, v })
                .await
                .expect("insert usize");
            let id: u16 = path.get_next_pk().into();
            path.insert(PathKeyRow { id, v }).await.expect("insert u16");
        }
        assert_eq!(small.select(2u8).map(|row| row.v), Some(2));
        assert_eq!(signed.select(1).map(|row| row.v), Some(1));
        assert_eq!(wide.select(0u128).map(|row| row.v), Some(0));
        assert_eq!(size.count(), 3);
        assert_eq!(path.select(2u16).map(|row| row.v), Some(2));
    }

    #[tokio::test]
    async fn explicit_keys_move_the_counter_and_u8_saturates() {
        let small = SmallKeyWorkTable::default();
        small
            .insert(SmallKeyRow { id: 254, v: 0 })
            .await
            .expect("explicit key");
        assert_eq!(u8::from(small.get_next_pk()), 255);
        assert_eq!(u8::from(small.get_next_pk()), 255, "u8 keys saturate");
        small
            .insert(SmallKeyRow { id: 255, v: 0 })
            .await
            .expect("last key");
        let again = small
            .insert(SmallKeyRow {
                id: small.get_next_pk().into(),
                v: 1,
            })
            .await;
        assert_eq!(
            again,
            Err(WorkTableError::AlreadyExists {
                index: "primary_key"
            })
        );
    }
}

/// A `custom` key: the user implements the generator (the seed example).
pub mod custom {
    use std::sync::atomic::{AtomicU64, Ordering};
    use worktable::prelude::*;

    /// A key type of the user's own.
    #[derive(
        Clone,
        Debug,
        PartialEq,
        Eq,
        PartialOrd,
        Ord,
        Hash,
        worktable::rkyv::Archive,
        worktable::rkyv::Serialize,
        worktable::rkyv::Deserialize,
    )]
    #[rkyv(crate = worktable::rkyv)]
    pub struct CustomId(u64);

    /// Hands out `CustomId`s from 0.
    #[derive(Debug, Default)]
    pub struct Generator(AtomicU64);

    impl PrimaryKeyGenerator<TestPrimaryKey> for Generator {
        fn next(&self) -> TestPrimaryKey {
            TestPrimaryKey::from(CustomId(self.0.fetch_add(1, Ordering::Relaxed)))
        }
    }
    impl TablePrimaryKey for TestPrimaryKey {
        type Generator = Generator;
    }

    worktable!(name: Test, columns: { id: CustomId primary_key custom, test: u64 });

    #[tokio::test]
    async fn the_users_generator_makes_the_keys() {
        let table = TestWorkTable::default();
        let first = table.get_next_pk();
        assert_eq!(first, TestPrimaryKey(CustomId(0)));
        let second = table.get_next_pk();
        table
            .insert(TestRow {
                id: first.into(),
                test: 10,
            })
            .await
            .expect("insert");
        table
            .insert(TestRow {
                id: second.clone().into(),
                test: 11,
            })
            .await
            .expect("insert");
        assert_eq!(table.select(CustomId(1)).map(|row| row.test), Some(11));
        assert_eq!(table.select(second).map(|row| row.test), Some(11));
        let rows = table
            .select_all()
            .order_by(Order::Desc, "id")
            .execute()
            .expect("query");
        assert_eq!(
            rows.iter().map(|row| row.test).collect::<Vec<_>>(),
            [11, 10]
        );
    }
}

/// A key of several columns, and a key without a generator.
pub mod keys {
    use worktable::prelude::*;

    worktable!(
        name: Composite,
        columns: { a: u64 primary_key, b: String primary_key, v: i32 },
        indexes: { v_idx: v, b_idx: b }
    );
    worktable!(name: Named, columns: { id: String primary_key, v: i32 });
    worktable!(name: Pair, columns: { a: u8 primary_key, b: u8 primary_key });

    #[tokio::test]
    async fn a_composite_key_is_a_tuple_of_its_columns() {
        let table = CompositeWorkTable::default();
        for (a, b, v) in [(1u64, "x", 1), (1, "y", 2), (2, "x", 3)] {
            let pk = table
                .insert(CompositeRow { a, b: b.into(), v })
                .await
                .expect("insert");
            assert_eq!(<(u64, String)>::from(pk), (a, b.to_string()));
        }
        assert_eq!(
            table.select((1u64, "x".to_string())).map(|row| row.v),
            Some(1)
        );
        assert_eq!(table.select((2u64, "y".to_string())), None);
        let dup = table
            .insert(CompositeRow {
                a: 1,
                b: "y".into(),
                v: 9,
            })
            .await;
        assert_eq!(
            dup,
            Err(WorkTableError::AlreadyExists {
                index: "primary_key"
            })
        );
        let ones = table
            .select_all()
            .where_by(1u64..=1, "a")
            .execute()
            .expect("query");
        assert_eq!(ones.len(), 2, "a key column without an index is scanned");
        assert_eq!(table.select_by_b("x").execute().expect("query").len(), 2);
        assert_eq!(table.select_by_v(3).execute().expect("query")[0].a, 2);
        table.delete((1u64, "x".to_string())).await.expect("delete");
        assert_eq!(table.count(), 2);
    }

    #[tokio::test]
    async fn a_table_of_key_columns_only() {
        let table = PairWorkTable::default();
        table.insert(PairRow { a: 1, b: 2 }).await.expect("insert");
        assert_eq!(table.select((1, 2)), Some(PairRow { a: 1, b: 2 }));
        let rows = table
            .select_all()
            .where_by(2u8.., "b")
            .execute()
            .expect("query");
        assert_eq!(rows.len(), 1);
    }

    #[tokio::test]
    async fn a_key_without_generator_is_given_by_the_user() {
        let table = NamedWorkTable::default();
        let pk = table
            .insert(NamedRow {
                id: "k".into(),
                v: 1,
            })
            .await
            .expect("insert");
        assert_eq!(pk, NamedPrimaryKey("k".into()));
        assert_eq!(table.select("k".to_string()).map(|row| row.v), Some(1));
        table
            .upsert(NamedRow {
                id: "k".into(),
                v: 2,
            })
            .await
            .expect("upsert");
        table
            .update(NamedRow {
                id: "k".into(),
                v: 3,
            })
            .await
            .expect("update");
        assert_eq!(table.select(pk).map(|row| row.v), Some(3));
    }
}

/// Every kind of column type, indexes over several of them, and a raw column name.
pub mod column_types {
    use worktable::prelude::*;

    /// A user enum stored in a column.
    #[derive(
        Clone,
        Debug,
        PartialEq,
        Eq,
        PartialOrd,
        Ord,
        Hash,
        worktable::rkyv::Archive,
        worktable::rkyv::Serialize,
        worktable::rkyv::Deserialize,
    )]
    #[rkyv(crate = worktable::rkyv)]
    pub enum Side {
        /// Buying.
        Buy,
        /// Selling.
        Sell,
    }

    /// A user struct stored in a column.
    #[derive(
        Clone,
        Debug,
        PartialEq,
        worktable::rkyv::Archive,
        worktable::rkyv::Serialize,
        worktable::rkyv::Deserialize,
    )]
    #[rkyv(crate = worktable::rkyv)]
    pub struct Point {
        /// Across.
        pub x: f64,
        /// Up.
        pub y: f64,
    }

    worktable!(
        name: Kinds,
        columns: {
            id: u32 primary_key autoincrement,
            small: f32,
            big: f64,
            flag: bool,
            text: String,
            bytes: Vec<u8>,
            quad: [u8; 4],
            pair: (u8, String),
            side: Side,
            point: Point,
            maybe: u32 optional,
            maybe_text: String optional,
            r#type: u8,
        },
        indexes: {
            text_idx: text unique,
            maybe_idx: maybe,
            maybe_text_idx: maybe_text unique,
            side_idx: side,
            type_idx: r#type,
        },
    );

    fn row(id: u32, side: Side, maybe: Option<u32>) -> KindsRow {
        KindsRow {
            id,
            small: id as f32 / 2.0,
            big: -(f64::from(id)),
            flag: id % 2 == 0,
            text: format!("t{id}"),
            bytes: vec![id as u8; id as usize],
            quad: [1, 2, 3, id as u8],
            pair: (id as u8, "p".into()),
            side,
            point: Point {
                x: 1.5,
                y: f64::from(id),
            },
            maybe,
            maybe_text: maybe.map(|m| format!("m{m}")),
            r#type: 7,
        }
    }

    #[tokio::test]
    async fn every_column_kind_round_trips() {
        let table = KindsWorkTable::default();
        let rows = [
            row(0, Side::Buy, None),
            row(1, Side::Sell, Some(5)),
            row(2, Side::Buy, Some(5)),
        ];
        let rows = [
            rows[0].clone(),
            rows[1].clone(),
            KindsRow {
                maybe_text: Some("other".into()),
                ..rows[2].clone()
            },
        ];
        for row in &rows {
            table.insert(row.clone()).await.expect("insert");
        }
        for row in &rows {
            assert_eq!(table.select(row.id).as_ref(), Some(row));
        }
        let by_big = table
            .select_all()
            .order_by(Order::Asc, "big")
            .execute()
            .expect("floats sort");
        assert_eq!(
            by_big.iter().map(|row| row.id).collect::<Vec<_>>(),
            [2, 1, 0]
        );
        let halves = table
            .select_all()
            .where_by(0.4f32..1.0, "small")
            .execute()
            .expect("query");
        assert_eq!(halves.iter().map(|row| row.id).collect::<Vec<_>>(), [1]);
        let unordered = table.select_all().order_by(Order::Asc, "point").execute();
        assert_eq!(unordered, Err(WorkTableError::ColumnNotOrdered("point")));
    }

    #[tokio::test]
    async fn indexes_on_strings_optionals_and_user_types() {
        let table = KindsWorkTable::default();
        table.insert(row(0, Side::Buy, None)).await.expect("insert");
        table
            .insert(row(1, Side::Sell, Some(5)))
            .await
            .expect("insert");
        table
            .insert(row(2, Side::Buy, Some(6)))
            .await
            .expect("insert");
        assert_eq!(table.select_by_text("t1").map(|row| row.id), Some(1));
        assert_eq!(
            table.select_by_text(String::from("t2")).map(|row| row.id),
            Some(2)
        );
        assert_eq!(table.select_by_text("nope"), None);
        assert_eq!(
            table.select_by_maybe(Some(5)).execute().expect("query")[0].id,
            1
        );
        assert_eq!(
            table.select_by_maybe(None).execute().expect("query")[0].id,
            0
        );
        assert_eq!(
            table
                .select_by_maybe_text(Some("m6".into()))
                .map(|row| row.id),
            Some(2)
        );
        assert_eq!(
            table
                .select_by_side(Side::Buy)
                .execute()
                .expect("query")
                .len(),
            2
        );
        assert_eq!(table.select_by_type(7).execute().expect("query").len(), 3);
        let taken = table
            .insert(KindsRow {
                text: "t1".into(),
                ..row(3, Side::Buy, None)
            })
            .await;
        assert_eq!(
            taken,
            Err(WorkTableError::AlreadyExists { index: "text_idx" })
        );
        let taken = table
            .insert(KindsRow {
                text: "t3".into(),
                ..row(3, Side::Buy, Some(6))
            })
            .await;
        assert_eq!(
            taken,
            Err(WorkTableError::AlreadyExists {
                index: "maybe_text_idx"
            })
        );
        table
            .update(KindsRow {
                text: "t9".into(),
                ..row(1, Side::Sell, Some(5))
            })
            .await
            .expect("update");
        assert_eq!(table.select_by_text("t1"), None);
        assert_eq!(table.select_by_text("t9").map(|row| row.id), Some(1));
    }
}

/// The optional sections: `config`, `persist: false`, and `queries` in the README's form.
pub mod sections {
    use worktable::prelude::*;

    worktable!(
        name: Configured,
        persist: false,
        columns: { id: u64 primary_key autoincrement, v: u8 },
        config: { page_size: 4096, shards: 2 },
    );
    worktable!(name: PageOnly, columns: { id: u64 primary_key }, config: { page_size: 16_384 });

    // The README's form: no comma before `queries`.
    worktable!(
        name: Seed,
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
        queries: {
            update: { AnotherByExchange(another) by exchange, AnotherById(another) by id },
            delete: { ByAnother() by another, ByTest() by test },
            in_place: { TestById(test) by id },
        }
    );

    worktable!(
        name: Smallest,
        columns: { id: u64 primary_key },
        config: { page_size: 256, shards: 1024 }
    );
    worktable!(
        name: Largest,
        columns: { id: u64 primary_key },
        config: { page_size: 1073741824, shards: 1 }
    );

    #[test]
    fn the_config_limits_the_macro_accepts_are_accepted_at_run_time() {
        // `Default` panics if the runtime refuses a configuration the macro let through.
        assert_eq!(
            SmallestWorkTable::default().table().config().shards,
            Some(1024)
        );
        assert_eq!(
            LargestWorkTable::default().table().config().page_size,
            1 << 30
        );
    }

    #[tokio::test]
    async fn config_reaches_the_table() {
        let table = ConfiguredWorkTable::default();
        let config = table.table().config();
        assert_eq!(config.page_size, 4096);
        assert_eq!(config.shards, Some(2));
        assert_eq!(config.feed_capacity, TableConfig::default().feed_capacity);
        let id = table
            .insert(ConfiguredRow {
                id: table.get_next_pk().into(),
                v: 1,
            })
            .await;
        assert_eq!(table.select(id.expect("insert")).map(|row| row.v), Some(1));
        assert_eq!(table.storage_stats().page_size, 4096);

        let page_only = PageOnlyWorkTable::default();
        assert_eq!(page_only.table().config().page_size, 16_384);
        assert_eq!(
            page_only.table().config().shards,
            TableConfig::default().shards
        );
    }

    #[tokio::test]
    async fn a_table_with_queries_works_like_one_without() {
        let table = SeedWorkTable::default();
        let row = SeedRow {
            id: table.get_next_pk().into(),
            test: 1,
            another: Some(2),
            exchange: "x".into(),
        };
        table.insert(row.clone()).await.expect("insert");
        assert_eq!(table.select_by_test(1), Some(row));
        let feed = table.subscribe();
        table.delete(0u64).await.expect("delete");
        assert!(feed.recv().await.is_ok(), "the delete was published");
    }
}

#[tokio::test]
async fn a_table_declared_inside_a_function() {
    use worktable::prelude::*;
    worktable!(name: Local, columns: { id: u64 primary_key autoincrement, v: u8 });
    let table = LocalWorkTable::default();
    let pk = table
        .insert(LocalRow {
            id: table.get_next_pk().into(),
            v: 4,
        })
        .await
        .expect("insert");
    assert_eq!(table.select(pk).map(|row| row.v), Some(4));
}
