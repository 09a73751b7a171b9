//! Loading libraries that are not fit to run, and plugins that misbehave while the host builds
//! or calls them. Every case must give a reason an administrator can act on, keep the
//! connector's token check, and leave the other connectors serving. None may take the host down.
//!
//! Two levels: `load_library` on the file itself (which `LoadError` it returns), and a whole host
//! with the file configured as a connector (503, `Retry-After` and a SCIM error naming the
//! problem).
//!
//! A plugin call that hangs parks a blocking-pool thread forever. Dropping a tokio runtime waits
//! for all its blocking threads, so the tests that hang a plugin run on a runtime that is shut
//! down in the background instead ([`leaving_hung_threads`]).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use ecma_integration_tests::{plugin_dir, ExtraConnector, TestHost};
use ecma_plugin_api::{
    load_library, ConfigPage, ErrorKind, ExportRequest, ExportType, ImportKind, ImportRequest,
    LoadError, ParameterValues, API_MAJOR, API_MINOR,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

const TOKEN: &str = "loader-test-connector-token";
const WRONG_TOKEN: &str = "not-the-loader-test-token";

/// One Argon2 hash for every extra connector: hashing is deliberately slow.
fn token_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| ecmahost::token::hash_token(TOKEN).unwrap().to_string())
}

/// A connector file for `plugin` with the faulty plugin's schema. `top_level` goes before the
/// first table (`call_timeout_seconds = 1`), `parameters` after the attributes.
fn connector(name: &str, plugin: &str, top_level: &str, parameters: &str) -> ExtraConnector {
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{}\"\nplugin = \"{plugin}\"\n\
             object_type = \"User\"\nanchor = \"Id\"\n{top_level}\n\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n{parameters}",
            token_hash()
        ),
    }
}

fn user(id: &str, mode: &str) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": id,
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": id, "Mode": mode}
    })
    .to_string()
}

/// Copy a built library out of the target directory. Tests never load from there: a concurrent
/// `cargo build` may replace the file, and each loaded version needs a path of its own.
fn copy_built(library: &str, to: &Path) {
    std::fs::copy(plugin_dir().join(library), to).unwrap();
}

/// Where the parts of an ELF64 little-endian file end, from its header and program headers.
struct ElfLayout {
    /// The program header table, which `dlopen` reads first.
    program_headers: std::ops::Range<usize>,
    /// The largest `p_offset + p_filesz` over the `PT_LOAD` segments: the part `dlopen` maps.
    /// Debug info lies after it, so cutting a debug build in half keeps a loadable library.
    image_end: usize,
}

fn elf_layout(bytes: &[u8]) -> ElfLayout {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!((bytes[4], bytes[5]), (2, 1), "not ELF64 little-endian");
    let int = |offset: usize, size: usize| {
        let mut le = [0u8; 8];
        le[..size].copy_from_slice(&bytes[offset..offset + size]);
        u64::from_le_bytes(le) as usize
    };
    let (phoff, phentsize, phnum) = (int(0x20, 8), int(0x36, 2), int(0x38, 2));
    const PT_LOAD: usize = 1;
    let image_end = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&header| int(header, 4) == PT_LOAD)
        .map(|header| int(header + 8, 8) + int(header + 32, 8))
        .max()
        .expect("a shared library has PT_LOAD segments");
    ElfLayout {
        program_headers: phoff..phoff + phnum * phentsize,
        image_end,
    }
}

/// The SQL connector library, cut at `cut(layout)` bytes.
fn truncated_sql_library(to: &Path, cut: impl FnOnce(&ElfLayout) -> usize) {
    let bytes = std::fs::read(plugin_dir().join("libecma_sql.so")).unwrap();
    let length = cut(&elf_layout(&bytes));
    assert!(length < bytes.len());
    std::fs::write(to, &bytes[..length]).unwrap();
}

/// A real shared library that is not a connector: zlib, or SQLite (which the SQL connector
/// links, so it is installed wherever these tests run).
fn system_library() -> PathBuf {
    let names = ["libz.so.1", "libsqlite3.so.0"];
    let dirs = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/usr/lib",
    ];
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| Path::new(dir).join(name)))
        .find(|path| path.is_file())
        .expect("a system shared library (libz or libsqlite3) to stand in for a non-connector")
}

/// A library that must not load: how to make it, and what each level must say about it.
struct BrokenLibrary {
    /// The connector's name; its library is `lib{connector}.so` in `ECMA/`.
    connector: &'static str,
    /// Writes the file at the given path; `None` leaves it missing.
    make: Option<fn(&Path)>,
    /// The `LoadError` that `load_library` must return for the file.
    refused_as: fn(&LoadError) -> bool,
    /// Fragments the 503's `detail` must contain.
    detail: Vec<String>,
}

impl BrokenLibrary {
    fn file_name(&self) -> String {
        format!("lib{}.so", self.connector)
    }
}

/// Every way a library file can fail to load without endangering the process.
fn broken_libraries() -> Vec<BrokenLibrary> {
    let not_a_connector = || vec!["is not a connector library".to_string()];
    vec![
        BrokenLibrary {
            connector: "wrongapimajor",
            make: Some(|to: &Path| copy_built("libecma_wrong_api_major.so", to)),
            refused_as: |e| {
                matches!(e, LoadError::Incompatible { host_major, host_minor, detail, .. }
                    if (*host_major, *host_minor) == (API_MAJOR, API_MINOR)
                        && detail.contains(&format!("built for API {}.0", API_MAJOR + 1)))
            },
            detail: vec![
                "incompatible with this host".to_string(),
                format!("built for API {}.0", API_MAJOR + 1),
            ],
        },
        BrokenLibrary {
            connector: "panickinginit",
            make: Some(|to: &Path| copy_built("libecma_panicking_init.so", to)),
            refused_as: |e| {
                matches!(e, LoadError::InitFailed { detail, .. }
                    if detail == "the library's initializer panicked")
            },
            detail: vec!["initializer panicked".to_string()],
        },
        BrokenLibrary {
            connector: "textfile",
            make: Some(|to: &Path| {
                std::fs::write(to, "This is a README that was given a .so name.\n").unwrap()
            }),
            refused_as: |e| matches!(e, LoadError::NotAPlugin { .. }),
            detail: not_a_connector(),
        },
        BrokenLibrary {
            connector: "systemlibrary",
            make: Some(|to: &Path| {
                std::fs::copy(system_library(), to).unwrap();
            }),
            refused_as: |e| matches!(e, LoadError::NotAPlugin { .. }),
            detail: not_a_connector(),
        },
        BrokenLibrary {
            // `dlopen` cannot read the program headers and says so: a clean error.
            connector: "cutheaders",
            make: Some(|to: &Path| {
                truncated_sql_library(to, |elf| {
                    (elf.program_headers.start + elf.program_headers.end) / 2
                })
            }),
            refused_as: |e| matches!(e, LoadError::NotAPlugin { .. }),
            detail: not_a_connector(),
        },
        BrokenLibrary {
            connector: "missing",
            make: None,
            refused_as: |e| matches!(e, LoadError::NotFound { .. }),
            detail: vec!["not found in the ECMA folder".to_string()],
        },
    ]
}

/// Check the refusal a host gives for a connector that did not build.
async fn assert_unavailable(host: &TestHost, connector: &str, detail: &[String]) {
    let (status, headers, body) = host
        .send_full(Method::GET, connector, "/Users", TOKEN, None)
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{connector}: {body}"
    );
    assert!(
        headers.contains_key("retry-after"),
        "{connector}: {headers:?}"
    );
    assert_eq!(body["status"], "503", "{connector}: {body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{connector}"
    );
    let text = body["detail"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("'{connector}'")),
        "{connector}: {text}"
    );
    for fragment in detail {
        assert!(text.contains(fragment.as_str()), "{connector}: {text}");
    }
    // A failed connector still guards itself with its own token.
    let (status, _) = host
        .send(Method::GET, connector, "/Users", WRONG_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{connector}");
}

async fn assert_demo_serves(host: &TestHost) {
    let (status, body) = host
        .send(Method::GET, "demo", "/Users", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 3, "{body}");
}

#[test]
fn load_library_names_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    for broken in broken_libraries() {
        let path = dir.path().join(broken.file_name());
        if let Some(make) = broken.make {
            make(&path);
        }
        let error = load_library(&path).expect_err(broken.connector);
        assert!(
            (broken.refused_as)(&error),
            "{}: unexpected {error:?}",
            broken.connector
        );
        assert!(
            error.to_string().contains(&broken.file_name()),
            "{}: the message names the file: {error}",
            broken.connector
        );
    }
    // After all of that, a good library still loads in the same process.
    let good = dir.path().join("libecma_sql.so");
    copy_built("libecma_sql.so", &good);
    let library = load_library(&good).unwrap();
    assert_eq!(library.info().name, "sql");
    assert_eq!(library.api_version(), (API_MAJOR, API_MINOR));
}

#[tokio::test]
async fn each_broken_library_fails_only_its_own_connector() {
    let broken = broken_libraries();
    let extra = broken
        .iter()
        .map(|b| connector(b.connector, &b.file_name(), "", ""))
        .collect();
    let host = TestHost::start_with(extra, |dir| {
        for b in &broken {
            if let Some(make) = b.make {
                make(&dir.join("ECMA").join(b.file_name()));
            }
        }
    })
    .await;
    for b in &broken {
        assert_unavailable(&host, b.connector, &b.detail).await;
    }
    assert_demo_serves(&host).await;
    host.stop().await;
}

/// Every entry point of the real faulty cdylib, made to panic, comes back as an error of kind
/// `Panic` naming the entry point: no unwinding crosses the library boundary.
#[test]
fn a_panic_in_any_entry_point_stays_inside_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libecma_faulty.so");
    copy_built("libecma_faulty.so", &path);
    let connector = load_library(&path).unwrap().new_connector().unwrap();
    let calm = ParameterValues::new();
    let schema = connector.schema(&calm).unwrap();
    let import = ImportRequest {
        kind: ImportKind::Full,
        page_size: 100,
        watermark: String::new(),
        partition: String::new(),
    };
    let export = ExportRequest {
        export_type: ExportType::AttributeUpdate,
        batch_size: 10,
        partition: String::new(),
    };
    let entry_points = [
        "config_parameters",
        "validate_page",
        "capabilities",
        "schema",
        "test_connection",
        "open_import",
        "next_page",
        "open_export",
        "put_export_entries",
    ];
    for entry_point in entry_points {
        let mut values = ParameterValues::new();
        values.insert("panic_in", entry_point);
        let page = ConfigPage::Connectivity;
        let error = match entry_point {
            "config_parameters" => connector.config_parameters(page, &values).err(),
            "validate_page" => connector.validate_page(page, &values).err(),
            "capabilities" => connector.capabilities(&values).err(),
            "schema" => connector.schema(&values).err(),
            "test_connection" => connector.test_connection(&values).err(),
            "open_import" => connector.open_import(&values, &schema, &import).err(),
            "next_page" => connector
                .open_import(&values, &schema, &import)
                .unwrap()
                .next_page()
                .err(),
            "open_export" => connector.open_export(&values, &schema, &export).err(),
            "put_export_entries" => connector
                .open_export(&values, &schema, &export)
                .unwrap()
                .put_export_entries(&[])
                .err(),
            other => unreachable!("{other}"),
        }
        .unwrap_or_else(|| panic!("{entry_point} did not fail"));
        assert_eq!(error.kind, ErrorKind::Panic, "{entry_point}: {error}");
        assert!(
            error
                .message
                .contains(&format!("panicked in {entry_point}")),
            "{entry_point}: {error}"
        );
    }
    // The same instance keeps answering once nothing panics.
    assert_eq!(connector.schema(&calm).unwrap(), schema);
}

#[tokio::test]
async fn a_panic_while_building_fails_only_that_connector() {
    let entry_points = ["validate_page", "capabilities", "schema"];
    let extra = entry_points
        .iter()
        .map(|entry_point| {
            connector(
                &format!("panicin{}", entry_point.replace('_', "")),
                "libecma_faulty.so",
                "",
                &format!("[parameters.connectivity]\npanic_in = \"{entry_point}\"\n"),
            )
        })
        .collect();
    let host = TestHost::start_with(extra, |_| {}).await;
    for entry_point in entry_points {
        let name = format!("panicin{}", entry_point.replace('_', ""));
        let detail = [format!("connector panicked in {entry_point}")];
        assert_unavailable(&host, &name, &detail).await;
    }
    assert_demo_serves(&host).await;
    host.stop().await;
}

/// Run `test` on a runtime that is shut down without waiting for its blocking threads, and
/// propagate its panic afterwards. A hung plugin call parks a blocking thread forever, and both
/// dropping a runtime and unwinding through `block_on` would wait for it.
fn leaving_hung_threads(test: impl Future<Output = ()>) {
    // Build the plugins before any time limit starts counting.
    ecma_integration_tests::plugin_dir();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(test);
    }));
    runtime.shutdown_background();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generous bound for "a few seconds": it turns a hang into a failure, it does not measure.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn a_hung_export_answers_503_while_other_connectors_serve() {
    leaving_hung_threads(async {
        let extra = vec![connector(
            "hangs",
            "libecma_faulty.so",
            "call_timeout_seconds = 1",
            "",
        )];
        let host = TestHost::start_with(extra, |_| {}).await;
        host.wait_ready_with("hangs", TOKEN).await;
        let stuck = user("stuck", "hang");
        // The demo connector answers while the export to `hangs` is stuck in the plugin.
        let mut served_meanwhile = 0;
        let (status, headers, body) = tokio::time::timeout(PATIENCE, async {
            let hung = host.send_full(Method::POST, "hangs", "/Users", TOKEN, Some(&stuck));
            tokio::pin!(hung);
            loop {
                tokio::select! {
                    answer = &mut hung => break answer,
                    (status, body) = host.send(Method::GET, "demo", "/Users", &host.token, None) => {
                        assert_eq!(status, StatusCode::OK, "{body}");
                        assert_eq!(body["totalResults"], 3, "{body}");
                        served_meanwhile += 1;
                    }
                }
            }
        })
        .await
        .expect("the hung export is answered within the call time-out");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(headers.contains_key("retry-after"), "{headers:?}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("did not finish within 1 s"),
            "{body}"
        );
        assert!(served_meanwhile > 0, "no demo request overlapped the hang");
        // The connector reports itself degraded while the call is stuck.
        let status = host.status("hangs").await;
        assert_eq!(status["state"], "degraded", "{status}");
        assert_eq!(status["stuck_calls"], 1, "{status}");
        // Nothing was recorded for the change the target never confirmed...
        let (status, _) = host
            .send(Method::GET, "hangs", "/Users/stuck", TOKEN, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // ...and other objects of the same connector still export.
        let (status, body) = host
            .send(
                Method::POST,
                "hangs",
                "/Users",
                TOKEN,
                Some(&user("calm", "")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_demo_serves(&host).await;
        host.stop().await;
    });
}

#[test]
fn a_hang_while_building_fails_only_that_connector() {
    leaving_hung_threads(async {
        let extra = vec![connector(
            "hangsatstart",
            "libecma_faulty.so",
            "call_timeout_seconds = 1",
            "[parameters.connectivity]\nhang_in = \"schema\"\n",
        )];
        let host = tokio::time::timeout(PATIENCE, TestHost::start_with(extra, |_| {}))
            .await
            .expect("the host starts although one connector's plugin hangs");
        let detail = ["the connector call `schema` did not finish within 1 s".to_string()];
        assert_unavailable(&host, "hangsatstart", &detail).await;
        assert_demo_serves(&host).await;
        host.stop().await;
    });
}

/// Environment variable that marks a child process started by [`in_child_process`].
const CHILD: &str = "ECMA_LOADER_TEST_CHILD";

/// In the test process: run this binary's test `name` (in this module) in a child process and
/// return its output. In that child: `None`, and the caller runs the test's body. A library cut
/// inside its mapped segments makes `dlopen` touch pages past the end of the file, and the kernel
/// answers with SIGBUS; in a child, that fails one test instead of killing the whole suite.
fn in_child_process(name: &str) -> Option<std::process::Output> {
    if std::env::var_os(CHILD).is_some() {
        return None;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test = format!("{module}::{name}");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test.as_str(), "--exact", "--include-ignored", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    Some(output)
}

fn assert_child_passed(output: &std::process::Output) {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child process failed ({}{}):\n{stdout}\n{stderr}",
        output.status,
        match output.status.signal() {
            Some(7) => ": dlopen touched pages past the end of the truncated file",
            _ => "",
        },
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

/// The half of the mapped image, as an interrupted copy leaves it.
fn cut_inside_segments(to: &Path) {
    truncated_sql_library(to, |elf| elf.image_end / 2);
}

#[test]
fn load_library_refuses_a_library_cut_inside_its_segments() {
    if let Some(output) = in_child_process("load_library_refuses_a_library_cut_inside_its_segments")
    {
        assert_child_passed(&output);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libtruncated.so");
    cut_inside_segments(&path);
    let error = load_library(&path).expect_err("a truncated library must not load");
    assert!(matches!(error, LoadError::NotAPlugin { .. }), "{error:?}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn a_library_cut_inside_its_segments_fails_only_its_connector() {
    if let Some(output) =
        in_child_process("a_library_cut_inside_its_segments_fails_only_its_connector")
    {
        assert_child_passed(&output);
        return;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let extra = vec![connector("truncated", "libtruncated.so", "", "")];
            let host = TestHost::start_with(extra, |dir| {
                cut_inside_segments(&dir.join("ECMA/libtruncated.so"));
            })
            .await;
            let detail = [
                "is not a connector library".to_string(),
                "truncated".to_string(),
            ];
            assert_unavailable(&host, "truncated", &detail).await;
            assert_demo_serves(&host).await;
            host.stop().await;
        });
}
