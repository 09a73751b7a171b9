//! The web services connector's example services, on 127.0.0.1 only: [`people_api`], a REST
//! user-and-group API over HTTPS behind OAuth2 client credentials (the `rest-users` example
//! project's service), and [`bapi_service`], a SOAP 1.1 user service in SAP's BAPI pattern
//! with WS-Security that serves its WSDL (the `soap-users` example's). The integration tests
//! start them in-process; [`demo`] is `ecma-demo-ws`, which serves both from the command
//! line for docs/webservices.md and `scripts/demo-ws.sh`.

use std::net::{SocketAddr, TcpListener};

pub mod bapi_service;
pub mod demo;
pub mod people_api;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "cannot listen on {addr} for {what}: {source} (choose another port, or 0 for a free one)"
    )]
    Bind {
        addr: SocketAddr,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr}: the example services listen on 127.0.0.1 only")]
    NotLoopback { addr: SocketAddr },
    #[error("cannot create {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(String),
}

/// A non-blocking listener on `addr` (127.0.0.1 only), and the address it got.
fn listen(addr: SocketAddr, what: &'static str) -> Result<(TcpListener, SocketAddr), ServiceError> {
    if !addr.ip().is_loopback() || addr.is_ipv6() {
        return Err(ServiceError::NotLoopback { addr });
    }
    let bind = |source| ServiceError::Bind { addr, what, source };
    let listener = TcpListener::bind(addr).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    Ok((listener, addr))
}

/// The sample people both demo services start with: user name, first and last name,
/// department.
pub const SAMPLE_PEOPLE: [(&str, &str, &str, &str); 5] = [
    ("adele", "Adele", "Vance", "Retail"),
    ("alex", "Alex", "Wilber", "Sales"),
    ("bianca", "Bianca", "Pisani", "Legal"),
    ("diego", "Diego", "Siciliani", "Sales"),
    ("emma", "Emma", "Lopez", "Finance"),
];

/// `template` (an example connector file) with each `@NAME@` replaced by its value, as
/// `scripts/demo-ws.sh` does with sed.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("@{name}@"), value)
        })
}
