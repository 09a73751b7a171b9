//! `ecmahost`: the command line. Each subcommand is a thin wrapper over the library.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ecmahost::config::{HostConfig, ParameterAnswers};
use ecmahost::{bench, demo, logging, operate, server, tls, token, webservices};

#[derive(Parser)]
#[command(
    name = "ecmahost",
    version,
    about = "ECMA connector host: SCIM 2.0 for Entra ID, connectors as plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one connector library for a host (started by the host for `isolation = "process"`).
    #[command(hide = true)]
    PluginWorker {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        socket: PathBuf,
        /// off, error, warn, info, debug or trace.
        #[arg(long, default_value = "off")]
        log_level: String,
    },
    /// Serve every connector of a host configuration.
    Serve {
        #[arg(long, default_value = "host.toml")]
        config: PathBuf,
    },
    /// Create (idempotently) and serve a demo host: SQLite target, `demo` connector.
    Demo {
        #[arg(long, default_value = "demo-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 8585)]
        port: u16,
        /// The address to listen on (`127.0.0.1` keeps the demo off the network).
        #[arg(long, default_value = "0.0.0.0")]
        address: std::net::IpAddr,
        /// The SQL connector library; by default the one next to this executable.
        #[arg(long)]
        plugin: Option<PathBuf>,
    },
    /// Drive concurrent keep-alive TLS load (GET-by-filter, POST) against a running host and
    /// print req/s, p50 and p99 next to a bare axum+rustls baseline.
    Bench {
        /// The demo folder (reads the token, certificate and port from it).
        #[arg(long, default_value = "demo-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 8585)]
        port: u16,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Also replace the connector's library this many times under load (needs the admin
        /// listener, which the demo puts on port+1).
        #[arg(long, default_value_t = 0)]
        swaps: usize,
        /// The GET phase's filter.
        #[arg(
            long,
            default_value = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:AzureID eq \"6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e01\""
        )]
        filter: String,
        /// Instead: legitimate GETs next to a flood of wrong tokens (`clients` flood
        /// connections), sampling the RSS of the host process `--pid`.
        #[arg(long)]
        flood: bool,
        #[arg(long)]
        pid: Option<u32>,
        /// Instead: a steady mix of GET by filter, POST, PATCH and DELETE at `--rate`
        /// requests/s for `--seconds` (after a warm-up), over `--clients` connections,
        /// sampling the RSS of `--pid`; exits with status 1 if any answer was not the one
        /// expected.
        #[arg(long)]
        soak: bool,
        #[arg(long, default_value_t = 1000)]
        rate: u32,
    },
    /// Connector libraries.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Certificates.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// The connectors of a host configuration: the wizard (new), list, show, validate, test,
    /// delete, rotate a token, export and import (ECMA2Host and MIM files too).
    Connector {
        /// The host configuration whose connectors folder holds the connectors.
        #[arg(long, default_value = "host.toml", global = true)]
        config: PathBuf,
        #[command(subcommand)]
        command: ecmahost::cli::connector::ConnectorCommand,
    },
    /// Connector secret tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Every connector's state, plugin version, import progress, last sync and last error,
    /// from a running host's admin listener.
    Status {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Write a .tar.gz for support: configs without secrets, status, recent logs, versions.
    SupportBundle {
        #[command(flatten)]
        admin: AdminArgs,
        /// The archive to write (default ecmahost-support-<time>.tar.gz).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions { shell: clap_complete::Shell },
    /// Web services connector projects: discovery and checks.
    Ws {
        #[command(subcommand)]
        command: WsCommand,
    },
}

/// Where a running host's admin listener is.
#[derive(clap::Args)]
struct AdminArgs {
    /// The host configuration whose `admin_listen` is used.
    #[arg(long, default_value = "host.toml")]
    config: PathBuf,
    /// The admin listener's URL instead (for example http://127.0.0.1:8586).
    #[arg(long)]
    admin: Option<String>,
}

#[derive(Subcommand)]
enum WsCommand {
    /// Add the services, ports and operations of a WSDL 1.1 (and the documents it imports)
    /// to a project, and print them.
    Discover {
        /// A file, or an http:// or https:// URL (imports are fetched relative to it; 30 s
        /// and 8 MiB per document).
        #[arg(long)]
        wsdl: PathBuf,
        #[arg(long)]
        project: PathBuf,
    },
    /// Record a REST service (endpoint, resource path, method, parameters, samples).
    AddRest {
        #[arg(long)]
        project: PathBuf,
        #[command(flatten)]
        service: webservices::RestArguments,
    },
    /// Load a project (every error with its file, line and key) and print what it offers.
    Check {
        #[arg(long)]
        project: PathBuf,
    },
    /// Run one flow of a web services connector against the live service and print every
    /// request and response (secrets redacted), then the outcome.
    Test {
        /// The connector file (its parameter answers; secrets are resolved as at serve time).
        #[arg(long)]
        connector: PathBuf,
        /// The web services connector library (libecma_webservices.so).
        #[arg(long)]
        plugin: PathBuf,
        /// test_connection, full_import, delta_import, export_add, export_replace,
        /// export_delete, password_set or password_change.
        #[arg(long, value_parser = webservices::parse_flow)]
        flow: webservices::FlowKind,
        /// For export and password flows: the object, as JSON (object_type, anchor, dn,
        /// attributes, password).
        #[arg(long)]
        entry: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write a self-signed certificate for this host name, localhost and 127.0.0.1.
    Generate {
        #[arg(long, default_value = "tls/cert.pem")]
        cert: PathBuf,
        #[arg(long, default_value = "tls/key.pem")]
        key: PathBuf,
        /// More DNS names or IP addresses for the certificate; the first is also its subject's CN.
        #[arg(long = "name")]
        names: Vec<String>,
        /// Days the certificate is valid from now (the host warns 30 days before it expires).
        #[arg(long, default_value_t = tls::DEFAULT_VALIDITY_DAYS, value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// Replace an existing certificate and key (a running host reloads them).
        #[arg(long)]
        force: bool,
    },
    /// Print a certificate's subject, SANs, SHA-256 fingerprint and expiry.
    Show {
        #[arg(long, default_value = "tls/cert.pem")]
        cert: PathBuf,
        /// Show the certificate a host configuration names instead.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Print a library's name, version, API version, capabilities and parameter pages (and
    /// the partitions it reports).
    Inspect {
        file: PathBuf,
        /// A connector file, or a file of `[parameters.<page>]` tables, whose answers the
        /// pages are asked with, page by page; answers a page does not define are shown as
        /// refused.
        #[arg(long, visible_alias = "connector")]
        answers: Option<PathBuf>,
    },
    /// Print every parameter a library asks, page by page (name, type, default, description),
    /// the pages asked with the given answers: the parameter reference of a connector guide.
    Reference {
        file: PathBuf,
        /// A connector file, or a file of `[parameters.<page>]` tables.
        #[arg(long)]
        answers: Option<PathBuf>,
        /// Markdown tables (as in docs/sql-connector.md) instead of text.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new random token and the `token_hash` line for a connector file.
    Generate,
    /// Read a token from standard input and print its `token_hash` line.
    Hash,
}

/// The commands that print for a reader (`| head`, `| less`) end quietly when the reader goes,
/// as command-line tools do, instead of panicking on the failed write. Rust ignores SIGPIPE;
/// the server commands and the plugin worker keep it ignored (their sockets are written with
/// MSG_NOSIGNAL anyway, but a log to a closed pipe must not end a server).
fn quiet_broken_pipe(command: &Command) {
    if matches!(
        command,
        Command::Serve { .. }
            | Command::Demo { .. }
            | Command::Bench { .. }
            | Command::PluginWorker { .. }
    ) {
        return;
    }
    // SAFETY: at start-up, before any other thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::PluginWorker {
        library,
        socket,
        log_level,
    } = &cli.command
    {
        // A worker needs no async runtime: it answers the host on plain threads.
        let log_level = match ecmahost::isolation::parse_level(log_level) {
            Ok(level) => level,
            Err(e) => {
                eprintln!("error: --log-level: {e}");
                return ExitCode::FAILURE;
            }
        };
        let code = ecmahost::isolation::worker::run(library, socket, log_level);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    quiet_broken_pipe(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    // Plugin calls stuck past the grace period still hold blocking threads: abandon them
    // rather than wait for them, so that SIGTERM always ends the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::PluginWorker { .. } => Ok(()), // run before the runtime starts, in main
        Command::Serve { config } => {
            let config = HostConfig::load(&config)?;
            let _guard = logging::init(&config.logging)?;
            serve(&config).await
        }
        Command::Demo {
            dir,
            port,
            address,
            plugin,
        } => {
            let plugin = demo::locate_plugin(plugin.as_deref())?;
            let setup = demo::prepare(&dir, address, port, &plugin).await?;
            let config = HostConfig::load(&setup.host_config)?;
            let _guard = logging::init(&config.logging)?;
            let host = server::start(&config).await?;
            println!("{}", demo::banner(&setup));
            wait_for_shutdown(host).await
        }
        Command::Bench {
            dir,
            port,
            clients,
            seconds,
            swaps,
            filter,
            flood,
            pid,
            soak,
            rate,
        } => {
            let token = std::fs::read_to_string(dir.join("secrets/demo.token"))?
                .trim()
                .to_string();
            let options = bench::BenchOptions {
                url: format!(
                    "https://localhost:{port}/ecma2host_{}/scim",
                    demo::CONNECTOR
                ),
                token,
                certificate: dir.join("tls/cert.pem"),
                key: dir.join("tls/key.pem"),
                clients,
                duration: std::time::Duration::from_secs(seconds),
                filter,
                swaps,
                ecma_dir: dir.join("ECMA"),
                library: demo::SQL_PLUGIN_FILE.to_string(),
                admin_url: format!("http://127.0.0.1:{}", port.saturating_add(1)),
                connector: demo::CONNECTOR.to_string(),
            };
            if soak {
                println!("soak: {rate} mixed requests/s for {seconds} s over {clients} clients");
                let result = bench::soak::run(&options, pid, rate).await?;
                println!("{}", bench::soak::table(&result));
                if result.error_count() > 0 {
                    std::process::exit(1);
                }
                return Ok(());
            }
            println!("{clients} keep-alive TLS clients, {seconds} s per phase");
            if flood {
                println!(
                    "{} legitimate clients, one GET each every {} ms",
                    bench::flood::LEGIT_CLIENTS,
                    bench::flood::LEGIT_INTERVAL.as_millis()
                );
                let results = bench::flood::run(&options, pid).await?;
                println!("{}", bench::flood::table(&results));
                return Ok(());
            }
            let results = bench::run(&options).await?;
            println!("{}", bench::table(&results));
            if options.swaps > 0 {
                println!(
                    "GET+POST while the library is replaced {} times:",
                    options.swaps
                );
                println!("{}", bench::swap_table(&bench::run_swaps(&options).await?));
            }
            Ok(())
        }
        Command::Cert {
            command:
                CertCommand::Generate {
                    cert,
                    key,
                    names,
                    days,
                    force,
                },
        } => {
            tls::check_overwrite(&[&cert, &key], force)?;
            // The names asked for come first: the first one is also the subject's CN.
            let mut all = names;
            for name in tls::default_names() {
                if !all.contains(&name) {
                    all.push(name);
                }
            }
            tls::generate_self_signed(all.clone(), days, &cert, &key)?;
            println!(
                "wrote {} and {} for {}",
                cert.display(),
                key.display(),
                all.join(", ")
            );
            Ok(())
        }
        Command::Cert {
            command: CertCommand::Show { cert, config },
        } => {
            let cert = match config {
                Some(config) => HostConfig::load(&config)?.tls.certificate,
                None => cert,
            };
            let info = tls::info::CertificateInfo::from_pem_file(&cert)?;
            println!("file:        {}", cert.display());
            print!("{}", info.render(tls::info::now_unix()));
            Ok(())
        }
        Command::Plugin {
            command: PluginCommand::Inspect { file, answers },
        } => {
            let answers = answers.map(|a| ParameterAnswers::load(&a)).transpose()?;
            print!("{}", ecmahost::plugins::inspect(&file, answers.as_ref())?);
            Ok(())
        }
        Command::Plugin {
            command:
                PluginCommand::Reference {
                    file,
                    answers,
                    markdown,
                },
        } => {
            let answers = answers.map(|a| ParameterAnswers::load(&a)).transpose()?;
            print!(
                "{}",
                ecmahost::plugins::reference(&file, answers.as_ref(), markdown)?
            );
            Ok(())
        }
        Command::Connector { config, command } => {
            ecmahost::cli::connector::run(config, command).await
        }
        Command::Token {
            command: TokenCommand::Generate,
        } => {
            let t = token::generate_token();
            println!("token:      {t}");
            println!("token_hash = \"{}\"", token::hash_token(&t)?);
            Ok(())
        }
        Command::Status { admin } => Ok(operate::status::run(&admin_client(&admin)?).await?),
        Command::SupportBundle { admin, output } => {
            let output = output.unwrap_or_else(|| {
                PathBuf::from(format!(
                    "ecmahost-support-{}.tar.gz",
                    chrono::Utc::now().format("%Y%m%d-%H%M%S")
                ))
            });
            // Without a reachable admin listener, the bundle says why instead of the status.
            let client = admin_client(&admin).ok();
            let listing = operate::bundle::write(&admin.config, client.as_ref(), &output).await?;
            println!("wrote {}:", output.display());
            for line in listing {
                println!("  {line}");
            }
            Ok(())
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            // Generated into memory: clap_complete panics on a write error, and a reader
            // that stops early (`| head`) is no error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ecmahost", &mut script);
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Ws { command } => {
            // Plugin calls block: keep them off the async workers.
            print!(
                "{}",
                tokio::task::spawn_blocking(move || ws(command)).await??
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Hash,
        } => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            println!(
                "token_hash = \"{}\"",
                token::hash_token(input.trim_end_matches(['\n', '\r']))?
            );
            Ok(())
        }
    }
}

fn admin_client(admin: &AdminArgs) -> anyhow::Result<operate::AdminClient> {
    Ok(operate::AdminClient::new(
        admin.admin.as_deref(),
        &admin.config,
    )?)
}

fn ws(command: WsCommand) -> Result<String, webservices::WsCommandError> {
    match command {
        WsCommand::Discover { wsdl, project } => webservices::discover(&wsdl, &project),
        WsCommand::AddRest { project, service } => webservices::add_rest(&project, service),
        WsCommand::Check { project } => webservices::check(&project),
        WsCommand::Test {
            connector,
            plugin,
            flow,
            entry,
        } => webservices::test(&connector, &plugin, flow, entry.as_deref()),
    }
}

async fn serve(config: &HostConfig) -> anyhow::Result<()> {
    let host = server::start(config).await?;
    wait_for_shutdown(host).await
}

async fn wait_for_shutdown(host: server::RunningHost) -> anyhow::Result<()> {
    let handle = host.handle();
    let grace = host.grace;
    tokio::spawn(async move {
        // Ctrl-C, or SIGTERM from systemd or `kill`: finish requests in flight, then stop.
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: no new connections; requests in flight may finish within the grace period"
        );
        handle.graceful_shutdown(Some(grace));
    });
    host.wait().await?;
    Ok(())
}
