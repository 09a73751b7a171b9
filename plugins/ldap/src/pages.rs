//! The wizard pages, with Microsoft's fields: connectivity, global (computed from the live
//! server), schema (object classes, then anchor, DN template and auxiliary classes per type)
//! and run steps; and the validation of each page against the server.

use ecma_plugin_api::{
    ConfigPage, ConnectorError, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
};

use crate::directory::{Directory, Discovery};
use crate::pool::Pools;
use crate::rootdse::oid;
use crate::settings::{self, key, names, DeltaMethod, IMPORT_METHODS, PASSWORD_METHODS};

fn text(name: &str, description: &str) -> ParameterDefinition {
    ParameterDefinition::new(name, ParameterKind::String).with_description(description)
}

fn drop_down(name: &str, options: Vec<String>, extensible: bool) -> ParameterDefinition {
    ParameterDefinition::new(
        name,
        ParameterKind::DropDown {
            options,
            extensible,
        },
    )
}

fn label(name: &str, value: String) -> ParameterDefinition {
    ParameterDefinition::new(name, ParameterKind::Label).with_description(value)
}

fn issue(parameter: &str, message: impl Into<String>) -> ParameterIssue {
    ParameterIssue {
        parameter: parameter.to_string(),
        message: message.into(),
    }
}

fn connectivity() -> Vec<ParameterDefinition> {
    use names::*;
    vec![
        text(HOST, "The directory server's host name or address").required(),
        text(PORT, "389 for LDAP and StartTLS, 636 for LDAPS").with_default("389"),
        drop_down(BINDING, settings::BINDINGS.iter().map(|b| b.to_string()).collect(), false)
            .with_default("Simple")
            .with_description("Anonymous; Simple (a bind DN and password, no TLS); LDAPS (TLS from the start); StartTLS; SASL EXTERNAL (a client certificate)"),
        text(USER_NAME, "The bind DN, e.g. cn=admin,dc=example,dc=com"),
        ParameterDefinition::new(PASSWORD, ParameterKind::EncryptedString)
            .with_description("The bind DN's password"),
        ParameterDefinition::new(CA_FILE, ParameterKind::File).with_description(
            "PEM file of the CA that issued the server's certificate (default: the system's roots)",
        ),
        text(SERVER_CERTIFICATE_SHA256, "Accept exactly this server certificate (SHA-256 fingerprint, as the global page shows it), for a self-signed certificate"),
        ParameterDefinition::new(CLIENT_CERTIFICATE_FILE, ParameterKind::File)
            .with_description("PEM client certificate, for SASL EXTERNAL"),
        ParameterDefinition::new(CLIENT_KEY_FILE, ParameterKind::File)
            .with_description("PEM private key of the client certificate"),
        ParameterDefinition::new(SASL_OVER_LDAPS, ParameterKind::CheckBox)
            .with_default("false")
            .with_description("SASL EXTERNAL over LDAPS instead of StartTLS"),
        text(CONNECTION_TIMEOUT, "Seconds to wait for a connection").with_default("10"),
        text(OPERATION_TIMEOUT, "Seconds to wait for any one operation").with_default("60"),
        text(ATTRIBUTE_ALIASES, "Attributes to request with an option, comma-separated (RFC 4522), e.g. userCertificate;binary"),
        ParameterDefinition::new(INCLUDE_OPERATIONAL, ParameterKind::CheckBox)
            .with_default("false")
            .with_description("Import operational attributes (entryUUID, createTimestamp, modifyTimestamp, memberOf...)"),
        text(POOL_SIZE, "Connections kept open to the server").with_default("4"),
    ]
}

/// The delta methods this server can do, best first.
pub(crate) fn offered_delta_methods(discovery: &Discovery) -> Vec<DeltaMethod> {
    let root = &discovery.root;
    let mut out = Vec::new();
    if root
        .naming_contexts
        .iter()
        .any(|c| c.eq_ignore_ascii_case("cn=accesslog"))
    {
        out.push(DeltaMethod::AccessLog);
    }
    if root.supports_control(oid::CONTENT_SYNC) {
        out.push(DeltaMethod::ContentSync);
    }
    if !root.changelog.is_empty()
        || root
            .naming_contexts
            .iter()
            .any(|c| c.eq_ignore_ascii_case("cn=changelog"))
    {
        out.push(DeltaMethod::Changelog);
    }
    if !root.highest_usn.is_empty() {
        out.push(DeltaMethod::Usn);
    }
    out.push(DeltaMethod::ModifyTimestamp);
    out
}

fn global(discovery: &Discovery) -> Vec<ParameterDefinition> {
    use names::*;
    let root = &discovery.root;
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let mut page = vec![
        label("server", root.vendor_label()),
        label("naming_contexts", list(&root.naming_contexts)),
        label("supported_controls", list(&root.supported_controls)),
        label("supported_extensions", list(&root.supported_extensions)),
        label("sasl_mechanisms", list(&root.sasl_mechanisms)),
    ];
    match &discovery.certificate {
        Some(c) => {
            page.push(label("certificate_subject", c.subject.clone()));
            page.push(label("certificate_issuer", c.issuer.clone()));
            page.push(label("certificate_not_after", c.not_after.clone()));
            page.push(label("certificate_sha256", c.sha256.clone()));
        }
        None => page.push(label("certificate", "no TLS on this connection".into())),
    }
    let offered = offered_delta_methods(discovery);
    let mut options = vec!["None".to_string()];
    options.extend(
        offered
            .iter()
            .map(|m| settings::delta_method_name(*m).to_string()),
    );
    page.push(
        drop_down(DELTA_METHOD, options, false)
            .with_default("None")
            .with_description(format!(
                "How delta imports find changes. This server offers: {}. modifyTimestamp cannot see deletes.",
                offered
                    .iter()
                    .map(|m| settings::delta_method_name(*m))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
    );
    page.push(
        text(
            ACCESSLOG_BASE,
            "Access log database (OpenLDAP slapo-accesslog)",
        )
        .with_default("cn=accesslog"),
    );
    page.push(
        text(
            CHANGELOG_BASE,
            "Changelog base (draft-good-ldap-changelog: 389 DS, OpenDJ)",
        )
        .with_default("cn=changelog"),
    );
    page.push(
        text(PASSWORD_ATTRIBUTE, "The attribute that holds passwords").with_default("userPassword"),
    );
    let password_default = if root.supports_extension(oid::PASSWORD_MODIFY) {
        PASSWORD_METHODS[0]
    } else {
        PASSWORD_METHODS[1]
    };
    page.push(
        drop_down(PASSWORD_METHOD, PASSWORD_METHODS.iter().map(|m| m.to_string()).collect(), false)
            .with_default(password_default)
            .with_description("How passwords are set: RFC 3062's Password Modify operation (the server hashes), or a replace of the password attribute"),
    );
    page.push(text(
        ADDITIONAL_PARTITIONS,
        "More partitions (DNs separated by `;`) besides the naming contexts",
    ));
    page
}

fn schema1(discovery: &Discovery) -> Vec<ParameterDefinition> {
    vec![text(
        names::OBJECT_CLASSES,
        &format!(
            "Structural object classes to provision, comma-separated. This directory has: {}",
            discovery.subschema.structural_classes().join(", ")
        ),
    )
    .with_default("inetOrgPerson,groupOfNames")]
}

fn schema2(discovery: &Discovery, values: &ParameterValues) -> Vec<ParameterDefinition> {
    let subschema = &discovery.subschema;
    let default_anchor = settings::default_anchor(discovery.root.vendor());
    let mut page = Vec::new();
    for class in settings::object_classes(values) {
        let mut anchors = vec![settings::DN_ANCHOR.to_string()];
        for id in ["entryUUID", "nsUniqueId", "objectGUID"] {
            if subschema.attribute(id).is_some() {
                anchors.push(id.to_string());
            }
        }
        anchors.extend(
            subschema
                .class_attributes(&class)
                .into_iter()
                .filter(|a| subschema.is_single_valued(a)),
        );
        page.push(
            drop_down(&key(&class, names::ANCHOR), anchors, true)
                .with_default(default_anchor)
                .with_description("The anchor: -dn- (the DN), an operational id that survives renames (entryUUID, nsUniqueId, objectGUID) or a unique single-valued attribute"),
        );
        page.push(text(
            &key(&class, names::DN_TEMPLATE),
            "The DN of a new entry when the host sends none, e.g. uid={uid},ou=people,{partition}",
        ));
        page.push(text(
            &key(&class, names::AUXILIARY_CLASSES),
            &format!(
                "Auxiliary classes new entries get, comma-separated (their attributes join the type). This directory has: {}",
                subschema.auxiliary_classes().join(", ")
            ),
        ));
    }
    page
}

fn run_step(values: &ParameterValues) -> Vec<ParameterDefinition> {
    let mut page = Vec::new();
    for class in settings::object_classes(values) {
        page.push(
            text(
                &key(&class, names::IMPORT_FILTER),
                "The LDAP filter (RFC 4515) that selects this type's entries",
            )
            .with_default(format!("(objectClass={class})")),
        );
        page.push(
            drop_down(
                &key(&class, names::IMPORT_METHOD),
                IMPORT_METHODS.iter().map(|m| m.to_string()).collect(),
                false,
            )
            .with_default("Automatic")
            .with_description(
                "Paged results (RFC 2696) where the server offers them, else VLV with server-side sort, else one search",
            ),
        );
    }
    page
}

pub(crate) async fn parameters(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => Ok(connectivity()),
        ConfigPage::Global => Ok(global(&Directory::connect(pools, values).await?.1)),
        ConfigPage::Schema(1) => Ok(schema1(&Directory::connect(pools, values).await?.1)),
        ConfigPage::Schema(2) => Ok(schema2(&Directory::connect(pools, values).await?.1, values)),
        ConfigPage::RunStep => Ok(run_step(values)),
        _ => Ok(Vec::new()),
    }
}

pub(crate) async fn validate(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => {
            let connection = match settings::connection(values) {
                Ok(c) => c,
                Err(e) => return Ok(vec![issue(names::HOST, e.message)]),
            };
            match pools.get(&connection).get().await {
                Ok(_) => Ok(Vec::new()),
                Err(e) => {
                    let parameter = if e.message.contains("invalidCredentials") {
                        names::PASSWORD
                    } else if e.message.contains("certificate") || e.message.contains("TLS") {
                        names::CA_FILE
                    } else {
                        names::HOST
                    };
                    Ok(vec![issue(parameter, e.message)])
                }
            }
        }
        ConfigPage::Global => {
            let (_, discovery) = Directory::connect(pools, values).await?;
            let global = match settings::global(values) {
                Ok(g) => g,
                Err(e) => return Ok(vec![issue(names::DELTA_METHOD, e.message)]),
            };
            let offered = offered_delta_methods(&discovery);
            let mut issues = Vec::new();
            if global.delta_method != DeltaMethod::None && !offered.contains(&global.delta_method) {
                issues.push(issue(
                    names::DELTA_METHOD,
                    format!(
                        "this server does not offer `{}`; it offers: {}",
                        settings::delta_method_name(global.delta_method),
                        offered
                            .iter()
                            .map(|m| settings::delta_method_name(*m))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if global.password_method == Some(settings::PasswordMethod::Extended)
                && !discovery.root.supports_extension(oid::PASSWORD_MODIFY)
            {
                issues.push(issue(names::PASSWORD_METHOD, "this server does not offer the Password Modify extended operation (RFC 3062): choose `Replace attribute`"));
            }
            Ok(issues)
        }
        ConfigPage::Schema(1) | ConfigPage::Schema(2) | ConfigPage::RunStep => {
            match Directory::open(pools, values).await {
                Ok(_) => Ok(Vec::new()),
                Err(e) if e.kind == ecma_plugin_api::ErrorKind::InvalidConfiguration => {
                    let parameter = e
                        .message
                        .split('`')
                        .nth(1)
                        .filter(|p| p.contains(':') || *p == names::OBJECT_CLASSES)
                        .unwrap_or(names::OBJECT_CLASSES)
                        .to_string();
                    Ok(vec![issue(&parameter, e.message)])
                }
                Err(e) => Err(e),
            }
        }
        _ => Ok(Vec::new()),
    }
}
