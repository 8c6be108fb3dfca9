//! A local stand-in for PayPal's postback endpoint: answers `VERIFIED` to a well-framed postback, at
//! once or after a fixed delay (PayPal's round trip), over keep-alive HTTP/1.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http::parse_request_head;

/// What a postback starts with (PayPal's framing).
const PREFIX: &[u8] = b"cmd=_notify-validate&";

/// A running stub; dropped = stopped.
pub struct Stub {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Postbacks answered so far.
    pub postbacks: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the stub on a free loopback port.
pub async fn start(delay: Duration) -> Result<Stub> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let postbacks = Arc::new(AtomicU64::new(0));
    let counter = postbacks.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let _ = serve(stream, delay, counter).await;
            });
        }
    });
    Ok(Stub { addr, postbacks, task })
}

async fn serve(mut stream: TcpStream, delay: Duration, counter: Arc<AtomicU64>) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        let (head_len, body_len) = loop {
            if let Some(found) = parse_request_head(&buf)? {
                break found;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        while buf.len() < head_len + body_len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let verified = buf[head_len..head_len + body_len].starts_with(PREFIX);
        buf.drain(..head_len + body_len);
        counter.fetch_add(1, Ordering::Relaxed);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let answer: &[u8] = if verified {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: 8\r\n\r\nVERIFIED"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: 7\r\n\r\nINVALID"
        };
        stream.write_all(answer).await?;
    }
}
