//! `firebase-fake`: runs the Firebase Realtime Database fake as a process for development
//! (`cargo xtask dev`), writes its service-account key file, and serves until Ctrl-C/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use firebase_fake::FakeFirebase;

/// A local fake of the Firebase Realtime Database REST API and Google's token endpoint.
#[derive(Debug, Parser)]
#[command(name = "firebase-fake", version)]
struct Args {
    /// Port on 127.0.0.1 to listen on.
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// Where to write the service-account key file (default: in the temp directory).
    #[arg(long, value_name = "PATH")]
    service_account: Option<PathBuf>,
    /// Allow requests without credentials.
    #[arg(long)]
    open: bool,
    /// Let every database request hang (until the client gives up): Firebase unreachable
    /// in the worst way, for benchmarks.
    #[arg(long)]
    hang: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fake = match FakeFirebase::start_on(args.port) {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!(
                "firebase fake: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    fake.set_open(args.open);
    if args.hang {
        fake.inject(firebase_fake::Fault::hang().always());
    }
    let key_file = args
        .service_account
        .unwrap_or_else(|| std::env::temp_dir().join("firebase-fake-service-account.json"));
    if let Err(e) = std::fs::write(&key_file, fake.service_account_json()) {
        eprintln!("firebase fake: cannot write {}: {e}", key_file.display());
        return ExitCode::FAILURE;
    }
    println!(
        "firebase fake: database {}, key file {}",
        fake.database_url(),
        key_file.display()
    );
    wait_for_shutdown();
    ExitCode::SUCCESS
}

/// Blocks until Ctrl-C or (on Unix) SIGTERM.
fn wait_for_shutdown() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}
