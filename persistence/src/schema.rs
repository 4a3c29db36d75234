//! The schema description stored in the manifest, its encoding, and the comparison that
//! names what differs.

use std::fmt;

use crate::bytes::{Cursor, put_u32};

/// A table's declaration as the `worktable!` macro sees it: stored in the manifest when
/// the directory is created, compared on every later open.
///
/// Everything that changes how stored rows and keys decode, or what the indexes promise,
/// belongs here; the comparison is exact (names, order, types as written, flags).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaDescription {
    /// The table's name.
    pub table: String,
    /// The columns in declaration order.
    pub columns: Vec<ColumnDescription>,
    /// The primary key's columns, in key order.
    pub primary_key: Vec<String>,
    /// The secondary indexes in declaration order.
    pub indexes: Vec<IndexDescription>,
}

/// One column of a [`SchemaDescription`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnDescription {
    /// The column's name.
    pub name: String,
    /// The column's type as declared (for example `u64` or `String`).
    pub ty: String,
    /// Declared `optional` (stored as `Option<ty>`).
    pub optional: bool,
    /// Declared `autoincrement`.
    pub autoincrement: bool,
}

/// One secondary index of a [`SchemaDescription`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexDescription {
    /// The index's name.
    pub name: String,
    /// The indexed columns, in order.
    pub columns: Vec<String>,
    /// Declared `unique`.
    pub unique: bool,
}

/// One difference between the stored schema and the one given to `open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDifference {
    /// What differs, e.g. ``column 2 (`another`) type``.
    pub what: String,
    /// The stored value.
    pub stored: String,
    /// The given value.
    pub given: String,
}

impl fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: stored `{}`, given `{}`",
            self.what, self.stored, self.given
        )
    }
}

/// Version of the schema encoding (inside the manifest's format version).
const SCHEMA_ENCODING: u32 = 1;

impl SchemaDescription {
    /// A CRC32C of the encoded description: a short fingerprint for logs.
    pub fn fingerprint(&self) -> u32 {
        crc32c::crc32c(&self.encode())
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        put_u32(&mut buf, SCHEMA_ENCODING);
        put_str(&mut buf, &self.table);
        put_len(&mut buf, self.columns.len());
        for c in &self.columns {
            put_str(&mut buf, &c.name);
            put_str(&mut buf, &c.ty);
            buf.push(u8::from(c.optional) | (u8::from(c.autoincrement) << 1));
        }
        put_len(&mut buf, self.primary_key.len());
        for k in &self.primary_key {
            put_str(&mut buf, k);
        }
        put_len(&mut buf, self.indexes.len());
        for i in &self.indexes {
            put_str(&mut buf, &i.name);
            buf.push(u8::from(i.unique));
            put_len(&mut buf, i.columns.len());
            for c in &i.columns {
                put_str(&mut buf, c);
            }
        }
        buf
    }

    /// Decodes what [`Self::encode`] wrote; `None` if the bytes are not such an encoding.
    pub(crate) fn decode(bytes: &[u8]) -> Option<SchemaDescription> {
        let mut c = Cursor::new(bytes);
        if c.u32()? != SCHEMA_ENCODING {
            return None;
        }
        let table = get_str(&mut c)?;
        let mut columns = Vec::new();
        for _ in 0..get_count(&mut c)? {
            let name = get_str(&mut c)?;
            let ty = get_str(&mut c)?;
            let flags = c.u8()?;
            if flags & !0b11 != 0 {
                return None;
            }
            columns.push(ColumnDescription {
                name,
                ty,
                optional: flags & 1 != 0,
                autoincrement: flags & 2 != 0,
            });
        }
        let mut primary_key = Vec::new();
        for _ in 0..get_count(&mut c)? {
            primary_key.push(get_str(&mut c)?);
        }
        let mut indexes = Vec::new();
        for _ in 0..get_count(&mut c)? {
            let name = get_str(&mut c)?;
            let unique = match c.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            let mut cols = Vec::new();
            for _ in 0..get_count(&mut c)? {
                cols.push(get_str(&mut c)?);
            }
            indexes.push(IndexDescription {
                name,
                columns: cols,
                unique,
            });
        }
        c.is_empty().then_some(SchemaDescription {
            table,
            columns,
            primary_key,
            indexes,
        })
    }

    /// Every difference between `self` (stored) and `given`, in declaration order.
    pub fn differences(&self, given: &SchemaDescription) -> Vec<SchemaDifference> {
        let mut out = Vec::new();
        let mut diff = |what: String, stored: &dyn fmt::Display, given: &dyn fmt::Display| {
            let (stored, given) = (stored.to_string(), given.to_string());
            if stored != given {
                out.push(SchemaDifference {
                    what,
                    stored,
                    given,
                });
            }
        };
        diff("table name".into(), &self.table, &given.table);
        let columns = |d: &SchemaDescription| {
            let all: Vec<String> = d
                .columns
                .iter()
                .map(|c| format!("{}: {}", c.name, c.ty))
                .collect();
            all.join(", ")
        };
        if self.columns.len() != given.columns.len() {
            diff("columns".into(), &columns(self), &columns(given));
        }
        for (i, (s, g)) in self.columns.iter().zip(&given.columns).enumerate() {
            let at = |field: &str| format!("column {i} (`{}`) {field}", s.name);
            diff(at("name"), &s.name, &g.name);
            diff(at("type"), &s.ty, &g.ty);
            diff(at("optional"), &s.optional, &g.optional);
            diff(at("autoincrement"), &s.autoincrement, &g.autoincrement);
        }
        diff(
            "primary key".into(),
            &self.primary_key.join(", "),
            &given.primary_key.join(", "),
        );
        let indexes = |d: &SchemaDescription| {
            let all: Vec<String> = d
                .indexes
                .iter()
                .map(|i| format!("{}({})", i.name, i.columns.join(", ")))
                .collect();
            all.join(", ")
        };
        if self.indexes.len() != given.indexes.len() {
            diff("indexes".into(), &indexes(self), &indexes(given));
        }
        for (i, (s, g)) in self.indexes.iter().zip(&given.indexes).enumerate() {
            let at = |field: &str| format!("index {i} (`{}`) {field}", s.name);
            diff(at("name"), &s.name, &g.name);
            diff(at("columns"), &s.columns.join(", "), &g.columns.join(", "));
            diff(at("unique"), &s.unique, &g.unique);
        }
        out
    }
}

fn put_len(buf: &mut Vec<u8>, n: usize) {
    put_u32(buf, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_len(buf, s.len());
    buf.extend_from_slice(s.as_bytes());
}

fn get_count(c: &mut Cursor<'_>) -> Option<u32> {
    c.u32()
}

fn get_str(c: &mut Cursor<'_>) -> Option<String> {
    let len = c.u32()? as usize;
    String::from_utf8(c.take(len)?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SchemaDescription {
        SchemaDescription {
            table: "Test".into(),
            columns: vec![
                ColumnDescription {
                    name: "id".into(),
                    ty: "u64".into(),
                    optional: false,
                    autoincrement: true,
                },
                ColumnDescription {
                    name: "another".into(),
                    ty: "u64".into(),
                    optional: true,
                    autoincrement: false,
                },
            ],
            primary_key: vec!["id".into()],
            indexes: vec![IndexDescription {
                name: "another_idx".into(),
                columns: vec!["another".into()],
                unique: false,
            }],
        }
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let s = sample();
        let bytes = s.encode();
        assert_eq!(SchemaDescription::decode(&bytes), Some(s));
        for len in 0..bytes.len() {
            assert_eq!(
                SchemaDescription::decode(&bytes[..len]),
                None,
                "cut at {len}"
            );
        }
    }

    #[test]
    fn differences_name_the_column_and_field() {
        let stored = sample();
        let mut given = sample();
        given.columns[1].ty = "i64".into();
        given.indexes[0].unique = true;
        let d = stored.differences(&given);
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].to_string(),
            "column 1 (`another`) type: stored `u64`, given `i64`"
        );
        assert_eq!(d[1].what, "index 0 (`another_idx`) unique");
        assert!(stored.differences(&stored).is_empty());
    }
}
