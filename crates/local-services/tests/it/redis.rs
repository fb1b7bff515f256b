//! A private Redis: start, `redis-cli ping`, stop, restart, reuse.

use local_services::{Redis, RedisReply, find_redis_server, redis_answers, redis_ping};

use crate::{PROBE, TestDir, addr, run};

fn redis_cli_ping(port: u16) -> String {
    let out = run(
        "redis-cli",
        &["-h", "127.0.0.1", "-p", &port.to_string(), "ping"],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn binary_is_found() {
    assert!(find_redis_server().is_some());
}

#[test]
fn starts_stops_and_restarts_on_the_same_port() {
    let dir = TestDir::new("redis-restart");
    let mut redis = Redis::start(dir.path(), None).expect("Redis started");
    let port = redis.port();
    assert_ne!(port, 6379);
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert_eq!(redis_ping(&addr(port), PROBE), Some(RedisReply::Pong));
    assert_eq!(redis_cli_ping(port), "PONG");

    redis.stop().expect("Redis stopped");
    assert!(!redis_answers(&addr(port), PROBE));
    redis.stop().expect("stopping twice is fine");

    redis.restart().expect("Redis restarted");
    assert_eq!(redis.port(), port);
    assert!(redis_answers(&addr(port), PROBE));
    assert_eq!(redis_cli_ping(port), "PONG");
    drop(redis);
    assert!(!redis_answers(&addr(port), PROBE), "dropping stops it");
}

#[test]
fn a_second_start_reuses_a_detached_instance() {
    let dir = TestDir::new("redis-reuse");
    let first = Redis::start(dir.path(), None).expect("Redis started");
    let port = first.port();
    let pid = first.detach().expect("running");
    assert!(redis_answers(&addr(port), PROBE), "detached: still running");

    let mut second = Redis::start(dir.path(), None).expect("running Redis reused");
    assert_eq!(second.port(), port);
    assert_eq!(second.pid(), Some(pid));
    second.stop().expect("reused Redis stopped");
    assert!(!redis_answers(&addr(port), PROBE));
}
