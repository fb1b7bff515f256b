//! A private MariaDB: start, a real client logging in as root over TCP, stop, restart, reuse.

use std::time::Instant;

use local_services::{Error, MariaDb, find_mariadb_install_db, find_mariadbd, mariadb_answers};

use crate::{PROBE, TestDir, addr, run};

/// Runs `sql` with the `mariadb` client as root with an empty password, over TCP.
fn sql(port: u16, sql: &str) -> String {
    let port = port.to_string();
    let out = run(
        "mariadb",
        &[
            "--no-defaults",
            "--protocol=TCP",
            "-h127.0.0.1",
            &format!("-P{port}"),
            "-uroot",
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
        ],
    );
    assert!(
        out.status.success(),
        "mariadb -e {sql:?} on port {port} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn binaries_are_found() {
    assert!(find_mariadbd().is_some());
    assert!(find_mariadb_install_db().is_some());
}

#[test]
fn starts_stops_and_restarts_on_the_same_port() {
    let dir = TestDir::new("mariadb-restart");
    let started = Instant::now();
    let mut db = MariaDb::start(dir.path(), None).expect("MariaDB started");
    eprintln!(
        "first start (with mariadb-install-db): {:?}",
        started.elapsed()
    );
    let port = db.port();
    assert_ne!(port, 3306);
    assert_eq!(db.url("app"), format!("mysql://root@127.0.0.1:{port}/app"));
    assert!(mariadb_answers(&addr(port), PROBE));
    assert_eq!(sql(port, "select 1"), "1");
    assert_eq!(sql(port, "select @@port"), port.to_string());
    sql(port, "create database kept_across_restarts");

    let stopping = Instant::now();
    db.stop().expect("MariaDB stopped");
    eprintln!("stop: {:?}", stopping.elapsed());
    assert!(db.pid().is_none());
    assert!(!mariadb_answers(&addr(port), PROBE));
    db.stop().expect("stopping twice is fine");

    let restarting = Instant::now();
    db.restart().expect("MariaDB restarted");
    eprintln!("restart: {:?}", restarting.elapsed());
    assert_eq!(db.port(), port);
    assert!(mariadb_answers(&addr(port), PROBE));
    assert_eq!(sql(port, "select 1"), "1");
    assert_eq!(
        sql(port, "show databases like 'kept_across_restarts'"),
        "kept_across_restarts"
    );

    // restart() on a running server stops it first.
    db.restart().expect("MariaDB restarted while running");
    assert_eq!(sql(port, "select 1"), "1");
    drop(db);
    assert!(!mariadb_answers(&addr(port), PROBE), "dropping stops it");
}

#[test]
fn a_second_start_reuses_a_detached_instance() {
    let dir = TestDir::new("mariadb-reuse");
    let first = MariaDb::start(dir.path(), None).expect("MariaDB started");
    let port = first.port();
    let pid = first.detach().expect("running");
    assert!(
        mariadb_answers(&addr(port), PROBE),
        "detached: still running"
    );

    let mut second = MariaDb::start(dir.path(), None).expect("running MariaDB reused");
    assert_eq!(second.port(), port);
    assert_eq!(second.pid(), Some(pid));
    assert!(matches!(
        MariaDb::start(dir.path(), Some(port.wrapping_add(1).max(1024))),
        Err(Error::RunningOnOtherPort { .. })
    ));

    // The reused instance is not our child, yet stop() works.
    second.stop().expect("reused MariaDB stopped");
    assert!(!mariadb_answers(&addr(port), PROBE));

    // Stopped: the next start keeps the recorded port (so the URL stays the same).
    let third = MariaDb::start(dir.path(), None).expect("MariaDB started again");
    assert_eq!(third.port(), port);
    assert_ne!(third.pid(), Some(pid));
}

#[test]
fn a_port_in_use_is_reported() {
    let dir = TestDir::new("mariadb-port-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    let port = taken.local_addr().expect("address").port();
    match MariaDb::start(dir.path(), Some(port)) {
        Err(Error::PortInUse { port: p }) => assert_eq!(p, port),
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[test]
fn works_in_a_directory_with_a_long_path() {
    // Too long for a unix socket path (107 bytes) under the directory: the socket goes elsewhere.
    let dir = TestDir::new(&format!("mariadb-long-{}", "x".repeat(100)));
    let db = MariaDb::start(dir.path(), None).expect("MariaDB started");
    assert_eq!(sql(db.port(), "select 1"), "1");
}

#[test]
fn a_server_that_fails_reports_its_log() {
    let dir = TestDir::new("mariadb-broken");
    // Looks initialised, but the system tablespace is garbage.
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("mysql")).expect("created");
    std::fs::write(data.join("ibdata1"), vec![0x5a; 1 << 20]).expect("written");
    match MariaDb::start(dir.path(), None) {
        Err(Error::DidNotStart { what, log_tail, .. }) => {
            eprintln!("{what}\n{log_tail}");
            assert!(what.contains("exited"), "{what}");
            assert!(log_tail.contains("[ERROR]"), "{log_tail}");
        }
        other => panic!("expected DidNotStart, got {other:?}"),
    }
}
