//! The connectivity page, as Microsoft's web service connector has it (the project, host and
//! port), plus the credentials our authentication methods need, and its validation.

use ecma_plugin_api::{
    ConfigPage, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
};

use crate::service::Settings;

pub(crate) fn parameters(page: ConfigPage) -> Vec<ParameterDefinition> {
    use ParameterKind::{EncryptedString, File, String as Text};
    if page != ConfigPage::Connectivity {
        return Vec::new();
    }
    let p = |name: &str, kind: ParameterKind, description: &str| {
        ParameterDefinition::new(name, kind).with_description(description)
    };
    vec![
        p(
            "project",
            File,
            "The web services project file (TOML), as an absolute path",
        )
        .required(),
        p("host", Text, "Overrides the host of the project's base URL"),
        p("port", Text, "Overrides the port of the project's base URL"),
        p("user", Text, "User for Basic and Digest authentication"),
        p(
            "password",
            EncryptedString,
            "Password for Basic and Digest authentication",
        ),
        p("client_id", Text, "OAuth2 client id"),
        p("client_secret", EncryptedString, "OAuth2 client secret"),
        p(
            "api_key",
            EncryptedString,
            "API key (where the project's auth puts it)",
        ),
        p("bearer_token", EncryptedString, "A fixed bearer token"),
        p(
            "ca_file",
            File,
            "PEM file of CA certificates trusted besides the system's",
        ),
        p(
            "client_certificate",
            File,
            "PEM client certificate (certificate authentication)",
        ),
        p(
            "client_key",
            File,
            "PEM private key of the client certificate",
        ),
    ]
}

/// Problems with the connectivity answers: the project must load and the credentials its
/// authentication needs must be there.
pub(crate) fn validate(page: ConfigPage, values: &ParameterValues) -> Vec<ParameterIssue> {
    if page != ConfigPage::Connectivity {
        return Vec::new();
    }
    match Settings::from_values(values) {
        Ok(_) => Vec::new(),
        Err((parameter, e)) => vec![ParameterIssue {
            parameter: parameter.to_string(),
            message: e.to_string(),
        }],
    }
}
