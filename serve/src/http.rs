//! A small HTTP/1.1 server on `std::net`: a fixed pool of worker threads, each accepting
//! on the shared listener and serving one connection at a time (keep-alive supported).
//!
//! Limits: request line plus headers at most [`HttpOptions::max_header_bytes`] (431),
//! bodies only with `Content-Length` (411 for chunked), at most
//! [`crate::request::MAX_BODY_BYTES`] (413), a read timeout per connection (an idle
//! keep-alive connection is closed; a request cut off mid-way gets 408). Every error is a
//! JSON body naming the problem. A panic in a handler becomes a 500 (last line of
//! defence; handlers do not panic on any input).

use crate::request::MAX_BODY_BYTES;
use crate::{Reply, Service};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Options of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// Worker threads (each serves one connection at a time).
    pub workers: usize,
    /// Read and write timeout of a connection; an idle keep-alive connection is closed
    /// after it.
    pub timeout: Duration,
    /// Most bytes of request line plus headers.
    pub max_header_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            workers: 8,
            timeout: Duration::from_secs(10),
            max_header_bytes: 8 * 1024,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts `opts.workers` workers on `listener`.
    pub fn start(
        listener: TcpListener,
        service: Arc<Service>,
        opts: HttpOptions,
    ) -> io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for i in 0..opts.workers.max(1) {
            let l = listener.try_clone()?;
            let (svc, stop) = (service.clone(), stop.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || worker(l, svc, opts, stop))?,
            );
        }
        Ok(HttpServer {
            addr,
            stop,
            workers,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the server stops (it stops only with [`HttpServer::shutdown`]).
    pub fn join(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stops accepting, lets each worker finish its connection, and joins them.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            // Wake workers blocked in accept.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
        self.join();
    }
}

fn worker(listener: TcpListener, service: Arc<Service>, opts: HttpOptions, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let _ = serve_connection(stream, &service, &opts, &stop);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    content_length: usize,
    keep_alive: bool,
    expect_continue: bool,
}

/// An HTTP-level error: status, code, message; the connection closes after it.
struct HttpError(u16, &'static str, String);

/// Reads one line (with its `\n`) within the header budget.
fn read_line(
    r: &mut impl BufRead,
    budget: &mut usize,
    buf: &mut Vec<u8>,
) -> Result<usize, HttpError> {
    buf.clear();
    let n = r
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(io_error)?;
    if n > *budget {
        return Err(HttpError(
            431,
            "headers_too_large",
            "request line and headers exceed the limit".into(),
        ));
    }
    *budget -= n;
    Ok(n)
}

fn io_error(e: io::Error) -> HttpError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError(
            408,
            "request_timeout",
            "the request was not received in time".into(),
        ),
        _ => HttpError(400, "bad_request", format!("reading the request: {e}")),
    }
}

/// Reads a request head. Ok(None): the peer closed (or stayed idle) before a request.
fn read_head(r: &mut BufReader<TcpStream>, opts: &HttpOptions) -> Result<Option<Head>, HttpError> {
    let mut budget = opts.max_header_bytes;
    let mut line = Vec::with_capacity(256);
    // Skip blank lines before a request (RFC 9112 2.2); EOF or timeout here ends quietly.
    loop {
        match r.fill_buf() {
            Ok([]) => return Ok(None),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(_) => return Ok(None),
        }
        read_line(r, &mut budget, &mut line)?;
        if line.is_empty() {
            return Ok(None);
        }
        if !(line == b"\r\n" || line == b"\n") {
            break;
        }
    }
    let bad = |m: String| HttpError(400, "bad_request", m);
    let text =
        std::str::from_utf8(&line).map_err(|_| bad("the request line is not UTF-8".into()))?;
    if !text.ends_with('\n') {
        return Err(bad("the request line is cut off".into()));
    }
    let mut parts = text.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!(
            "malformed request line {:?}: expected METHOD PATH HTTP/1.1",
            shorten(text.trim_end())
        )));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(format!("malformed method {:?}", shorten(method))));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v => {
            return Err(HttpError(
                505,
                "http_version_not_supported",
                format!(
                    "HTTP version {:?} is not supported: use HTTP/1.1",
                    shorten(v)
                ),
            ));
        }
    };
    if !target.starts_with('/') {
        return Err(bad(format!(
            "request target {:?} must start with /",
            shorten(target)
        )));
    }
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut head = Head {
        method: method.to_string(),
        path,
        content_length: 0,
        keep_alive: http11,
        expect_continue: false,
    };
    let mut length: Option<usize> = None;
    loop {
        let n = read_line(r, &mut budget, &mut line)?;
        if n == 0 {
            return Err(bad("the headers are cut off".into()));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let h = std::str::from_utf8(&line).map_err(|_| bad("a header is not UTF-8".into()))?;
        if !h.ends_with('\n') {
            return Err(bad("the headers are cut off".into()));
        }
        let Some((name, value)) = h.trim_end().split_once(':') else {
            return Err(bad(format!(
                "malformed header {:?}: expected Name: value",
                shorten(h.trim_end())
            )));
        };
        if name.is_empty() || name.contains(' ') {
            return Err(bad(format!("malformed header name {:?}", shorten(name))));
        }
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                let v: usize = value.parse().map_err(|_| {
                    bad(format!(
                        "Content-Length {:?} is not a whole number",
                        shorten(value)
                    ))
                })?;
                if length.is_some_and(|l| l != v) {
                    return Err(bad("conflicting Content-Length headers".into()));
                }
                length = Some(v);
            }
            "transfer-encoding" => {
                return Err(HttpError(
                    411,
                    "length_required",
                    format!(
                        "Transfer-Encoding {:?} is not supported: send the body with Content-Length",
                        shorten(value)
                    ),
                ));
            }
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.split(',').any(|t| t.trim() == "close") {
                    head.keep_alive = false;
                } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                    head.keep_alive = true;
                }
            }
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    head.content_length = length.unwrap_or(0);
    Ok(Some(head))
}

fn shorten(s: &str) -> String {
    if s.len() <= 60 {
        return s.to_string();
    }
    let mut end = 57;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn status_text(s: u16) -> &'static str {
    match s {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn write_reply(
    w: &mut TcpStream,
    reply: &Reply,
    keep_alive: bool,
    allow: Option<&str>,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(reply.body.len() + 160);
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reply.status,
        status_text(reply.status),
        reply.content_type,
        reply.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    if let Some(a) = allow {
        let _ = write!(out, "Allow: {a}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(reply.body.as_bytes());
    w.write_all(&out)?;
    w.flush()
}

/// Routes one request. Returns the reply and, for 405, the allowed methods.
fn route(
    service: &Service,
    method: &str,
    path: &str,
    body: &[u8],
) -> (Reply, Option<&'static str>) {
    let allowed = match path {
        "/v1/decide" | "/v1/reload" => "POST",
        "/healthz" | "/readyz" | "/metrics" => "GET",
        _ => {
            service.metrics.record_rejection(404);
            return (
                Reply::error(
                    404,
                    "not_found",
                    format!(
                        "no endpoint {:?}; endpoints: POST /v1/decide, POST /v1/reload, GET /healthz, GET /readyz, GET /metrics",
                        shorten(path)
                    ),
                ),
                None,
            );
        }
    };
    if method != allowed {
        service.metrics.record_rejection(405);
        return (
            Reply::error(
                405,
                "method_not_allowed",
                format!("{path} accepts {allowed}, not {method}"),
            ),
            Some(allowed),
        );
    }
    let reply = match path {
        "/v1/decide" => service.decide_reply(body),
        "/v1/reload" => service.reload(),
        "/healthz" => service.healthz(),
        "/readyz" => service.readyz(),
        _ => service.metrics_reply(),
    };
    (reply, None)
}

/// Writes an error reply, closes our side and drains what the client still sends (so that
/// it reads the reply instead of a reset).
fn fail(mut stream: TcpStream, service: &Service, e: HttpError) {
    service.http_rejected(e.0, e.1, &e.2);
    let _ = write_reply(&mut stream, &Reply::error(e.0, e.1, e.2), false, None);
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut left = 4 * MAX_BODY_BYTES;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    service: &Service,
    opts: &HttpOptions,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(opts.timeout))?;
    stream.set_write_timeout(Some(opts.timeout))?;
    let mut reader = BufReader::with_capacity(16 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut body = Vec::new();
    loop {
        let head = match read_head(&mut reader, opts) {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(()),
            Err(e) => {
                fail(writer, service, e);
                return Ok(());
            }
        };
        if head.content_length > MAX_BODY_BYTES {
            let e = HttpError(
                413,
                "body_too_large",
                format!(
                    "the body has {} bytes; the limit is {MAX_BODY_BYTES}",
                    head.content_length
                ),
            );
            fail(writer, service, e);
            return Ok(());
        }
        if head.expect_continue && head.content_length > 0 {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        body.clear();
        body.resize(head.content_length, 0);
        if let Err(e) = reader.read_exact(&mut body) {
            let e = match e.kind() {
                io::ErrorKind::UnexpectedEof => HttpError(
                    400,
                    "bad_request",
                    format!(
                        "the body is shorter than its Content-Length ({})",
                        head.content_length
                    ),
                ),
                _ => io_error(e),
            };
            fail(writer, service, e);
            return Ok(());
        }
        let keep_alive = head.keep_alive && !stop.load(Ordering::SeqCst);
        let (reply, allow) = match catch_unwind(AssertUnwindSafe(|| {
            route(service, &head.method, &head.path, &body)
        })) {
            Ok(r) => r,
            Err(_) => {
                service.metrics.record_rejection(500);
                (
                    Reply::error(
                        500,
                        "internal",
                        "the handler failed (panicked); this is a bug: please report it with the audit log",
                    ),
                    None,
                )
            }
        };
        write_reply(&mut writer, &reply, keep_alive, allow)?;
        if !keep_alive {
            let _ = writer.shutdown(Shutdown::Write);
            return Ok(());
        }
    }
}

/// A minimal keep-alive HTTP/1.1 client for the tests, the bench and health probes: one
/// connection, `Content-Length` bodies.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// A response read by [`Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl Response {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Sends raw bytes (for malformed requests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Sends a request and reads the response.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        let mut out = Vec::with_capacity(body.len() + 128);
        let _ = write!(
            out,
            "{method} {path} HTTP/1.1\r\nHost: powermix\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        out.extend_from_slice(body);
        self.writer.write_all(&out)?;
        self.read_response()
    }

    /// Reads one response.
    pub fn read_response(&mut self) -> io::Result<Response> {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("malformed status line"))?;
        let mut headers = Vec::new();
        let mut len = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("headers cut off"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                let (n, v) = (n.trim().to_ascii_lowercase(), v.trim().to_string());
                if n == "content-length" {
                    len = v.parse().map_err(|_| bad("bad Content-Length"))?;
                }
                headers.push((n, v));
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
