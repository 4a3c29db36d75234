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
