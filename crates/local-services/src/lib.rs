//! Private MariaDB and Redis instances, started from the binaries installed on the machine, for
//! development (`cargo xtask services`, `cargo xtask dev`) and for tests.
//!
//! Each instance lives in a directory of its own (data, logs, pid file and the chosen port) and
//! listens on 127.0.0.1 only, on a port of its own: the shared servers on 3306 and 6379 are never
//! touched. Everything is synchronous and uses only std.
//!
//! ```no_run
//! # fn main() -> Result<(), local_services::Error> {
//! use std::path::Path;
//!
//! let mut db = local_services::MariaDb::start(Path::new("target/services/mariadb"), None)?;
//! println!("DATABASE_URL={}", db.url("realtime"));
//! db.stop()?;
//! db.restart()?; // same directory, same port
//! # Ok(())
//! # }
//! ```
//!
//! A started instance is stopped when its value is dropped, unless it was [detached](MariaDb::detach).
//! Children run in a process group of their own, so a Ctrl-C in the terminal does not reach them;
//! a later `start` on the same directory finds a still-running instance (pid file, process working
//! in that directory, answering on the recorded port) and reuses it.

mod error;
mod find;
mod instance;
mod mariadb;
mod probe;
mod redis;

pub use error::Error;
pub use find::{
    MARIADB_INSTALL_HINT, REDIS_INSTALL_HINT, find_mariadb_install_db, find_mariadbd, find_program,
    find_redis_server,
};
pub use mariadb::MariaDb;
pub use probe::{RedisReply, mariadb_answers, redis_answers, redis_ping};
pub use redis::Redis;
