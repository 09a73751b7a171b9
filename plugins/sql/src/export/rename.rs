//! Renames: an `Update` or `Replace` entry that gives an object a new anchor or a new DN.
//!
//! The host sends a rename the ECMA2 way: the entry's DN and anchor are the object's current
//! identity, a `Replace` of [`NEW_DN_ATTRIBUTE`] carries the new DN, and a `Replace` of an
//! anchor column carries that column's new value. Here that becomes:
//! - the new anchor: each anchor column's new value (the unchanged ones keep theirs); when the
//!   DN is the anchor (no DN column) and no anchor column is given a new value, a new DN is the
//!   new value of a single-column anchor. A new anchor value wins over a new DN;
//! - the new DN, written to the DN column when the DN has one. Without a DN column, the DN of
//!   an object with a multi-column anchor is made of its anchor values: a new DN alone changes
//!   nothing there (the anchor columns' new values rename it).
//!
//! [`Rename::guard`] and [`Rename::moves`] are the statements around the object's own update:
//! a lookup that fails the entry with `ObjectAlreadyExists` when another row has the new
//! anchor, and the moves of the object's child-table rows from the old anchor to the new one.
//! The object's row is updated first and its child rows after: with a foreign key declared
//! `ON UPDATE CASCADE` the database has moved them already and the moves find nothing;
//! without a foreign key, or with one checked at commit (`DEFERRABLE INITIALLY DEFERRED`), the
//! order is free. A foreign key checked at once and without `CASCADE` refuses the update in any
//! order; the entry then fails with a message that says so.

use ecma_plugin_api::{
    AttributeModification, CsEntryChange, ExportError, ObjectModification, Value, NEW_DN_ATTRIBUTE,
};

use super::children::{key_declared, keyed, OwnerKey};
use super::target::{syntax, ColumnValue, Target};
use crate::config::ChildTable;
use crate::db::{Check, Step};
use crate::sql::{Dialect, StatementBuilder};

/// What an entry changes of its object's identity; nothing for most entries.
#[derive(Debug, Default)]
pub(super) struct Rename {
    /// The anchor after the entry, every column (unchanged ones too), when it changes.
    pub(super) anchor: Option<Vec<ColumnValue>>,
    /// The DN after the entry, when it changes.
    pub(super) dn: Option<String>,
    /// The DN column's new value, when the DN has a column and the entry does not set that
    /// column itself.
    pub(super) dn_column: Option<ColumnValue>,
}

impl Rename {
    /// The rename `entry` asks for; `current` is its anchor as conditions
    /// ([`Target::anchor_conditions`]). Only `Update` and `Replace` entries rename.
    pub(super) fn of(
        target: &Target,
        entry: &CsEntryChange,
        current: &[ColumnValue],
    ) -> Result<Self, ExportError> {
        if !matches!(
            entry.modification,
            ObjectModification::Update | ObjectModification::Replace
        ) {
            return Ok(Self::default());
        }
        let dn = match entry.change(NEW_DN_ATTRIBUTE) {
            None => None,
            Some(_) => Some(
                entry
                    .new_dn()
                    .filter(|dn| !dn.is_empty())
                    .ok_or_else(|| {
                        syntax(format!(
                            "the new DN (attribute '{NEW_DN_ATTRIBUTE}') must be one non-empty string"
                        ))
                    })?
                    .to_string(),
            ),
        };

        let mut anchor = Vec::with_capacity(current.len());
        let mut changed = false;
        for (name, value, declared) in current {
            let new = match entry.change(name) {
                None => None,
                Some(change) => match change.modification {
                    AttributeModification::Delete => {
                        return Err(syntax(format!(
                            "anchor '{name}' cannot be removed; a rename gives it a new value"
                        )))
                    }
                    AttributeModification::Add | AttributeModification::Replace => {
                        let mut values = change.added_values();
                        match (values.next(), values.next()) {
                            (Some(new), None) => Some(new),
                            _ => {
                                return Err(syntax(format!(
                                    "a rename gives anchor '{name}' exactly one new value"
                                )))
                            }
                        }
                    }
                    AttributeModification::Update => {
                        return Err(syntax(format!(
                            "anchor '{name}' is single-valued: a rename replaces its value"
                        )))
                    }
                },
            };
            let bind = match new {
                Some(new) => target.convert(name, target.attribute(name)?, new)?,
                None => value.clone(),
            };
            changed |= bind != *value;
            anchor.push((name.clone(), bind, declared.clone()));
        }
        if !changed && target.dn.is_none() {
            // The DN is the anchor: a new DN names the new anchor value.
            if let (Some(dn), [(name, value, declared)]) = (&dn, current) {
                let bind =
                    target.convert(name, target.attribute(name)?, &Value::String(dn.clone()))?;
                if bind != *value {
                    changed = true;
                    anchor = vec![(name.clone(), bind, declared.clone())];
                }
            }
        }
        let dn_column = match (&target.dn, &dn) {
            (Some(column), Some(dn)) if entry.change(column).is_none() => {
                Some(target.bind(column, &Value::String(dn.clone()))?)
            }
            _ => None,
        };
        Ok(Self {
            anchor: changed.then_some(anchor),
            dn,
            dn_column,
        })
    }

    pub(super) fn renames(&self) -> bool {
        self.anchor.is_some() || self.dn.is_some()
    }

    /// The new value of each anchor column that changes.
    pub(super) fn changed_columns<'a>(
        &'a self,
        current: &'a [ColumnValue],
    ) -> impl Iterator<Item = &'a ColumnValue> {
        self.anchor
            .iter()
            .flatten()
            .zip(current)
            .filter(|(new, old)| new.1 != old.1)
            .map(|(new, _)| new)
    }

    /// A lookup on `table` that must find no row: no other object may have the new anchor.
    /// `NOT (current)` keeps the object itself out, where the database compares text without
    /// case (a rename from `alice` to `Alice` in MySQL).
    pub(super) fn guard(
        &self,
        dialect: Dialect,
        table: &str,
        current: &[ColumnValue],
    ) -> Option<Step> {
        let new = self.anchor.as_ref()?;
        let mut b = StatementBuilder::new(dialect);
        b.sql("SELECT 1 FROM ")
            .ident(table)
            .sql(" WHERE ")
            .equalities(new.iter().cloned())
            .sql(" AND NOT (")
            .equalities(current.iter().cloned())
            .sql(")");
        Some(Step::new(b.finish(), Check::RowAbsent))
    }

    /// The moves of the child rows of `children` from the current anchor to the new one.
    pub(super) fn moves(
        &self,
        dialect: Dialect,
        children: &[ChildTable],
        current: &[ColumnValue],
    ) -> Vec<Step> {
        let Some(new) = self.anchor.as_deref() else {
            return Vec::new();
        };
        let old = OwnerKey::of(current);
        children
            .iter()
            .map(|child| {
                let mut b = StatementBuilder::new(dialect);
                b.sql("UPDATE ").ident(&child.table).sql(" SET ");
                for (i, (column, (_, value, declared))) in
                    child.key_columns.iter().zip(new).enumerate()
                {
                    if i > 0 {
                        b.sql(", ");
                    }
                    b.ident(column)
                        .sql(" = ")
                        .typed_bind(value.clone(), key_declared(child, i, declared.as_deref()));
                }
                b.sql(" WHERE ");
                keyed(&mut b, child, &old.values);
                Step::new(b.finish(), Check::None)
            })
            .collect()
    }
}
