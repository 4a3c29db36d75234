//! Builds the checked [`model`](crate::model) from the raw [`ast`](crate::ast), reporting
//! every mistake into a [`Ctxt`] at the token that caused it.
//!
//! This file checks the sections (which are there, which are given twice) and hands each
//! section to its own checker; a section that could not be used (missing, malformed)
//! skips the checks that depend on it rather than piling follow-on errors on the user.

mod columns;
mod config;
mod indexes;
mod queries;

use proc_macro2::Span;
use syn::Ident;
use syn::ext::IdentExt;

use crate::ast::{Declaration, SECTION_NAMES, Section, SectionValue};
use crate::ctxt::Ctxt;
use crate::model::{Column, Config, Table};

/// The checked model of `decl`, or every error found in it, combined.
pub fn table(decl: &Declaration) -> syn::Result<Table> {
    let cx = Ctxt::new();
    let table = build(&cx, decl);
    cx.check()?;
    table.ok_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "worktable-codegen bug: the declaration was refused without saying why; please report it",
        )
    })
}

/// The first occurrence of each known section.
#[derive(Default)]
struct Sections<'a> {
    name: Option<&'a Section>,
    persist: Option<&'a Section>,
    columns: Option<&'a Section>,
    indexes: Option<&'a Section>,
    queries: Option<&'a Section>,
    config: Option<&'a Section>,
}

impl<'a> Sections<'a> {
    /// Sorts the sections of `decl` by name, reporting unknown, repeated and malformed
    /// ones.
    fn collect(cx: &Ctxt, decl: &'a Declaration) -> Self {
        let mut sections = Sections::default();
        for section in &decl.sections {
            let key = section.key.unraw().to_string();
            let slot = match key.as_str() {
                "name" => &mut sections.name,
                "persist" => &mut sections.persist,
                "columns" => &mut sections.columns,
                "indexes" => &mut sections.indexes,
                "queries" => &mut sections.queries,
                "config" => &mut sections.config,
                _ => {
                    cx.error_spanned_by(
                        &section.key,
                        format!(
                            "unknown section `{key}`; expected {}",
                            one_of(SECTION_NAMES)
                        ),
                    );
                    continue;
                }
            };
            if let SectionValue::Malformed(error) = &section.value {
                cx.syn_error(error.clone());
            }
            if slot.is_some() {
                cx.error_spanned_by(
                    &section.key,
                    format!("section `{key}` is given twice; write it once, with everything in it"),
                );
            } else {
                *slot = Some(section);
            }
        }
        sections
    }
}

/// The model, or `None` when a required part is missing or unusable (an error has then
/// been reported).
fn build(cx: &Ctxt, decl: &Declaration) -> Option<Table> {
    let sections = Sections::collect(cx, decl);

    let persist = matches!(
        sections.persist.map(|s| &s.value),
        Some(SectionValue::Persist(persist)) if persist.value
    );

    let name = match sections.name.map(|s| &s.value) {
        Some(SectionValue::Name(name)) => Some(name.clone()),
        Some(_) => None,
        None => {
            cx.error_at(
                Span::call_site(),
                "missing `name` section; add `name: MyTable,` to name the table",
            );
            None
        }
    };

    let columns = match sections.columns {
        Some(Section {
            key,
            value: SectionValue::Columns(columns),
        }) => columns::check(cx, key, columns),
        Some(_) => None,
        None => {
            cx.error_at(
                Span::call_site(),
                "missing `columns` section; add `columns: { id: u64 primary_key, ... }`",
            );
            None
        }
    };

    // Indexes and queries name columns: without usable columns they cannot be checked.
    let checked = columns.map(
        |columns::Checked {
             columns,
             primary_key,
         }| {
            let indexes = match sections.indexes.map(|s| &s.value) {
                Some(SectionValue::Indexes(indexes)) => {
                    indexes::check(cx, &columns, &primary_key.columns, indexes)
                }
                _ => Vec::new(),
            };
            let queries = match sections.queries.map(|s| &s.value) {
                Some(SectionValue::Queries(queries)) => {
                    queries::check(cx, &columns, &primary_key.columns, &indexes, queries)
                }
                _ => Vec::new(),
            };
            (columns, primary_key, indexes, queries)
        },
    );

    let config = match sections.config.map(|s| &s.value) {
        Some(SectionValue::Config(entries)) => config::check(cx, entries),
        _ => Config::default(),
    };

    let (columns, primary_key, indexes, queries) = checked?;
    Some(Table {
        name: name?,
        columns,
        primary_key,
        indexes,
        queries,
        config,
        persist,
    })
}

/// The column named `ident`, or `None` after reporting it unknown; `place` says where
/// it was named (like "for index `x`").
fn resolve_column(cx: &Ctxt, columns: &[Column], ident: &Ident, place: &str) -> Option<usize> {
    let name = ident.unraw().to_string();
    let found = columns.iter().position(|column| column.plain_name == name);
    if found.is_none() {
        cx.error_spanned_by(
            ident,
            format!(
                "unknown column `{name}` {place}; the columns are {}",
                all_of(columns.iter().map(|column| column.plain_name.as_str()))
            ),
        );
    }
    found
}

/// `` `a`, `b` or `c` ``: the choices for a message.
fn one_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    join(names, "or")
}

/// `` `a`, `b` and `c` ``: the members of a list for a message.
fn all_of<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    join(names, "and")
}

fn join<'a>(names: impl IntoIterator<Item = &'a str>, conjunction: &str) -> String {
    let names: Vec<String> = names.into_iter().map(|name| format!("`{name}`")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
