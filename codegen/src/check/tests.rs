//! Unit tests of the checks: each bad declaration is refused with the expected message,
//! and good ones give the expected model.

use quote::quote;

use super::table;
use crate::model::{Generator, QueryKind, Table};

fn check(tokens: proc_macro2::TokenStream) -> Result<Table, Vec<String>> {
    let decl = syn::parse2(tokens).expect("the declaration parses");
    table(&decl).map_err(|error| error.into_iter().map(|e| e.to_string()).collect())
}

fn errors(tokens: proc_macro2::TokenStream) -> Vec<String> {
    match check(tokens) {
        Ok(_) => panic!("the declaration was accepted"),
        Err(errors) => errors,
    }
}

fn assert_one_error(tokens: proc_macro2::TokenStream, needle: &str) {
    let errors = errors(tokens);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(needle),
        "{:?} does not contain {needle:?}",
        errors[0]
    );
}

#[test]
fn the_contract_declaration_builds_its_model() {
    let table = check(quote! {
        name: Test,
        columns: {
            id: u64 primary_key autoincrement,
            test: i64,
            another: u64 optional,
            exchange: String,
        },
        indexes: { test_idx: test unique, exchange_idx: exchange, }
        queries: {
            update: { AnotherByExchange(another) by exchange, AnotherById(another) by id },
            delete: { ByAnother() by another, ByTest() by test },
            in_place: { TestById(test) by id },
        },
        config: { page_size: 16384, shards: 2, feed_capacity: 8 },
        persist: false
    })
    .expect("valid");
    assert_eq!(table.name, "Test");
    assert_eq!(table.columns.len(), 4);
    assert_eq!(table.columns[2].variant, "Another");
    assert!(table.columns[2].optional);
    assert_eq!(table.primary_key.columns, [0]);
    assert!(matches!(
        table.primary_key.generator,
        Generator::AutoIncrement
    ));
    assert_eq!(table.indexes.len(), 2);
    assert!(table.indexes[0].unique && !table.indexes[1].unique);
    assert_eq!(table.queries.len(), 5);
    assert_eq!(table.queries[4].kind, QueryKind::InPlace);
    assert_eq!(table.queries[0].by.index, 3);
    assert_eq!(table.config.page_size, Some(16384));
    assert_eq!(table.config.shards, Some(2));
    assert_eq!(table.config.feed_capacity, Some(8));
}

#[test]
fn composite_keys_keep_declaration_order() {
    let table = check(quote! {
        name: T, columns: { v: u8, b: String primary_key, a: u64 primary_key }
    })
    .expect("valid");
    assert_eq!(table.primary_key.columns, [1, 2]);
    assert!(matches!(table.primary_key.generator, Generator::None));
    assert_eq!(table.single_key_column(), None);
}

#[test]
fn top_level_syntax_errors_say_what_was_expected() {
    let error = |tokens| match syn::parse2::<crate::ast::Declaration>(tokens) {
        Ok(_) => panic!("not a declaration"),
        Err(error) => error.to_string(),
    };
    assert_eq!(error(quote!(name:)), "expected the value of section `name`");
    assert_eq!(
        error(quote!(name: T, 5)),
        "expected a section, as in `name: MyTable`"
    );
    assert_eq!(error(quote!(name T)), "expected `:`");
}

#[test]
fn sections() {
    assert_one_error(quote!(columns: { id: u64 primary_key }), "missing `name`");
    assert_one_error(quote!(name: T), "missing `columns`");
    assert_one_error(
        quote!(name: T, columns: { id: u64 primary_key }, colums: {}),
        "unknown section `colums`; expected `name`, `persist`, `columns`, `indexes`, `queries` or `config`",
    );
    assert_one_error(
        quote!(name: T, name: U, columns: { id: u64 primary_key }),
        "given twice",
    );
    assert_one_error(
        quote!(name: T, persist: yes, columns: { id: u64 primary_key }),
        "`true` (kept on disk) or `false` (memory only)",
    );
    assert_one_error(
        quote!(name: T, columns: { id: }),
        "expected the column's type",
    );
    assert_one_error(
        quote!(name: 5, columns: { id: u64 primary_key }),
        "expected the table name",
    );
}

#[test]
fn columns() {
    let t = |columns: proc_macro2::TokenStream, needle: &str| {
        assert_one_error(quote!(name: T, columns: { #columns }), needle)
    };
    t(quote!(), "`columns` is empty");
    t(quote!(id: u64 primary_key, id: u8), "duplicate column `id`");
    t(
        quote!(id: u64 primary_key, r#id: u8),
        "duplicate column `id`",
    );
    t(quote!(id: u64), "no column is marked `primary_key`");
    t(
        quote!(id: u64 primary_key uniq),
        "unknown column flag `uniq`; expected `primary_key`, `autoincrement`, `custom` or `optional`",
    );
    t(
        quote!(id: u64 primary_key primary_key),
        "flag `primary_key` is given twice",
    );
    t(
        quote!(id: u64 primary_key, n: u64 autoincrement),
        "add `primary_key` to this column",
    );
    t(
        quote!(id: u64 primary_key, n: u64 custom),
        "add `primary_key` to this column",
    );
    t(
        quote!(id: u64 primary_key autoincrement custom),
        "keep only one of them",
    );
    t(
        quote!(id: f64 primary_key autoincrement),
        "`autoincrement` needs an integer key type",
    );
    t(
        quote!(id: String primary_key autoincrement),
        "`autoincrement` needs an integer key type",
    );
    t(
        quote!(a: u64 primary_key autoincrement, b: u64 primary_key),
        "needs a single primary-key column",
    );
    t(
        quote!(a: u64 primary_key, b: u64 primary_key custom),
        "needs a single primary-key column",
    );
    t(quote!(id: u64 primary_key optional), "cannot be `optional`");
    t(
        quote!(id: u64 primary_key, v: Option<u8> optional),
        "write `v: u8 optional`",
    );
    t(
        quote!(id: u64 primary_key, foo_bar: u8, fooBar: u8),
        "would both be `FooBar`",
    );
    t(
        quote!(id: u64 primary_key, label: &'static str),
        "column `label` cannot be stored: a row owns its values, and this is a reference; \
         store an owned type: `String` for `&str`",
    );
    t(
        quote!(id: u64 primary_key, tags: Vec<&'static str> optional),
        "column `tags` cannot be stored",
    );
    t(
        quote!(id: u64 primary_key, f: Box<dyn Fn()>),
        "a trait object or `impl Trait` has no single stored form",
    );
}

#[test]
fn every_integer_autoincrements() {
    for ty in crate::ty::INTEGERS {
        let ty = syn::parse_str::<syn::Type>(ty).expect("a type");
        check(quote!(name: T, columns: { id: #ty primary_key autoincrement })).expect("valid");
    }
}

#[test]
fn indexes() {
    let t = |indexes: proc_macro2::TokenStream, needle: &str| {
        assert_one_error(
            quote! {
                name: T,
                columns: { id: u64 primary_key, a: u64, b: f32, c: f64 optional, d: Option<f64>, e: u8 },
                indexes: { #indexes }
            },
            needle,
        )
    };
    t(quote!(i: a, i: e), "duplicate index `i`");
    t(
        quote!(i: x),
        "unknown column `x` for index `i`; the columns are `id`, `a`, `b`, `c`, `d` and `e`",
    );
    t(
        quote!(i: a, j: a unique),
        "column `a` already has index `i`",
    );
    t(
        quote!(i: id),
        "`id` is the primary key, which is indexed already",
    );
    t(quote!(i: b), "column `b` holds floats");
    t(quote!(i: c), "column `c` holds floats");
    t(quote!(i: d), "column `d` holds floats");
    t(
        quote!(i: a uniq),
        "unknown index flag `uniq`; the only index flag is `unique`",
    );
    t(quote!(i: a unique unique), "flag `unique` is given twice");
    let table = check(quote! {
        name: T, columns: { a: u64 primary_key, b: u64 primary_key }, indexes: { i: a }
    })
    .expect("a column of a composite key may be indexed");
    assert_eq!(table.indexes[0].column, 0);
}

#[test]
fn config() {
    let t = |config: proc_macro2::TokenStream, needle: &str| {
        assert_one_error(
            quote!(name: T, columns: { id: u64 primary_key }, config: { #config }),
            needle,
        )
    };
    t(
        quote!(pages: 1),
        "unknown config key `pages`; expected `page_size`, `shards` or `feed_capacity`",
    );
    t(
        quote!(page_size: 4096, page_size: 4096),
        "`page_size` is given twice",
    );
    t(
        quote!(page_size: "4096"),
        "`page_size` must be an integer literal",
    );
    t(
        quote!(page_size: 4 * 1024),
        "`page_size` must be an integer literal",
    );
    t(
        quote!(page_size: 1000),
        "must be a multiple of 16; write 992 or 1008",
    );
    t(
        quote!(page_size: 128),
        "between 256 and 1073741824 (1 GiB) bytes, not 128",
    );
    t(quote!(page_size: 2147483648), "not 2147483648");
    t(
        quote!(page_size: 999999999999999999999999999999999999999999),
        "not 9999",
    );
    t(
        quote!(shards: 0),
        "`shards` must be between 1 and 1024, not 0",
    );
    t(quote!(shards: -1), "not -1");
    t(quote!(shards: 1025), "not 1025");
    t(
        quote!(feed_capacity: 0),
        "`feed_capacity` is how many operations each subscription buffers, so it must be \
         between 1 and 4294967295, not 0",
    );
    t(quote!(feed_capacity: 4294967296), "not 4294967296");
    t(
        quote!(feed_capacity: 1 << 10),
        "`feed_capacity` must be an integer literal",
    );
    for ok in [
        quote!(page_size: 256),
        quote!(page_size: 1073741824),
        quote!(shards: 1024),
        quote!(feed_capacity: 1),
        quote!(feed_capacity: 4294967295),
    ] {
        check(quote!(name: T, columns: { id: u64 primary_key }, config: { #ok })).expect("valid");
    }
}

#[test]
fn queries() {
    let t = |queries: proc_macro2::TokenStream, needle: &str| {
        assert_one_error(
            quote! {
                name: T,
                columns: { id: u64 primary_key, a: u64, b: u64, c: u64 },
                indexes: { a_idx: a },
                queries: { #queries }
            },
            needle,
        )
    };
    t(
        quote!(select: { A(a) by id }),
        "unknown query kind `select`; expected `update`, `delete` or `in_place`",
    );
    t(
        quote!(update: { A(x) by id }),
        "unknown column `x` in query `A`; the columns are `id`, `a`, `b` and `c`",
    );
    t(
        quote!(update: { A(a) by x }),
        "unknown column `x` in query `A`",
    );
    t(
        quote!(update: { A(b) by id }, delete: { A() by b }),
        "duplicate query name `A`",
    );
    t(
        quote!(update: { A() by id }),
        "`update` query `A` sets no column",
    );
    t(
        quote!(in_place: { A() by id }),
        "`in_place` query `A` sets no column",
    );
    t(quote!(delete: { A(b) by c }), "write `A() by c`");
    t(
        quote!(update: { A(id, b) by a }),
        "`id` is part of the primary key",
    );
    t(
        quote!(in_place: { A(id) by id }),
        "`id` is part of the primary key",
    );
    t(
        quote!(in_place: { A(b) by a }),
        "write `A(...) by id`, not `by a`",
    );
    t(
        quote!(update: { A(b) by c }),
        "add one (`indexes: { c_idx: c }`)",
    );
    t(
        quote!(update: { A(b, c, b) by id }),
        "column `b` is listed twice in query `A`",
    );
    t(
        quote!(update: { A(b) by id } update: { B(c) by id }),
        "`update` is given twice",
    );
    check(quote! {
        name: T,
        columns: { id: u64 primary_key, a: u64, b: u64 },
        indexes: { a_idx: a },
        queries: { delete: { ByB() by b } update: { B(b) by a, A(a) by id } in_place: { C(a, b) by id } }
    })
    .expect("valid queries");
    assert_one_error(
        quote! {
            name: T,
            columns: { x: u64 primary_key, y: u64 primary_key, b: u64 },
            queries: { in_place: { A(b) by x } }
        },
        "this table's key has several columns",
    );
    let composite = |queries: proc_macro2::TokenStream| {
        quote! {
            name: T,
            columns: { x: u64 primary_key, y: u64 primary_key, b: u64, c: u64 },
            indexes: { y_idx: y },
            queries: { #queries }
        }
    };
    assert_one_error(
        composite(quote!(update: { A(b) by x })),
        "finds rows by `x`, which has no index (it is only one column of the primary key",
    );
    assert_one_error(
        composite(quote!(update: { A(b) by c })),
        "add one (`indexes: { c_idx: c }`) or update by an indexed column",
    );
    check(composite(quote! {
        update: { A(b) by y },
        delete: { ByX() by x, ByY() by y, ByB() by b },
    }))
    .expect("a composite key's columns find rows for `delete`, and for `update` when indexed");
}

#[test]
fn query_methods() {
    let table = check(quote! {
        name: T,
        columns: { id: u64 primary_key, a: u64, r#type: u64 },
        queries: {
            update: { AByID(a) by id, r#Type(r#type) by id },
            delete: { ById() by id },
            in_place: { AById(a) by id },
        }
    })
    .expect("valid queries");
    let methods: Vec<String> = table.queries.iter().map(|q| q.method.to_string()).collect();
    assert_eq!(
        methods,
        [
            "update_a_by_id",
            "update_type",
            "delete_by_id",
            "update_a_by_id_in_place"
        ]
    );

    let t = |queries: proc_macro2::TokenStream, needle: &str| {
        assert_one_error(
            quote! {
                name: T,
                columns: { id: u64 primary_key, a: u64 },
                queries: { #queries }
            },
            needle,
        )
    };
    t(
        quote!(update: { AInPlace(a) by id }, in_place: { A(a) by id }),
        "query `A` would generate method `update_a_in_place`, and so does `update` query \
         `AInPlace`; rename one of them",
    );
    t(
        quote!(delete: { ByABC() by a, ByAbc() by a }),
        "query `ByAbc` would generate method `delete_by_abc`, and so does `delete` query `ByABC`",
    );
    t(
        quote!(delete: { By_A() by a, ByA() by a }),
        "would generate method `delete_by_a`",
    );
    // A repeated name is reported once, not again for its method.
    t(
        quote!(delete: { ByA() by a, ByA() by a }),
        "duplicate query name `ByA`",
    );
}

#[test]
fn query_names_become_snake_case_method_names() {
    use super::columns::snake_name;
    assert_eq!(snake_name("AnotherByExchange"), "another_by_exchange");
    assert_eq!(snake_name("TestAndExchangeById"), "test_and_exchange_by_id");
    assert_eq!(snake_name("ByAnother"), "by_another");
    assert_eq!(snake_name("CounterById"), "counter_by_id");
    // An acronym is one word; its last capital starts the next word if it goes on in
    // lowercase.
    assert_eq!(snake_name("ByABC"), "by_abc");
    assert_eq!(snake_name("HTTPServerById"), "http_server_by_id");
    assert_eq!(snake_name("ByID"), "by_id");
    assert_eq!(snake_name("ByIDs"), "by_i_ds");
    // Digits stay with what precedes them; a capital after a digit starts a word.
    assert_eq!(snake_name("Level2ById"), "level2_by_id");
    assert_eq!(snake_name("By2Fa"), "by2_fa");
    // Underscores separate words, never doubled, leading or trailing.
    assert_eq!(snake_name("By_Exchange"), "by_exchange");
    assert_eq!(snake_name("_By__X_"), "by_x");
    assert_eq!(snake_name("already_snake"), "already_snake");
    assert_eq!(snake_name("A"), "a");
    assert_eq!(snake_name("ÑameById"), "ñame_by_id");
}
