//! The delta strategies' state in the database and in the watermark: what a watermark string
//! holds, the change table and the triggers that fill it, and the snapshot table.
//!
//! A watermark is opaque to the host; here it is `strategy:value`, so that a watermark made by
//! one strategy is never misread by another after a configuration change:
//! - `watermark:<tag>:<value>`: the value the watermark query returned, with its type
//!   (`int`, `ts`, `tstz`, `date`, `text`, ...), so that it is bound back as the same type;
//! - `change:<id>`: the last change-table row seen;
//! - `snapshot:<generation>`: the snapshot generation written.
//!
//! DDL cannot take parameters, so the few names it contains (the change table, the tracked
//! tables and columns, the object type as a trigger argument) are quoted as identifiers or as
//! string literals with [`Dialect::quote_ident`] and [`quote_literal`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use ecma_plugin_api::ConnectorError;
use sha2::{Digest, Sha256};

use crate::config::{Export, ObjectTypeMap};
use crate::db::{Check, Database, Operation, Step};
use crate::error::DbError;
use crate::source::Source;
use crate::sql::{Bind, Dialect, Flavor, Statement, StatementBuilder};
use crate::values::Stored;

const WATERMARK_PREFIX: &str = "watermark:";
const CHANGE_PREFIX: &str = "change:";
const SNAPSHOT_PREFIX: &str = "snapshot:";

/// The watermark query's value, as a watermark string.
pub(crate) fn encode_watermark(value: &Stored) -> String {
    let (tag, text) = match value {
        Stored::Integer(i) => ("int", i.to_string()),
        Stored::Real(r) => ("real", r.to_string()),
        Stored::Boolean(b) => ("bool", b.to_string()),
        Stored::Text(s) => ("text", s.clone()),
        Stored::Blob(b) => ("hex", hex::encode(b)),
        Stored::Timestamp(t) => ("ts", t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        Stored::TimestampTz(t) => ("tstz", t.to_rfc3339()),
        Stored::Date(d) => ("date", d.format("%Y-%m-%d").to_string()),
        Stored::Time(t) => ("time", t.format("%H:%M:%S%.f").to_string()),
    };
    format!("{WATERMARK_PREFIX}{tag}:{text}")
}

fn bad_watermark(watermark: &str) -> ConnectorError {
    ConnectorError::invalid_configuration(format!(
        "the watermark '{watermark}' was not made by the Watermark strategy of this connector; run a full import first"
    ))
}

/// A watermark string back as the value to bind.
pub(crate) fn decode_watermark(watermark: &str) -> Result<Bind, ConnectorError> {
    let bad = || bad_watermark(watermark);
    let (tag, text) = watermark
        .strip_prefix(WATERMARK_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(bad)?;
    Ok(match tag {
        "int" => Bind::Integer(text.parse().map_err(|_| bad())?),
        "real" => Bind::Real(text.parse().map_err(|_| bad())?),
        "bool" => Bind::Boolean(text.parse().map_err(|_| bad())?),
        "text" => Bind::Text(text.to_string()),
        "hex" => Bind::Blob(hex::decode(text).map_err(|_| bad())?),
        "ts" => Bind::Timestamp(
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| bad())?,
        ),
        "tstz" => Bind::TimestampTz(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| bad())?
                .to_utc(),
        ),
        "date" => Bind::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?),
        "time" => Bind::Time(NaiveTime::parse_from_str(text, "%H:%M:%S%.f").map_err(|_| bad())?),
        _ => return Err(bad()),
    })
}

pub(crate) fn encode_change(id: i64) -> String {
    format!("{CHANGE_PREFIX}{id}")
}

pub(crate) fn decode_change(watermark: &str) -> Result<i64, ConnectorError> {
    watermark
        .strip_prefix(CHANGE_PREFIX)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            ConnectorError::invalid_configuration(format!(
                "the watermark '{watermark}' was not made by change tracking; run a full import first"
            ))
        })
}

pub(crate) fn encode_snapshot(generation: i64) -> String {
    format!("{SNAPSHOT_PREFIX}{generation}")
}

/// `text` as an SQL string literal (DDL only; values elsewhere are always bound).
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A short stable name part for database objects derived from `parts`.
fn name_hash(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..8])
}

fn ddl_error(what: &str, e: DbError) -> ConnectorError {
    ConnectorError::other(format!("cannot {what}: {e}"))
}

/// The table whose rows an object type's changes happen in: its import table, or the table it
/// exports to.
pub(crate) fn tracked_table(map: &ObjectTypeMap) -> Option<&str> {
    match (&map.import, &map.export) {
        (Source::Table(t), _) => Some(t),
        (_, Export::Table { table, .. }) => Some(table),
        _ => None,
    }
}

/// Create the change table if it is missing, and (re)create the triggers that fill it on every
/// tracked table and multi-valued table of `maps`.
pub(crate) async fn ensure_change_tracking(
    db: &Database,
    change_table: &str,
    maps: &[ObjectTypeMap],
) -> Result<(), ConnectorError> {
    let d = db.dialect();
    if d.flavor == Flavor::Generic {
        return Err(ConnectorError::invalid_configuration(
            "the connector creates change-tracking triggers in PostgreSQL, MySQL and SQLite only; \
             create the change table and its triggers yourself and untick 'create_change_tracking'",
        ));
    }
    let ct = d.quote_ident(change_table);
    if db.columns(change_table).await?.is_empty() {
        let id = match d.flavor {
            Flavor::Postgres => "id BIGSERIAL PRIMARY KEY",
            Flavor::MySql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
            _ => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        };
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {ct} ({id}, object_type VARCHAR(255) NOT NULL, \
             anchor VARCHAR(512) NOT NULL, operation CHAR(1) NOT NULL, \
             changed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
        );
        db.execute_script(&sql)
            .await
            .map_err(|e| ddl_error("create the change table", e))?;
    }
    if d.flavor == Flavor::Postgres {
        // One function serves every trigger: the object type, key column and change table
        // come as trigger arguments, the key is read from the row as JSON.
        let function = "CREATE OR REPLACE FUNCTION ecma_track_change() RETURNS trigger LANGUAGE plpgsql AS $ecma$
DECLARE old_key text; new_key text;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_key := to_jsonb(OLD) ->> TG_ARGV[1]; END IF;
  IF TG_OP <> 'DELETE' THEN new_key := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;
  IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
    EXECUTE format('INSERT INTO %I (object_type, anchor, operation) VALUES ($1, $2, $3)', TG_ARGV[2])
      USING TG_ARGV[0], old_key, 'D';
  END IF;
  IF new_key IS NOT NULL THEN
    EXECUTE format('INSERT INTO %I (object_type, anchor, operation) VALUES ($1, $2, $3)', TG_ARGV[2])
      USING TG_ARGV[0], new_key, left(TG_OP, 1);
  END IF;
  RETURN NULL;
END $ecma$";
        db.execute_script(function)
            .await
            .map_err(|e| ddl_error("create the change-tracking function", e))?;
    }
    for map in maps {
        let Some(table) = tracked_table(map) else {
            return Err(ConnectorError::invalid_configuration(format!(
                "change tracking for {} needs a table: import from a table or export to one",
                map.name
            )));
        };
        // Configuration refuses change tracking for a multi-column anchor: one column here.
        let anchor = map.anchor.first().cloned().unwrap_or_default();
        let mut tracked = vec![(table.to_string(), anchor)];
        tracked.extend(map.children.iter().map(|c| {
            (
                c.table.clone(),
                c.key_columns.first().cloned().unwrap_or_default(),
            )
        }));
        for (table, key) in tracked {
            let statements = trigger_ddl(d, change_table, &map.name, &table, &key);
            // SQLite checks "already exists" against a connection's cached schema, which
            // another pooled connection's DROP does not refresh: the drops and creates of one
            // table run as one script on one connection. MySQL runs each statement alone, as
            // its trigger bodies contain semicolons.
            let scripts = if d.flavor == Flavor::MySql {
                statements
            } else {
                vec![statements.join(";\n")]
            };
            for sql in scripts {
                db.execute_script(&sql)
                    .await
                    .map_err(|e| ddl_error(&format!("create the triggers on '{table}'"), e))?;
            }
        }
    }
    Ok(())
}

/// The statements that (re)create the triggers recording changes to `table` under
/// `object_type`, keyed by `key`.
fn trigger_ddl(
    d: Dialect,
    change_table: &str,
    object_type: &str,
    table: &str,
    key: &str,
) -> Vec<String> {
    let name = format!("ecma_ct_{}", name_hash(&[object_type, table, key]));
    let t = d.quote_ident(table);
    let k = d.quote_ident(key);
    let ct = d.quote_ident(change_table);
    let ot = quote_literal(object_type);
    let insert = |row: &str, op: &str| {
        format!(
            "INSERT INTO {ct} (object_type, anchor, operation) VALUES ({ot}, {row}.{k}, '{op}')"
        )
    };
    match d.flavor {
        Flavor::Postgres => vec![
            format!("DROP TRIGGER IF EXISTS {} ON {t}", d.quote_ident(&name)),
            format!(
                "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW \
                 EXECUTE FUNCTION ecma_track_change({ot}, {}, {})",
                d.quote_ident(&name),
                quote_literal(key),
                quote_literal(change_table)
            ),
        ],
        Flavor::MySql => {
            let n = |suffix: &str| d.quote_ident(&format!("{name}_{suffix}"));
            vec![
                format!("DROP TRIGGER IF EXISTS {}", n("i")),
                format!("DROP TRIGGER IF EXISTS {}", n("u")),
                format!("DROP TRIGGER IF EXISTS {}", n("d")),
                format!(
                    "CREATE TRIGGER {} AFTER INSERT ON {t} FOR EACH ROW {}",
                    n("i"),
                    insert("NEW", "I")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER UPDATE ON {t} FOR EACH ROW BEGIN \
                     IF NOT (OLD.{k} <=> NEW.{k}) THEN {}; END IF; {}; END",
                    n("u"),
                    insert("OLD", "D"),
                    insert("NEW", "U")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER DELETE ON {t} FOR EACH ROW {}",
                    n("d"),
                    insert("OLD", "D")
                ),
            ]
        }
        _ => {
            let n = |suffix: &str| d.quote_ident(&format!("{name}_{suffix}"));
            vec![
                format!("DROP TRIGGER IF EXISTS {}", n("i")),
                format!("DROP TRIGGER IF EXISTS {}", n("u")),
                format!("DROP TRIGGER IF EXISTS {}", n("d")),
                format!(
                    "CREATE TRIGGER {} AFTER INSERT ON {t} BEGIN {}; END",
                    n("i"),
                    insert("NEW", "I")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER UPDATE ON {t} BEGIN \
                     INSERT INTO {ct} (object_type, anchor, operation) SELECT {ot}, OLD.{k}, 'D' WHERE OLD.{k} IS NOT NEW.{k}; {}; END",
                    n("u"),
                    insert("NEW", "U")
                ),
                format!(
                    "CREATE TRIGGER {} AFTER DELETE ON {t} BEGIN {}; END",
                    n("d"),
                    insert("OLD", "D")
                ),
            ]
        }
    }
}

/// The last id of the change table (0 when empty).
pub(crate) async fn last_change(db: &Database, change_table: &str) -> Result<i64, ConnectorError> {
    let mut b = StatementBuilder::new(db.dialect());
    b.sql("SELECT MAX(id) FROM ").ident(change_table);
    let rows = db.fetch(&b.finish()).await.map_err(|e| {
        ConnectorError::other(format!(
            "cannot read the change table '{change_table}': {e}"
        ))
    })?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Some(Stored::Integer(i))) => *i,
        Some(Some(Stored::Text(s))) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// `SELECT anchor FROM changes WHERE object_type = ? AND id > ? AND id <= ? ORDER BY id`.
pub(crate) fn changes_since(
    d: Dialect,
    change_table: &str,
    object_type: &str,
    after: i64,
    upto: i64,
) -> Statement {
    let mut b = StatementBuilder::new(d);
    b.sql("SELECT anchor FROM ")
        .ident(change_table)
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()))
        .sql(" AND id > ")
        .bind(Bind::Integer(after))
        .sql(" AND id <= ")
        .bind(Bind::Integer(upto))
        .sql(" ORDER BY id");
    b.finish()
}

/// Create the snapshot table if it is missing.
pub(crate) async fn ensure_snapshot(db: &Database, table: &str) -> Result<(), ConnectorError> {
    if !db.columns(table).await?.is_empty() {
        return Ok(());
    }
    // The key fits MySQL's 3072-byte index limit in utf8mb4.
    let sql = format!(
        "CREATE TABLE {} (object_type VARCHAR(255) NOT NULL, anchor VARCHAR(512) NOT NULL, \
         digest CHAR(32) NOT NULL, generation BIGINT NOT NULL, PRIMARY KEY (object_type, anchor))",
        db.dialect().quote_ident(table)
    );
    if let Err(e) = db.execute_script(&sql).await {
        // Another connector may have created it meanwhile.
        if db.columns(table).await?.is_empty() {
            return Err(ddl_error("create the snapshot table", e));
        }
    }
    Ok(())
}

/// The next generation for `object_type`'s snapshot rows.
pub(crate) async fn next_generation(
    db: &Database,
    table: &str,
    object_type: &str,
) -> Result<i64, ConnectorError> {
    let mut b = StatementBuilder::new(db.dialect());
    b.sql("SELECT MAX(generation) FROM ")
        .ident(table)
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()));
    let rows = db.fetch(&b.finish()).await?;
    let last = match rows.first().and_then(|r| r.first()) {
        Some(Some(Stored::Integer(i))) => *i,
        Some(Some(Stored::Text(s))) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    Ok(last + 1)
}

/// Digests already recorded for these anchors.
pub(crate) fn recorded_digests(
    d: Dialect,
    table: &str,
    object_type: &str,
    anchors: &[String],
) -> Statement {
    let mut b = StatementBuilder::new(d);
    b.sql("SELECT anchor, digest FROM ")
        .ident(table)
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()))
        .sql(" AND ")
        .in_list(
            "anchor",
            anchors.iter().map(|a| Bind::Text(a.clone())),
            None,
        );
    b.finish()
}

/// Record `(anchor, digest)` pairs under `generation`, replacing earlier rows of the same
/// anchors: one upsert where the database has one, else a delete and an insert.
pub(crate) fn record_digests(
    d: Dialect,
    table: &str,
    object_type: &str,
    generation: i64,
    digests: &[(String, String)],
) -> Operation {
    let insert = |b: &mut StatementBuilder| {
        b.sql("INSERT INTO ")
            .ident(table)
            .sql(" (object_type, anchor, digest, generation) VALUES ");
        for (i, (anchor, digest)) in digests.iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.sql("(")
                .bind(Bind::Text(object_type.to_string()))
                .sql(", ")
                .bind(Bind::Text(anchor.clone()))
                .sql(", ")
                .bind(Bind::Text(digest.clone()))
                .sql(", ")
                .bind(Bind::Integer(generation))
                .sql(")");
        }
    };
    let step = |statement| Step::new(statement, Check::None);
    let mut b = StatementBuilder::new(d);
    insert(&mut b);
    match d.flavor {
        Flavor::Postgres | Flavor::Sqlite => {
            b.sql(
                " ON CONFLICT (object_type, anchor) DO UPDATE SET digest = excluded.digest, generation = excluded.generation",
            );
            Operation {
                steps: vec![step(b.finish())],
            }
        }
        Flavor::MySql => {
            b.sql(
                " ON DUPLICATE KEY UPDATE digest = VALUES(digest), generation = VALUES(generation)",
            );
            Operation {
                steps: vec![step(b.finish())],
            }
        }
        Flavor::Generic => {
            let mut delete = StatementBuilder::new(d);
            delete
                .sql("DELETE FROM ")
                .ident(table)
                .sql(" WHERE object_type = ")
                .bind(Bind::Text(object_type.to_string()))
                .sql(" AND ")
                .in_list(
                    "anchor",
                    digests.iter().map(|(a, _)| Bind::Text(a.clone())),
                    None,
                );
            Operation {
                steps: vec![step(delete.finish()), step(b.finish())],
            }
        }
    }
}

/// Mark unchanged anchors as seen in `generation`.
pub(crate) fn touch_digests(
    d: Dialect,
    table: &str,
    object_type: &str,
    generation: i64,
    anchors: &[String],
) -> Statement {
    let mut b = StatementBuilder::new(d);
    b.sql("UPDATE ")
        .ident(table)
        .sql(" SET generation = ")
        .bind(Bind::Integer(generation))
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()))
        .sql(" AND ")
        .in_list(
            "anchor",
            anchors.iter().map(|a| Bind::Text(a.clone())),
            None,
        );
    b.finish()
}

/// Anchors recorded before `generation`: objects that were not seen this time.
pub(crate) fn vanished(d: Dialect, table: &str, object_type: &str, generation: i64) -> Statement {
    let mut b = StatementBuilder::new(d);
    b.sql("SELECT anchor FROM ")
        .ident(table)
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()))
        .sql(" AND generation < ")
        .bind(Bind::Integer(generation));
    b.finish()
}

/// Forget the anchors recorded before `generation`.
pub(crate) fn forget_vanished(
    d: Dialect,
    table: &str,
    object_type: &str,
    generation: i64,
) -> Statement {
    let mut b = StatementBuilder::new(d);
    b.sql("DELETE FROM ")
        .ident(table)
        .sql(" WHERE object_type = ")
        .bind(Bind::Text(object_type.to_string()))
        .sql(" AND generation < ")
        .bind(Bind::Integer(generation));
    b.finish()
}

/// A digest of an object's attribute values: what the snapshot compares.
pub(crate) fn digest(entry: &ecma_plugin_api::CsEntryChange) -> String {
    use ecma_plugin_api::Value;
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    for change in &entry.changes {
        field(change.name.as_bytes());
        for value in change.added_values() {
            match value {
                Value::String(s) => {
                    field(b"s");
                    field(s.as_bytes());
                }
                Value::Reference(s) => {
                    field(b"r");
                    field(s.as_bytes());
                }
                Value::Integer(i) => {
                    field(b"i");
                    field(&i.to_le_bytes());
                }
                Value::Boolean(b) => field(if *b { b"b1" } else { b"b0" }),
                Value::Binary(b) => {
                    field(b"x");
                    field(b);
                }
            }
        }
    }
    hex::encode(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_round_trip_with_their_type() {
        let t = NaiveDate::from_ymd_opt(2024, 5, 6)
            .unwrap()
            .and_hms_micro_opt(7, 8, 9, 123_456)
            .unwrap();
        for (stored, bind) in [
            (Stored::Integer(42), Bind::Integer(42)),
            (Stored::Text("a:b".into()), Bind::Text("a:b".into())),
            (Stored::Timestamp(t), Bind::Timestamp(t)),
            (
                Stored::TimestampTz(t.and_utc()),
                Bind::TimestampTz(t.and_utc()),
            ),
        ] {
            assert_eq!(decode_watermark(&encode_watermark(&stored)).unwrap(), bind);
        }
        assert!(decode_watermark("change:5").is_err());
        assert!(decode_watermark("").is_err());
        assert_eq!(decode_change(&encode_change(17)).unwrap(), 17);
        assert!(decode_change("watermark:int:1").is_err());
    }

    #[test]
    fn trigger_ddl_quotes_every_name() {
        let sql = trigger_ddl(Dialect::SQLITE, "ch\"g", "Us'er", "T\"x", "I d").join("\n");
        assert!(sql.contains("\"ch\"\"g\""), "{sql}");
        assert!(sql.contains("'Us''er'"), "{sql}");
        assert!(sql.contains("ON \"T\"\"x\""), "{sql}");
        assert!(sql.contains("NEW.\"I d\""), "{sql}");
        let pg = trigger_ddl(Dialect::POSTGRES, "c", "U", "t", "k'ey").join("\n");
        assert!(pg.contains("ecma_track_change('U', 'k''ey', 'c')"), "{pg}");
        let my = trigger_ddl(Dialect::MYSQL, "c", "U", "t`x", "k").join("\n");
        assert!(my.contains("ON `t``x`"), "{my}");
    }
}
