//! Model-based test: random sequences of every write (insert, upsert, update, delete,
//! every declared query, in-place updates) against a `BTreeMap` model, checked after
//! every step through every read path: `select`, each `select_by_*`, `select_all` with
//! random ranges (several on one column among them: a row must lie in all), orders,
//! offsets and limits, and `count`.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use worktable::prelude::*;

mod query_table;

use query_table::*;

const IDS: u64 = 24;
const TESTS: i64 = 16;
const EXCHANGES: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Insert(TestRow),
    Upsert(TestRow),
    Update(TestRow),
    Delete(u64),
    AnotherByExchange(Option<u64>, String),
    AnotherByTest(Option<u64>, i64),
    AnotherById(Option<u64>, u64),
    TestAndExchangeById(i64, String, u64),
    TestByExchange(i64, String),
    ExchangeByExchange(String, String),
    DeleteByAnother(Option<u64>),
    DeleteByExchange(String),
    DeleteByTest(i64),
    CounterInPlace(u64, u64),
}

/// A range on one column, in the column's own type.
#[derive(Debug, Clone)]
enum Filter {
    Id(Bound<u64>, Bound<u64>),
    Test(Bound<i64>, Bound<i64>),
    Another(Bound<Option<u64>>, Bound<Option<u64>>),
    Exchange(Bound<String>, Bound<String>),
    Counter(Bound<u64>, Bound<u64>),
}

impl Filter {
    fn keeps(&self, row: &TestRow) -> bool {
        use std::ops::RangeBounds;
        match self {
            Filter::Id(s, e) => (s.as_ref(), e.as_ref()).contains(&row.id),
            Filter::Test(s, e) => (s.as_ref(), e.as_ref()).contains(&row.test),
            Filter::Another(s, e) => (s.as_ref(), e.as_ref()).contains(&row.another),
            Filter::Exchange(s, e) => {
                RangeBounds::<String>::contains(&(s.as_ref(), e.as_ref()), &row.exchange)
            }
            Filter::Counter(s, e) => (s.as_ref(), e.as_ref()).contains(&row.counter),
        }
    }
}

#[derive(Debug, Clone)]
struct Query {
    /// Combined with AND; two or more on one column are common.
    filters: Vec<Filter>,
    order: Vec<(usize, bool)>,
    offset: usize,
    limit: usize,
}

fn another() -> impl Strategy<Value = Option<u64>> + Clone {
    prop_oneof![Just(None), (0u64..4).prop_map(Some)]
}

fn exchange() -> impl Strategy<Value = String> {
    prop::sample::select(EXCHANGES.to_vec()).prop_map(String::from)
}

fn row() -> impl Strategy<Value = TestRow> {
    (0..IDS, 0..TESTS, another(), exchange(), 0u64..3).prop_map(
        |(id, test, another, exchange, counter)| TestRow {
            id,
            test,
            another,
            exchange,
            counter,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => row().prop_map(Op::Insert),
        2 => row().prop_map(Op::Upsert),
        2 => row().prop_map(Op::Update),
        2 => (0..IDS).prop_map(Op::Delete),
        1 => (another(), exchange()).prop_map(|(a, e)| Op::AnotherByExchange(a, e)),
        1 => (another(), 0..TESTS).prop_map(|(a, t)| Op::AnotherByTest(a, t)),
        1 => (another(), 0..IDS).prop_map(|(a, id)| Op::AnotherById(a, id)),
        2 => (0..TESTS, exchange(), 0..IDS).prop_map(|(t, e, id)| Op::TestAndExchangeById(t, e, id)),
        1 => (0..TESTS, exchange()).prop_map(|(t, e)| Op::TestByExchange(t, e)),
        1 => (exchange(), exchange()).prop_map(|(new, e)| Op::ExchangeByExchange(new, e)),
        1 => another().prop_map(Op::DeleteByAnother),
        1 => exchange().prop_map(Op::DeleteByExchange),
        1 => (0..TESTS).prop_map(Op::DeleteByTest),
        2 => (0..IDS, 1u64..5).prop_map(|(id, by)| Op::CounterInPlace(id, by)),
    ]
}

fn bound<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = Bound<T>> {
    prop_oneof![
        value.clone().prop_map(Bound::Included),
        value.prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

/// A range on column `column` (an index into [`COLUMNS`]).
fn filter_on(column: usize) -> BoxedStrategy<Filter> {
    let exchange =
        || prop::sample::select(vec!["", "a", "b", "bb", "c", "d"]).prop_map(String::from);
    match column {
        0 => (bound(0..IDS + 2), bound(0..IDS + 2))
            .prop_map(|(s, e)| Filter::Id(s, e))
            .boxed(),
        1 => (bound(-2..TESTS + 2), bound(-2..TESTS + 2))
            .prop_map(|(s, e)| Filter::Test(s, e))
            .boxed(),
        2 => (bound(another()), bound(another()))
            .prop_map(|(s, e)| Filter::Another(s, e))
            .boxed(),
        3 => (bound(exchange()), bound(exchange()))
            .prop_map(|(s, e)| Filter::Exchange(s, e))
            .boxed(),
        _ => (bound(0u64..12), bound(0u64..12))
            .prop_map(|(s, e)| Filter::Counter(s, e))
            .boxed(),
    }
}

/// Filters and orders: any mix, or (as often) two or three ranges on one column that
/// is also the first sort key, the case where the planner walks that column's index.
fn filters_and_order() -> impl Strategy<Value = (Vec<Filter>, Vec<(usize, bool)>)> {
    let order = || prop::collection::vec((0usize..COLUMNS.len(), any::<bool>()), 0..3);
    let mixed = (
        prop::collection::vec((0usize..COLUMNS.len()).prop_flat_map(filter_on), 0..4),
        order(),
    );
    let one_column = (0usize..COLUMNS.len()).prop_flat_map(move |column| {
        (
            prop::collection::vec(filter_on(column), 2..4),
            any::<bool>(),
            order(),
        )
            .prop_map(move |(filters, desc, mut order)| {
                order.insert(0, (column, desc));
                (filters, order)
            })
    });
    prop_oneof![mixed, one_column]
}

fn query() -> impl Strategy<Value = Query> {
    (
        filters_and_order(),
        0usize..10,
        prop_oneof![Just(usize::MAX), 0usize..12],
    )
        .prop_map(|((filters, order), offset, limit)| Query {
            filters,
            order,
            offset,
            limit,
        })
}

const COLUMNS: [&str; 5] = ["id", "test", "another", "exchange", "counter"];

/// Orders two rows by one column, as the table does.
fn compare(a: &TestRow, b: &TestRow, column: usize) -> std::cmp::Ordering {
    match column {
        0 => a.id.cmp(&b.id),
        1 => a.test.cmp(&b.test),
        2 => a.another.cmp(&b.another),
        3 => a.exchange.cmp(&b.exchange),
        _ => a.counter.cmp(&b.counter),
    }
}

type Model = BTreeMap<u64, TestRow>;

fn test_taken(model: &Model, test: i64, by_other_than: u64) -> bool {
    model
        .values()
        .any(|r| r.test == test && r.id != by_other_than)
}

const PK: WorkTableError = WorkTableError::AlreadyExists {
    index: "primary_key",
};
const TEST_IDX: WorkTableError = WorkTableError::AlreadyExists { index: "test_idx" };

/// What the model says the operation does; applies it to the model.
fn apply(model: &mut Model, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => {
            if model.contains_key(&row.id) {
                return Err(PK);
            }
            if test_taken(model, row.test, row.id) {
                return Err(TEST_IDX);
            }
            model.insert(row.id, row);
        }
        Op::Upsert(row) | Op::Update(row) => {
            if !model.contains_key(&row.id) && matches!(op, Op::Update(_)) {
                return Err(WorkTableError::NotFound);
            }
            if test_taken(model, row.test, row.id) {
                return Err(TEST_IDX);
            }
            model.insert(row.id, row);
        }
        Op::Delete(id) => {
            model.remove(&id).ok_or(WorkTableError::NotFound)?;
        }
        Op::AnotherByExchange(another, exchange) => {
            for row in model.values_mut().filter(|r| r.exchange == exchange) {
                row.another = another;
            }
        }
        Op::AnotherByTest(another, test) => {
            let row = model
                .values_mut()
                .find(|r| r.test == test)
                .ok_or(WorkTableError::NotFound)?;
            row.another = another;
        }
        Op::AnotherById(another, id) => {
            model.get_mut(&id).ok_or(WorkTableError::NotFound)?.another = another;
        }
        Op::TestAndExchangeById(test, exchange, id) => {
            if !model.contains_key(&id) {
                return Err(WorkTableError::NotFound);
            }
            if test_taken(model, test, id) {
                return Err(TEST_IDX);
            }
            let row = model.get_mut(&id).ok_or(WorkTableError::NotFound)?;
            row.test = test;
            row.exchange = exchange;
        }
        Op::TestByExchange(test, exchange) => {
            // All or nothing: rows that take `test` (the matching rows not holding it
            // yet) conflict with each other and with any other row holding it.
            let takers: Vec<u64> = model
                .values()
                .filter(|r| r.exchange == exchange && r.test != test)
                .map(|r| r.id)
                .collect();
            let kept_elsewhere = model
                .values()
                .any(|r| r.test == test && !takers.contains(&r.id));
            if !takers.is_empty() && (takers.len() > 1 || kept_elsewhere) {
                return Err(TEST_IDX);
            }
            for id in takers {
                model.get_mut(&id).ok_or(WorkTableError::NotFound)?.test = test;
            }
        }
        Op::ExchangeByExchange(new, exchange) => {
            for row in model.values_mut().filter(|r| r.exchange == exchange) {
                row.exchange.clone_from(&new);
            }
        }
        Op::DeleteByAnother(another) => model.retain(|_, r| r.another != another),
        Op::DeleteByExchange(exchange) => model.retain(|_, r| r.exchange != exchange),
        Op::DeleteByTest(test) => {
            let id = model.values().find(|r| r.test == test).map(|r| r.id);
            model.remove(&id.ok_or(WorkTableError::NotFound)?);
        }
        Op::CounterInPlace(id, by) => {
            model.get_mut(&id).ok_or(WorkTableError::NotFound)?.counter += by;
        }
    }
    Ok(())
}

async fn run(table: &TestWorkTable, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => table.insert(row).await.map(drop),
        Op::Upsert(row) => table.upsert(row).await,
        Op::Update(row) => table.update(row).await,
        Op::Delete(id) => table.delete(id).await,
        Op::AnotherByExchange(another, exchange) => {
            table
                .update_another_by_exchange(AnotherByExchangeQuery { another }, exchange)
                .await
        }
        Op::AnotherByTest(another, test) => {
            table
                .update_another_by_test(AnotherByTestQuery { another }, test)
                .await
        }
        Op::AnotherById(another, id) => {
            table
                .update_another_by_id(AnotherByIdQuery { another }, id)
                .await
        }
        Op::TestAndExchangeById(test, exchange, id) => {
            let query = TestAndExchangeByIdQuery { test, exchange };
            table.update_test_and_exchange_by_id(query, id).await
        }
        Op::TestByExchange(test, exchange) => {
            table
                .update_test_by_exchange(TestByExchangeQuery { test }, exchange)
                .await
        }
        Op::ExchangeByExchange(new, exchange) => {
            let query = ExchangeByExchangeQuery { exchange: new };
            table.update_exchange_by_exchange(query, exchange).await
        }
        Op::DeleteByAnother(another) => table.delete_by_another(another).await,
        Op::DeleteByExchange(exchange) => table.delete_by_exchange(exchange).await,
        Op::DeleteByTest(test) => table.delete_by_test(test).await,
        Op::CounterInPlace(id, by) => {
            table
                .update_counter_by_id_in_place(id, move |counter| *counter += by)
                .await
        }
    }
}

fn expected_query(model: &Model, query: &Query) -> Vec<TestRow> {
    let mut rows: Vec<TestRow> = model
        .values()
        .filter(|row| query.filters.iter().all(|filter| filter.keeps(row)))
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        query
            .order
            .iter()
            .map(|(column, desc)| {
                let ordering = compare(a, b, *column);
                if *desc { ordering.reverse() } else { ordering }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows.into_iter()
        .skip(query.offset)
        .take(query.limit)
        .collect()
}

fn run_query(table: &TestWorkTable, query: &Query) -> Vec<TestRow> {
    let mut select = table.select_all();
    for filter in query.filters.clone() {
        select = match filter {
            Filter::Id(s, e) => select.where_by((s, e), "id"),
            Filter::Test(s, e) => select.where_by((s, e), TestColumn::Test),
            Filter::Another(s, e) => select.where_by((s, e), "another"),
            Filter::Exchange(s, e) => select.where_by((s, e), TestColumn::Exchange),
            Filter::Counter(s, e) => select.where_by((s, e), "counter"),
        };
    }
    for (column, desc) in &query.order {
        select = select.order_by(
            if *desc { Order::Desc } else { Order::Asc },
            COLUMNS[*column],
        );
    }
    select
        .offset(query.offset)
        .limit(query.limit)
        .execute()
        .expect("valid query")
}

fn check(table: &TestWorkTable, model: &Model, query: &Query) {
    assert_eq!(table.count(), model.len());
    for id in 0..IDS {
        assert_eq!(table.select(id).as_ref(), model.get(&id), "select({id})");
    }
    for test in 0..TESTS {
        let want = model.values().find(|r| r.test == test);
        assert_eq!(
            table.select_by_test(test).as_ref(),
            want,
            "select_by_test({test})"
        );
    }
    for exchange in EXCHANGES {
        let want: Vec<TestRow> = model
            .values()
            .filter(|r| r.exchange == exchange)
            .cloned()
            .collect();
        let got = table.select_by_exchange(exchange).execute().expect("query");
        assert_eq!(got, want, "select_by_exchange({exchange})");
    }
    assert_eq!(
        run_query(table, query),
        expected_query(model, query),
        "{query:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_a_btreemap_model(
        steps in prop::collection::vec((op(), query()), 1_000..2_000),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let table = TestWorkTable::default();
            let mut model = Model::new();
            for (step, (op, query)) in steps.iter().enumerate() {
                let want = apply(&mut model, op);
                let got = run(&table, op).await;
                assert_eq!(got, want, "step {step}: {op:?}");
                check(&table, &model, query);
            }
        });
    }
}
