//! `ecma_ldap`: the generic LDAP connector for the ECMA connector host.
//!
//! One [`LdapConnector`] provisions a directory (OpenLDAP, 389 Directory Server, AD LDS, any
//! LDAPv3 server) the way Microsoft's Generic LDAP connector does, and closes its gaps: groups
//! and value-level membership, renames with modrdn, and delta imports by every method
//! (module `delta`). Structural object classes are the object types, with the attributes of
//! the class, its superclasses and chosen auxiliary classes, typed from the subschema
//! (module `schema`). The naming contexts are the partitions, organizational units and
//! containers the hierarchy.
//!
//! Connections are pooled per connectivity answers and every operation has a time-out
//! (module `pool`); TLS is rustls with the ring provider (module `tls`). The plugin API is
//! synchronous: the connector owns one tokio runtime and blocks on it in every entry point.
//!
//! Parameters, by page (names are exact; `T` is an object class):
//! - connectivity: `host`, `port`, `binding` (Anonymous, Simple, LDAPS, StartTLS, SASL
//!   EXTERNAL), `user_name`, `password` (encrypted), `ca_file`, `server_certificate_sha256`,
//!   `client_certificate_file`, `client_key_file`, `sasl_over_ldaps`,
//!   `connection_timeout_seconds`, `operation_timeout_seconds`, `attribute_aliases`,
//!   `include_operational_attributes`, `pool_size`
//! - global (labels computed from the server: vendor, naming contexts, controls,
//!   extensions, SASL mechanisms, certificate): `delta_method`, `accesslog_base`,
//!   `changelog_base`, `password_attribute`, `password_method`, `additional_partitions`
//! - schema1: `object_classes`
//! - schema2: `T:anchor`, `T:dn_template`, `T:auxiliary_classes`
//! - run_step: `T:import_filter`, `T:import_method`

mod delta;
mod directory;
mod dn;
mod entry;
mod error;
mod export;
mod import;
mod pages;
mod password;
mod pool;
mod rootdse;
mod runtime;
mod schema;
mod search;
mod settings;
mod tls;
mod vlv;

use std::sync::Arc;

use ecma_plugin_api::{
    Capabilities, ConfigPage, Connector, ConnectorError, Container, DnStyle, ExportRequest,
    ExportSession, ExportType, ImportRequest, ImportSession, ObjectConfirmation,
    ParameterDefinition, ParameterIssue, ParameterValues, Partition, PasswordOptions,
    PasswordTarget, PluginInfo, Schema, Secret,
};

use crate::directory::Directory;
use crate::pool::Pools;
use crate::runtime::Executor;

/// The generic LDAP connector.
pub struct LdapConnector {
    executor: Arc<Executor>,
    pools: Pools,
}

impl LdapConnector {
    fn run<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        self.executor.block_on(future)?
    }
}

impl Connector for LdapConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "ldap".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Generic LDAP connector: object classes as object types (OpenLDAP, 389 DS, AD LDS, LDAPv3)".into(),
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
        let global = settings::global(values)?;
        Ok(Capabilities {
            dn_style: DnStyle::Ldap,
            export_type: ExportType::AttributeUpdate,
            object_confirmation: ObjectConfirmation::Normal,
            delta_import: global.delta_method != settings::DeltaMethod::None,
            object_rename: true,
            partitions: true,
            hierarchy: true,
            concurrent_operations: true,
            passwords: true,
            ..Capabilities::default()
        })
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        let directory = self.run(Directory::open(&self.pools, values))?;
        Ok(Schema {
            object_types: directory.types.iter().map(|t| t.schema().clone()).collect(),
        })
    }

    fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        let directory = self.run(Directory::open(&self.pools, values))?;
        Ok(directory
            .partitions()
            .into_iter()
            .map(|dn| Partition {
                name: dn.clone(),
                dn,
            })
            .collect())
    }

    fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        self.run(async {
            let directory = Directory::open(&self.pools, values).await?;
            directory::containers(&directory, &partition.dn).await
        })
    }

    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        self.run(async {
            let connection = settings::connection(values)?;
            let pool = self.pools.get(&connection);
            let mut ldap = pool.dedicated().await?;
            let _ = ldap.unbind().await;
            Ok(())
        })
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        let directory = self.run(Directory::open(&self.pools, values))?;
        let session =
            import::LdapImportSession::open(self.executor.clone(), directory, request.clone())?;
        Ok(Box::new(session))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        let directory = self.run(Directory::open(&self.pools, values))?;
        Ok(Box::new(export::LdapExportSession::new(
            self.executor.clone(),
            directory,
            request,
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
            let directory = Directory::open(&self.pools, values).await?;
            password::set(&directory, target, new_password).await
        })
    }

    fn change_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        old_password: &Secret,
        new_password: &Secret,
    ) -> Result<(), ConnectorError> {
        self.run(async {
            let directory = Directory::open(&self.pools, values).await?;
            password::change(&directory, target, old_password, new_password).await
        })
    }
}

ecma_plugin_api::export_connector!(LdapConnector);

/// For the fuzz targets (`fuzz/`), not part of the plugin's interface.
#[doc(hidden)]
pub mod fuzzing {
    use crate::dn::{escape_filter, escape_value, Dn, DnTemplate};

    /// `text` as a DN and as a DN template; then as a value escaped into a DN (RFC 4514) and a
    /// filter (RFC 4515). Panics when an escaped value escapes its place: a DN of other RDNs,
    /// or a filter with an unescaped special character.
    // A fuzz target's oracle reports a finding by panicking.
    #[allow(clippy::panic)]
    pub fn dn(text: &str) {
        if let Ok(dn) = Dn::parse(text) {
            let _ = (dn.rdn(), dn.parent(), dn.normalized());
            let again = Dn::parse(&dn.to_string());
            assert!(
                again.is_ok(),
                "{text:?} printed as {dn} does not parse again"
            );
        }
        if let Ok(template) = DnTemplate::new(text) {
            let _ = template.placeholders();
            let _ = template.render("dc=example,dc=com", |_| Some(text.into()));
        }
        let built = format!("uid={},ou=people,dc=example,dc=com", escape_value(text));
        let parsed = Dn::parse(&built).unwrap_or_else(|e| panic!("{built:?}: {e:?}"));
        assert_eq!(parsed.rdns.len(), 4, "{text:?} escaped to {built:?}");
        assert_eq!(parsed.rdns[0].len(), 1, "{text:?} escaped to {built:?}");
        assert_eq!(parsed.rdns[0][0].value, text, "{built:?}");
        let filter = escape_filter(text);
        assert!(
            !filter.contains(['(', ')', '*', '\0']),
            "{text:?} escaped to the filter value {filter:?}"
        );
    }
}
