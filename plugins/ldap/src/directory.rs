//! One configured directory: the pool for the connectivity answers, what the server says about
//! itself (Root DSE, subschema, certificate), and every object type resolved against it.

use std::sync::Arc;

use ecma_plugin_api::{ConnectorError, ObjectTypeSchema, ParameterValues};

use crate::dn::Dn;
use crate::pool::{Pool, Pools};
use crate::rootdse::RootDse;
use crate::schema::{self, Subschema, TypeShape};
use crate::settings::{self, names, Global, TypeSettings};
use crate::tls::{self, CertificateInfo};

/// What the server says about itself.
pub(crate) struct Discovery {
    pub root: RootDse,
    pub subschema: Subschema,
    pub certificate: Option<CertificateInfo>,
}

/// One object type, resolved.
pub(crate) struct ObjectType {
    pub settings: TypeSettings,
    pub shape: TypeShape,
}

impl ObjectType {
    pub(crate) fn schema(&self) -> &ObjectTypeSchema {
        &self.shape.schema
    }

    pub(crate) fn name(&self) -> &str {
        &self.shape.schema.name
    }
}

pub(crate) struct Directory {
    pub pool: Arc<Pool>,
    pub discovery: Arc<Discovery>,
    pub global: Global,
    pub types: Vec<ObjectType>,
}

/// Read the Root DSE, the subschema and (over TLS) the server's certificate.
pub(crate) async fn discover(pool: &Pool) -> Result<Discovery, ConnectorError> {
    let mut ldap = pool.get().await?;
    let root = RootDse::read(&mut ldap).await?;
    let subschema = Subschema::read(&mut ldap, &root.subschema).await?;
    let certificate = ldap
        .get_peer_certificate()
        .await
        .ok()
        .flatten()
        .map(|der| tls::describe(&der));
    Ok(Discovery {
        root,
        subschema,
        certificate,
    })
}

impl Directory {
    /// The pool for the connectivity answers, and what the server says (cached per pool).
    pub(crate) async fn connect(
        pools: &Pools,
        values: &ParameterValues,
    ) -> Result<(Arc<Pool>, Arc<Discovery>), ConnectorError> {
        let connection = settings::connection(values)?;
        let pool = pools.get(&connection);
        let discovery = pool.discovery().await?;
        Ok((pool, discovery))
    }

    /// Everything, resolved: fails on the first answer that does not fit the server.
    pub(crate) async fn open(
        pools: &Pools,
        values: &ParameterValues,
    ) -> Result<Self, ConnectorError> {
        let (pool, discovery) = Self::connect(pools, values).await?;
        let global = settings::global(values)?;
        let default_anchor = settings::default_anchor(discovery.root.vendor());
        let aliases = settings::attribute_aliases(values);
        let include_operational = settings::flag(values, names::INCLUDE_OPERATIONAL)?;
        let mut types = Vec::new();
        for class in settings::object_classes(values) {
            let type_settings = settings::type_settings(values, &class, default_anchor)?;
            let shape = schema::object_type(
                &discovery.subschema,
                &type_settings,
                &global.password_attribute,
                &aliases,
                include_operational,
            )
            .map_err(|e| ConnectorError::invalid_configuration(e.to_string()))?;
            types.push(ObjectType {
                settings: type_settings,
                shape,
            });
        }
        Ok(Self {
            pool,
            discovery,
            global,
            types,
        })
    }

    pub(crate) fn object_type(&self, name: &str) -> Option<&ObjectType> {
        self.types
            .iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Partitions: the server's data naming contexts, then the additional ones.
    pub(crate) fn partitions(&self) -> Vec<String> {
        let mut out = self.discovery.root.data_contexts();
        for extra in &self.global.additional_partitions {
            if !out.iter().any(|p| crate::dn::same_dn(p, extra)) {
                out.push(extra.clone());
            }
        }
        out
    }

    /// The partitions an import or export with this partition DN covers (all when empty).
    pub(crate) fn bases(&self, partition: &str) -> Vec<String> {
        if partition.is_empty() {
            self.partitions()
        } else {
            vec![partition.to_string()]
        }
    }

    /// The object type of an entry with these object classes (lower-case).
    pub(crate) fn type_of_classes(&self, classes: &[String]) -> Option<&ObjectType> {
        self.types.iter().find(|t| {
            classes.iter().any(|c| {
                c.eq_ignore_ascii_case(&t.settings.object_class) || c.eq_ignore_ascii_case(t.name())
            })
        })
    }
}

/// The containers under a partition: organizational units, organizations, containers and
/// domain components, at any depth.
pub(crate) async fn containers(
    directory: &Directory,
    partition: &str,
) -> Result<Vec<ecma_plugin_api::Container>, ConnectorError> {
    let mut ldap = directory.pool.dedicated().await?;
    let mut out = Vec::new();
    crate::search::run(
        &mut ldap,
        partition,
        "(|(objectClass=organizationalUnit)(objectClass=organization)(objectClass=container)(objectClass=domain))",
        &["1.1".to_string()],
        crate::search::Paging::None,
        Vec::new(),
        |item| {
            if let crate::search::Item::Entry(raw, _) = item {
                if !crate::dn::same_dn(&raw.dn, partition) {
                    let name = Dn::parse(&raw.dn)
                        .ok()
                        .and_then(|d| d.rdns.first().and_then(|r| r.first()).map(|a| a.value.clone()))
                        .unwrap_or_else(|| raw.dn.clone());
                    out.push(ecma_plugin_api::Container { name, dn: raw.dn });
                }
            }
            async { true }
        },
    )
    .await?;
    let _ = ldap.unbind().await;
    Ok(out)
}
