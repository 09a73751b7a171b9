//! Loading connector libraries from the `ECMA` folder.
//!
//! A library is never loaded from where the administrator dropped it. It is first copied to
//! `ECMA/Cache/{connector}/{stem}-{content hash}.so`, through a temp file and a rename, and loaded
//! from there. Why: `dlopen` dedupes by path and inode, abi_stable never unloads a library, and
//! overwriting a loaded `.so` in place crashes the process. A content-hashed path per version
//! makes every version a distinct, immutable file.
//!
//! Architecture invariant: this module is the only place that turns a path into a loaded
//! library; everything else receives a [`LoadedLibrary`].

mod inspect;
pub mod pages;
mod reference;

pub use inspect::inspect;
pub use reference::reference;

use std::io::Read;
use std::path::{Path, PathBuf};

use ecma_plugin_api::{
    load_library, ConnectorError, LoadError, PluginConnector, PluginInfo, PluginLibrary,
};
use sha2::{Digest, Sha256};

use crate::isolation::{Isolation, WorkerError, WorkerLibrary};

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("connector library {0} not found in the ECMA folder")]
    Missing(PathBuf),
    #[error("cannot copy {from} into the plugin cache: {source}")]
    Cache {
        from: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("the library cannot create a connector: {0}")]
    Connector(#[from] ecma_plugin_api::ConnectorError),
}

/// A library loaded into this process, or into a worker process of its own.
#[derive(Clone, Debug)]
pub enum Library {
    InProcess(PluginLibrary),
    Worker(WorkerLibrary),
}

impl Library {
    pub fn info(&self) -> &PluginInfo {
        match self {
            Library::InProcess(l) => l.info(),
            Library::Worker(l) => l.info(),
        }
    }

    /// `(major, minor)` of the API the library was built against.
    pub fn api_version(&self) -> (u32, u32) {
        match self {
            Library::InProcess(l) => l.api_version(),
            Library::Worker(l) => l.api_version(),
        }
    }

    /// A new connector instance (in a worker: with a worker process of its own).
    pub fn new_connector(&self) -> Result<PluginConnector, ConnectorError> {
        match self {
            Library::InProcess(l) => l.new_connector(),
            Library::Worker(l) => l.new_connector(),
        }
    }
}

/// A library loaded for one connector.
#[derive(Clone, Debug)]
pub struct LoadedLibrary {
    pub library: Library,
    /// Where the administrator put it.
    pub source: PathBuf,
    /// The immutable copy that was loaded.
    pub cached: PathBuf,
    /// Hex SHA-256 of the file's content.
    pub content_hash: String,
}

/// Copy `ECMA/{file_name}` into the connector's cache directory and load it, in this process
/// or (with [`Isolation::Process`]) in a worker process that runs the same checks.
pub fn load_for_connector(
    ecma_dir: &Path,
    connector: &str,
    file_name: &str,
    isolation: Isolation,
) -> Result<LoadedLibrary, PluginError> {
    let source = ecma_dir.join(file_name);
    if !source.is_file() {
        return Err(PluginError::Missing(source));
    }
    let cache_err = |source_path: &Path| {
        let from = source_path.to_path_buf();
        move |source| PluginError::Cache { from, source }
    };
    let (bytes, content_hash) = read_and_hash(&source).map_err(cache_err(&source))?;
    let dir = ecma_dir.join("Cache").join(connector);
    let stem = Path::new(file_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let cached = dir.join(format!("{stem}-{}.so", &content_hash[..16]));
    if !cached.is_file() {
        std::fs::create_dir_all(&dir).map_err(cache_err(&source))?;
        let tmp = dir.join(format!(".{stem}-{}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(cache_err(&source))?;
        std::fs::rename(&tmp, &cached).map_err(cache_err(&source))?;
    }
    let library = match isolation {
        Isolation::InProcess => Library::InProcess(load_library(&cached)?),
        Isolation::Process => Library::Worker(WorkerLibrary::start(&cached, connector)?),
    };
    tracing::info!(
        connector,
        library = %source.display(),
        cached = %cached.display(),
        ?isolation,
        plugin = %library.info().name,
        version = %library.info().version,
        "loaded connector library"
    );
    Ok(LoadedLibrary {
        library,
        source,
        cached,
        content_hash,
    })
}

fn read_and_hash(path: &Path) -> std::io::Result<(Vec<u8>, String)> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    let hash = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, hash))
}

/// Hex SHA-256 of a file's content: the identity of a library version.
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    read_and_hash(path).map(|(_, hash)| hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_non_plugin_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_for_connector(dir.path(), "demo", "libnothing.so", Isolation::InProcess)
            .unwrap_err();
        assert!(matches!(err, PluginError::Missing(_)), "{err}");

        std::fs::write(dir.path().join("libfake.so"), b"this is not an ELF file").unwrap();
        let err =
            load_for_connector(dir.path(), "demo", "libfake.so", Isolation::InProcess).unwrap_err();
        assert!(
            err.to_string().contains("is not a connector library"),
            "{err}"
        );
        // The copy went to the connector's cache under a content-hashed name.
        let cached: Vec<_> = std::fs::read_dir(dir.path().join("Cache/demo"))
            .unwrap()
            .collect();
        assert_eq!(cached.len(), 1);
    }
}
