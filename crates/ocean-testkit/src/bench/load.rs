//! A lean HTTP/1.1 load generator for loopback benchmarks: one keep-alive TCP
//! connection per worker and each request written from bytes built before the
//! clock starts. The generator shares the machine's two cores with the server
//! it measures; a general client (reqwest) spent as much CPU per request as the
//! server did, so the figures measured the generator as much as the server.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for one answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer head read (status line and headers).
const HEAD_MAX: usize = 16 * 1024;

/// A `POST` request's bytes: head and body, ready to write.
pub fn post_request(host: &str, path_and_query: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut request = format!("POST {path_and_query} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One keep-alive connection; reconnects after the server closed it or failed.
pub struct Connection {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    pub fn new(addr: &str) -> Connection {
        Connection {
            addr: addr.to_string(),
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Sends one request and returns the answer's status. An error leaves the
    /// connection closed (the next call opens a new one); nothing is resent.
    pub async fn send(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        match tokio::time::timeout(ANSWER_TIMEOUT, self.exchange(request)).await {
            Ok(Ok((status, keep_alive))) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(status)
            }
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                bail!("no answer within {ANSWER_TIMEOUT:?}")
            }
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<(u16, bool)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().context("a connection")?;
        stream.write_all(request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end + 4;
            }
            if self.buf.len() > HEAD_MAX {
                bail!("an answer head over {HEAD_MAX} bytes");
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("an answer head that is not text")?;
        let answer = Head::parse(head)?;
        while self.buf.len() < head_end + answer.content_length {
            read_more(stream, &mut self.buf).await?;
        }
        Ok((answer.status, answer.keep_alive))
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the generator needs of an answer's head.
struct Head {
    status: u16,
    content_length: usize,
    keep_alive: bool,
}

impl Head {
    fn parse(head: &str) -> anyhow::Result<Head> {
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("an answer without a status: {status_line:?}"))?;
        let mut content_length = None;
        let mut keep_alive = true;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse().context("a Content-Length that is not a number")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("a chunked answer (the generator reads only Content-Length bodies)");
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            }
        }
        Ok(Head {
            status,
            content_length: content_length.unwrap_or(0),
            keep_alive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_length_and_close() {
        let head = Head::parse("HTTP/1.1 202 Accepted\r\ncontent-length: 11\r\nconnection: close\r\n\r\n")
            .expect("a head");
        assert_eq!(
            (head.status, head.content_length, head.keep_alive),
            (202, 11, false)
        );
        assert!(Head::parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(Head::parse("garbage\r\n\r\n").is_err());
    }

    #[test]
    fn a_request_carries_its_length() {
        let bytes = post_request(
            "h:1",
            "/x?token=t",
            &[("Content-Type", "application/json")],
            b"{}",
        );
        let text = String::from_utf8(bytes).expect("text");
        assert!(text.starts_with("POST /x?token=t HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
    }
}
