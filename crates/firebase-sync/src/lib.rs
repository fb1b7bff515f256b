//! Mirrors comments and presence into Firebase Realtime Database, fed from the
//! transactional outbox so nothing the database committed is lost. (Arrives with its issue.)
