//! `ecmahost connector new|list|show|validate|test|delete|rotate-token|export|import|import-mim`:
//! the connectors of a host configuration, found by name (or file) in its connectors folder.

pub mod draft;
mod files;
mod rotate;
mod show;
pub mod transfer;
mod validate;
mod wizard;

use std::path::PathBuf;

use clap::Subcommand;

use crate::config::HostConfig;

pub use files::{find_connector, redact_document};

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// The configuration wizard: Microsoft's pages in order, the connector's own pages
    /// validated as they are answered; writes one commented connector file.
    New {
        /// A connector file to take every answer from, without prompts (its token may be left
        /// out and is then generated); checked the same way, written only if nothing is wrong.
        #[arg(long)]
        answers: Option<PathBuf>,
    },
    /// Every connector file of the host, with its library and object types, and whether it
    /// parses.
    List,
    /// Start a full (or delta) import of a connector on the running host, through its admin
    /// listener (`admin_listen` of the host configuration, or `--admin`).
    ImportNow {
        connector: String,
        /// A delta import instead of a full one.
        #[arg(long)]
        delta: bool,
        /// Wait until the import ends and print its result.
        #[arg(long)]
        wait: bool,
        /// The admin listener's URL instead (for example http://127.0.0.1:8586).
        #[arg(long)]
        admin: Option<String>,
    },
    /// One connector's file, with its tokens and secrets hidden.
    Show { connector: String },
    /// Every check a start runs: the file, the library, the parameter pages with the plugin's
    /// validation, capabilities, schema, the build checks, the mapping, and a connection
    /// test. Prints each problem with the file, the key and the fix; exits 1 if there is one.
    Validate { connector: String },
    /// Connect to the target through the plugin and explain a failure.
    Test { connector: String },
    /// Remove a connector's file (the running host then removes the connector).
    Delete {
        connector: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Store a new token's hash; the old token keeps working for the overlap.
    RotateToken {
        connector: String,
        /// How long the old token stays valid, in minutes (0: it stops at once).
        #[arg(long, default_value_t = 1440)]
        overlap_minutes: u64,
    },
    /// Write a connector's configuration (ecmahost TOML or ECMA2Host XML), without secrets
    /// unless asked.
    Export {
        connector: String,
        #[arg(long, value_enum, default_value = "toml")]
        format: transfer::Format,
        /// Include secret parameter values (and, in TOML, the token hashes).
        #[arg(long)]
        with_secrets: bool,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Read a connector file (ecmahost TOML, or ECMA2Host's connector export XML) into the
    /// connectors folder, reporting what was mapped and what still needs an answer.
    Import {
        file: PathBuf,
        /// Replace a connector file of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Read a MIM Sync "Export Management Agent" file into the connectors folder.
    ImportMim {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

/// Run one connector command against the host configuration `config`.
pub async fn run(config: PathBuf, command: ConnectorCommand) -> anyhow::Result<()> {
    let host = HostConfig::load(&config)?;
    match command {
        ConnectorCommand::New { answers } => wizard::new(&host, answers.as_deref()).await,
        ConnectorCommand::List => show::list(&host),
        ConnectorCommand::ImportNow {
            connector,
            delta,
            wait,
            admin,
        } => {
            let client = crate::operate::AdminClient::new(admin.as_deref(), &config)?;
            let report = crate::operate::import_now::run(&client, &connector, delta, wait).await?;
            print!("{report}");
            Ok(())
        }
        ConnectorCommand::Show { connector } => show::show(&find_connector(&host, &connector)?),
        ConnectorCommand::Validate { connector } => {
            validate::validate(&host, &find_connector(&host, &connector)?).await
        }
        ConnectorCommand::Test { connector } => {
            validate::test(&host, &find_connector(&host, &connector)?).await
        }
        ConnectorCommand::Delete { connector, yes } => {
            files::delete(&host, &find_connector(&host, &connector)?, yes)
        }
        ConnectorCommand::RotateToken {
            connector,
            overlap_minutes,
        } => rotate::rotate(
            &find_connector(&host, &connector)?,
            std::time::Duration::from_secs(overlap_minutes.saturating_mul(60)),
        ),
        ConnectorCommand::Export {
            connector,
            format,
            with_secrets,
            output,
        } => transfer::export(
            &find_connector(&host, &connector)?,
            format,
            with_secrets,
            output.as_deref(),
        ),
        ConnectorCommand::Import { file, force } => transfer::import(&host, &file, force),
        ConnectorCommand::ImportMim { file, force } => transfer::import_mim(&host, &file, force),
    }
}
