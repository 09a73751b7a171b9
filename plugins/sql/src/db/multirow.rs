//! Multi-row INSERTs for the optimistic pass of an export batch.
//!
//! Most batches are new objects: each entry an INSERT of the object's row, then INSERTs of its
//! child-table rows. Sent one by one, that is a round trip per statement. Here, consecutive
//! operations made only of such inserts form a run. The run's object rows go as one
//! `INSERT ... VALUES (...), (...)` per shape (table, columns, returned column), then its
//! child rows likewise, each statement chunked below the driver's parameter limit. The
//! per-entry pass is untouched: if anything here fails, the batch is rolled back and runs
//! entry by entry, so every entry still gets its own result and error.
//!
//! Rows of one run can reach the database in another order than their entries' (one shape
//! after another). Among inserts of new rows that changes no outcome that matters: a
//! duplicate key fails in any order, and a failure sends the batch back to the per-entry
//! pass, in the entries' order. PostgreSQL and SQLite check a foreign key between two rows of
//! one statement at its end, so a run may accept a reference to an object added later in the
//! same batch, which entry by entry would have been refused.
//!
//! A key the database assigns must reach its own entry, and no database promises the order of
//! a multi-row `RETURNING` (PostgreSQL leaves it unspecified, SQLite calls it arbitrary, and
//! MySQL's `LAST_INSERT_ID` after a multi-row insert depends on the auto-increment lock
//! mode). So on PostgreSQL each such row gets a data-modifying CTE of its own, and the
//! statement returns each assigned key with its row's position ([`Insert::tagged_statement`]);
//! elsewhere, an insert with an assigned key stays a statement of its own.

use super::{Check, Operation};
use crate::sql::{Bind, Dialect, Insert, Statement};

/// How the optimistic pass sends the operations of a batch.
#[derive(Debug)]
pub(super) enum Unit<'a> {
    /// One operation, statement by statement.
    One(&'a Operation),
    /// Two or more consecutive operations made only of row inserts.
    Run(&'a [Operation]),
}

/// One statement of a run and, for each of its rows, the position in the run of the
/// operation the row belongs to.
#[derive(Debug)]
pub(super) struct Chunk {
    pub(super) statement: Statement,
    pub(super) owners: Vec<usize>,
    /// The statement returns `(row position, assigned key)` rows
    /// ([`Insert::tagged_statement`]); otherwise it returns nothing and must insert one row
    /// per owner.
    pub(super) tagged: bool,
}

/// `operations` cut into units, in order. `tagged`: the database can run
/// [`Insert::tagged_statement`], so objects whose key it assigns can join a run.
pub(super) fn units(operations: &[Operation], tagged: bool) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    let mut rest = operations;
    while let Some(first) = rest.first() {
        let joinable = rest.iter().take_while(|o| joinable(o, tagged)).count();
        let taken = if joinable >= 2 {
            units.push(Unit::Run(&rest[..joinable]));
            joinable
        } else {
            units.push(Unit::One(first));
            1
        };
        rest = &rest[taken..];
    }
    units
}

/// Whether `operation` is made only of row inserts: the object's row (checked by its row
/// count, or returning its assigned key where `tagged`), then child rows.
fn joinable(operation: &Operation, tagged: bool) -> bool {
    let mut steps = operation.steps.iter();
    let Some(own) = steps.next() else {
        return false;
    };
    let Some(insert) = own.insert.as_ref().filter(|i| i.rows().len() == 1) else {
        return false;
    };
    let own_joins = match own.check {
        Check::RowsAffected => insert.returning().is_none(),
        Check::Returning(1) => tagged && insert.returning().is_some(),
        _ => false,
    };
    own_joins
        && steps.all(|step| {
            step.check == Check::None
                && step
                    .insert
                    .as_ref()
                    .is_some_and(|insert| insert.returning().is_none())
        })
}

/// Whether the database assigns the key of `operation`'s object (its row returns it).
pub(super) fn assigns_key(operation: &Operation) -> bool {
    operation
        .steps
        .first()
        .and_then(|step| step.insert.as_ref())
        .is_some_and(|insert| insert.returning().is_some())
}

/// The statements that insert the object rows of `run`.
pub(super) fn object_rows(
    dialect: Dialect,
    run: &[Operation],
    max_parameters: usize,
) -> Vec<Chunk> {
    let rows = run.iter().enumerate().filter_map(|(owner, operation)| {
        let insert = operation.steps.first()?.insert.as_ref()?;
        Some((owner, insert))
    });
    chunks(dialect, rows, &[], max_parameters)
}

/// The statements that insert the child rows of `run`; `returned[i]` is the key the database
/// assigned to the object of operation `i`, for its rows' [`Bind::Returned`].
pub(super) fn child_rows(
    dialect: Dialect,
    run: &[Operation],
    returned: &[Option<Bind>],
    max_parameters: usize,
) -> Vec<Chunk> {
    let rows = run.iter().enumerate().flat_map(|(owner, operation)| {
        operation
            .steps
            .iter()
            .skip(1)
            .filter_map(move |step| Some((owner, step.insert.as_ref()?)))
    });
    chunks(dialect, rows, returned, max_parameters)
}

/// The rows of `inserts`, grouped by shape in order of first appearance, in statements of at
/// most `max_parameters` parameters.
fn chunks<'a>(
    dialect: Dialect,
    inserts: impl Iterator<Item = (usize, &'a Insert)>,
    returned: &[Option<Bind>],
    max_parameters: usize,
) -> Vec<Chunk> {
    // Each shape with its rows, each row with its owner.
    type Owned<'r> = Vec<(usize, &'r [Bind])>;
    let mut groups: Vec<(&Insert, Owned<'_>)> = Vec::new();
    for (owner, insert) in inserts {
        let rows = insert.rows().iter().map(|row| (owner, row.as_slice()));
        match groups
            .iter_mut()
            .find(|(shape, _)| shape.same_shape(insert))
        {
            Some((_, group)) => group.extend(rows),
            None => groups.push((insert, rows.collect())),
        }
    }
    let mut chunks = Vec::new();
    for (shape, rows) in groups {
        let tagged = shape.returning().is_some();
        // A tagged row also binds its position.
        let per_row = shape.width() + usize::from(tagged);
        let per_chunk = (max_parameters / per_row.max(1)).max(1);
        for part in rows.chunks(per_chunk) {
            let statement = if tagged {
                shape.tagged_statement(dialect, part.iter().map(|(_, row)| *row))
            } else {
                shape.statement_for(
                    dialect,
                    part.iter()
                        .map(|(owner, row)| (*row, returned.get(*owner).and_then(Option::as_ref))),
                )
            };
            chunks.push(Chunk {
                statement,
                owners: part.iter().map(|(owner, _)| *owner).collect(),
                tagged,
            });
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Step;

    fn text(s: &str) -> Bind {
        Bind::Text(s.into())
    }

    fn insert(
        table: &str,
        columns: &[&str],
        returning: Option<&str>,
        rows: Vec<Vec<Bind>>,
    ) -> Insert {
        let columns = columns.iter().map(|c| (c.to_string(), None)).collect();
        Insert::new(table, columns, returning.map(str::to_string), rows).unwrap()
    }

    /// A new user with the given columns and, if any, mail rows (under the returned key when
    /// the database assigns it).
    fn add(
        dialect: Dialect,
        columns: &[(&str, &str)],
        mails: &[&str],
        assigned: bool,
    ) -> Operation {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let row = columns.iter().map(|(_, v)| text(v)).collect();
        let (returning, check) = if assigned {
            (Some("Id"), Check::Returning(1))
        } else {
            (None, Check::RowsAffected)
        };
        let mut steps = vec![Step::insert(
            dialect,
            insert("Users", &names, returning, vec![row]),
            check,
        )];
        if !mails.is_empty() {
            let key = if assigned {
                Bind::Returned
            } else {
                text(columns[0].1)
            };
            let rows = mails.iter().map(|m| vec![key.clone(), text(m)]).collect();
            steps.push(Step::insert(
                dialect,
                insert("Mails", &["UserId", "Mail"], None, rows),
                Check::None,
            ));
        }
        Operation { steps }
    }

    fn update() -> Operation {
        Operation {
            steps: vec![Step::new(
                Statement::plain("UPDATE \"Users\" SET \"Name\" = NULL"),
                Check::RowsAffected,
            )],
        }
    }

    fn shape(units: &[Unit<'_>]) -> Vec<usize> {
        units
            .iter()
            .map(|u| match u {
                Unit::One(_) => 1,
                Unit::Run(run) => run.len() * 10,
            })
            .collect()
    }

    #[test]
    fn runs_are_consecutive_inserts_of_new_objects() {
        let d = Dialect::POSTGRES;
        let plain = || add(d, &[("Login", "a")], &[], false);
        let assigned = || add(d, &[("Name", "a")], &[], true);
        let ops = vec![
            plain(),
            plain(),
            update(),
            plain(),
            update(),
            plain(),
            assigned(),
            plain(),
        ];
        assert_eq!(shape(&units(&ops, true)), [20, 1, 1, 1, 30]);
        assert_eq!(
            shape(&units(&ops, false)),
            [20, 1, 1, 1, 1, 1, 1],
            "without tagged inserts an assigned key keeps its own statement"
        );
        assert!(units(&[], true).is_empty());
        assert!(assigns_key(&assigned()) && !assigns_key(&plain()));
    }

    #[test]
    fn rows_of_one_shape_share_a_statement_within_the_parameter_limit() {
        let d = Dialect::POSTGRES;
        let run = vec![
            add(d, &[("Login", "a"), ("Name", "A")], &["a@x", "a2@x"], false),
            add(d, &[("Login", "b")], &[], false),
            add(d, &[("Login", "c"), ("Name", "C")], &["c@x"], false),
        ];
        let objects = object_rows(d, &run, 65535);
        let sql: Vec<&str> = objects.iter().map(|c| c.statement.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "INSERT INTO \"Users\" (\"Login\", \"Name\") VALUES ($1, $2), ($3, $4)",
                "INSERT INTO \"Users\" (\"Login\") VALUES ($1)",
            ]
        );
        assert_eq!(objects[0].owners, [0, 2]);
        assert_eq!(
            objects[0].statement.binds,
            [text("a"), text("A"), text("c"), text("C")]
        );
        let children = child_rows(d, &run, &[None, None, None], 65535);
        assert_eq!(children.len(), 1);
        assert_eq!(
            children[0].statement.sql,
            "INSERT INTO \"Mails\" (\"UserId\", \"Mail\") VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        assert_eq!(children[0].owners, [0, 0, 2]);

        // Five parameters per statement: two rows of two columns.
        let chunked = child_rows(Dialect::SQLITE, &run, &[None, None, None], 5);
        let sizes: Vec<usize> = chunked.iter().map(|c| c.owners.len()).collect();
        assert_eq!(sizes, [2, 1]);
        assert_eq!(
            chunked[1].statement.sql,
            "INSERT INTO \"Mails\" (\"UserId\", \"Mail\") VALUES (?, ?)"
        );
        assert_eq!(chunked[1].statement.binds, [text("c"), text("c@x")]);
        // A row wider than the limit still goes, alone (and fails over to the per-entry pass).
        assert_eq!(object_rows(d, &run, 1).len(), 3);
    }

    #[test]
    fn assigned_keys_come_back_with_their_row_position() {
        let d = Dialect::POSTGRES;
        let run = vec![
            add(d, &[("Name", "x'); --")], &["a@x"], true),
            add(d, &[("Name", "b")], &["b@x"], true),
        ];
        let objects = object_rows(d, &run, 65535);
        assert_eq!(objects.len(), 1);
        assert!(objects[0].tagged);
        assert_eq!(
            objects[0].statement.sql,
            "WITH \"ecma_row_0\" AS (INSERT INTO \"Users\" (\"Name\") VALUES ($1) RETURNING \"Id\"), \
             \"ecma_row_1\" AS (INSERT INTO \"Users\" (\"Name\") VALUES ($2) RETURNING \"Id\") \
             SELECT $3, \"Id\" FROM \"ecma_row_0\" UNION ALL SELECT $4, \"Id\" FROM \"ecma_row_1\""
        );
        assert_eq!(
            objects[0].statement.binds,
            [
                text("x'); --"),
                text("b"),
                Bind::Integer(0),
                Bind::Integer(1)
            ]
        );
        // Each child row is written under its own object's key.
        let children = child_rows(
            d,
            &run,
            &[Some(Bind::Integer(7)), Some(Bind::Integer(8))],
            65535,
        );
        assert_eq!(
            children[0].statement.binds,
            [Bind::Integer(7), text("a@x"), Bind::Integer(8), text("b@x")]
        );
        let unknown = child_rows(d, &run, &[], 65535);
        assert_eq!(unknown[0].statement.binds[0], Bind::Returned);
    }
}
