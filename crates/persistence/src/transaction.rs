//! The [`UnitOfWork`] port: one MariaDB transaction on one pooled connection, with the
//! stores bound to it.
//!
//! `begin` takes a connection from the pool and sends `BEGIN`; the returned transaction's
//! stores are a [`Database`] bound to that connection. `commit` and `rollback` end it and
//! hand the connection back. A transaction dropped while open (an early return, or the
//! request was cancelled mid-query) never returns its connection: it is closed, and
//! MariaDB rolls back what it had not committed.

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, TransactionManager};
use domain::mirror::MirrorOutbox;
use domain::ports::{
    AuditLog, CommentStore, DeviceStore, RefreshTokenStore, Transaction, UnitOfWork, UserStore,
};

use crate::database::{Conn, Database};
use crate::error::Error;

type Manager = <AsyncMysqlConnection as AsyncConnection>::TransactionManager;

/// The error of a store call on a transaction that already ended (a bug in the caller).
pub(crate) fn finished() -> Error {
    Error::TransactionEnded
}

#[async_trait]
impl UnitOfWork for Database {
    async fn begin(&self) -> domain::Result<Box<dyn Transaction>> {
        let mut conn = self.conn().await?;
        Manager::begin_transaction(&mut *conn)
            .await
            .map_err(Error::from)?;
        Ok(Box::new(DbTransaction {
            stores: self.bound_to(conn),
        }))
    }
}

/// An open transaction; its stores are a [`Database`] bound to its connection.
struct DbTransaction {
    stores: Database,
}

impl DbTransaction {
    /// The connection, taken out so that later store calls fail instead of running
    /// outside the transaction.
    async fn take(&self) -> Option<Conn> {
        self.stores.bound()?.lock().await.take()
    }
}

#[async_trait]
impl Transaction for DbTransaction {
    fn users(&self) -> &dyn UserStore {
        &self.stores
    }

    fn devices(&self) -> &dyn DeviceStore {
        &self.stores
    }

    fn tokens(&self) -> &dyn RefreshTokenStore {
        &self.stores
    }

    fn comments(&self) -> &dyn CommentStore {
        &self.stores
    }

    fn audit(&self) -> &dyn AuditLog {
        &self.stores
    }

    fn outbox(&self) -> &dyn MirrorOutbox {
        &self.stores
    }

    async fn commit(self: Box<Self>) -> domain::Result<()> {
        let mut conn = self.take().await.ok_or_else(finished)?;
        // On failure the connection is dropped unreleased: closed, so rolled back.
        Manager::commit_transaction(&mut *conn)
            .await
            .map_err(Error::from)?;
        conn.release();
        Ok(())
    }

    async fn rollback(self: Box<Self>) {
        if let Some(mut conn) = self.take().await
            && Manager::rollback_transaction(&mut *conn).await.is_ok()
        {
            conn.release();
        }
    }
}
