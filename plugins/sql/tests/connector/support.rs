//! The backends under test and a throw-away database on each.
//!
//! Every test gets a database of its own (`CREATE DATABASE` on PostgreSQL and MariaDB, a new
//! file for SQLite) that is dropped when the [`TestDb`] is, also when the test fails. A server
//! that cannot be reached fails the test loudly: these tests never pass by skipping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use ecma_plugin_testkit::ConnectorHarness;
use ecma_sql::SqlConnector;
use sqlx::{Connection, Row};

/// PostgreSQL as the suite expects it: trust authentication for `postgres`.
pub const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
/// MariaDB as the suite expects it: `root` with an empty password.
pub const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";
/// The Debian ODBC drivers' names in /etc/odbcinst.ini (scripts/setup.sh installs them).
pub const ODBC_POSTGRES_DRIVER: &str = "PostgreSQL Unicode";
pub const ODBC_MARIADB_DRIVER: &str = "MariaDB Unicode";

/// A backend: a server, and how the connector reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MySql,
    Sqlite,
    /// PostgreSQL through psqlODBC, SQL flavor detected.
    OdbcPostgres,
    /// MariaDB through MariaDB Connector/ODBC, SQL flavor detected.
    OdbcMariaDb,
    /// PostgreSQL through psqlODBC spoken to as an unknown database (ANSI SQL, ODBC catalog).
    OdbcAnsi,
}

/// The server behind a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Postgres,
    MySql,
    Sqlite,
}

impl Kind {
    pub fn server(self) -> Server {
        match self {
            Kind::Postgres | Kind::OdbcPostgres | Kind::OdbcAnsi => Server::Postgres,
            Kind::MySql | Kind::OdbcMariaDb => Server::MySql,
            Kind::Sqlite => Server::Sqlite,
        }
    }

    /// Whether the server has stored procedures.
    pub fn has_procedures(self) -> bool {
        self.server() != Server::Sqlite
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "ecma_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own for one test.
pub struct TestDb {
    pub kind: Kind,
    pub name: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new(kind: Kind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let name = unique_name();
        match kind.server() {
            Server::Postgres => block_on(async {
                let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL must run at 127.0.0.1:5432 (user postgres, trust, database test): {e}")
                });
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }),
            Server::MySql => block_on(async {
                let mut admin = sqlx::MySqlConnection::connect(MYSQL_ADMIN).await.unwrap_or_else(|e| {
                    panic!("MariaDB must run at 127.0.0.1:3306 (user root, empty password, database test): {e}")
                });
                sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }),
            Server::Sqlite => {
                std::fs::write(dir.path().join("target.db"), b"").unwrap();
            }
        }
        Self { kind, name, dir }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("target.db")
    }

    fn url(&self) -> String {
        match self.kind.server() {
            Server::Postgres => format!("postgres://postgres@127.0.0.1:5432/{}", self.name),
            Server::MySql => format!("mysql://root@127.0.0.1:3306/{}", self.name),
            Server::Sqlite => format!("sqlite://{}", self.sqlite_path().display()),
        }
    }

    /// `name` quoted for this server's SQL as the connector speaks it (MySQL: backticks).
    pub fn q(&self, name: &str) -> String {
        match self.kind.server() {
            Server::MySql => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// Replace the type placeholders of a test script with this server's types. Scripts quote
    /// identifiers with double quotes everywhere; MySQL scripts run with ANSI_QUOTES.
    pub fn sql(&self, script: &str) -> String {
        let types: &[(&str, &str)] = match self.kind.server() {
            Server::Postgres => &[
                ("{key}", "VARCHAR(100)"),
                ("{text}", "TEXT"),
                ("{serial}", "SERIAL PRIMARY KEY"),
                ("{bool}", "BOOLEAN"),
                ("{blob}", "BYTEA"),
                ("{bin16}", "BYTEA"),
                ("{int}", "INTEGER"),
                ("{ts}", "TIMESTAMP"),
                ("{true}", "TRUE"),
                ("{false}", "FALSE"),
            ],
            Server::MySql => &[
                ("{key}", "VARCHAR(100)"),
                ("{text}", "TEXT"),
                ("{serial}", "INT AUTO_INCREMENT PRIMARY KEY"),
                ("{bool}", "BOOLEAN"),
                ("{blob}", "BLOB"),
                ("{bin16}", "VARBINARY(16)"),
                ("{int}", "INT"),
                ("{ts}", "DATETIME(6)"),
                ("{true}", "TRUE"),
                ("{false}", "FALSE"),
            ],
            Server::Sqlite => &[
                ("{key}", "VARCHAR(100)"),
                ("{text}", "TEXT"),
                ("{serial}", "INTEGER PRIMARY KEY"),
                ("{bool}", "BOOLEAN"),
                ("{blob}", "BLOB"),
                ("{bin16}", "BLOB"),
                ("{int}", "INTEGER"),
                ("{ts}", "TEXT"),
                ("{true}", "1"),
                ("{false}", "0"),
            ],
        };
        types
            .iter()
            .fold(script.to_string(), |s, (from, to)| s.replace(from, to))
    }

    /// Run a script (several statements, type placeholders replaced) on a connection of its own.
    pub fn exec(&self, script: &str) {
        let script = self.sql(script);
        let url = self.url();
        block_on(async {
            match self.kind.server() {
                Server::Postgres => {
                    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(&script).execute(&mut c).await.unwrap();
                }
                Server::MySql => {
                    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    let script = format!(
                        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'); {script}"
                    );
                    sqlx::raw_sql(&script).execute(&mut c).await.unwrap();
                }
                Server::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(&script).execute(&mut c).await.unwrap();
                }
            }
        });
    }

    /// Every column of every row as text (`None` for NULL), read in the servers' text formats;
    /// booleans come back as `1`/`0` everywhere.
    pub fn rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let query = self.sql(query);
        let url = self.url();
        let text_rows = |cells: Vec<Vec<Option<String>>>| {
            cells
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|v| {
                            v.map(|v| match v.as_str() {
                                "t" => "1".to_string(),
                                "f" => "0".to_string(),
                                _ => v,
                            })
                        })
                        .collect()
                })
                .collect()
        };
        block_on(async {
            match self.kind.server() {
                Server::Postgres => {
                    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                    let rows = sqlx::raw_sql(&query).fetch_all(&mut c).await.unwrap();
                    text_rows(
                        rows.iter()
                            .map(|r| {
                                (0..r.len())
                                    .map(|i| r.try_get_unchecked::<Option<String>, _>(i).unwrap())
                                    .collect()
                            })
                            .collect(),
                    )
                }
                Server::MySql => {
                    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
                        .execute(&mut c)
                        .await
                        .unwrap();
                    let rows = sqlx::raw_sql(&query).fetch_all(&mut c).await.unwrap();
                    text_rows(
                        rows.iter()
                            .map(|r| {
                                (0..r.len())
                                    .map(|i| r.try_get_unchecked::<Option<String>, _>(i).unwrap())
                                    .collect()
                            })
                            .collect(),
                    )
                }
                Server::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    let rows = sqlx::query(&query).fetch_all(&mut c).await.unwrap();
                    text_rows(
                        rows.iter()
                            .map(|r| {
                                (0..r.len())
                                    .map(|i| r.try_get_unchecked::<Option<String>, _>(i).unwrap())
                                    .collect()
                            })
                            .collect(),
                    )
                }
            }
        })
    }

    /// The single text value of a one-row, one-column query.
    pub fn value(&self, query: &str) -> Option<String> {
        self.rows(query)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .flatten()
    }

    pub fn count(&self, table: &str) -> usize {
        self.value(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .unwrap()
            .parse()
            .unwrap()
    }

    /// A harness for a new connector instance, with the Connectivity answers for this
    /// backend. Passwords are answered as secrets (the servers ignore them under trust).
    pub fn harness(&self) -> ConnectorHarness {
        let mut h = ConnectorHarness::in_process::<SqlConnector>().unwrap();
        match self.kind {
            Kind::Postgres => {
                h.answer("driver", "PostgreSQL")
                    .answer("host", "127.0.0.1")
                    .answer("port", "5432")
                    .answer("database", &self.name)
                    .answer("user", "postgres")
                    .answer_secret("password", "unused-but-secret-pw");
            }
            Kind::MySql => {
                h.answer("driver", "MySQL")
                    .answer("host", "127.0.0.1")
                    .answer("port", "3306")
                    .answer("database", &self.name)
                    .answer("user", "root");
            }
            Kind::Sqlite => {
                h.answer("connection_string", self.url());
            }
            Kind::OdbcPostgres | Kind::OdbcAnsi => {
                let dsn = self.dir.path().join("postgres.dsn");
                std::fs::write(
                    &dsn,
                    format!(
                        "[ODBC]\nDRIVER={ODBC_POSTGRES_DRIVER}\nSERVER=127.0.0.1\nPORT=5432\nDATABASE={}\nUseDeclareFetch=1\n",
                        self.name
                    ),
                )
                .unwrap();
                h.answer("driver", "ODBC")
                    .answer("dsn_file", dsn.display().to_string())
                    .answer("user", "postgres")
                    .answer_secret("password", "unused-but-secret-pw");
                if self.kind == Kind::OdbcAnsi {
                    h.answer("odbc_dialect", "ANSI");
                }
            }
            Kind::OdbcMariaDb => {
                let dsn = self.dir.path().join("mariadb.dsn");
                std::fs::write(
                    &dsn,
                    format!(
                        "[ODBC]\nDRIVER={ODBC_MARIADB_DRIVER}\nSERVER=127.0.0.1\nPORT=3306\nDATABASE={}\n",
                        self.name
                    ),
                )
                .unwrap();
                h.answer("driver", "ODBC")
                    .answer("dsn_file", dsn.display().to_string())
                    .answer("user", "root");
            }
        }
        h
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A failed drop must not hide the test's own failure: report it, never panic.
        let dropped = match self.kind.server() {
            Server::Postgres => block_on(async {
                let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map(|_| ())
            }),
            Server::MySql => block_on(async {
                let mut admin = sqlx::MySqlConnection::connect(MYSQL_ADMIN).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .execute(&mut admin)
                    .await
                    .map(|_| ())
            }),
            Server::Sqlite => Ok(()),
        };
        if let Err(e) = dropped {
            eprintln!("could not drop test database {name}: {e}");
        }
    }
}
