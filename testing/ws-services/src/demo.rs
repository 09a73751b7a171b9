//! `ecma-demo-ws`: both example services from the command line, for docs/webservices.md and
//! `scripts/demo-ws.sh`. It keeps its certificate and credentials in `--dir` (made on the
//! first run, reused after), seeds both services with the same five [`SAMPLE_PEOPLE`], writes
//! `service.env` (`KEY=value` lines: URLs, ports, file paths, never a secret itself) once both
//! listen, and serves until Ctrl-C or SIGTERM. The stores live in memory: a restart forgets
//! what was provisioned.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rand::Rng as _;

use crate::bapi_service::{BapiService, BapiUser, ENDPOINT, SOAP_USER};
use crate::people_api::{PeopleApi, PeopleOptions, CLIENT_ID};
use crate::{ServiceError, SAMPLE_PEOPLE};

/// The command line of `ecma-demo-ws`.
#[derive(clap::Parser, Debug)]
#[command(
    name = "ecma-demo-ws",
    about = "The web services connector's example services on 127.0.0.1: a REST People API (HTTPS, OAuth2 client credentials) and a SOAP user service (WS-Security, WSDL at ?wsdl), each with five sample people. Ctrl-C stops them."
)]
pub struct Args {
    /// Folder for the certificate, the credentials and service.env (created when missing).
    #[arg(long, default_value = "ws-demo/service")]
    pub dir: PathBuf,
    /// Port of the REST People API (HTTPS); 0 picks a free one.
    #[arg(long, default_value_t = 8588)]
    pub rest_port: u16,
    /// Port of the SOAP user service (HTTP); 0 picks a free one.
    #[arg(long, default_value_t = 8589)]
    pub soap_port: u16,
}

/// The two services, running; they stop when this is dropped.
pub struct Running {
    pub people: PeopleApi,
    pub soap: BapiService,
    /// `service.env`, written once both listen.
    pub env_file: PathBuf,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServiceError {
    let what = what.into();
    move |source| ServiceError::Io { what, source }
}

/// The secret in `file`, or a new random one written there (mode 0600).
fn secret(file: &Path) -> Result<String, ServiceError> {
    if let Ok(text) = std::fs::read_to_string(file) {
        let text = text.trim();
        if !text.is_empty() {
            return Ok(text.to_string());
        }
    }
    let value: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    write_private(file, &value)?;
    Ok(value)
}

fn write_private(file: &Path, text: &str) -> Result<(), ServiceError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(file, text)
        .and_then(|()| std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)))
        .map_err(io(file.display().to_string()))
}

/// Start both services as `args` says and seed them; `service.env` is written last.
pub async fn start(args: &Args) -> Result<Running, ServiceError> {
    std::fs::create_dir_all(&args.dir).map_err(io(args.dir.display().to_string()))?;
    let dir = std::fs::canonicalize(&args.dir).map_err(io(args.dir.display().to_string()))?;
    let env_file = dir.join("service.env");
    // A stale file would say the services are up before they are.
    let _ = std::fs::remove_file(&env_file);
    let (secret_file, password_file) = (dir.join("people.secret"), dir.join("sap.password"));
    let client_secret = secret(&secret_file)?;
    let soap_password = secret(&password_file)?;
    let certificate = dir.join("people-api.pem");
    let people = PeopleApi::start_with(PeopleOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], args.rest_port)),
        client_id: CLIENT_ID.into(),
        client_secret,
        tls: Some((certificate.clone(), dir.join("people-api.key"))),
    })
    .await?;
    let soap = BapiService::start_with(
        SocketAddr::from(([127, 0, 0, 1], args.soap_port)),
        SOAP_USER,
        &soap_password,
    )
    .await?;
    {
        let mut store = people.store();
        for (user_name, first, last, department) in SAMPLE_PEOPLE {
            store.insert_user(
                user_name,
                &format!("{first} {last}"),
                &format!("{user_name}@contoso.example"),
                department,
            );
        }
    }
    {
        let mut store = soap.store();
        for (user_name, first, last, department) in SAMPLE_PEOPLE {
            store.users.insert(
                user_name.to_uppercase(),
                BapiUser {
                    first_name: first.into(),
                    last_name: last.into(),
                    email: format!("{user_name}@contoso.example"),
                    department: department.into(),
                    password: String::new(),
                },
            );
        }
    }
    let (rest_port, soap_port) = (people.addr.port(), soap.addr.port());
    let lines: String = [
        ("PEOPLE_URL", format!("https://127.0.0.1:{rest_port}")),
        ("PEOPLE_PORT", rest_port.to_string()),
        ("PEOPLE_CA_FILE", certificate.display().to_string()),
        ("PEOPLE_CLIENT_ID", CLIENT_ID.to_string()),
        ("PEOPLE_SECRET_FILE", secret_file.display().to_string()),
        (
            "SOAP_URL",
            format!("http://127.0.0.1:{soap_port}{ENDPOINT}"),
        ),
        (
            "SOAP_WSDL",
            format!("http://127.0.0.1:{soap_port}{ENDPOINT}?wsdl"),
        ),
        ("SOAP_PORT", soap_port.to_string()),
        ("SOAP_USER", SOAP_USER.to_string()),
        ("SOAP_PASSWORD_FILE", password_file.display().to_string()),
    ]
    .iter()
    .map(|(key, value)| format!("{key}={}\n", shell_quoted(value)))
    .collect();
    let temp = dir.join("service.env.tmp");
    std::fs::write(&temp, lines)
        .and_then(|()| std::fs::rename(&temp, &env_file))
        .map_err(io(env_file.display().to_string()))?;
    Ok(Running {
        people,
        soap,
        env_file,
    })
}

/// `value` in single quotes for a shell's `source` (a folder may have spaces in its name).
fn shell_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// What `ecma-demo-ws` prints once both services listen (paths, never a secret).
pub fn banner(running: &Running) -> String {
    let dir = running
        .env_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (rest, soap) = (running.people.addr.port(), running.soap.addr.port());
    let users: Vec<&str> = SAMPLE_PEOPLE.iter().map(|p| p.0).collect();
    format!(
        "People API (REST, HTTPS): https://127.0.0.1:{rest}/api/users
  OAuth2 token endpoint https://127.0.0.1:{rest}/oauth/token, client id {CLIENT_ID},
  client secret in {dir}/people.secret; certificate (the CA to trust) {dir}/people-api.pem
User service (SOAP 1.1, WS-Security): http://127.0.0.1:{soap}{ENDPOINT}
  WSDL http://127.0.0.1:{soap}{ENDPOINT}?wsdl, user {SOAP_USER}, password in {dir}/sap.password
Both start with the users {}; changes live in memory until this stops.
The same values for scripts: {}
Serving on 127.0.0.1 until Ctrl-C.
",
        users.join(", "),
        running.env_file.display(),
        dir = dir.display(),
    )
}

/// Serve until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> Result<(), ServiceError> {
    // Before service.env appears: whoever waits for it may signal at once.
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io("a SIGINT handler"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io("a SIGTERM handler"))?;
    let running = start(&args).await?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout();
        // Nobody reading the banner is no reason to stop serving.
        let _ = out.write_all(banner(&running).as_bytes());
        let _ = out.flush();
    }
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    let _ = std::fs::remove_file(&running.env_file);
    drop(running);
    Ok(())
}
