//! The realtime-server binary's library half: configuration, telemetry, wiring and the
//! `migrate` and `seed` commands. `main.rs` only parses the command line and calls in here,
//! and black-box tests start the same server on port 0.

mod access;
mod app;
pub mod config;
mod health;
mod metrics_help;
pub mod mirror;
pub mod seed;
pub mod telemetry;

pub use app::{StartError, start};
pub use config::{Config, ConfigError};
