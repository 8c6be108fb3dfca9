//! A minimal HTTP/1.1 client over one keep-alive TCP connection, and the response parser it uses.
//!
//! Written here rather than taken from a crate so that the load generator adds nothing between the
//! socket and the clock: one `write_all` per request, reads until the response is complete.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head or body the client accepts (our pages are a few kilobytes).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A parsed response head: status, body framing and whether the server keeps the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// `Content-Length`, when given.
    pub content_length: Option<usize>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `Connection: close` (or HTTP/1.0 without keep-alive).
    pub close: bool,
    /// Length of the head, blank line included.
    pub head_len: usize,
    /// The `name=value` of each `Set-Cookie` (attributes dropped).
    pub cookies: Vec<String>,
}

/// Parses the response head at the start of `buf`; `None` when it is not complete yet.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            bail!("response head longer than 64 KiB");
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
        head_len: end + 4,
        cookies: Vec::new(),
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = Some(value.parse().context("bad Content-Length")?),
            "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" if value.eq_ignore_ascii_case("close") => head.close = true,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => head.close = false,
            "set-cookie" => head
                .cookies
                .push(value.split(';').next().unwrap_or_default().trim().to_owned()),
            _ => {}
        }
    }
    Ok(Some(head))
}

/// Decodes a complete chunked body; `None` when more bytes are needed.
pub fn dechunk(mut buf: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&buf[..eol]).context("chunk size is not text")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size {size_text:?}"))?;
        let start = eol + 2;
        if size == 0 {
            return Ok(if buf.len() >= start + 2 { Some(out) } else { None });
        }
        if buf.len() < start + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&buf[start..start + size]);
        buf = &buf[start + size + 2..];
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The `name=value` of each `Set-Cookie`.
    pub cookies: Vec<String>,
}

/// One client connection; reconnects by itself when the server closed it.
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    request: Vec<u8>,
}

impl Connection {
    /// A connection to `addr`, opened on first use.
    pub fn new(addr: SocketAddr) -> Self {
        Connection {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            request: Vec::with_capacity(4 * 1024),
        }
    }

    /// Sends one request and reads its response. `headers` are extra `Name: value` lines.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        self.request.clear();
        let host = self.addr.to_string();
        self.request
            .extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
        for (name, value) in headers {
            self.request
                .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        self.request
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        let result = self.exchange().await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self) -> Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connect {}", self.addr))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            bail!("no connection")
        };
        stream.write_all(&self.request).await.context("write request")?;
        self.buf.clear();
        let mut head = None;
        loop {
            if head.is_none() {
                head = parse_head(&self.buf)?;
            }
            if let Some(h) = &head {
                let body = &self.buf[h.head_len..];
                if let Some(len) = h.content_length {
                    if body.len() >= len {
                        let response = Response {
                            status: h.status,
                            body: body[..len].to_vec(),
                            cookies: h.cookies.clone(),
                        };
                        if h.close {
                            self.stream = None;
                        }
                        return Ok(response);
                    }
                } else if h.chunked {
                    if let Some(decoded) = dechunk(body)? {
                        let response = Response {
                            status: h.status,
                            body: decoded,
                            cookies: h.cookies.clone(),
                        };
                        if h.close {
                            self.stream = None;
                        }
                        return Ok(response);
                    }
                } else if matches!(h.status, 204 | 304) || (100..200).contains(&h.status) {
                    return Ok(Response {
                        status: h.status,
                        body: Vec::new(),
                        cookies: h.cookies.clone(),
                    });
                }
            }
            if self.buf.len() > MAX_RESPONSE_BYTES {
                bail!("response larger than {MAX_RESPONSE_BYTES} bytes");
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = stream.read(&mut chunk).await.context("read response")?;
            if n == 0 {
                // Closed: complete only when the body was delimited by the end of the connection.
                self.stream = None;
                return match head {
                    Some(h) if h.content_length.is_none() && !h.chunked => Ok(Response {
                        status: h.status,
                        body: self.buf[h.head_len..].to_vec(),
                        cookies: h.cookies,
                    }),
                    _ => bail!("connection closed before the response was complete"),
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Waits until something accepts TCP connections on `addr`, for at most `timeout`.
pub async fn wait_listening(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("nothing listens on {addr} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keep_alive_head_with_a_length_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\ncontent-type: text/plain\r\n\r\nVERIFIED";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.content_length, Some(8));
        assert!(!head.close);
        assert_eq!(&raw[head.head_len..], b"VERIFIED");
    }

    #[test]
    fn an_incomplete_head_asks_for_more_bytes() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
    }

    #[test]
    fn gunicorn_style_connection_close_is_noticed() {
        let head = parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.close);
        assert_eq!(head.content_length, None);
    }

    #[test]
    fn a_chunked_body_is_joined_once_complete() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n").unwrap(), None);
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            Some(b"abcde".to_vec())
        );
    }
}

/// Parses a request head at the start of `buf`: `(head length, Content-Length)`; `None` when incomplete.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(usize, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            bail!("request head longer than 64 KiB");
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).context("request head is not UTF-8")?;
    let mut length = 0;
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("bad Content-Length")?;
        }
    }
    Ok(Some((end + 4, length)))
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn a_postback_request_head_gives_its_body_length() {
        let raw = b"POST /cgi-bin/webscr HTTP/1.1\r\nhost: x\r\ncontent-length: 24\r\n\r\ncmd=_notify-validate&a=b";
        assert_eq!(parse_request_head(raw).unwrap(), Some((62, 24)));
        assert_eq!(parse_request_head(b"POST / HTTP/1.1\r\n").unwrap(), None);
    }
}
