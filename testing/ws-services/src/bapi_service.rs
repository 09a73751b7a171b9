//! A SOAP 1.1 user service that answers as `plugins/webservices/examples/soap-users/users.wsdl`
//! says, in the pattern of SAP's user BAPIs: GETLIST (at most two rows a call, with a row
//! cursor), GET_DETAIL, CREATE1, CHANGE and DELETE, each with a BAPI RETURN (message 224: the
//! user exists, 124: no such user). It checks a WS-Security UsernameToken, and answers a SOAP
//! fault for a request it cannot use (no USERNAME, an E_MAIL without `@`). `GET` of the
//! endpoint (`?wsdl`) serves the example's WSDL, and the XSD it imports beside it, as SAP
//! does. Plain HTTP on 127.0.0.1; stopped when dropped. The tests start it with
//! [`BapiService::start`]; `ecma-demo-ws` with [`BapiService::start_with`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;

/// The WS-Security user name the service accepts.
pub const SOAP_USER: &str = "ECMA_SVC";
/// The tests' password ([`BapiService::start`]).
pub const SOAP_PASSWORD: &str = "bapi-Passw0rd-31";
/// The endpoint path of the WSDL's port.
pub const ENDPOINT: &str = "/sap/bc/srt/rfc/sap/zuserservice";
const ROW_LIMIT: usize = 2;
/// Where the WSDL's relative `schemaLocation="users.xsd"` points from the endpoint.
pub const XSD_PATH: &str = "/sap/bc/srt/rfc/sap/users.xsd";

async fn wsdl() -> Response {
    (
        [("content-type", "text/xml; charset=utf-8")],
        include_str!("../../../plugins/webservices/examples/soap-users/users.wsdl"),
    )
        .into_response()
}

async fn xsd() -> Response {
    (
        [("content-type", "text/xml; charset=utf-8")],
        include_str!("../../../plugins/webservices/examples/soap-users/users.xsd"),
    )
        .into_response()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BapiUser {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub department: String,
    pub password: String,
}

#[derive(Default)]
pub struct BapiStore {
    /// By USERNAME (SAP keeps them in capitals).
    pub users: BTreeMap<String, BapiUser>,
    /// Operations called, in order.
    pub calls: Vec<String>,
    /// The UsernameToken the service accepts.
    user: String,
    password: String,
}

type Shared = Arc<Mutex<BapiStore>>;

pub struct BapiService {
    pub addr: SocketAddr,
    pub store: Shared,
    handle: axum_server::Handle,
}

impl Drop for BapiService {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl BapiService {
    /// For tests: a free port, [`SOAP_USER`] and [`SOAP_PASSWORD`].
    #[allow(clippy::expect_used)] // A test that cannot start its service fails here, loudly.
    pub async fn start() -> Self {
        Self::start_with(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SOAP_USER,
            SOAP_PASSWORD,
        )
        .await
        .expect("the SOAP service starts")
    }

    /// Serve on `addr` (in a Tokio runtime; port 0 picks a free one) with an empty store,
    /// accepting the UsernameToken `user` and `password`.
    pub async fn start_with(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<Self, crate::ServiceError> {
        let store: Shared = Arc::new(Mutex::new(BapiStore {
            user: user.into(),
            password: password.into(),
            ..BapiStore::default()
        }));
        let app = Router::new()
            .route(ENDPOINT, axum::routing::post(call).get(wsdl))
            .route(XSD_PATH, axum::routing::get(xsd))
            .with_state(store.clone());
        let (listener, addr) = crate::listen(addr, "the SOAP service")?;
        let handle = axum_server::Handle::new();
        tokio::spawn(
            axum_server::from_tcp(listener)
                .handle(handle.clone())
                .serve(app.into_make_service()),
        );
        Ok(Self {
            addr,
            store,
            handle,
        })
    }

    pub fn store(&self) -> parking_lot::MutexGuard<'_, BapiStore> {
        self.store.lock()
    }
}

/// The example connector file for this service, with `@NAME@` placeholders ([`crate::fill`]).
pub const SOAP_CONNECTOR: &str =
    include_str!("../../../plugins/webservices/examples/soap-users/connector.toml");

/// Element texts of a request by their path of local names below `Envelope`:
/// `Body/BAPI_USER_CREATE1/ADDRESS/E_MAIL`; and the Body's first element.
fn read(xml: &str) -> Option<(String, HashMap<String, String>)> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut texts = HashMap::new();
    let mut operation = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                if path.len() == 3 && path[1] == "Body" {
                    operation = path.last().cloned();
                }
                texts.entry(path[1..].join("/")).or_insert_with(String::new);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let key = path
                    .iter()
                    .skip(1)
                    .cloned()
                    .chain([name])
                    .collect::<Vec<_>>();
                texts.insert(key.join("/"), String::new());
            }
            Event::Text(t) => {
                let text = t.unescape().ok()?.into_owned();
                if let Some(slot) = texts.get_mut(&path[1..].join("/")) {
                    slot.push_str(&text);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some((operation?, texts))
}

fn envelope(body: &str) -> Response {
    (
        [("content-type", "text/xml; charset=utf-8")],
        format!(r#"<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"#),
    )
        .into_response()
}

fn fault(code: &str, message: &str) -> Response {
    let mut response = envelope(&format!(
        "<soap-env:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></soap-env:Fault>",
        escape(message)
    ));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn bapi_return(kind: &str, number: &str, message: &str) -> Response {
    envelope(&format!(
        r#"<n0:BAPI_RETURN xmlns:n0="urn:contoso:users"><RETURN><TYPE>{kind}</TYPE><NUMBER>{number}</NUMBER><MESSAGE>{}</MESSAGE></RETURN></n0:BAPI_RETURN>"#,
        escape(message)
    ))
}

async fn call(State(store): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let Some((operation, texts)) = read(&body) else {
        return fault("soap-env:Client", "the request is not a SOAP envelope");
    };
    let text = |path: &str| texts.get(&format!("Body/{operation}/{path}")).cloned();
    let security = |field: &str| {
        texts
            .get(&format!("Header/Security/UsernameToken/{field}"))
            .cloned()
            .unwrap_or_default()
    };
    let mut store = store.lock();
    if security("Username") != store.user || security("Password") != store.password {
        return fault(
            "wsse:FailedAuthentication",
            "the security token could not be authenticated",
        );
    }
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if action != format!("\"urn:contoso:users:{operation}\"") {
        return fault(
            "soap-env:Client",
            &format!("SOAPAction {action} does not match {operation}"),
        );
    }
    store.calls.push(operation.clone());
    let user_name = text("USERNAME").unwrap_or_default().to_uppercase();
    match operation.as_str() {
        "BAPI_USER_GETLIST" => {
            let max: usize = text("MAX_ROWS")
                .and_then(|m| m.parse().ok())
                .unwrap_or(ROW_LIMIT);
            let from: usize = text("FROM_ROW")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1)
                .max(1);
            let take = max.min(ROW_LIMIT);
            let names: Vec<&String> = store.users.keys().skip(from - 1).take(take).collect();
            let items: String = names
                .iter()
                .map(|n| format!("<item><USERNAME>{}</USERNAME></item>", escape(n.as_str())))
                .collect();
            let next = if from - 1 + take < store.users.len() {
                format!("<NEXT_ROW>{}</NEXT_ROW>", from + take)
            } else {
                String::new()
            };
            envelope(&format!(
                r#"<n0:BAPI_USER_GETLISTResponse xmlns:n0="urn:contoso:users"><USERLIST>{items}</USERLIST><ROWS>{}</ROWS>{next}<RETURN><TYPE>S</TYPE><NUMBER>000</NUMBER><MESSAGE/></RETURN></n0:BAPI_USER_GETLISTResponse>"#,
                names.len()
            ))
        }
        "BAPI_USER_GET_DETAIL" => match store.users.get(&user_name) {
            Some(u) => envelope(&format!(
                r#"<n0:BAPI_USER_GET_DETAILResponse xmlns:n0="urn:contoso:users"><ADDRESS><FIRSTNAME>{}</FIRSTNAME><LASTNAME>{}</LASTNAME><E_MAIL>{}</E_MAIL><DEPARTMENT>{}</DEPARTMENT></ADDRESS><RETURN><TYPE>S</TYPE><NUMBER>000</NUMBER><MESSAGE/></RETURN></n0:BAPI_USER_GET_DETAILResponse>"#,
                escape(u.first_name.as_str()),
                escape(u.last_name.as_str()),
                escape(u.email.as_str()),
                escape(u.department.as_str())
            )),
            None => bapi_return("E", "124", &format!("User {user_name} does not exist")),
        },
        "BAPI_USER_CREATE1" | "BAPI_USER_CHANGE" => {
            if user_name.is_empty() {
                return fault("soap-env:Client", "USERNAME is required");
            }
            let email = text("ADDRESS/E_MAIL").unwrap_or_default();
            if !email.is_empty() && !email.contains('@') {
                return fault(
                    "soap-env:Client",
                    &format!("E_MAIL '{email}' is not an address"),
                );
            }
            let exists = store.users.contains_key(&user_name);
            let creating = operation == "BAPI_USER_CREATE1";
            if creating && exists {
                return bapi_return("E", "224", &format!("User {user_name} already exists"));
            }
            if !creating && !exists {
                return bapi_return("E", "124", &format!("User {user_name} does not exist"));
            }
            let user = store.users.entry(user_name.clone()).or_default();
            if texts.contains_key(&format!("Body/{operation}/ADDRESS")) {
                user.first_name = text("ADDRESS/FIRSTNAME").unwrap_or_default();
                user.last_name = text("ADDRESS/LASTNAME").unwrap_or_default();
                user.email = email;
                user.department = text("ADDRESS/DEPARTMENT").unwrap_or_default();
            }
            if let Some(password) = text("PASSWORD").filter(|p| !p.is_empty()) {
                user.password = password;
            }
            bapi_return("S", "000", &format!("User {user_name} saved"))
        }
        "BAPI_USER_DELETE" => match store.users.remove(&user_name) {
            Some(_) => bapi_return("S", "000", &format!("User {user_name} deleted")),
            None => bapi_return("E", "124", &format!("User {user_name} does not exist")),
        },
        other => fault("soap-env:Client", &format!("unknown operation {other}")),
    }
}
