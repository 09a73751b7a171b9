//! `ecma_sql`: the generic SQL connector for the ECMA connector host.
//!
//! One [`SqlConnector`] maps object types onto tables of a relational database: a row is an
//! object, a column an attribute, one column the anchor. It offers the wizard pages that list
//! the live tables and columns, schema discovery, keyset-paged full import and batched export
//! (one transaction per batch, one savepoint per entry). This build drives SQLite through sqlx;
//! the driver layer (module `db`) is where PostgreSQL and MySQL will plug in.
//!
//! The plugin API is synchronous; the connector owns one tokio runtime and blocks on it in
//! every entry point. Pools are cached by connection string, so the answers passed with each
//! call (ECMA2 style) cost no reconnect.
//!
//! Parameters, by page (names are exact):
//! - connectivity: `connection_string`
//! - schema1: `object_type_detection`, `object_types`
//! - schema2: `T:attribute_detection`, `T:table` for each object type `T`
//! - schema3: `T:anchor`, `T:dn`, `T:dn_is_anchor`
//! - schema4: `T:C:type` for each column `C` of `T`'s table

mod config;
mod db;
mod error;
mod export;
mod import;
mod pages;
mod runtime;
mod sql;
mod values;

use std::sync::Arc;

use ecma_plugin_api::{
    Capabilities, ConfigPage, Connector, ConnectorError, DnStyle, ExportRequest, ExportSession,
    ExportType, ImportKind, ImportRequest, ImportSession, ObjectConfirmation, ParameterDefinition,
    ParameterIssue, ParameterValues, PluginInfo, Schema,
};

use crate::db::Pools;
use crate::export::SqlExportSession;
use crate::import::SqlImportSession;
use crate::runtime::Executor;

/// The generic SQL connector (SQLite in this build).
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
}

impl Connector for SqlConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "sql".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Generic SQL connector: tables as object types, columns as attributes (SQLite)"
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

    fn capabilities(&self, _values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        Ok(Capabilities {
            dn_style: DnStyle::Generic,
            export_type: ExportType::AttributeReplace,
            object_confirmation: ObjectConfirmation::Normal,
            concurrent_operations: true,
            ..Capabilities::default()
        })
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        let maps = self.run(async {
            let db = pages::database(&self.pools, values).await?;
            config::resolve(&db, values).await
        })?;
        Ok(Schema {
            object_types: maps.iter().map(config::ObjectTypeMap::schema).collect(),
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
        if request.kind == ImportKind::Delta {
            return Err(ConnectorError::not_supported("delta import"));
        }
        let (db, maps) = self.run(async {
            let db = pages::database(&self.pools, values).await?;
            let maps = config::resolve(&db, values).await?;
            Ok((db, maps))
        })?;
        let session =
            SqlImportSession::new(self.executor.clone(), db, &maps, schema, request.page_size)?;
        Ok(Box::new(session))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        _request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        let (db, maps) = self.run(async {
            let db = pages::database(&self.pools, values).await?;
            let maps = config::resolve(&db, values).await?;
            Ok((db, maps))
        })?;
        Ok(Box::new(SqlExportSession::new(
            self.executor.clone(),
            db,
            &maps,
            schema,
        )))
    }
}

ecma_plugin_api::export_connector!(SqlConnector);
