//! Checks the `indexes` section: names, columns and flags.

use std::collections::HashSet;

use syn::ext::IdentExt;

use super::resolve_column;
use crate::ast::{Braced, IndexDecl};
use crate::ctxt::Ctxt;
use crate::model::{Column, Index};
use crate::ty;

/// Checks the indexes declared in `indexes` over `columns` with key columns `key`.
pub fn check(
    cx: &Ctxt,
    columns: &[Column],
    key: &[usize],
    indexes: &Braced<IndexDecl>,
) -> Vec<Index> {
    let mut checked: Vec<Index> = Vec::with_capacity(indexes.items.len());
    let mut seen_names = HashSet::new();
    for decl in &indexes.items {
        let plain_name = decl.name.unraw().to_string();
        if !seen_names.insert(plain_name.clone()) {
            cx.error_spanned_by(
                &decl.name,
                format!("duplicate index `{plain_name}`; give each index its own name"),
            );
        }
        let unique = check_flags(cx, decl);
        let place = format!("for index `{plain_name}`");
        let Some(column) = resolve_column(cx, columns, &decl.column, &place) else {
            continue;
        };
        let column_name = &columns[column].plain_name;
        if key == [column] {
            cx.error_spanned_by(
                &decl.column,
                format!(
                    "`{column_name}` is the primary key, which is indexed already; remove \
                     this index and look rows up with `select`"
                ),
            );
            continue;
        }
        if ty::is_float_or_optional_float(&columns[column].ty) {
            cx.error_spanned_by(
                &decl.column,
                format!(
                    "column `{column_name}` holds floats, which are not `Ord`, and an index \
                     needs `Ord`; remove this index (queries still filter and sort the column, \
                     by the floats' total order), or store the value as an integer (e.g. in \
                     fixed point) or in a wrapper type that implements `Ord`"
                ),
            );
            continue;
        }
        if let Some(first) = checked.iter().find(|index| index.column == column) {
            cx.error_spanned_by(
                &decl.column,
                format!(
                    "column `{column_name}` already has index `{}`; a column takes one index, \
                     so remove this one (mark that one `unique` if values must be unique)",
                    first.plain_name
                ),
            );
            continue;
        }
        checked.push(Index {
            name: decl.name.clone(),
            plain_name,
            column,
            unique,
        });
    }
    checked
}

/// Whether the index is `unique`, reporting unknown and repeated flags.
fn check_flags(cx: &Ctxt, decl: &IndexDecl) -> bool {
    let mut unique = false;
    for flag in &decl.flags {
        if flag != "unique" {
            cx.error_spanned_by(
                flag,
                format!(
                    "unknown index flag `{}`; the only index flag is `unique` \
                     (write nothing for a non-unique index)",
                    flag.unraw()
                ),
            );
        } else if unique {
            cx.error_spanned_by(flag, "flag `unique` is given twice; write it once");
        } else {
            unique = true;
        }
    }
    unique
}
