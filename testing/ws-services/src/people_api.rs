//! The Contoso People API, a small REST application the web services connector provisions
//! into: users and groups in an in-memory store, over HTTPS on 127.0.0.1 with a generated
//! certificate, behind an OAuth2 client-credentials token endpoint whose tokens expire, with
//! cursor paging (at most two items a page), and a switch that makes the next requests answer
//! 429 or 503 with `Retry-After`. It answers as `plugins/webservices/examples/rest-users`
//! expects. The tests start it with [`PeopleApi::start`]; `ecma-demo-ws` with
//! [`PeopleApi::start_with`].
//!
//! Routes: `POST /oauth/token` (client credentials, HTTP Basic); under `/api`, with
//! `Authorization: Bearer TOKEN`: `GET /users` (`?cursor=`, `?userName=`), `POST /users`,
//! `GET|PUT|PATCH|DELETE /users/{id}`, `PUT /users/{id}/password`, `GET /users/changes?since=`,
//! `GET|POST /groups`, `PUT|DELETE /groups/{id}`.

// Handlers refuse with a ready response; its size does not matter in a small service.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::ServiceError;

/// The client the tests' connector files use.
pub const CLIENT_ID: &str = "ecma-connector";
/// The tests' client secret ([`PeopleApi::start`]).
pub const CLIENT_SECRET: &str = "people-client-secret-9f2c";
/// Items per page, whatever the client asks: paging is exercised with a handful of users.
pub const PAGE_LIMIT: usize = 2;

/// A user as the API stores it (the password is kept apart and never returned).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub department: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

#[derive(Default)]
pub struct Store {
    pub users: BTreeMap<String, User>,
    /// User ids by user name.
    by_name: HashMap<String, String>,
    pub groups: BTreeMap<String, Group>,
    pub passwords: HashMap<String, String>,
    next_id: u64,
    tokens: HashMap<String, Instant>,
    /// The client the token endpoint accepts.
    client_id: String,
    client_secret: String,
    /// The change log: one user name per change, in order (its index + 1 is the watermark).
    changes: Vec<String>,
    /// Statuses the next `/api` requests answer instead of doing anything.
    pub fail_next: VecDeque<u16>,
    /// How long tokens really live, and the `expires_in` the endpoint announces.
    pub token_lifetime: Duration,
    pub announced_expires_in: u64,
    pub tokens_issued: u32,
    pub rejected_tokens: u32,
    pub failures_served: u32,
    pub list_requests: u32,
}

impl Store {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    /// Insert or replace a user, recording the change.
    pub fn put_user(&mut self, user: User) {
        self.changes.push(user.user_name.clone());
        if let Some(old) = self.users.get(&user.id) {
            let old_name = old.user_name.clone();
            self.by_name.remove(&old_name);
        }
        self.by_name.insert(user.user_name.clone(), user.id.clone());
        self.users.insert(user.id.clone(), user);
    }

    /// Remove a user by name, recording the change.
    pub fn remove_user(&mut self, user_name: &str) -> Option<User> {
        let id = self.by_name.remove(user_name)?;
        self.passwords.remove(user_name);
        self.changes.push(user_name.to_string());
        self.users.remove(&id)
    }

    /// A new user with a generated display name and email.
    pub fn add_user(&mut self, user_name: &str, department: &str) {
        self.insert_user(
            user_name,
            &user_name.to_uppercase(),
            &format!("{user_name}@contoso.example"),
            department,
        );
    }

    /// A new active user with these values and a new id.
    pub fn insert_user(
        &mut self,
        user_name: &str,
        display_name: &str,
        email: &str,
        department: &str,
    ) {
        let id = self.id("u");
        self.put_user(User {
            id,
            user_name: user_name.into(),
            display_name: Some(display_name.into()),
            email: Some(email.into()),
            department: Some(department.into()),
            active: true,
        });
    }

    pub fn user(&self, user_name: &str) -> Option<&User> {
        self.users.get(self.by_name.get(user_name)?)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.values().find(|g| g.display_name == name)
    }

    /// Every token issued so far stops working.
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }
}

type Shared = Arc<Mutex<Store>>;

/// Where and how [`PeopleApi::start_with`] serves.
pub struct PeopleOptions {
    /// 127.0.0.1 and a port; port 0 picks a free one.
    pub addr: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    /// The API's certificate (PEM, also the CA file a client trusts) and key: used when both
    /// exist, generated there (self-signed for localhost and 127.0.0.1) otherwise. None: a
    /// fresh pair in a temporary folder that goes away with the API.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The running API; stopped when dropped.
pub struct PeopleApi {
    pub addr: SocketAddr,
    pub store: Shared,
    /// The CA file the connector trusts (the API's self-signed certificate).
    pub certificate: PathBuf,
    handle: axum_server::Handle,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for PeopleApi {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

impl PeopleApi {
    /// For tests: a free port, [`CLIENT_ID`] and [`CLIENT_SECRET`], a temporary certificate.
    #[allow(clippy::expect_used)] // A test that cannot start its service fails here, loudly.
    pub async fn start() -> Self {
        Self::start_with(PeopleOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            tls: None,
        })
        .await
        .expect("the People API starts")
    }

    /// Serve on `options.addr` (in a Tokio runtime) with an empty store.
    pub async fn start_with(options: PeopleOptions) -> Result<Self, ServiceError> {
        let (dir, (certificate, key)) = match options.tls {
            Some(pair) => (None, pair),
            None => {
                let dir = tempfile::tempdir().map_err(|source| ServiceError::Io {
                    what: "a temporary folder for the API's certificate".into(),
                    source,
                })?;
                let pair = (dir.path().join("api.pem"), dir.path().join("api.key"));
                (Some(dir), pair)
            }
        };
        if !(certificate.is_file() && key.is_file()) {
            ecmahost::tls::generate_self_signed(
                vec!["localhost".into(), "127.0.0.1".into()],
                365,
                &certificate,
                &key,
            )
            .map_err(|e| {
                ServiceError::Tls(format!("cannot generate {}: {e}", certificate.display()))
            })?;
        }
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(
            ecmahost::tls::server_config(&certificate, &key).map_err(|e| {
                ServiceError::Tls(format!(
                    "cannot use {} and {}: {e} (delete both to generate a new pair)",
                    certificate.display(),
                    key.display()
                ))
            })?,
        );
        let store: Shared = Arc::new(Mutex::new(Store {
            token_lifetime: Duration::from_secs(3600),
            announced_expires_in: 3600,
            client_id: options.client_id,
            client_secret: options.client_secret,
            ..Store::default()
        }));
        let app = Router::new()
            .route("/oauth/token", axum::routing::post(token))
            .route("/api/users", get(list_users).post(create_user))
            .route("/api/users/changes", get(user_changes))
            .route(
                "/api/users/{id}",
                get(get_user)
                    .put(update_user)
                    .patch(patch_user)
                    .delete(delete_user),
            )
            .route("/api/users/{id}/password", put(set_password))
            .route("/api/groups", get(list_groups).post(create_group))
            .route("/api/groups/{id}", put(update_group).delete(delete_group))
            .with_state(store.clone());
        let (listener, addr) = crate::listen(options.addr, "the People API")?;
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, tls)
            .handle(handle.clone())
            .serve(app.into_make_service());
        tokio::spawn(server);
        Ok(Self {
            addr,
            store,
            certificate,
            handle,
            _dir: dir,
        })
    }

    pub fn store(&self) -> parking_lot::MutexGuard<'_, Store> {
        self.store.lock()
    }

    pub fn certificate(&self) -> &Path {
        &self.certificate
    }

    /// The connector file `people` for `project` (the `rest-users` example or a copy):
    /// `plugins/webservices/examples/rest-users/connector.toml` filled in for this API, with the
    /// client secret in `people.secret` beside it.
    pub fn connector_file(&self, project: &Path, token_hash: &str) -> String {
        crate::fill(
            REST_CONNECTOR,
            &[
                ("TOKEN_HASH", token_hash),
                ("PROJECT", &project.display().to_string()),
                ("PORT", &self.addr.port().to_string()),
                ("SECRET_FILE", "people.secret"),
                ("CA_FILE", &self.certificate.display().to_string()),
            ],
        )
    }
}

/// The example connector file for this API, with `@NAME@` placeholders ([`crate::fill`]).
pub const REST_CONNECTOR: &str =
    include_str!("../../../plugins/webservices/examples/rest-users/connector.toml");

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": status.as_u16(), "message": message})),
    )
        .into_response()
}

async fn token(State(store): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut store = store.lock();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", store.client_id, store.client_secret))
    );
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "unknown client"})),
        )
            .into_response();
    }
    if !body.contains("grant_type=client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    store.tokens_issued += 1;
    let value = format!("tok-{}-{}", store.tokens_issued, rand::random::<u32>());
    let lifetime = store.token_lifetime;
    store
        .tokens
        .insert(value.clone(), Instant::now() + lifetime);
    Json(json!({"access_token": value, "token_type": "Bearer", "expires_in": store.announced_expires_in}))
        .into_response()
}

/// The store, once the request passed [`admit`].
fn admitted<'a>(
    store: &'a Shared,
    headers: &HeaderMap,
) -> Result<parking_lot::MutexGuard<'a, Store>, Response> {
    let mut guard = store.lock();
    admit(&mut guard, headers)?;
    Ok(guard)
}

/// The token check and the failure switch, in front of every `/api` handler.
fn admit(store: &mut Store, headers: &HeaderMap) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = token
        .and_then(|t| store.tokens.get(t))
        .is_some_and(|expiry| Instant::now() < *expiry);
    if !valid {
        store.rejected_tokens += 1;
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "the access token is missing or expired",
        ));
    }
    if let Some(status) = store.fail_next.pop_front() {
        store.failures_served += 1;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = error(status, "try again later");
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return Err(response);
    }
    Ok(())
}

fn user_json(u: &User) -> Value {
    json!({"id": u.id, "userName": u.user_name, "displayName": u.display_name,
           "email": u.email, "department": u.department, "active": u.active})
}

fn group_json(g: &Group) -> Value {
    json!({"id": g.id, "displayName": g.display_name, "members": g.members})
}

/// One page of `items` (sorted by id) from `cursor` (the first id of the page).
fn page(items: Vec<(String, Value)>, cursor: Option<&String>) -> Value {
    let start = cursor.map_or(0, |c| {
        items
            .iter()
            .position(|(id, _)| id >= c)
            .unwrap_or(items.len())
    });
    let slice: Vec<Value> = items
        .iter()
        .skip(start)
        .take(PAGE_LIMIT)
        .map(|(_, v)| v.clone())
        .collect();
    let next = items.get(start + PAGE_LIMIT).map(|(id, _)| id.clone());
    json!({"items": slice, "next_cursor": next})
}

async fn list_users(
    State(store): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    store.list_requests += 1;
    let items = match q.get("userName") {
        // A lookup by name: the index, not a scan.
        Some(name) => store.user(name).into_iter().collect::<Vec<_>>(),
        None => store.users.values().collect(),
    }
    .into_iter()
    .map(|u| (u.id.clone(), user_json(u)))
    .collect();
    let mut body = page(items, q.get("cursor"));
    body["watermark"] = json!(store.changes.len().to_string());
    Json(body).into_response()
}

/// The users changed since `since` (a watermark from a list or an earlier call), each once in
/// its latest state: `replace` with the user, or `delete` with its name.
async fn user_changes(
    State(store): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let Some(since) = q.get("since").and_then(|s| s.parse::<usize>().ok()) else {
        return error(StatusCode::BAD_REQUEST, "since must be a watermark");
    };
    let mut seen = Vec::new();
    for name in store.changes.iter().skip(since) {
        if !seen.contains(name) {
            seen.push(name.clone());
        }
    }
    let changes: Vec<Value> = seen
        .iter()
        .map(|name| match store.user(name) {
            Some(u) => json!({"op": "replace", "userName": name, "user": user_json(u)}),
            None => json!({"op": "delete", "userName": name}),
        })
        .collect();
    Json(json!({"changes": changes, "watermark": store.changes.len().to_string()})).into_response()
}

/// A user from a request body, checked as the real API would.
fn read_user(body: &Value, id: String) -> Result<User, Response> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    let user_name = text("userName")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "userName is required"))?;
    let email = text("email");
    if let Some(email) = &email {
        if !email.contains('@') {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("email '{email}' is not an email address"),
            ));
        }
    }
    Ok(User {
        id,
        user_name,
        display_name: text("displayName"),
        email,
        department: text("department"),
        active: body.get("active").and_then(Value::as_bool).unwrap_or(true),
    })
}

async fn create_user(
    State(store): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let id = store.id("u");
    let user = match read_user(&body, id.clone()) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if store.user(&user.user_name).is_some() {
        return error(
            StatusCode::CONFLICT,
            &format!("userName {} already exists", user.user_name),
        );
    }
    if let Some(password) = body.get("password").and_then(Value::as_str) {
        store
            .passwords
            .insert(user.user_name.clone(), password.to_string());
    }
    let answer = user_json(&user);
    store.put_user(user);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn update_user(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    if !store.users.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, &format!("no user {id}"));
    }
    match read_user(&body, id.clone()) {
        Ok(user) => {
            let answer = user_json(&user);
            store.put_user(user);
            Json(answer).into_response()
        }
        Err(r) => r,
    }
}

async fn get_user(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    match store.users.get(&id) {
        Some(user) => Json(user_json(user)).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no user {id}")),
    }
}

/// A merge patch: the members of the body replace the user's values; the others stay.
async fn patch_user(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let Some(user) = store.users.get(&id) else {
        return error(StatusCode::NOT_FOUND, &format!("no user {id}"));
    };
    let Some(changes) = body.as_object() else {
        return error(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let mut merged = user_json(user);
    for (key, value) in changes {
        merged[key] = value.clone();
    }
    match read_user(&merged, id) {
        Ok(user)
            if store
                .user(&user.user_name)
                .is_some_and(|other| other.id != user.id) =>
        {
            error(
                StatusCode::CONFLICT,
                &format!("userName {} already exists", user.user_name),
            )
        }
        Ok(user) => {
            let answer = user_json(&user);
            store.put_user(user);
            Json(answer).into_response()
        }
        Err(r) => r,
    }
}

async fn delete_user(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let Some(user_name) = store.users.get(&id).map(|u| u.user_name.clone()) else {
        return error(StatusCode::NOT_FOUND, &format!("no user {id}"));
    };
    store.remove_user(&user_name);
    StatusCode::NO_CONTENT.into_response()
}

async fn set_password(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let Some(user_name) = store.users.get(&id).map(|u| u.user_name.clone()) else {
        return error(StatusCode::NOT_FOUND, &format!("no user {id}"));
    };
    match body.get("password").and_then(Value::as_str) {
        Some(p) if p.len() >= 8 => {
            store.passwords.insert(user_name, p.to_string());
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "the password must have at least 8 characters",
        ),
    }
}

async fn list_groups(
    State(store): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let items = store
        .groups
        .values()
        .filter(|g| q.get("displayName").is_none_or(|n| &g.display_name == n))
        .map(|g| (g.id.clone(), group_json(g)))
        .collect();
    Json(page(items, q.get("cursor"))).into_response()
}

fn read_group(body: &Value, id: String) -> Result<Group, Response> {
    let display_name = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "displayName is required"))?;
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Group {
        id,
        display_name: display_name.into(),
        members,
    })
}

async fn create_group(
    State(store): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    let id = store.id("g");
    match read_group(&body, id.clone()) {
        Ok(g) if store.group(&g.display_name).is_some() => error(
            StatusCode::CONFLICT,
            &format!("group {} already exists", g.display_name),
        ),
        Ok(g) => {
            let answer = group_json(&g);
            store.groups.insert(id, g);
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        Err(r) => r,
    }
}

async fn update_group(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    if !store.groups.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, &format!("no group {id}"));
    }
    match read_group(&body, id.clone()) {
        Ok(g) => {
            let answer = group_json(&g);
            store.groups.insert(id, g);
            Json(answer).into_response()
        }
        Err(r) => r,
    }
}

async fn delete_group(
    State(store): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let mut store = match admitted(&store, &headers) {
        Ok(store) => store,
        Err(refusal) => return refusal,
    };
    match store.groups.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no group {id}")),
    }
}
