//! Autosync: a full import that reconciles the connector space with the target (added, changed
//! and removed rows) while SCIM traffic is served.

use ecma_integration_tests::TestHost;
use ecmahost::registry::ConnectorSlot;
use reqwest::{Method, StatusCode};

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

async fn sql(host: &TestHost, statement: &str) {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
            .await
            .unwrap();
    sqlx::query(statement).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn full_sync_reconciles_added_changed_and_removed_rows() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    // The target changes behind the host's back.
    sql(&host, "INSERT INTO Employees (Login, AzureID, FirstName, IsActive) VALUES ('new.hire', 'guid-new', 'New', 1)").await;
    sql(
        &host,
        "UPDATE Employees SET Department = 'Audit' WHERE Login = 'alex.wilber'",
    )
    .await;
    sql(&host, "DELETE FROM Employees WHERE Login = 'megan.bowen'").await;
    sql(&host, "DELETE FROM GroupMembers WHERE GroupName = 'Retail'").await;
    // Before the sync the connector space still answers with what it imported.
    let (status, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let runtime = match host
        .host
        .as_ref()
        .unwrap()
        .registry
        .get("demo")
        .unwrap()
        .slot
    {
        ConnectorSlot::Running(r) => r,
        ConnectorSlot::Failed { reason, .. } => panic!("demo failed: {reason}"),
    };
    let (report, during) = tokio::join!(
        runtime.sync_now(),
        host.send(Method::GET, "demo", "/Users/adele.vance", &t, None)
    );
    assert_eq!(
        during.0,
        StatusCode::OK,
        "SCIM traffic is served during a sync"
    );
    let report = report.unwrap();
    assert_eq!(
        (report.kind, report.entries, report.upserted, report.removed),
        // Three users and two groups read; new.hire, alex.wilber and Retail changed.
        ("full", 5, 3, 1)
    );
    let (_, body) = host
        .send(Method::GET, "demo", "/Groups/Retail", &t, None)
        .await;
    assert_eq!(body["displayName"], "Retail");
    assert!(body.get("members").is_none(), "{body}");

    let (status, body) = host
        .send(Method::GET, "demo", "/Users/new.hire", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = host
        .send(Method::GET, "demo", "/Users/alex.wilber", &t, None)
        .await;
    assert_eq!(body[EXT]["Department"], "Audit");
    let (status, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A second sync with nothing new changes nothing.
    let report = runtime.sync_now().await.unwrap();
    assert_eq!((report.upserted, report.removed), (0, 0));
    host.stop().await;
}

/// A connector on the SDK template's CSV connector, which supports delta import.
fn csv_connector(csv: &std::path::Path) -> ecma_integration_tests::ExtraConnector {
    let hash = ecmahost::token::hash_token("csv-connector-token-1").unwrap();
    ecma_integration_tests::ExtraConnector {
        file_name: "csv.toml",
        toml: format!(
            "version = 1\nname = \"csv\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_csv.so\"\nobject_type = \"User\"\nanchor = \"Login\"\n\
             [[attributes]]\nname = \"Dept\"\n[run_profiles]\nfull_import = true\ndelta_import = true\n\
             [parameters.connectivity]\nfile = \"{}\"\n[parameters.schema1]\nanchor = \"Login\"\n",
            csv.display()
        ),
    }
}

#[tokio::test]
async fn delta_sync_applies_changes_and_keeps_its_watermark() {
    let csv_dir = tempfile::tempdir().unwrap();
    let csv = csv_dir.path().join("people.csv");
    std::fs::write(&csv, "Login,Dept\nann,Sales\nbob,Ops\ncat,Legal\n").unwrap();
    let host = TestHost::start_with(vec![csv_connector(&csv)], |dir| {
        std::fs::copy(
            ecma_integration_tests::csv_plugin(),
            dir.join("ECMA/libecma_csv.so"),
        )
        .unwrap();
    })
    .await;
    host.wait_status("csv", |s| s["state"] == "ready").await;
    assert_eq!(host.status("csv").await["objects"], 3);
    let watermark_file = host.dir.path().join("data/csv/watermark");
    let first =
        std::fs::read_to_string(&watermark_file).expect("the full import saved a watermark");

    std::fs::write(&csv, "Login,Dept\nann,Sales\nbob,Finance\ndan,Ops\n").unwrap();
    let runtime = match host
        .host
        .as_ref()
        .unwrap()
        .registry
        .get("csv")
        .unwrap()
        .slot
    {
        ConnectorSlot::Running(r) => r,
        ConnectorSlot::Failed { reason, .. } => panic!("csv failed: {reason}"),
    };
    let report = runtime.sync_now().await.unwrap();
    assert_eq!(report.kind, "delta");
    assert_eq!((report.upserted, report.removed), (2, 1), "{report:?}");
    let t = "csv-connector-token-1";
    let (status, body) = host.send(Method::GET, "csv", "/Users/bob", t, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT]["Dept"], "Finance");
    let (status, _) = host.send(Method::GET, "csv", "/Users/dan", t, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = host.send(Method::GET, "csv", "/Users/cat", t, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let second = std::fs::read_to_string(&watermark_file).unwrap();
    assert_ne!(
        first, second,
        "the delta's new watermark is saved for the next run"
    );
    host.stop().await;
}
