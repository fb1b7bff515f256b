//! Who a caller is and what it may do: argon2id password hashing (off the async threads),
//! and, as the REST issue lands, tokens, refresh rotation, devices and the role policy.

mod error;
mod password;

pub use error::{Error, Result};
pub use password::{Password, PasswordHasher};
