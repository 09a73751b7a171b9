//! `ecmahost demo`: a complete host in one folder, created idempotently. It holds an SQLite
//! database with `Employees`, `Groups` and `GroupMembers`, the `demo` connector (generic SQL
//! connector exposing Users and Groups, token generated at first run), a self-signed
//! certificate and the SQL plugin in `ECMA/`.
//!
//! The demo keeps its token in `secrets/demo.token` (mode 0600) so it can print it on every
//! run; the connector file itself holds only the hash, as every connector file does. The
//! connector file is rewritten on every run, so a demo folder follows the host's version.

use std::path::{Path, PathBuf};

use sqlx::Connection;

use crate::tls::{generate_self_signed, write_file, TlsError};
use crate::token::{generate_token, hash_token, TokenError};

pub const CONNECTOR: &str = "demo";
/// The SQL plugin's file name, as cargo builds it.
pub const SQL_PLUGIN_FILE: &str = "libecma_sql.so";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot find the SQL connector library {0}; build it with `cargo build -p ecma-sql-connector` or pass --plugin")]
    PluginMissing(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] TlsError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("demo database {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
}

/// What `prepare` made.
pub struct DemoSetup {
    pub dir: PathBuf,
    pub host_config: PathBuf,
    pub certificate: PathBuf,
    pub token: String,
    pub port: u16,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The SQL plugin next to the running executable (where cargo puts it), or `explicit`.
pub fn locate_plugin(explicit: Option<&Path>) -> Result<PathBuf, DemoError> {
    let candidate = match explicit {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(SQL_PLUGIN_FILE)))
            .unwrap_or_else(|| PathBuf::from(SQL_PLUGIN_FILE)),
    };
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(DemoError::PluginMissing(candidate))
    }
}

/// Create or refresh the demo folder. Safe to run again: existing data, token and certificate
/// are kept.
pub async fn prepare(
    dir: &Path,
    address: std::net::IpAddr,
    port: u16,
    plugin: &Path,
) -> Result<DemoSetup, DemoError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let dir = dir.canonicalize().map_err(io(dir))?;
    for sub in ["ECMA", "connectors", "data", "tls", "secrets", "logs"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io(&path))?;
    }

    let database = dir.join("data/demo.db");
    seed_database(&database).await?;

    // The library: copy only when it changed, through a temp file and a rename.
    let installed = dir.join("ECMA").join(SQL_PLUGIN_FILE);
    let bytes = std::fs::read(plugin).map_err(io(plugin))?;
    if std::fs::read(&installed).ok().as_deref() != Some(bytes.as_slice()) {
        write_file(&installed, &bytes, 0o755)?;
    }

    let certificate = dir.join("tls/cert.pem");
    let key = dir.join("tls/key.pem");
    if !certificate.is_file() || !key.is_file() {
        generate_self_signed(
            crate::tls::default_names(),
            crate::tls::DEFAULT_VALIDITY_DAYS,
            &certificate,
            &key,
        )?;
    }

    let token_file = dir.join("secrets/demo.token");
    let connector_file = dir.join("connectors/demo.toml");
    let token = match std::fs::read_to_string(&token_file) {
        Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => {
            let token = generate_token();
            write_file(&token_file, token.as_bytes(), 0o600)?;
            token
        }
    };
    let text = connector_toml(&hash_token(&token)?.to_string(), &database);
    write_file(&connector_file, text.as_bytes(), 0o644)?;

    let host_config = dir.join("host.toml");
    write_file(&host_config, host_toml(address, port).as_bytes(), 0o644)?;
    Ok(DemoSetup {
        dir,
        host_config,
        certificate,
        token,
        port,
    })
}

async fn seed_database(path: &Path) -> Result<(), DemoError> {
    let db_err = |source| DemoError::Database {
        path: path.to_path_buf(),
        source,
    };
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS Employees (
            Login TEXT PRIMARY KEY,
            AzureID TEXT UNIQUE,
            ExternalId TEXT,
            FirstName TEXT,
            LastName TEXT,
            Email TEXT,
            Department TEXT,
            IsActive BOOLEAN NOT NULL DEFAULT 1,
            Manager TEXT
        )",
    )
    .execute(&mut conn)
    .await
    .map_err(db_err)?;
    // Demo folders made before the Manager column existed get it now.
    let (has_manager,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM pragma_table_info('Employees') WHERE name = 'Manager'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(db_err)?;
    if has_manager == 0 {
        sqlx::query("ALTER TABLE Employees ADD COLUMN Manager TEXT")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
    }
    // Groups, and their members in a child table (one row per member, the user's Login).
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS Groups (
            GroupName TEXT PRIMARY KEY,
            ExternalId TEXT,
            Description TEXT
        )",
    )
    .execute(&mut conn)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS GroupMembers (
            GroupName TEXT NOT NULL,
            Member TEXT NOT NULL,
            PRIMARY KEY (GroupName, Member)
        )",
    )
    .execute(&mut conn)
    .await
    .map_err(db_err)?;
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM Employees")
        .fetch_one(&mut conn)
        .await
        .map_err(db_err)?;
    if count == 0 {
        let rows = [
            (
                "adele.vance",
                "6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e01",
                "Adele",
                "Vance",
                "Retail",
            ),
            (
                "alex.wilber",
                "6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e02",
                "Alex",
                "Wilber",
                "Marketing",
            ),
            (
                "megan.bowen",
                "6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e03",
                "Megan",
                "Bowen",
                "Finance",
            ),
        ];
        for (login, id, first, last, department) in rows {
            sqlx::query("INSERT INTO Employees (Login, AzureID, FirstName, LastName, Email, Department, IsActive) VALUES (?, ?, ?, ?, ?, ?, 1)")
                .bind(login)
                .bind(id)
                .bind(first)
                .bind(last)
                .bind(format!("{login}@contoso.example"))
                .bind(department)
                .execute(&mut conn)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("UPDATE Employees SET Manager = 'adele.vance' WHERE Login = 'megan.bowen'")
            .execute(&mut conn)
            .await
            .map_err(db_err)?;
        for (group, description) in [("Retail", "Shop staff"), ("Marketing", "Campaigns")] {
            sqlx::query("INSERT INTO Groups (GroupName, Description) VALUES (?, ?)")
                .bind(group)
                .bind(description)
                .execute(&mut conn)
                .await
                .map_err(db_err)?;
        }
        for (group, member) in [("Retail", "adele.vance"), ("Marketing", "alex.wilber")] {
            sqlx::query("INSERT INTO GroupMembers (GroupName, Member) VALUES (?, ?)")
                .bind(group)
                .bind(member)
                .execute(&mut conn)
                .await
                .map_err(db_err)?;
        }
    }
    conn.close().await.map_err(db_err)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn connector_toml(token_hash: &str, database: &Path) -> String {
    format!(
        r#"# The demo connector: Entra-style users and groups in SQLite, through the generic SQL connector.
# `ecmahost demo` rewrites this file on every run.
version = 1
name = "{CONNECTOR}"
token_hash = {hash}
plugin = "{SQL_PLUGIN_FILE}"
autosync_minutes = 120
# The SQL connector has one partition. A connector that declares partitions serves those
# selected here, by DN or name: partitions = ["dc=example,dc=com"].
object_type = "User"
anchor = "Login"
query_attribute = "AzureID"
export_page_size = 100

[dn]
mode = "autogenerated"

[[attributes]]
name = "AzureID"

[[attributes]]
name = "ExternalId"
scim = "externalId"

[[attributes]]
name = "FirstName"

[[attributes]]
name = "LastName"

[[attributes]]
name = "Email"

[[attributes]]
name = "Department"

# The manager's Login; SCIM shows the manager's id and location.
[[attributes]]
name = "Manager"
scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"

[run_profiles]
export = true
full_import = true
delta_import = false

[deprovisioning]
disable = "set_attribute"
disable_attribute = "IsActive"
delete = "delete"

# Groups at /Groups: displayName is the anchor (GroupName), members are users' Logins.
[[resource_types]]
name = "Group"
object_type = "Group"
anchor = "GroupName"

[[resource_types.attributes]]
name = "ExternalId"
scim = "externalId"

[[resource_types.attributes]]
name = "Description"

[[resource_types.attributes]]
name = "Member"
scim = "members"

[resource_types.deprovisioning]
delete = "delete"

[parameters.connectivity]
connection_string = {url}

[parameters.schema1]
object_type_detection = "Fixed value"
object_types = "User,Group"

[parameters.schema2]
"User:attribute_detection" = "Table"
"User:table" = "Employees"
"Group:attribute_detection" = "Table"
"Group:table" = "Groups"
"Group:multivalued_tables" = "GroupMembers"

[parameters.schema3]
"User:anchor" = "Login"
"User:dn_is_anchor" = true
"Group:anchor" = "GroupName"
"Group:dn_is_anchor" = true
"Group:GroupMembers:key_column" = "GroupName"
"Group:GroupMembers:value_column" = "Member"

[parameters.schema4]
"User:Manager:type" = "Reference"
"Group:Member:type" = "Reference"
"#,
        hash = toml_string(token_hash),
        url = toml_string(&format!("sqlite://{}", database.display())),
    )
}

fn host_toml(address: std::net::IpAddr, port: u16) -> String {
    // The admin endpoints (/status, /metrics) go next door, on loopback only.
    let admin = match port.checked_add(1) {
        Some(next) if port != 0 => format!("admin_listen = \"127.0.0.1:{next}\"\n"),
        _ => String::new(),
    };
    let listen = std::net::SocketAddr::new(address, port);
    format!(
        r#"version = 1
listen = "{listen}"
{admin}
ecma_dir = "ECMA"
data_dir = "data"
connectors_dir = "connectors"

[tls]
certificate = "tls/cert.pem"
key = "tls/key.pem"

[logging]
level = "info"
directory = "logs"
"#
    )
}

/// The text `ecmahost demo` prints once the host serves.
pub fn banner(setup: &DemoSetup) -> String {
    let url = format!(
        "https://localhost:{}/ecma2host_{CONNECTOR}/scim",
        setup.port
    );
    let curl = format!(
        "curl --cacert {} -H \"Authorization: Bearer {}\"",
        setup.certificate.display(),
        setup.token
    );
    format!(
        r#"
ECMA connector host demo is serving (folder: {dir})

  Tenant URL:    {url}
  Secret token:  {token}
  Certificate:   {cert}

Try it:

  # Find a user the way Entra does (by the query attribute):
  {curl} "{url}/Users?filter=urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:AzureID+eq+%226e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e01%22"

  # Create a user (a row appears in data/demo.db):
  {curl} -H "Content-Type: application/scim+json" -X POST "{url}/Users" -d '{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User"],"userName":"isaiah.langer","active":true,"urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User":{{"AzureID":"6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e04","FirstName":"Isaiah","LastName":"Langer","Department":"Sales"}}}}'

  # Add a user to a group, as Entra does (a row appears in GroupMembers; the answer is 204):
  {curl} -H "Content-Type: application/scim+json" -X PATCH "{url}/Groups/Retail" -d '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Add","path":"members","value":[{{"value":"megan.bowen"}}]}}]}}'

  # Disable a user, as Entra does (sets IsActive = 0):
  {curl} -H "Content-Type: application/scim+json" -X PATCH "{url}/Users/adele.vance" -d '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Replace","path":"active","value":"False"}}]}}'

Press Ctrl-C to stop.
"#,
        dir = setup.dir.display(),
        token = setup.token,
        cert = setup.certificate.display(),
    )
}
