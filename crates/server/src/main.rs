//! `realtime-server`: serve the API and sockets, apply migrations, or seed demo data.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use persistence::{Database, PoolOptions, migrations};
use server::{Config, seed, telemetry};

/// mimalloc gives memory freed after a burst back to the system; with glibc's allocator a
/// big room's join burst (megabytes of presence state per joiner, briefly) stayed in RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "realtime-server",
    version,
    about = "Live comment rooms for videos"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API and WebSocket (the default). Its settings come from RTS_*
    /// variables and RTS_CONFIG: `realtime-server config` lists them all with their values.
    Serve,
    /// Every setting (RTS_*) with its value in effect, its default and where it came from
    /// (secrets hidden), then whether MariaDB and Redis answer, and if not why.
    Config,
    /// Create the database if needed and change its schema.
    Migrate {
        #[arg(value_enum, default_value_t = Direction::Up)]
        direction: Direction,
        /// With down or redo: every migration, not just the newest.
        #[arg(long)]
        all: bool,
        /// With fresh: yes, delete every row.
        #[arg(long)]
        yes: bool,
    },
    /// Add demo users, videos and comments (idempotent); `seed viewers` makes bench users.
    Seed {
        #[command(subcommand)]
        what: Option<SeedCommand>,
    },
    /// The Firebase mirror: its backlog and dead letters, and repairs.
    Firebase {
        #[command(subcommand)]
        command: FirebaseCommand,
    },
}

#[derive(Subcommand)]
enum SeedCommand {
    /// Bench users for `cargo xtask bench ws`: many distinct users and their tokens.
    ///
    /// COUNT users `viewer-<run>-<i>` (role user; the first MODERATORS moderators) with a
    /// device each, made in bulk straight in the database, and an access token for each
    /// signed with this server's RTS_JWT_SECRET (valid RTS_ACCESS_TOKEN_TTL_SECS), written
    /// one per line to FILE. Benchmark and development databases only: the users share a
    /// known password.
    Viewers {
        /// How many viewers (1 to 1,000,000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(seed::viewers::MAX_VIEWERS)))]
        count: u32,
        /// Where the tokens go, one per line in viewer order.
        #[arg(long, value_name = "FILE")]
        tokens: std::path::PathBuf,
        /// Make the first MODERATORS viewers moderators (they see held comments too).
        #[arg(long, default_value_t = 0)]
        moderators: u32,
        /// The `<run>` in the names: 1 to 10 lowercase letters and digits (default: from
        /// the clock, so runs do not collide).
        #[arg(long)]
        run: Option<String>,
    },
}

#[derive(Subcommand)]
enum FirebaseCommand {
    /// How far behind the mirror is, and the changes it gave up on.
    Status,
    /// Compare the comments in MariaDB with Firebase and repair what differs.
    Reconcile {
        /// Only this video.
        #[arg(long)]
        video: Option<String>,
        /// Only say what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make every dead letter pending again (after fixing what made them fail).
    RetryDead,
}

#[derive(Clone, Copy, ValueEnum)]
enum Direction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest migration (--all: every one).
    Down,
    /// Revert, then apply again (--all: every one).
    Redo,
    /// List migrations and whether each is applied.
    Status,
    /// Drop the database, create it and apply every migration: for development and test
    /// databases (down migrations that would lose data refuse to run). Needs --yes.
    Fresh,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Config)) {
        return show_config();
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("realtime-server: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format, &config.log_level);
    // Requests and sockets run on the HTTP workers (`RTS_HTTP_WORKERS`, each a runtime of
    // its own); this runtime carries only the background work: the Redis broker, presence,
    // the Firebase mirror. One thread is plenty for it, and hand-offs between those tasks
    // stay on it instead of waking a second thread (docs/benchmarks.md, "Two nodes beside
    // one").
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("realtime-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&config).await,
            // Shown before the configuration is loaded (see `main`).
            Command::Config => Ok(()),
            Command::Migrate {
                direction,
                all,
                yes,
            } => migrate(&config, direction, all, yes).await,
            Command::Seed { what: None } => run_seed(&config).await,
            Command::Seed {
                what:
                    Some(SeedCommand::Viewers {
                        count,
                        tokens,
                        moderators,
                        run,
                    }),
            } => {
                let plan = seed::viewers::ViewersPlan::new(count, moderators, run)?;
                seed::viewers::seed(&config, &plan, &tokens).await
            }
            Command::Firebase { command } => match command {
                FirebaseCommand::Status => server::mirror::status(&config).await,
                FirebaseCommand::Reconcile { video, dry_run } => {
                    server::mirror::reconcile(&config, video.as_deref(), dry_run).await
                }
                FirebaseCommand::RetryDead => server::mirror::retry_dead(&config).await,
            },
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("realtime-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> Result<(), String> {
    raise_open_files_limit();
    let server = server::start(config, true)
        .await
        .map_err(|e| e.to_string())?;
    server.wait().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(
    config: &Config,
    direction: Direction,
    all: bool,
    yes: bool,
) -> Result<(), String> {
    let url = &config.database_url;
    let fail = |e: persistence::Error| format!("{e} (database {url})");
    if let Direction::Fresh = direction {
        if !yes {
            return Err(format!(
                "migrate fresh deletes every row of {url}: add --yes if that is what you want"
            ));
        }
        persistence::drop_database(url).await.map_err(fail)?;
        println!("dropped {}", url.database_name());
    }
    persistence::ensure_database_exists(url)
        .await
        .map_err(fail)?;
    let report = |verb: &str, versions: &[String]| {
        if versions.is_empty() {
            println!("{verb}: nothing to do");
        }
        for v in versions {
            println!("{verb} {v}");
        }
    };
    match direction {
        Direction::Up | Direction::Fresh => report(
            "applied",
            &migrations::run_pending(url).await.map_err(fail)?,
        ),
        Direction::Down => report(
            "reverted",
            &migrations::revert(url, all).await.map_err(fail)?,
        ),
        Direction::Redo => {
            report(
                "reverted",
                &migrations::revert(url, all).await.map_err(fail)?,
            );
            report(
                "applied",
                &migrations::run_pending(url).await.map_err(fail)?,
            );
        }
        Direction::Status => {
            for m in migrations::status(url).await.map_err(fail)? {
                let mark = if m.applied { "applied" } else { "pending" };
                println!("{mark:8} {}", m.name);
            }
        }
    }
    Ok(())
}

async fn run_seed(config: &Config) -> Result<(), String> {
    let db = Database::connect_lazy(&config.database_url, PoolOptions::default())
        .map_err(|e| e.to_string())?;
    let report = seed::run(&db, |line| println!("seed: {line}"))
        .await
        .map_err(|e| format!("seeding failed: {e} (did you run `migrate`?)"))?;
    println!(
        "seed: done ({} users created, {} updated, {} comments created; password for all: {})",
        report.users_created,
        report.users_updated,
        report.comments_created,
        seed::DEMO_PASSWORD
    );
    Ok(())
}

/// Every socket is a file descriptor: raise the soft limit to the hard limit so ten thousand
/// sockets need no tuning.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(
            open_files = limit,
            "open-files limit raised to the hard limit"
        ),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
}

/// `realtime-server config`: the settings table, then a look at MariaDB and Redis.
fn show_config() -> ExitCode {
    let settings = match Config::in_effect(std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("realtime-server: {e}");
            return ExitCode::from(2);
        }
    };
    let width = |f: fn(&server::config::Setting) -> &str, title: &str| {
        settings
            .iter()
            .map(|s| f(s).chars().count())
            .chain(std::iter::once(title.len()))
            .max()
            .unwrap_or(0)
    };
    let (name_w, value_w, default_w) = (
        width(|s| &s.name, "setting"),
        width(|s| &s.value, "value").min(60),
        width(|s| &s.default, "default").min(40),
    );
    println!(
        "{:name_w$}  {:value_w$}  {:default_w$}  source",
        "setting", "value", "default"
    );
    for s in &settings {
        println!(
            "{:name_w$}  {:value_w$}  {:default_w$}  {}",
            s.name, s.value, s.default, s.source
        );
    }
    let Ok(config) = Config::load() else {
        return ExitCode::from(2);
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(async {
        println!();
        let timeout = std::time::Duration::from_secs(3);
        let database = Database::connect_lazy(
            &config.database_url,
            PoolOptions {
                max_size: 1,
                timeout,
            },
        );
        let answered = match database {
            Ok(db) => tokio::time::timeout(timeout * 2, db.ping())
                .await
                .map_err(|_| "no answer".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string())),
            Err(e) => Err(e.to_string()),
        };
        match answered {
            Ok(()) => println!("MariaDB at {}: answers", config.database_url),
            Err(e) => println!("MariaDB at {}: does not answer: {e}", config.database_url),
        }
        match &config.redis_url {
            None => println!("Redis: not configured (RTS_REDIS_URL unset: one node)"),
            Some(url) => {
                match realtime::probe_redis(secrecy::ExposeSecret::expose_secret(url), timeout)
                    .await
                {
                    Ok(()) => println!("Redis: answers"),
                    Err(e) => println!("Redis: cannot be used: {e}"),
                }
            }
        }
    });
    ExitCode::SUCCESS
}
