//! Checks the `queries` section: each query's columns and `by` column, and the names
//! of the types and the handle method it generates.

use std::collections::{HashMap, HashSet};

use syn::Ident;
use syn::ext::IdentExt;

use super::columns::snake_name;
use super::{one_of, resolve_column};
use crate::ast::{Braced, QueryDecl, QueryKindDecl};
use crate::ctxt::Ctxt;
use crate::model::{Column, ColumnRef, HANDLE_METHODS, Index, Query, QueryKind, SELECT_BY_PREFIX};

/// The query kinds, as written.
const KINDS: [&str; 3] = ["update", "delete", "in_place"];

/// What a query may refer to: the table's columns, key and indexes.
struct Scope<'a> {
    columns: &'a [Column],
    key: &'a [usize],
    indexes: &'a [Index],
}

/// Checks the queries declared in `kinds` against the table's columns, key columns and
/// indexes.
pub fn check(
    cx: &Ctxt,
    columns: &[Column],
    key: &[usize],
    indexes: &[Index],
    kinds: &Braced<QueryKindDecl>,
) -> Vec<Query> {
    let scope = Scope {
        columns,
        key,
        indexes,
    };
    let mut checked = Vec::new();
    let mut seen_kinds = HashSet::new();
    let mut seen_names = HashSet::new();
    // Each generated method, with the kind and name of the query that generates it.
    let mut methods: HashMap<String, (String, String)> = HashMap::new();
    for decl in &kinds.items {
        let kind_name = decl.kind.unraw().to_string();
        let kind = match kind_name.as_str() {
            "update" => QueryKind::Update,
            "delete" => QueryKind::Delete,
            "in_place" => QueryKind::InPlace,
            _ => {
                cx.error_spanned_by(
                    &decl.kind,
                    format!(
                        "unknown query kind `{kind_name}`; expected {}",
                        one_of(KINDS)
                    ),
                );
                continue;
            }
        };
        if !seen_kinds.insert(kind) {
            cx.error_spanned_by(
                &decl.kind,
                format!("`{kind_name}` is given twice in `queries`; list all its queries in one"),
            );
        }
        for query in &decl.queries.items {
            let name = query.name.unraw().to_string();
            let unique_name = seen_names.insert(name.clone());
            if !unique_name {
                cx.error_spanned_by(
                    &query.name,
                    format!(
                        "duplicate query name `{name}`: its types `{name}Query` and `{name}By` \
                         would be generated twice; rename one of the queries"
                    ),
                );
            }
            let Some(method) = method_name(cx, kind, query) else {
                continue;
            };
            // A repeated name was reported above; its method clashing too says nothing new.
            if unique_name {
                check_method(cx, &mut methods, &method, &kind_name, &name);
            }
            if let Some(query) = scope.check_query(cx, kind, &kind_name, query, method) {
                checked.push(query);
            }
        }
    }
    checked
}

impl Scope<'_> {
    /// Checks one query of kind `kind` (written `kind_name`).
    fn check_query(
        &self,
        cx: &Ctxt,
        kind: QueryKind,
        kind_name: &str,
        query: &QueryDecl,
        method: Ident,
    ) -> Option<Query> {
        let name = query.name.unraw().to_string();
        let place = format!("in query `{name}`");
        let sets_columns = kind != QueryKind::Delete;
        if sets_columns && query.columns.is_empty() {
            cx.error_at(
                query.paren.span.join(),
                format!(
                    "`{kind_name}` query `{name}` sets no column; list the columns it sets, \
                     e.g. `{name}(column) by key`"
                ),
            );
        }
        if !sets_columns && !query.columns.is_empty() {
            cx.error_at(
                query.paren.span.join(),
                format!(
                    "a `delete` query takes no columns; write `{name}() by {}`",
                    query.by.unraw()
                ),
            );
        }

        let mut columns: Vec<ColumnRef> = Vec::with_capacity(query.columns.len());
        for ident in &query.columns {
            let Some(index) = resolve_column(cx, self.columns, ident, &place) else {
                continue;
            };
            let column = &self.columns[index].plain_name;
            if columns.iter().any(|seen| seen.index == index) {
                cx.error_spanned_by(
                    ident,
                    format!("column `{column}` is listed twice in query `{name}`; list it once"),
                );
                continue;
            }
            if sets_columns && self.key.contains(&index) {
                cx.error_spanned_by(
                    ident,
                    format!(
                        "`{column}` is part of the primary key, which cannot be updated; \
                         remove it from `{name}` (to change a key, delete the row and insert \
                         it anew)"
                    ),
                );
            }
            columns.push(ColumnRef {
                index,
                ident: ident.clone(),
            });
        }

        let by = resolve_column(cx, self.columns, &query.by, &place)?;
        self.check_by(cx, kind, &name, query, by);
        Some(Query {
            kind,
            name: query.name.clone(),
            method,
            columns,
            by: ColumnRef {
                index: by,
                ident: query.by.clone(),
            },
        })
    }

    /// Checks that the `by` column of `query` can find its rows.
    fn check_by(&self, cx: &Ctxt, kind: QueryKind, name: &str, query: &QueryDecl, by: usize) {
        let by_name = &self.columns[by].plain_name;
        let is_single_key = self.key == [by];
        match kind {
            QueryKind::InPlace if !is_single_key => {
                let message = match self.key {
                    [key] => format!(
                        "an `in_place` query finds its row by the primary key; write \
                         `{name}(...) by {}`, not `by {by_name}`",
                        self.columns[*key].plain_name
                    ),
                    _ => "an `in_place` query finds its row by a single-column primary key, \
                          and this table's key has several columns; make it an `update` \
                          query by an indexed column"
                        .to_owned(),
                };
                cx.error_spanned_by(&query.by, message);
            }
            QueryKind::Update
                if !is_single_key && !self.indexes.iter().any(|index| index.column == by) =>
            {
                let (what, otherwise) = match self.key {
                    [_] => ("which has no index", "or update by the primary key"),
                    _ if self.key.contains(&by) => (
                        "which has no index (it is only one column of the primary key, and \
                         a composite key finds rows by all its columns together)",
                        "or update by an indexed column",
                    ),
                    _ => ("which has no index", "or update by an indexed column"),
                };
                cx.error_spanned_by(
                    &query.by,
                    format!(
                        "`update` query `{name}` finds rows by `{by_name}`, {what}; add one \
                         (`indexes: {{ {by_name}_idx: {by_name} }}`) {otherwise}"
                    ),
                );
            }
            _ => {}
        }
    }
}

/// The handle method `query` (of kind `kind`) generates, spanned at the query name:
/// `update_<name>`, `delete_<name>` or `update_<name>_in_place`, with the name in
/// snake_case. `None` after reporting a name that makes no identifier.
fn method_name(cx: &Ctxt, kind: QueryKind, query: &QueryDecl) -> Option<Ident> {
    let snake = snake_name(&query.name.unraw().to_string());
    let method = match kind {
        QueryKind::Update => format!("update_{snake}"),
        QueryKind::Delete => format!("delete_{snake}"),
        QueryKind::InPlace => format!("update_{snake}_in_place"),
    };
    match syn::parse_str::<Ident>(&method) {
        Ok(mut ident) => {
            ident.set_span(query.name.span());
            Some(ident)
        }
        Err(_) => {
            cx.error_spanned_by(
                &query.name,
                format!(
                    "query `{}` would generate method `{method}`, which is no identifier; \
                     rename the query",
                    query.name.unraw()
                ),
            );
            None
        }
    }
}

/// Reports `method` (generated by `kind_name` query `name`) if the handle has a method
/// of that name already or an earlier query generates it too; records it otherwise.
fn check_method(
    cx: &Ctxt,
    methods: &mut HashMap<String, (String, String)>,
    method: &Ident,
    kind_name: &str,
    name: &str,
) {
    let method_name = method.to_string();
    if HANDLE_METHODS.contains(&method_name.as_str()) || method_name.starts_with(SELECT_BY_PREFIX) {
        cx.error_spanned_by(
            method,
            format!(
                "query `{name}` would generate method `{method_name}`, which every table \
                 handle has already; rename the query"
            ),
        );
    } else if let Some((other_kind, other)) = methods.get(&method_name) {
        cx.error_spanned_by(
            method,
            format!(
                "query `{name}` would generate method `{method_name}`, and so does \
                 `{other_kind}` query `{other}`; rename one of them"
            ),
        );
    } else {
        methods.insert(method_name, (kind_name.to_owned(), name.to_owned()));
    }
}
