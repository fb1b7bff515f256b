//! The heart of realtime-server: entities, validated value types, ids, errors and the
//! ports (traits) that the outer crates implement. This crate does no I/O.
//!
//! Values that come from outside are parsed into the types in [`values`] once, at the
//! boundary; past that point an invalid email, username, video id, device id or comment
//! body cannot exist.

pub mod audit;
pub mod comments;
pub mod entities;
pub mod error;
pub mod ids;
pub mod limits;
pub mod mirror;
pub mod page;
pub mod policy;
pub mod ports;
pub mod tokens;
pub mod values;
pub mod wire;

pub use entities::{Comment, Device, NewComment, NewUser, Role, User};
pub use error::{Error, Result};
pub use ids::{CommentId, DeviceRowId, RefreshTokenId, UserId};
pub use page::{Page, PageRequest};
pub use values::{ClientId, CommentBody, DeviceId, Email, Username, ValidationError, VideoId};
