//! The `Test` table with the declared queries of the README, shared by the query tests.
#![allow(dead_code)]

use worktable::prelude::*;

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
            TestByExchange(test) by exchange,
            ExchangeByExchange(exchange) by exchange,
        },
        delete: { ByAnother() by another, ByExchange() by exchange, ByTest() by test, ById() by id },
        in_place: { CounterById(counter) by id, CounterAndAnotherById(counter, another) by id }
    }
);

/// The keys that `exchange_idx` lists for `value`, read from the index itself (not through
/// the rows, which would hide an entry left behind): tests check it lists exactly the rows
/// that hold the value. Only this module, which declares the table, can name the field.
pub fn exchange_idx_keys(table: &TestWorkTable, value: &str) -> Vec<u64> {
    fn index(
        indexes: &TestIndexes,
    ) -> &worktable::__private::NonUniqueIndex<String, TestPrimaryKey> {
        &indexes.exchange_idx
    }
    table
        .table()
        .select_keys(index, &value.to_string())
        .into_iter()
        .map(u64::from)
        .collect()
}
