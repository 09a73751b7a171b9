//! `ecma_sql`: the generic SQL connector for the ECMA connector host.
//!
//! One [`SqlConnector`] maps object types onto a relational database, as Microsoft's generic
//! SQL connector does: a row is an object, a column an attribute, one column the anchor, a
//! child table per multi-valued attribute. It drives PostgreSQL, MySQL/MariaDB and SQLite
//! natively (sqlx, runtime queries) and any other database through ODBC and a DSN file
//! (module `db`). It offers the wizard pages computed from the live database (module `pages`),
//! schema discovery, streamed full import, delta import by watermark, change tracking or
//! snapshot (modules `import` and `delta`), batched export (one transaction per batch, a
//! result per entry, a failure undoing only its entry) by generated statements, stored
//! procedures or SQL with named parameters (module `export`), and initial passwords.
//!
//! Capabilities: generic DNs; export type `AttributeUpdate` with generated statements (a
//! value-level change of a multi-valued attribute writes only the rows of its values) and
//! `ObjectReplace` when any object type has configured export statements; object renames
//! (new anchor and DN, child rows moved) unless a configured update statement lacks
//! `@new_anchor` (or `@new_dn`, when the DN has a column); concurrent operations; delta
//! import with a delta strategy; passwords with a configured password statement. Anchors may
//! be binary and may span several columns (child tables are then keyed by as many columns;
//! deltas need the Watermark strategy).
//!
//! The plugin API is synchronous; the connector owns one tokio runtime and blocks on it in
//! every entry point. Pools are cached by connection settings, so the answers passed with each
//! call (ECMA2 style) cost no reconnect.
//!
//! Parameters, by page (names are exact; `T` is an object type, `C` a column):
//! - connectivity: `driver`, `connection_string`, `host`, `port`, `database`, `user`,
//!   `password` (encrypted), `tls_mode`, `tls_ca_file`, `dsn_file`, `odbc_dialect`, `pool_size`
//! - schema1: `object_type_detection`, `object_types`, `object_type_table`,
//!   `object_type_column`, `object_type_query`
//! - schema2: `T:attribute_detection`, `T:table`, `T:view`, `T:procedure`,
//!   `T:attribute_query`, `T:multivalued_tables`
//! - schema3: `T:anchor` (one column, or several separated by commas for a multi-column
//!   anchor: `TenantId,Login`), `T:dn`, `T:dn_is_anchor`, and `T:C:key_column` (one column
//!   per anchor column, in the anchor's order, comma-separated), `T:C:value_column` for each
//!   multi-valued table `C`
//! - schema4: `T:C:type` and `T:C:direction` for each attribute `C`
//! - global: `delta_strategy`, `watermark_query`, `date_time_format`, `change_table`,
//!   `create_change_tracking`, `snapshot_table`
//! - run_step: `T:import_method`, `T:import`, `T:delta_import_method`, `T:delta_import`,
//!   `T:watermark_column`, `T:delta_operation_column`, `T:export_method`, `T:export_table`,
//!   `T:export_add`, `T:export_update`, `T:export_delete`, `T:password_method`,
//!   `T:set_password`

mod config;
mod db;
mod delta;
mod error;
mod export;
mod import;
mod pages;
mod runtime;
mod source;
mod sql;
mod values;

use std::sync::Arc;

use ecma_plugin_api::{
    Capabilities, ConfigPage, Connector, ConnectorError, DnStyle, ExportRequest, ExportSession,
    ExportType, ImportRequest, ImportSession, ObjectConfirmation, ParameterDefinition,
    ParameterIssue, ParameterValues, PasswordOptions, PasswordTarget, PluginInfo, Schema, Secret,
};

use crate::config::{DeltaStrategy, Export, Settings};
use crate::db::{Database, Pools};
use crate::export::SqlExportSession;
use crate::import::SqlImportSession;
use crate::runtime::Executor;

/// The generic SQL connector.
pub struct SqlConnector {
    executor: Arc<Executor>,
    pools: Pools,
}

impl SqlConnector {
    fn run<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        self.executor.block_on(future)?
    }

    async fn settings(
        &self,
        values: &ParameterValues,
    ) -> Result<(Database, Settings), ConnectorError> {
        let db = pages::database(&self.pools, values).await?;
        let settings = config::resolve(&db, values).await?;
        Ok((db, settings))
    }
}

impl Connector for SqlConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "sql".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Generic SQL connector: tables as object types, columns as attributes \
                          (PostgreSQL, MySQL/MariaDB, SQLite, ODBC)"
                .into(),
        }
    }

    fn new() -> Result<Self, ConnectorError> {
        Ok(Self {
            executor: Arc::new(Executor::new()?),
            pools: Pools::default(),
        })
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        self.run(pages::parameters(&self.pools, page, values))
    }

    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        self.run(pages::validate(&self.pools, page, values))
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        let strategy = config::delta_strategy(values)?;
        // Generated statements apply value-level changes of multi-valued attributes row by
        // row (AttributeUpdate); custom export statements are handed every attribute, so the
        // host sends whole objects to them. Renames need an update statement that takes the
        // new anchor or DN. Passwords need a configured statement. All are known only after
        // resolving; unresolvable answers get the generated statements' capabilities.
        let (custom_export, renames, passwords) = match self.run(self.settings(values)) {
            Ok((_, settings)) => (
                settings
                    .types
                    .iter()
                    .any(|t| matches!(t.export, Export::Custom { .. })),
                settings
                    .types
                    .iter()
                    .all(config::ObjectTypeMap::applies_renames),
                settings.types.iter().any(|t| t.password.is_some()),
            ),
            Err(_) => (false, true, false),
        };
        Ok(Capabilities {
            dn_style: DnStyle::Generic,
            export_type: if custom_export {
                ExportType::ObjectReplace
            } else {
                ExportType::AttributeUpdate
            },
            object_confirmation: ObjectConfirmation::Normal,
            concurrent_operations: true,
            delta_import: strategy != DeltaStrategy::None,
            object_rename: renames,
            passwords,
            ..Capabilities::default()
        })
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        let (_, settings) = self.run(self.settings(values))?;
        Ok(Schema {
            object_types: settings
                .types
                .iter()
                .map(config::ObjectTypeMap::schema)
                .collect(),
        })
    }

    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        self.run(async {
            let db = pages::database(&self.pools, values).await?;
            Ok(db.ping().await?)
        })
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        let executor = self.executor.clone();
        let session = self.run(async {
            let (db, settings) = self.settings(values).await?;
            SqlImportSession::open(executor, db, settings, schema, request).await
        })?;
        Ok(Box::new(session))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        _request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        let (db, settings) = self.run(self.settings(values))?;
        Ok(Box::new(SqlExportSession::new(
            self.executor.clone(),
            db,
            &settings,
            schema,
        )))
    }

    fn set_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        _options: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        self.run(async {
            let (db, settings) = self.settings(values).await?;
            export::set_password(&db, &settings, target, new_password).await
        })
    }
}

ecma_plugin_api::export_connector!(SqlConnector);
