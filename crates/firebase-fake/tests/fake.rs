//! Black-box tests of the Firebase fake over real HTTP, with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "fake/support.rs"]
mod support;

#[path = "fake/auth.rs"]
mod auth;
#[path = "fake/data.rs"]
mod data;
#[path = "fake/etags.rs"]
mod etags;
#[path = "fake/faults.rs"]
mod faults;
#[path = "fake/journal.rs"]
mod journal;
