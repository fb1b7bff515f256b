//! `floor`: what one delivery costs the kernel on this machine, with no server involved.
//!
//! A writer thread sends a WebSocket-sized text frame (header and payload in one `writev`,
//! as the server does) to each of N loopback TCP connections in turn, R rounds a second;
//! a reader thread with a tokio runtime reads them, as the benchmark's subscribers do. The
//! writer's CPU time per write is the least a server can spend per delivery here, because
//! on loopback the sender's system call also runs the receiver's TCP processing.

use std::io::{IoSlice, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::procfs;

pub struct Plan {
    pub sockets: usize,
    /// Rounds per second: one frame to every socket per round.
    pub rate: f64,
    pub seconds: u64,
    /// Payload bytes per frame.
    pub bytes: usize,
}

fn connect_pairs(n: usize) -> Result<(Vec<TcpStream>, Vec<TcpStream>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (mut writers, mut readers) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let reader = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        let (writer, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        writer.set_nodelay(true).map_err(|e| e.to_string())?;
        reader.set_nonblocking(true).map_err(|e| e.to_string())?;
        writers.push(writer);
        readers.push(reader);
    }
    Ok((writers, readers))
}

/// Reads every connection to its end; returns the bytes read and the thread's CPU time.
fn read_all(readers: Vec<TcpStream>) -> Result<(u64, Duration), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let cpu_start = procfs::thread_cpu_time();
    let total = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(readers.len());
        for std_stream in readers {
            let total = total.clone();
            let stream = tokio::net::TcpStream::from_std(std_stream).map_err(|e| e.to_string())?;
            tasks.push(tokio::spawn(async move {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    total.fetch_add(n as u64, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok::<(), String>(())
    })?;
    let cpu = procfs::thread_cpu_time()
        .zip(cpu_start)
        .map_or(Duration::ZERO, |(b, a)| b.saturating_sub(a));
    Ok((total.load(Ordering::Relaxed), cpu))
}

pub fn run(plan: Plan) -> Result<(), String> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let (mut writers, readers) = connect_pairs(plan.sockets)?;
    let reader = std::thread::spawn(move || read_all(readers));
    let payload = vec![b'x'; plan.bytes];
    let header: [u8; 4] = match plan.bytes {
        0..=125 => [0x81, plan.bytes as u8, 0, 0],
        _ => {
            let len = u16::try_from(plan.bytes).map_err(|_| "--bytes at most 65535")?;
            let [hi, lo] = len.to_be_bytes();
            [0x81, 126, hi, lo]
        }
    };
    let header = &header[..if plan.bytes <= 125 { 2 } else { 4 }];
    let frame_len = (header.len() + payload.len()) as u64;

    let cpu_start = procfs::thread_cpu_time();
    let started = Instant::now();
    let end = started + Duration::from_secs(plan.seconds);
    let mut writes = 0u64;
    let mut round = 0u64;
    while Instant::now() < end {
        let due = started + Duration::from_secs_f64(round as f64 / plan.rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        for w in &mut writers {
            let parts = [IoSlice::new(header), IoSlice::new(&payload)];
            let n = w
                .write_vectored(&parts)
                .map_err(|e| format!("write: {e}"))?;
            if n as u64 != frame_len {
                w.write_all(&[header, &payload[..]].concat()[n..])
                    .map_err(|e| format!("write: {e}"))?;
            }
            writes += 1;
        }
        round += 1;
    }
    let elapsed = started.elapsed();
    let writer_cpu = procfs::thread_cpu_time()
        .zip(cpu_start)
        .map_or(Duration::ZERO, |(b, a)| b.saturating_sub(a));
    // Closing the writers ends the readers once they have read everything.
    drop(writers);
    let (read, reader_cpu) = reader
        .join()
        .map_err(|_| "the reader thread panicked".to_owned())??;

    let per_write = writer_cpu.as_secs_f64() * 1e6 / writes.max(1) as f64;
    println!(
        "loopback floor: {} sockets, {} rounds/s, {}-byte payloads, {:.0} s",
        plan.sockets,
        plan.rate,
        plan.bytes,
        elapsed.as_secs_f64()
    );
    println!(
        "{writes} writes ({:.0}/s); {} of {} bytes read",
        writes as f64 / elapsed.as_secs_f64(),
        read,
        writes * frame_len
    );
    println!(
        "writer: {:.2} cores, {per_write:.2} us per write (the server's floor per delivery)",
        writer_cpu.as_secs_f64() / elapsed.as_secs_f64()
    );
    println!(
        "reader: {:.2} cores, {:.2} us per frame",
        reader_cpu.as_secs_f64() / elapsed.as_secs_f64(),
        reader_cpu.as_secs_f64() * 1e6 / writes.max(1) as f64
    );
    Ok(())
}
