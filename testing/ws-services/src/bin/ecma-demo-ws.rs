//! `ecma-demo-ws`: the web services connector's example services (a REST People API and a
//! SOAP user service) on 127.0.0.1, until Ctrl-C. See `ecma_test_ws_services::demo`.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ecma_test_ws_services::demo::Args::parse();
    match ecma_test_ws_services::demo::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
