//! Valid `worktable!` declarations compile and work: every key generator (autoincrement
//! over several integer types, custom, none), composite keys, every kind of column type,
//! indexes on strings and optional columns, the `config`, `persist: false` and `queries`
//! sections, and the README's comma-less form. Each table inserts rows and reads them
//! back through the generated API. The query methods' behaviour is tested in
//! `tests/queries_generated.rs`; here their declarations compile, with the expected
//! signatures.
//!
//! The crate denies `missing_docs` and `unused`: the generated public items must carry
//! docs, and a table with no indexes or no generator must expand without warnings. It
//! forbids `unsafe_code`: the generated code has none, so users may forbid it too.
#![deny(missing_docs, unused)]
#![forbid(unsafe_code)]

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
            let id = table.get_next_pk().expect("a key is left");
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
            let id: u8 = small.get_next_pk().expect("a key is left").into();
            assert_eq!(id, v);
            small
                .insert(SmallKeyRow { id, v })
                .await
                .expect("insert u8");
            let id: i32 = signed.get_next_pk().expect("a key is left").into();
            assert_eq!(id, i32::from(v));
            signed
                .insert(SignedKeyRow { id, v })
                .await
                .expect("insert i32");
            let id: u128 = wide.get_next_pk().expect("a key is left").into();
            assert_eq!(id, u128::from(v));
            wide.insert(WideKeyRow { id, v })
                .await
                .expect("insert u128");
            let id: usize = size.get_next_pk().expect("a key is left").into();
            size.insert(SizeKeyRow { id, v })
                .await
                .expect("insert usize");
            let id: u16 = path.get_next_pk().expect("a key is left").into();
            path.insert(PathKeyRow { id, v }).await.expect("insert u16");
        }
        assert_eq!(small.select(2u8).map(|row| row.v), Some(2));
        assert_eq!(signed.select(1).map(|row| row.v), Some(1));
        assert_eq!(wide.select(0u128).map(|row| row.v), Some(0));
        assert_eq!(size.count(), 3);
        assert_eq!(path.select(2u16).map(|row| row.v), Some(2));
    }

    #[tokio::test]
    async fn explicit_keys_move_the_counter_and_u8_keys_run_out() {
        let small = SmallKeyWorkTable::default();
        small
            .insert(SmallKeyRow { id: 254, v: 0 })
            .await
            .expect("explicit key");
        let last = small.get_next_pk().expect("255 is left");
        assert_eq!(u8::from(last.clone()), 255);
        assert_eq!(
            small.get_next_pk(),
            Err(WorkTableError::KeysExhausted { key_type: "u8" }),
            "255 is never handed out twice"
        );
        small
            .insert(SmallKeyRow {
                id: last.into(),
                v: 0,
            })
            .await
            .expect("last key");
    }

    /// The 257th key of a `u8` table is refused by the generator, naming the type,
    /// instead of a duplicate key that an insert reports as `AlreadyExists` (and an
    /// upsert would silently write over).
    #[tokio::test]
    async fn the_257th_u8_key_is_refused_as_exhausted() {
        let small = SmallKeyWorkTable::default();
        for v in 0..=u8::MAX {
            let id = small.get_next_pk().expect("a key is left");
            small
                .insert(SmallKeyRow { id: id.into(), v })
                .await
                .expect("a fresh key");
        }
        assert_eq!(small.count(), 256);
        let refused = small.get_next_pk();
        assert_eq!(
            refused,
            Err(WorkTableError::KeysExhausted { key_type: "u8" })
        );
        let message = refused.expect_err("exhausted").to_string();
        assert!(message.contains("`u8`"), "{message}");
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
        let first = table.get_next_pk().expect("custom keys never run out");
        assert_eq!(first, TestPrimaryKey(CustomId(0)));
        let second = table.get_next_pk().expect("custom keys never run out");
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
                id: table.get_next_pk().expect("a key is left").into(),
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
            id: table.get_next_pk().expect("a key is left").into(),
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

/// The `queries` section: every kind of query, by every kind of column.
pub mod queries {
    use worktable::prelude::*;

    // The declaration.
    worktable!(
        name: Test,
        columns: {
            id: u64 primary_key autoincrement,
            test: i64,
            another: u64 optional,
            exchange: String,
            counter: u64,
        },
        indexes: {
            test_idx: test unique,
            exchange_idx: exchange,
        },
        queries: {
            update: {
                AnotherByExchange(another) by exchange,
                AnotherByTest(another) by test,
                AnotherById(another) by id,
                TestAndExchangeById(test, exchange) by id,
            },
            delete: { ByAnother() by another, ByExchange() by exchange, ByTest() by test },
            in_place: { CounterById(counter) by id }
        }
    );

    // A composite key: a delete by one of its columns reads every row; an update needs an
    // index on the column.
    worktable!(
        name: Composite,
        columns: { a: u64 primary_key, b: String primary_key, v: i32 },
        indexes: { b_idx: b },
        queries: {
            update: { VByB(v) by b },
            delete: { ByA() by a, ByB() by b, ByV() by v },
        }
    );

    // Raw names, a query updating several columns in place (over a type named like a
    // type parameter), and a column type that has `PartialEq` but no order (a delete by it
    // compares with `==`).
    worktable!(
        name: Raw,
        columns: { id: u32 primary_key, r#type: F, r#loop: String, point: Point },
        queries: {
            delete: { ByPoint() by point, r#Type() by r#type },
            in_place: { TypeAndLoop(r#type, r#loop) by id },
        }
    );

    /// A column type named like the usual type parameter of a closure.
    pub type F = u8;

    /// A column type without an order.
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
    }

    /// The generated query types and methods, by their expected signatures.
    #[test]
    fn queries_generate_the_expected_api() {
        type Done<'a> = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), WorkTableError>> + Send + 'a>,
        >;
        let _: fn(&TestWorkTable, AnotherByExchangeQuery, String) -> Done<'_> =
            |t, q, by| Box::pin(t.update_another_by_exchange(q, by));
        let _: fn(&TestWorkTable, AnotherByTestQuery, i64) -> Done<'_> =
            |t, q, by| Box::pin(t.update_another_by_test(q, by));
        let _: fn(&TestWorkTable, AnotherByIdQuery, u64) -> Done<'_> =
            |t, q, by| Box::pin(t.update_another_by_id(q, by));
        let _: fn(&TestWorkTable, TestAndExchangeByIdQuery, u64) -> Done<'_> =
            |t, q, by| Box::pin(t.update_test_and_exchange_by_id(q, by));
        let _: fn(&TestWorkTable, Option<u64>) -> Done<'_> =
            |t, by| Box::pin(t.delete_by_another(by));
        let _: fn(&TestWorkTable, String) -> Done<'_> = |t, by| Box::pin(t.delete_by_exchange(by));
        let _: fn(&TestWorkTable, i64) -> Done<'_> = |t, by| Box::pin(t.delete_by_test(by));
        let _: fn(&TestWorkTable, u64) -> Done<'_> =
            |t, by| Box::pin(t.update_counter_by_id_in_place(by, |c: &mut u64| *c += 1));
        let _: fn(&TestWorkTable, TestPrimaryKey) -> Done<'_> =
            |t, by| Box::pin(t.update_counter_by_id_in_place(by, |c| *c += 1));

        let _: fn(&CompositeWorkTable, VByBQuery, String) -> Done<'_> =
            |t, q, by| Box::pin(t.update_v_by_b(q, by));
        let _: fn(&CompositeWorkTable, u64) -> Done<'_> = |t, by| Box::pin(t.delete_by_a(by));
        let _: fn(&CompositeWorkTable, String) -> Done<'_> = |t, by| Box::pin(t.delete_by_b(by));
        let _: fn(&CompositeWorkTable, i32) -> Done<'_> = |t, by| Box::pin(t.delete_by_v(by));

        let _: fn(&RawWorkTable, Point) -> Done<'_> = |t, by| Box::pin(t.delete_by_point(by));
        let _: fn(&RawWorkTable, u8) -> Done<'_> = |t, by| Box::pin(t.delete_type(by));
        let _: fn(&RawWorkTable, u32) -> Done<'_> = |t, by| {
            Box::pin(
                t.update_type_and_loop_in_place(by, |(ty, lp): (&mut u8, &mut String)| {
                    *ty += 1;
                    lp.push('!');
                }),
            )
        };

        let query = AnotherByExchangeQuery { another: Some(5) };
        assert_eq!(query.clone(), query);
        assert_eq!(
            format!("{query:?}"),
            "AnotherByExchangeQuery { another: Some(5) }"
        );
        let _ = TestAndExchangeByIdQuery {
            test: 1,
            exchange: "x".into(),
        };
        let _: (
            AnotherByExchangeBy,
            AnotherByTestBy,
            AnotherByIdBy,
            TestAndExchangeByIdBy,
            ByAnotherBy,
            ByExchangeBy,
            ByTestBy,
            CounterByIdBy,
        ) = (
            String::new(),
            0i64,
            0u64,
            0u64,
            None::<u64>,
            String::new(),
            0i64,
            0u64,
        );
        let _: (
            VByBBy,
            ByABy,
            ByBBy,
            ByVBy,
            ByPointBy,
            TypeBy,
            TypeAndLoopBy,
        ) = (
            String::new(),
            0u64,
            String::new(),
            0i32,
            Point { x: 0.0 },
            0u8,
            0u32,
        );
    }

    #[tokio::test]
    async fn a_delete_by_a_composite_key_column_reads_every_row() {
        let table = CompositeWorkTable::default();
        for (a, b, v) in [(1u64, "x", 1), (1, "y", 2), (2, "x", 3)] {
            table
                .insert(CompositeRow { a, b: b.into(), v })
                .await
                .expect("insert");
        }
        table.delete_by_a(1).await.expect("delete by a");
        let left = table.select_all().execute().expect("query");
        assert_eq!(
            left,
            [CompositeRow {
                a: 2,
                b: "x".into(),
                v: 3
            }]
        );
        table.delete_by_a(1).await.expect("no row left is no error");
    }

    #[tokio::test]
    async fn a_delete_by_an_unordered_column_compares_with_eq() {
        let table = RawWorkTable::default();
        for (id, x) in [(1u32, 0.5), (2, 1.5), (3, 0.5)] {
            table
                .insert(RawRow {
                    id,
                    r#type: 0,
                    r#loop: String::new(),
                    point: Point { x },
                })
                .await
                .expect("insert");
        }
        table
            .delete_by_point(Point { x: 0.5 })
            .await
            .expect("delete by point");
        assert_eq!(table.count(), 1);
        table
            .update_type_and_loop_in_place(2u32, |(ty, lp)| {
                *ty = 9;
                lp.push_str("again");
            })
            .await
            .expect("in place");
        let row = table.select(2u32).expect("row 2");
        assert_eq!((row.r#type, row.r#loop.as_str()), (9, "again"));
        table.delete_type(9).await.expect("delete by type");
        assert_eq!(table.count(), 0);
    }
}

#[tokio::test]
async fn a_table_declared_inside_a_function() {
    use worktable::prelude::*;
    worktable!(name: Local, columns: { id: u64 primary_key autoincrement, v: u8 });
    let table = LocalWorkTable::default();
    let pk = table
        .insert(LocalRow {
            id: table.get_next_pk().expect("a key is left").into(),
            v: 4,
        })
        .await
        .expect("insert");
    assert_eq!(table.select(pk).map(|row| row.v), Some(4));
}
