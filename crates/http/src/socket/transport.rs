//! What a connection needs from its byte stream: readiness to wait on, and reads and
//! vectored writes that never wait. The TCP stream is the one used in production; tests
//! put an in-memory pipe here, so partial writes and slow readers are decided by the test,
//! not by the kernel's buffer sizes.

use std::future::Future;
use std::io::{self, IoSlice};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A non-blocking byte stream in the style of tokio's `TcpStream`: wait until it is
/// readable or writable, then try; a try that would wait answers `WouldBlock`.
pub(super) trait Transport {
    fn readable(&self) -> impl Future<Output = io::Result<()>>;
    fn writable(&self) -> impl Future<Output = io::Result<()>>;
    /// `Ok(0)` once the peer closed its sending side.
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Says we will send nothing more (TCP's FIN).
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>>;
}

impl Transport for TcpStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> {
        TcpStream::readable(self)
    }

    fn writable(&self) -> impl Future<Output = io::Result<()>> {
        TcpStream::writable(self)
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::try_read(self, buf)
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        TcpStream::try_write_vectored(self, bufs)
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        AsyncWriteExt::shutdown(self)
    }
}

#[cfg(test)]
pub(super) mod pipe {
    //! An in-memory stream with a send window the test controls: the server end sees
    //! `WouldBlock` once the client has that many unread bytes.

    use std::collections::VecDeque;
    use std::io::{self, IoSlice};
    use std::sync::{Arc, Mutex, MutexGuard};

    use tokio::sync::Notify;

    #[derive(Debug, Default)]
    struct State {
        /// Client to server, not yet read by the server.
        inbound: VecDeque<u8>,
        /// Server to client, not yet read by the client.
        outbound: VecDeque<u8>,
        /// How many unread bytes the client holds before the server's writes block.
        window: usize,
        client_closed: bool,
        server_closed: bool,
        /// Vectored writes that took less than offered.
        partial_writes: usize,
    }

    #[derive(Debug, Default)]
    struct Shared {
        state: Mutex<State>,
        changed: Notify,
    }

    impl Shared {
        fn lock(&self) -> MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// Waits until `ready` holds.
        async fn until(&self, ready: impl Fn(&State) -> bool) {
            loop {
                let notified = self.changed.notified();
                if ready(&self.lock()) {
                    return;
                }
                notified.await;
            }
        }

        fn changed(&self) {
            self.changed.notify_waiters();
        }
    }

    /// The server's end, given to the connection.
    #[derive(Debug)]
    pub struct ServerEnd(Arc<Shared>);

    /// The test's end: what a client would do.
    #[derive(Debug, Clone)]
    pub struct ClientEnd(Arc<Shared>);

    /// A pipe whose server end may have at most `window` bytes unread by the client.
    pub fn pipe(window: usize) -> (ServerEnd, ClientEnd) {
        let shared = Arc::new(Shared::default());
        shared.lock().window = window;
        (ServerEnd(Arc::clone(&shared)), ClientEnd(shared))
    }

    impl super::Transport for ServerEnd {
        async fn readable(&self) -> io::Result<()> {
            self.0
                .until(|s| !s.inbound.is_empty() || s.client_closed)
                .await;
            Ok(())
        }

        async fn writable(&self) -> io::Result<()> {
            self.0
                .until(|s| s.outbound.len() < s.window || s.client_closed)
                .await;
            Ok(())
        }

        fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
            let mut s = self.0.lock();
            if s.inbound.is_empty() {
                return if s.client_closed {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(s.inbound.len());
            for (slot, byte) in buf.iter_mut().zip(s.inbound.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }

        fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut s = self.0.lock();
            if s.client_closed {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let room = s.window.saturating_sub(s.outbound.len());
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let offered: usize = bufs.iter().map(|b| b.len()).sum();
            let mut left = room;
            for buf in bufs {
                let take = buf.len().min(left);
                s.outbound.extend(&buf[..take]);
                left -= take;
            }
            if offered > room {
                s.partial_writes += 1;
            }
            drop(s);
            self.0.changed();
            Ok(offered.min(room))
        }

        async fn shutdown(&mut self) -> io::Result<()> {
            self.0.lock().server_closed = true;
            self.0.changed();
            Ok(())
        }
    }

    impl Drop for ServerEnd {
        fn drop(&mut self) {
            self.0.lock().server_closed = true;
            self.0.changed();
        }
    }

    impl ClientEnd {
        /// Sends bytes to the server.
        pub fn send(&self, bytes: &[u8]) {
            self.0.lock().inbound.extend(bytes);
            self.0.changed();
        }

        /// Closes the client's sending side.
        pub fn close(&self) {
            self.0.lock().client_closed = true;
            self.0.changed();
        }

        /// Takes up to `max` bytes the server wrote, without waiting.
        pub fn read(&self, max: usize) -> Vec<u8> {
            let mut s = self.0.lock();
            let n = max.min(s.outbound.len());
            let bytes = s.outbound.drain(..n).collect();
            drop(s);
            self.0.changed();
            bytes
        }

        /// Waits until the server wrote something or closed; false once closed and empty.
        pub async fn wait_output(&self) -> bool {
            self.0
                .until(|s| !s.outbound.is_empty() || s.server_closed)
                .await;
            !self.0.lock().outbound.is_empty()
        }

        /// Whether the server closed its sending side.
        pub fn server_closed(&self) -> bool {
            self.0.lock().server_closed
        }

        /// Bytes sent that the server has not read yet.
        pub fn unread_by_server(&self) -> usize {
            self.0.lock().inbound.len()
        }

        /// Writes that did not fit whole.
        pub fn partial_writes(&self) -> usize {
            self.0.lock().partial_writes
        }
    }
}
