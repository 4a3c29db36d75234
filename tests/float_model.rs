//! Model-based test of float columns: random inserts, upserts and deletes (by key and by
//! a float value) of rows holding NaNs of both signs, `±0.0`, `±inf` and numbers, checked
//! after every step against a `BTreeMap` model through `select_all` with several random
//! ranges per column, sorts on several columns, offsets and limits. The model orders
//! floats by `total_cmp`, the order the table documents.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use worktable::prelude::*;

worktable!(
    name: Floats,
    columns: {
        id: u64 primary_key,
        x: f64,
        y: f32 optional,
        n: u8,
    },
    queries: {
        delete: { ByX() by x },
    }
);

const IDS: u64 = 16;

/// The values that stress an order: NaNs of both signs, zeros of both signs, the
/// infinities, and a few numbers between.
const XS: [f64; 10] = [
    f64::NAN,
    -f64::NAN,
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1.0,
    -1.5,
    2.5,
    1e300,
];

fn x() -> impl Strategy<Value = f64> + Clone {
    prop::sample::select(XS.to_vec())
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "XS hold f32 values or NaNs"
)]
fn y() -> impl Strategy<Value = Option<f32>> + Clone {
    prop_oneof![
        1 => Just(None),
        4 => prop::sample::select(XS[..9].to_vec()).prop_map(|x| Some(x as f32)),
    ]
}

fn row() -> impl Strategy<Value = FloatsRow> {
    (0..IDS, x(), y(), 0u8..3).prop_map(|(id, x, y, n)| FloatsRow { id, x, y, n })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(FloatsRow),
    Upsert(FloatsRow),
    Delete(u64),
    DeleteByX(f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => row().prop_map(Op::Insert),
        2 => row().prop_map(Op::Upsert),
        1 => (0..IDS).prop_map(Op::Delete),
        1 => x().prop_map(Op::DeleteByX),
    ]
}

#[derive(Debug, Clone)]
enum Filter {
    X(Bound<f64>, Bound<f64>),
    Y(Bound<Option<f32>>, Bound<Option<f32>>),
    N(Bound<u8>, Bound<u8>),
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

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (bound(x()), bound(x())).prop_map(|(s, e)| Filter::X(s, e)),
        2 => (bound(y()), bound(y())).prop_map(|(s, e)| Filter::Y(s, e)),
        1 => (bound(0u8..4), bound(0u8..4)).prop_map(|(s, e)| Filter::N(s, e)),
    ]
}

#[derive(Debug, Clone)]
struct Query {
    filters: Vec<Filter>,
    /// Column (0 = id, 1 = x, 2 = y, 3 = n) and whether descending.
    order: Vec<(usize, bool)>,
    offset: usize,
    limit: usize,
}

const COLUMNS: [&str; 4] = ["id", "x", "y", "n"];

fn query() -> impl Strategy<Value = Query> {
    (
        prop::collection::vec(filter(), 0..4),
        prop::collection::vec((0usize..COLUMNS.len(), any::<bool>()), 0..3),
        0usize..4,
        prop_oneof![Just(usize::MAX), 0usize..8],
    )
        .prop_map(|(filters, order, offset, limit)| Query {
            filters,
            order,
            offset,
            limit,
        })
}

/// The model's order of optional floats: `None` first, then `total_cmp`.
fn cmp_y(a: Option<f32>, b: Option<f32>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        _ => a.is_some().cmp(&b.is_some()),
    }
}

/// Whether `value` lies between `start` and `end` under `cmp`.
fn within<T: Copy>(value: T, start: Bound<T>, end: Bound<T>, cmp: fn(T, T) -> Ordering) -> bool {
    let above = match start {
        Bound::Included(s) => cmp(value, s).is_ge(),
        Bound::Excluded(s) => cmp(value, s).is_gt(),
        Bound::Unbounded => true,
    };
    let below = match end {
        Bound::Included(e) => cmp(value, e).is_le(),
        Bound::Excluded(e) => cmp(value, e).is_lt(),
        Bound::Unbounded => true,
    };
    above && below
}

impl Filter {
    fn keeps(&self, row: &FloatsRow) -> bool {
        match *self {
            Filter::X(s, e) => within(row.x, s, e, |a, b| a.total_cmp(&b)),
            Filter::Y(s, e) => within(row.y, s, e, cmp_y),
            Filter::N(s, e) => within(row.n, s, e, |a, b| a.cmp(&b)),
        }
    }
}

fn compare(a: &FloatsRow, b: &FloatsRow, column: usize) -> Ordering {
    match column {
        0 => a.id.cmp(&b.id),
        1 => a.x.total_cmp(&b.x),
        2 => cmp_y(a.y, b.y),
        _ => a.n.cmp(&b.n),
    }
}

/// A row as bits, so NaNs compare equal to themselves and `-0.0` differs from `0.0`.
fn bits(row: &FloatsRow) -> (u64, u64, Option<u32>, u8) {
    (row.id, row.x.to_bits(), row.y.map(f32::to_bits), row.n)
}

type Model = BTreeMap<u64, FloatsRow>;

fn apply(model: &mut Model, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => {
            if model.contains_key(&row.id) {
                return Err(WorkTableError::AlreadyExists {
                    index: "primary_key",
                });
            }
            model.insert(row.id, row);
        }
        Op::Upsert(row) => {
            model.insert(row.id, row);
        }
        Op::Delete(id) => {
            model.remove(&id).ok_or(WorkTableError::NotFound)?;
        }
        Op::DeleteByX(x) => model.retain(|_, row| row.x.total_cmp(&x).is_ne()),
    }
    Ok(())
}

async fn run(table: &FloatsWorkTable, op: &Op) -> Result<(), WorkTableError> {
    match op.clone() {
        Op::Insert(row) => table.insert(row).await.map(drop),
        Op::Upsert(row) => table.upsert(row).await,
        Op::Delete(id) => table.delete(id).await,
        Op::DeleteByX(x) => table.delete_by_x(x).await,
    }
}

fn expected(model: &Model, query: &Query) -> Vec<FloatsRow> {
    let mut rows: Vec<FloatsRow> = model
        .values()
        .filter(|row| query.filters.iter().all(|filter| filter.keeps(row)))
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        query
            .order
            .iter()
            .map(|&(column, desc)| {
                let ordering = compare(a, b, column);
                if desc { ordering.reverse() } else { ordering }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    rows.into_iter()
        .skip(query.offset)
        .take(query.limit)
        .collect()
}

fn actual(table: &FloatsWorkTable, query: &Query) -> Vec<FloatsRow> {
    let mut select = table.select_all();
    for filter in query.filters.clone() {
        select = match filter {
            Filter::X(s, e) => select.where_by((s, e), "x"),
            Filter::Y(s, e) => select.where_by((s, e), FloatsColumn::Y),
            Filter::N(s, e) => select.where_by((s, e), "n"),
        };
    }
    for &(column, desc) in &query.order {
        let order = if desc { Order::Desc } else { Order::Asc };
        select = select.order_by(order, COLUMNS[column]);
    }
    select
        .offset(query.offset)
        .limit(query.limit)
        .execute()
        .expect("valid query")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn float_columns_match_a_total_cmp_model(
        steps in prop::collection::vec((op(), query()), 200..400),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let table = FloatsWorkTable::default();
            let mut model = Model::new();
            for (step, (op, query)) in steps.iter().enumerate() {
                let want = apply(&mut model, op);
                let got = run(&table, op).await;
                assert_eq!(got, want, "step {step}: {op:?}");
                assert_eq!(table.count(), model.len());
                let got: Vec<_> = actual(&table, query).iter().map(bits).collect();
                let want: Vec<_> = expected(&model, query).iter().map(bits).collect();
                assert_eq!(got, want, "step {step}: {query:?}");
            }
        });
    }
}
