//! Finding the installed server binaries, and how to install them.

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The command that installs MariaDB (`mariadbd`, `mariadb-install-db`) on Debian/Ubuntu.
pub const MARIADB_INSTALL_HINT: &str = "sudo apt-get install -y mariadb-server";
/// The command that installs Redis (`redis-server`) on Debian/Ubuntu.
pub const REDIS_INSTALL_HINT: &str = "sudo apt-get install -y redis-server";

pub(crate) const MARIADB_BREW_HINT: &str = "brew install mariadb";
pub(crate) const REDIS_BREW_HINT: &str = "brew install redis";

/// Searched after PATH: server binaries often live in sbin directories that are not on a user's PATH.
const EXTRA_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/bin",
    "/usr/local/bin",
    "/opt/homebrew/sbin",
    "/opt/homebrew/bin",
];

/// Where `mariadbd` is: on PATH, else in /usr/sbin, /usr/local/sbin, /usr/bin (or Homebrew's dirs).
pub fn find_mariadbd() -> Option<PathBuf> {
    find_program("mariadbd")
}

/// Where `mariadb-install-db` (or the older `mysql_install_db`) is, searched like [`find_mariadbd`].
pub fn find_mariadb_install_db() -> Option<PathBuf> {
    find_program("mariadb-install-db").or_else(|| find_program("mysql_install_db"))
}

/// Where `redis-server` is, searched like [`find_mariadbd`].
pub fn find_redis_server() -> Option<PathBuf> {
    find_program("redis-server")
}

pub(crate) fn require(
    found: Option<PathBuf>,
    program: &'static str,
    hint: &'static str,
    brew_hint: &'static str,
) -> Result<PathBuf, Error> {
    found.ok_or_else(|| Error::NotInstalled {
        program,
        searched: EXTRA_DIRS.join(", "),
        hint,
        brew_hint,
    })
}

/// Where program `name` is: on PATH, else in the sbin and Homebrew directories searched for the
/// servers (nginx and promtool live there too).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let on_path = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
