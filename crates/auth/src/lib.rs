//! Who a caller is and what it may do: argon2id passwords (off the async threads), access
//! tokens (JWT, HS256 pinned) and rotating refresh tokens bound to devices, the gate that
//! makes revocations take effect at once, the role policy table, and the in-process rate
//! limiter.

mod accounts;
mod error;
mod gate;
mod limits;
mod password;
mod policy;
mod sessions;
mod tokens;

pub use accounts::{AccountChange, Accounts};
pub use error::{Error, Result};
pub use gate::Admitted;
pub use limits::InProcessLimiter;
pub use password::{Password, PasswordHasher};
pub use policy::RolePolicy;
pub use sessions::{Login, Session, SessionTimes, Sessions, SignUp, Stores};
pub use tokens::{AccessClaims, AccessTokens, MIN_SECRET_BYTES, WeakSecret};
