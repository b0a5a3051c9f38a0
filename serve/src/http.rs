//! The HTTP/1.1 server: hyper 1 on a tokio runtime, one task per connection.
//!
//! A slow or silent client holds a task and a socket, never a thread, so it cannot stall
//! the others. What bounds them:
//! - the request head (request line and headers) must arrive within
//!   [`HttpOptions::request_timeout`] of the connection opening or of the previous answer
//!   (hyper's header read timeout; on expiry the connection is closed), and be at most
//!   [`HttpOptions::max_header_bytes`] (431);
//! - the body must arrive within [`HttpOptions::request_timeout`] of the head (408), with a
//!   `Content-Length` (chunked: 411) of at most [`MAX_BODY_BYTES`] (413);
//! - a keep-alive connection idle for [`HttpOptions::idle_timeout`] is closed;
//! - at most [`HttpOptions::max_connections`] connections are open at once: past that,
//!   new ones wait in the kernel's accept queue until one closes.
//!
//! Every error the server writes is a JSON [`ErrorBody`](crate::ErrorBody) naming the problem. Heads that hyper
//! cannot parse (malformed request line or header, unsupported version, head too large) are
//! answered by hyper itself, with the status (400, 431) and an empty body; they are logged
//! and audited as `rejected` all the same.
//!
//! `/v1/reload` and `/metrics` need `Authorization: Bearer <token>` when a token is set
//! ([`AuthToken`], compared in constant time); the other endpoints stay open.
//!
//! [`serve`] runs until its shutdown future resolves, then stops accepting, lets every
//! connection finish the request it is in (idle ones close at once), waits at most
//! [`HttpOptions::shutdown_grace`], and writes and syncs the audit log's `shutdown` line.
//! [`HttpServer`] runs it on its own runtime thread (tests, bench).

use crate::{Reply, Service};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use powermix_wire::MAX_BODY_BYTES;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tracing::Instrument;

/// Smallest read buffer hyper accepts; heads up to it always fit.
const HYPER_MIN_BUF: usize = 8 * 1024;

/// Options of the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Worker threads of the runtime [`HttpServer::start`] builds (the binary builds its
    /// own from `--workers`).
    pub workers: usize,
    /// Deadline for the request head (from the connection's start or the previous answer)
    /// and, separately, for the body (from the end of the head).
    pub request_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most bytes of request line plus headers (at least 8 KiB, hyper's smallest buffer).
    pub max_header_bytes: usize,
    /// How long a graceful shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
    /// The bearer token of `/v1/reload` and `/metrics`; None: open.
    pub auth_token: Option<AuthToken>,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            workers: 2,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_header_bytes: HYPER_MIN_BUF,
            shutdown_grace: Duration::from_secs(10),
            auth_token: None,
        }
    }
}

/// The bearer token of the operator endpoints. Its `Debug` never shows it.
#[derive(Clone)]
pub struct AuthToken(Arc<[u8]>);

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// A token: surrounding whitespace is dropped; the rest must be 16 to 4096 visible
    /// ASCII characters (what fits in a header value, no spaces).
    pub fn new(text: &str) -> Result<AuthToken, String> {
        let t = text.trim();
        if t.len() < 16 || t.len() > 4096 {
            return Err(format!(
                "the token has {} characters; it must have 16 to 4096",
                t.len()
            ));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token must be visible ASCII characters without spaces".into());
        }
        Ok(AuthToken(t.as_bytes().into()))
    }

    /// Reads the token from a file (its only content, a trailing newline allowed).
    pub fn from_file(path: &Path) -> Result<AuthToken, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("auth token file {}: {e}", path.display()))?;
        AuthToken::new(&text).map_err(|e| format!("auth token file {}: {e}", path.display()))
    }

    /// Whether an `Authorization` header carries this token (`Bearer <token>`). The token
    /// bytes are compared in constant time.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(v) = headers.get(header::AUTHORIZATION) else {
            return false;
        };
        let v = v.as_bytes();
        if v.len() < 7 || !v[..7].eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let given = v[7..].trim_ascii();
        bool::from(given.ct_eq(&self.0))
    }
}

/// The status of a request body that cannot be read, and the rest of its [`ErrorBody`].
struct HttpError {
    status: u16,
    error: &'static str,
    message: String,
}

/// What one request needs besides itself.
struct Ctx {
    service: Arc<Service>,
    opts: HttpOptions,
    next_id: AtomicU64,
    id_prefix: String,
}

impl Ctx {
    /// The client's `X-Request-Id` when it is usable (1 to 64 of `A-Za-z0-9._:-`), else a
    /// new one (`<pid>-<n>`).
    fn request_id(&self, headers: &HeaderMap) -> String {
        if let Some(v) = headers.get("x-request-id").and_then(|v| v.to_str().ok())
            && (1..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
        {
            return v.to_string();
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.id_prefix)
    }
}

/// The routes: path, method.
fn allowed_method(path: &str) -> Option<(Method, &'static str)> {
    match path {
        "/v1/decide" | "/v1/reload" => Some((Method::POST, "POST")),
        "/healthz" | "/readyz" | "/metrics" => Some((Method::GET, "GET")),
        _ => None,
    }
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

/// Reads the body within the deadline; 408 when it does not arrive in time, 400 when the
/// client closes before `Content-Length` bytes.
async fn read_body(body: Incoming, length: u64, deadline: Duration) -> Result<Bytes, HttpError> {
    match tokio::time::timeout(deadline, body.collect()).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e)) => Err(HttpError {
            status: 400,
            error: "bad_request",
            message: format!("the body is shorter than its Content-Length ({length}): {e}"),
        }),
        Err(_) => Err(HttpError {
            status: 408,
            error: "request_timeout",
            message: format!(
                "the body was not received within {} s",
                deadline.as_secs_f64()
            ),
        }),
    }
}

/// Reads and drops up to `limit` bytes of a body we refuse, for at most `deadline`, so that
/// the client can read the refusal instead of a reset connection.
async fn drain(mut body: Incoming, limit: u64, deadline: Duration) {
    let _ = tokio::time::timeout(deadline, async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    seen += f.data_ref().map_or(0, |d| d.len() as u64);
                    if seen > limit {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    })
    .await;
}

/// A reply, whether the connection closes after it, and the `Allow` of a 405.
struct Routed {
    reply: Reply,
    close: bool,
    allow: Option<&'static str>,
}

impl Routed {
    fn ok(reply: Reply) -> Routed {
        Routed {
            reply,
            close: false,
            allow: None,
        }
    }
}

/// Runs a service call that does not block, turning a panic into a 500 (last line of
/// defence: the handlers do not panic on any input).
fn guarded(service: &Service, f: impl FnOnce() -> Reply) -> Reply {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        service.metrics.record_rejection(500);
        Reply::error(
            500,
            "internal",
            "the handler failed (panicked); this is a bug: please report it with the audit log",
        )
    })
}

async fn route(req: Request<Incoming>, ctx: &Ctx, id: &str) -> Routed {
    let service = &ctx.service;
    let path = req.uri().path().to_string();
    let path = path.as_str();
    let Some((allowed, allow)) = allowed_method(path) else {
        service.metrics.record_rejection(404);
        return Routed::ok(Reply::error(
            404,
            "not_found",
            format!(
                "no endpoint {:?}; endpoints: POST /v1/decide, POST /v1/reload, GET /healthz, GET /readyz, GET /metrics",
                shorten(path)
            ),
        ));
    };
    if *req.method() != allowed {
        service.metrics.record_rejection(405);
        return Routed {
            reply: Reply::error(
                405,
                "method_not_allowed",
                format!("{path} accepts {allow}, not {}", req.method()),
            ),
            close: false,
            allow: Some(allow),
        };
    }
    // With a token, every endpoint that can change later answers needs it: `/v1/decide`
    // feeds the day-ahead head (the gate's offer depends on the day's snapshots), and
    // `/v1/reload` swaps the policy; `/metrics` is kept private too.
    if matches!(path, "/v1/decide" | "/v1/reload" | "/metrics")
        && let Some(token) = &ctx.opts.auth_token
        && !token.admits(req.headers())
    {
        let message = format!(
            "{path} needs the header Authorization: Bearer <token> (the token of --auth-token-file)"
        );
        service.http_rejected(401, "unauthorized", &message, Some(id));
        tracing::warn!(path, "refused: no valid bearer token");
        return Routed::ok(Reply::error(401, "unauthorized", message));
    }
    match path {
        "/v1/decide" => decide(req, ctx, id).await,
        "/v1/reload" => {
            let svc = service.clone();
            let reply = tokio::task::spawn_blocking(move || svc.reload("http"))
                .await
                .unwrap_or_else(|_| {
                    Reply::error(
                        500,
                        "internal",
                        "the reload failed (panicked); this is a bug",
                    )
                });
            Routed::ok(reply)
        }
        "/healthz" => Routed::ok(service.healthz()),
        "/readyz" => Routed::ok(guarded(service, || service.readyz())),
        _ => Routed::ok(guarded(service, || service.metrics_reply())),
    }
}

async fn decide(req: Request<Incoming>, ctx: &Ctx, id: &str) -> Routed {
    let service = &ctx.service;
    let refuse = |e: HttpError| {
        service.http_rejected(e.status, e.error, &e.message, Some(id));
        Routed {
            reply: Reply::error(e.status, e.error, e.message),
            close: true,
            allow: None,
        }
    };
    // hyper has checked the framing: a request without Content-Length has no body.
    let length = req.body().size_hint().exact().unwrap_or(0);
    let unread = if let Some(te) = req.headers().get(header::TRANSFER_ENCODING) {
        Some(HttpError {
            status: 411,
            error: "length_required",
            message: format!(
                "Transfer-Encoding {:?} is not supported: send the body with Content-Length",
                shorten(&String::from_utf8_lossy(te.as_bytes()))
            ),
        })
    } else if length > MAX_BODY_BYTES as u64 {
        Some(HttpError {
            status: 413,
            error: "body_too_large",
            message: format!("the body has {length} bytes; the limit is {MAX_BODY_BYTES}"),
        })
    } else {
        None
    };
    if let Some(e) = unread {
        // Read (a bounded amount of) what the client is sending before the answer, so it
        // sees the error instead of a reset.
        drain(
            req.into_body(),
            4 * MAX_BODY_BYTES as u64,
            Duration::from_millis(500),
        )
        .await;
        return refuse(e);
    }
    let body = match read_body(req.into_body(), length, ctx.opts.request_timeout).await {
        Ok(b) => b,
        Err(e) => return refuse(e),
    };
    let reply = if service.audit_syncs() {
        // An fdatasync per answer: block this worker, not the runtime's other tasks.
        tokio::task::block_in_place(|| guarded(service, || service.decide_reply(&body, Some(id))))
    } else {
        guarded(service, || service.decide_reply(&body, Some(id)))
    };
    Routed::ok(reply)
}

fn response(routed: Routed, id: &str) -> Response<Full<Bytes>> {
    let Routed {
        reply,
        close,
        allow,
    } = routed;
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    if let Some(a) = allow {
        h.insert(header::ALLOW, HeaderValue::from_static(a));
    }
    if reply.status == 401 {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"powermix\""),
        );
    }
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// One request: a span with its id, method and path, and (once answered) its status, who
/// decided, why, and the time spent; one log event when it is answered.
async fn handle(
    req: Request<Incoming>,
    ctx: Arc<Ctx>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let t0 = Instant::now();
    let id = ctx.request_id(req.headers());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %shorten(req.uri().path()),
        status = tracing::field::Empty,
        source = tracing::field::Empty,
        reason = tracing::field::Empty,
        elapsed_us = tracing::field::Empty,
    );
    let routed = route(req, &ctx, &id).instrument(span.clone()).await;
    let status = routed.reply.status;
    let elapsed_us = t0.elapsed().as_micros() as u64;
    span.record("status", status);
    span.record("elapsed_us", elapsed_us);
    if let Some((source, reason)) = routed.reply.decided {
        span.record("source", tracing::field::display(source.code()));
        span.record(
            "reason",
            tracing::field::display(reason.map_or("none", |r| r.code())),
        );
    }
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_us, "answered");
        } else {
            tracing::info!(status, elapsed_us, "answered");
        }
    });
    Ok(response(routed, &id))
}

/// Audits and logs how a connection ended when hyper ended it with an error.
fn connection_error(service: &Service, peer: SocketAddr, e: &hyper::Error) {
    if e.is_parse_too_large() {
        let message = "the request line and headers exceed the limit";
        service.http_rejected(431, "headers_too_large", message, None);
        tracing::info!(%peer, status = 431, "refused: {message}");
    } else if e.is_parse() {
        let message = format!("malformed request head: {e}");
        service.http_rejected(400, "bad_request", &message, None);
        tracing::info!(%peer, status = 400, "refused: {message}");
    } else if e.is_timeout() {
        tracing::debug!(%peer, "closed: no complete request head in time ({e})");
    } else {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Resolves once the server is stopping (or gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves one connection until it closes, the idle timeout passes, or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let opts = &ctx.opts;
    // The head deadline also bounds idle keep-alive time (hyper starts it when it waits for
    // a request); the idle timeout, when shorter, is enforced by the watchdog below.
    let activity = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let svc = {
        let (ctx, activity) = (ctx.clone(), activity.clone());
        service_fn(move |req| {
            activity.store(u64::MAX, Ordering::Relaxed);
            let (ctx, activity) = (ctx.clone(), activity.clone());
            async move {
                let r = handle(req, ctx).await;
                activity.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                r
            }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.request_timeout)
        .max_buf_size(opts.max_header_bytes.max(HYPER_MIN_BUF))
        .keep_alive(true)
        // A client may shut its sending side after the request and still read the answer.
        .half_close(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let idle = opts.idle_timeout;
    let result = loop {
        // Wake up when the connection may have been idle long enough.
        let last = activity.load(Ordering::Relaxed);
        let wake = if last == u64::MAX {
            idle
        } else {
            (Duration::from_millis(last) + idle).saturating_sub(epoch.elapsed())
        };
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                break conn.as_mut().await;
            }
            _ = tokio::time::sleep(wake.max(Duration::from_millis(10))) => {
                let last = activity.load(Ordering::Relaxed);
                if last != u64::MAX && epoch.elapsed() >= Duration::from_millis(last) + idle {
                    // Idle: closes now unless a request has started meanwhile, which it
                    // then finishes.
                    conn.as_mut().graceful_shutdown();
                    break conn.as_mut().await;
                }
            }
        }
    };
    if let Err(e) = result {
        connection_error(&ctx.service, peer, &e);
    }
}

/// Serves HTTP on `listener` until `shutdown` resolves (to the reason, for the audit log),
/// then shuts down gracefully (see the module docs). Returns the number of connections
/// still unfinished when the grace period ended.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    opts: HttpOptions,
    shutdown: impl Future<Output = String>,
) -> io::Result<usize> {
    let max = opts
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let grace = opts.shutdown_grace;
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        service: service.clone(),
        opts,
        next_id: AtomicU64::new(1),
        id_prefix: format!("{:x}", std::process::id()),
    });
    tokio::pin!(shutdown);
    let mut full_logged = false;
    let reason = loop {
        if slots.available_permits() == 0 && !full_logged {
            tracing::warn!(
                max_connections = max,
                "connection limit reached; new connections wait"
            );
            full_logged = true;
        }
        let slot = tokio::select! {
            r = &mut shutdown => break r,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break "closed".to_string(),
            },
        };
        let (stream, peer) = tokio::select! {
            r = &mut shutdown => break r,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait
                    // a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        full_logged = false;
        let (ctx, stop) = (ctx.clone(), stop_rx.clone());
        tokio::spawn(async move {
            connection(stream, peer, ctx, stop).await;
            drop(slot);
        });
    };
    drop(listener);
    let open = max - slots.available_permits();
    tracing::info!(reason = %reason, open_connections = open, "shutting down: no new connections; finishing requests in progress");
    let _ = stop_tx.send(true);
    let unfinished = match tokio::time::timeout(grace, slots.acquire_many(max as u32)).await {
        Ok(_) => 0,
        Err(_) => max - slots.available_permits(),
    };
    service.shutdown_audit(&reason, unfinished)?;
    tracing::info!(
        unfinished_connections = unfinished,
        "stopped; audit log synced"
    );
    Ok(unfinished)
}

/// A server on its own runtime thread (tests, bench): [`serve`] until
/// [`HttpServer::shutdown`] (or drop).
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<String>>,
    thread: Option<std::thread::JoinHandle<io::Result<usize>>>,
}

impl HttpServer {
    /// Starts serving `listener` on a runtime of `opts.workers` threads.
    pub fn start(
        listener: std::net::TcpListener,
        service: Arc<Service>,
        opts: HttpOptions,
    ) -> io::Result<HttpServer> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.workers.max(1))
            .thread_name("serve-http")
            .enable_io()
            .enable_time()
            .build()?;
        let (tx, rx) = oneshot::channel::<String>();
        let thread = std::thread::Builder::new()
            .name("serve-http-main".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    let stop = async move { rx.await.unwrap_or_else(|_| "dropped".into()) };
                    serve(listener, service, opts, stop).await
                })
            })?;
        Ok(HttpServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts down gracefully and waits; returns the connections left unfinished.
    pub fn shutdown(mut self) -> io::Result<usize> {
        self.stop_and_join("shutdown")
    }

    fn stop_and_join(&mut self, reason: &str) -> io::Result<usize> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(reason.to_string());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the server thread panicked"))),
            None => Ok(0),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join("dropped");
    }
}
