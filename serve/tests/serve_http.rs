//! The HTTP server on 127.0.0.1:0: every endpoint, keep-alive, limits, errors, reload
//! (a refused reload keeps the old policy serving), metrics and the audit log; the binary's
//! flags, signals and graceful shutdown.

mod common;

use common::{Client, audited_service, temp_dir, write_meta};
use powermix_serve::http::{HttpOptions, HttpServer};
use powermix_serve::{Answer, Clock, Reason, Service, Source, SystemClock, example_request};
use rand::RngExt;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

fn start(dir: &std::path::Path, audit: &std::path::Path) -> (HttpServer, Arc<Service>) {
    let service = audited_service(dir, audit);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = HttpServer::start(
        listener,
        service.clone(),
        HttpOptions {
            workers: 3,
            request_timeout: Duration::from_secs(2),
            ..HttpOptions::default()
        },
    )
    .unwrap();
    (server, service)
}

fn example_body() -> Vec<u8> {
    serde_json::to_vec(&example_request(SystemClock.now_ms())).unwrap()
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Sends raw bytes on a fresh connection and reads the whole reply until the server closes.
fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> (u16, String) {
    raw_with(addr, bytes, true)
}

/// As [`raw`]; `close` shuts the client's sending side after the bytes (EOF for the server).
fn raw_with(addr: std::net::SocketAddr, bytes: &[u8], close: bool) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    if close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = String::new();
    let _ = BufReader::new(&mut s).read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn endpoints_keep_alive_limits_reload_and_audit() {
    let dir = temp_dir("http-ckpt");
    let audit = temp_dir("http-audit").join("audit.jsonl");
    let (server, service) = start(&dir, &audit);
    let addr = server.local_addr();
    let c = Client::new(addr);

    // healthz, readyz (fallback: no checkpoint yet).
    let r = c.request("GET", "/healthz", b"");
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r.body)["status"], "ok");
    let r = c.request("GET", "/readyz", b"");
    assert_eq!(r.status, 200);
    let v = json_of(&r.body);
    assert_eq!(v["ready"], true);
    assert_eq!(v["decides_with"], "fallback");
    assert_eq!(v["reason"], "no_checkpoint");

    // decide, several times on the same connection (keep-alive).
    for _ in 0..3 {
        let r = c.request("POST", "/v1/decide", &example_body());
        assert_eq!(r.status, 200, "{}", r.body);
        assert_ne!(r.header("connection"), Some("close"));
        assert!(r.header("x-request-id").is_some());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let a: Answer = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            (a.source, a.reason),
            (Source::Fallback, Some(Reason::NoCheckpoint))
        );
    }

    // reload with a good checkpoint: the policy decides.
    write_meta(
        &dir,
        &json!({"model_id": "good-1", "kind": "const", "action": [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]}),
    );
    let r = c.request("POST", "/v1/reload", b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json_of(&r.body)["model_id"], "good-1");
    let a: Answer =
        serde_json::from_str(&c.request("POST", "/v1/decide", &example_body()).body).unwrap();
    assert_eq!(
        (a.source, a.model_id.as_deref()),
        (Source::Policy, Some("good-1"))
    );

    // a damaged checkpoint is refused (409) and the old one keeps serving.
    std::fs::write(dir.join("meta.json"), "{\"model_id\": ").unwrap();
    let r = c.request("POST", "/v1/reload", b"");
    assert_eq!(r.status, 409, "{}", r.body);
    let v = json_of(&r.body);
    assert_eq!(v["error"], "checkpoint_damaged");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("still serving policy good-1"),
        "{v}"
    );
    let a: Answer =
        serde_json::from_str(&c.request("POST", "/v1/decide", &example_body()).body).unwrap();
    assert_eq!(
        (a.source, a.model_id.as_deref()),
        (Source::Policy, Some("good-1"))
    );
    let v = json_of(&c.request("GET", "/readyz", b"").body);
    assert_eq!(
        (v["decides_with"].as_str(), v["model_id"].as_str()),
        (Some("policy"), Some("good-1"))
    );

    // invalid input: 200 with the fallback and the field named.
    let mut bad = serde_json::to_value(example_request(SystemClock.now_ms())).unwrap();
    bad["system_load_mw"] = json!(-3);
    let r = c.request("POST", "/v1/decide", &serde_json::to_vec(&bad).unwrap());
    let a: Answer = serde_json::from_str(&r.body).unwrap();
    assert_eq!(a.reason, Some(Reason::InvalidInput));
    assert_eq!(a.problems[0].field, "system_load_mw");

    // bad JSON 400 and a non-object 422, connection still usable.
    let r = c.request("POST", "/v1/decide", b"{\"interval_start_utc\":");
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r.body)["error"], "bad_json");
    let r = c.request("POST", "/v1/decide", b"[]");
    assert_eq!(r.status, 422);
    assert_eq!(json_of(&r.body)["field"], "(body)");

    // 404 and 405 with JSON bodies.
    let r = c.request("GET", "/nope", b"");
    assert_eq!(r.status, 404);
    assert!(
        json_of(&r.body)["message"]
            .as_str()
            .unwrap()
            .contains("/v1/decide")
    );
    let r = c.request("GET", "/v1/decide", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));

    // metrics.
    let r = c.request("GET", "/metrics", b"");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = &r.body;
    assert!(
        m.contains("powermix_decisions_total{source=\"fallback\",reason=\"no_checkpoint\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("powermix_decisions_total{source=\"policy\",reason=\"none\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("powermix_decisions_total{source=\"fallback\",reason=\"invalid_input\"} 1"),
        "{m}"
    );
    assert!(m.contains("powermix_decide_latency_seconds_count 6"), "{m}");
    assert!(
        m.contains("powermix_decide_latency_seconds_bucket{le=\"+Inf\"} 6"),
        "{m}"
    );
    assert!(
        m.contains("powermix_model_info{model_id=\"good-1\",source=\"policy\"} 1"),
        "{m}"
    );
    assert!(m.contains("powermix_reloads_total{result=\"ok\"} 1"), "{m}");
    assert!(
        m.contains("powermix_reloads_total{result=\"refused\"} 1"),
        "{m}"
    );
    drop(c);

    // 413: a body over the limit, announced by Content-Length.
    let mut big = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        70_000
    )
    .into_bytes();
    big.extend(std::iter::repeat_n(b' ', 70_000));
    let (status, text) = raw(addr, &big);
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("body_too_large") && text.contains("65536"),
        "{text}"
    );

    // malformed HTTP: 400 (hyper answers a head it cannot parse itself, with no body: the
    // audit line names the problem); chunked: 411; huge headers: 431.
    let (status, text) = raw(addr, b"GARBAGE\r\n\r\n");
    assert_eq!(status, 400, "{text}");
    let (status, _) = raw(addr, b"GET /healthz HTTP/2.0\r\n\r\n");
    assert_eq!(status, 400);
    let (status, text) = raw(
        addr,
        b"POST /v1/decide HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(status, 411, "{text}");
    let mut huge = b"GET /healthz HTTP/1.1\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10_000));
    huge.extend(b"\r\n\r\n");
    let (status, _) = raw(addr, &huge);
    assert_eq!(status, 431);
    let (status, text) = raw(
        addr,
        b"POST /v1/decide HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"a\"",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("shorter than its Content-Length"), "{text}");
    // ... and a client that stalls mid-body gets 408 after the read timeout.
    let (status, text) = raw_with(
        addr,
        b"POST /v1/decide HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"a\"",
        false,
    );
    assert_eq!(status, 408, "{text}");
    // Connection: close is honoured; Expect: 100-continue is answered.
    let (status, text) = raw(addr, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let body = example_body();
    let mut req = format!("POST /v1/decide HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    req.extend(&body);
    let (status, text) = raw(addr, &req);
    assert_eq!(status, 100, "{text}");
    assert!(text.contains("\r\n\r\nHTTP/1.1 200 OK"), "{text}");

    // Many clients at once.
    let handles: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let c = Client::new(addr);
                for _ in 0..20 {
                    assert_eq!(c.request("POST", "/v1/decide", &example_body()).status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(server.shutdown().unwrap(), 0);

    // The audit log: a startup line, then every decision and reload, in sequence.
    let lines: Vec<Value> = BufReader::new(std::fs::File::open(&audit).unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "startup");
    assert_eq!(
        lines[0]["config_hash"].as_str(),
        Some(service.config_hash())
    );
    assert!(lines[0]["model_id"].is_null());
    assert_eq!(lines[0]["fallback"], "expert");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"].as_u64(), Some(i as u64), "{l}");
        assert!(l["ts"].as_str().unwrap().ends_with('Z'));
    }
    let decides: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "decide").collect();
    // 3 + 1 + 1 + 1 + 2 bad + 1 expect-continue + 120 from the threads.
    assert_eq!(decides.len(), 129);
    assert_eq!(decides[0]["answer"]["reason"], "no_checkpoint");
    assert!(decides[0]["request"]["site"]["tranche_mw"].is_array());
    assert_eq!(decides[5]["answer"]["reason"], "invalid_input");
    assert_eq!(decides[6]["status"], 400);
    assert!(decides[6]["request_body"].is_string());
    assert_eq!(decides[7]["status"], 422);
    // HTTP-level rejections (413, 400, 400, 411, 431, 400, 408) are logged too (those of
    // heads hyper refuses once the connection has ended, so not in request order).
    let mut rejected: Vec<u64> = lines
        .iter()
        .filter(|l| l["kind"] == "rejected")
        .map(|l| l["status"].as_u64().unwrap())
        .collect();
    rejected.sort();
    assert_eq!(rejected, [400, 400, 400, 408, 411, 413, 431]);
    assert!(
        lines.iter().any(
            |l| l["kind"] == "rejected" && l["message"].as_str().unwrap().contains("malformed")
        ),
        "the audit names a malformed head"
    );
    assert_eq!(lines.last().unwrap()["kind"], "shutdown");
    let reloads: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "reload").collect();
    assert_eq!(reloads.len(), 2);
    assert_eq!(reloads[1]["status"], 409);
}

#[test]
fn requests_are_audited_before_they_are_answered() {
    // Each answer's audit line is on disk (readable by another reader) once the client has
    // the answer.
    let dir = temp_dir("http-ckpt2");
    let audit = temp_dir("http-audit2").join("audit.jsonl");
    let (server, _service) = start(&dir, &audit);
    let c = Client::new(server.local_addr());
    for i in 1..=5 {
        let r = c.request("POST", "/v1/decide", &example_body());
        assert_eq!(r.status, 200);
        let text = std::fs::read_to_string(&audit).unwrap();
        assert_eq!(text.lines().count(), 1 + i);
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let answered: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(last["answer"], answered);
    }
    drop(c);
    server.shutdown().unwrap();
}

/// Sends `signal` (e.g. `-HUP`) to a process this test started, by its pid.
#[cfg(unix)]
fn signal(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} {pid}");
}

/// Reads the child's first stderr line (the listening line) and returns the address.
fn listening_address(line: &str) -> std::net::SocketAddr {
    line.split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// The binary: `--example-request` prints a body that the HTTP server decides (fallback,
/// no_checkpoint), SIGHUP triggers a reload (refused: there is no checkpoint), and SIGTERM
/// shuts it down gracefully (exit 0, a `shutdown` audit line).
#[cfg(unix)]
#[test]
fn binary_example_request_sighup_reload_and_sigterm() {
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_serve");
    let out = Command::new(exe).arg("--example-request").output().unwrap();
    assert!(out.status.success());
    let example = out.stdout;
    let docs = String::from_utf8_lossy(&out.stderr);
    for field in [
        "interval_start_utc",
        "rt_prices",
        "site.training_hold",
        "emergency",
    ] {
        assert!(docs.contains(field), "{docs}");
    }
    let audit = temp_dir("bin-audit").join("a.jsonl");
    let mut child = Command::new(exe)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--workers=2",
            "--checkpoint",
            "/nonexistent/ckpt",
        ])
        .arg("--audit-log")
        .arg(&audit)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = listening_address(&line);
    let c = Client::new(addr);
    let r = c.request("POST", "/v1/decide", &example);
    assert_eq!(r.status, 200, "{}", r.body);
    let a: Answer = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (a.source, a.reason),
        (Source::Fallback, Some(Reason::NoCheckpoint))
    );
    assert!(a.message.contains("no checkpoint"), "{}", a.message);

    signal(child.id(), "-HUP");
    let mut refused = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        let m = c.request("GET", "/metrics", b"").body;
        if m.contains("powermix_reloads_total{result=\"refused\"} 1") {
            refused = true;
            break;
        }
    }
    assert!(refused, "SIGHUP did not trigger a reload");
    drop(c);
    signal(child.id(), "-TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    err.read_to_string(&mut logs).unwrap();
    assert!(logs.contains("SIGTERM: graceful shutdown"), "{logs}");
    // One log line per request, inside its span (request id, source, time spent).
    assert!(
        logs.lines().any(|l| l.contains("source=fallback")
            && l.contains("elapsed_us=")
            && l.contains("id=")),
        "{logs}"
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| json_of(l)["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["startup", "decide", "reload", "shutdown"]);
    let shutdown = json_of(text.lines().last().unwrap());
    assert_eq!(shutdown["reason"], "SIGTERM");
    assert_eq!(shutdown["unfinished_connections"], 0);
}

/// The flags: `--help` documents each with its default, `--flag=value` works, a bad flag or
/// value exits 2; JSON logs; a non-loopback address without a token warns.
#[cfg(unix)]
#[test]
fn binary_flags_json_logs_and_the_open_port_warning() {
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_serve");
    let help = Command::new(exe).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--checkpoint <DIR>",
        "[default: checkpoints/default]",
        "--site <FILE>",
        "--expert <FILE>",
        "--listen <ADDR>",
        "[default: 127.0.0.1:8080]",
        "--auth-token-file <FILE>",
        "--audit-log <FILE>",
        "--audit-fsync",
        "--max-age-minutes <N>",
        "[default: 20]",
        "--clock <MODE>",
        "--stdin",
        "--example-request",
        "--workers <N>",
        "--max-connections <N>",
        "[default: 4096]",
        "--request-timeout-seconds <SECONDS>",
        "--idle-timeout-seconds <SECONDS>",
        "--log-format <FORMAT>",
        "[default: human]",
        "--log-level <LEVEL>",
    ] {
        assert!(help.contains(flag), "{flag} not in\n{help}");
    }
    for bad in [
        vec!["--nope"],
        vec!["--max-age-minutes=0"],
        vec!["--workers", "0"],
        vec!["--clock", "wall"],
        vec!["--audit-fsync"],
        vec!["--log-format=xml"],
    ] {
        let out = Command::new(exe).args(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    let token = temp_dir("bin-token").join("token");
    std::fs::write(&token, "short\n").unwrap();
    let out = Command::new(exe)
        .arg(format!("--auth-token-file={}", token.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a token under 16 characters");

    // 0.0.0.0 without a token: a warning, here in JSON.
    let mut child = Command::new(exe)
        .args([
            "--listen=0.0.0.0:0",
            "--log-format=json",
            "--checkpoint=/nonexistent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let v = json_of(&first);
    assert_eq!(v["level"], "INFO", "{first}");
    let port = listening_address(v["message"].as_str().unwrap()).port();
    let mut second = String::new();
    err.read_line(&mut second).unwrap();
    let v = json_of(&second);
    assert_eq!(v["level"], "WARN", "{second}");
    assert!(
        v["message"].as_str().unwrap().contains("--auth-token-file"),
        "{second}"
    );
    // A request's log line carries its span: id, path, status, source.
    let c = Client::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(c.request("GET", "/healthz", b"").status, 200);
    signal(child.id(), "-TERM");
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let answered = rest
        .lines()
        .map(json_of)
        .find(|v| v["message"] == "answered")
        .unwrap_or_else(|| panic!("{rest}"));
    assert_eq!(answered["span"]["path"], "/healthz", "{answered}");
    assert!(answered["span"]["id"].is_string(), "{answered}");
    assert_eq!(answered["status"], 200, "{answered}");
}

/// Mangled HTTP: random bytes, cut-off and corrupted request heads. The server answers each
/// with an error status (or closes quietly when no request line arrived) and stays healthy.
#[test]
fn mangled_http_never_takes_the_server_down() {
    let dir = temp_dir("http-fuzz");
    let audit = temp_dir("http-fuzz-audit").join("a.jsonl");
    let (server, _service) = start(&dir, &audit);
    let addr = server.local_addr();
    let body = example_body();
    let mut good = format!(
        "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    good.extend(&body);
    let mut r = powermix_env::rng::Rng::new(5);
    for k in 0..600 {
        let bytes: Vec<u8> = match k % 3 {
            0 => (0..r.random_range(0..300u64))
                .map(|_| r.random_range(0..256u64) as u8)
                .collect(),
            1 => good[..r.random_range(0..good.len())].to_vec(),
            _ => {
                let mut b = good.clone();
                for _ in 0..1 + r.random_range(0..4u64) {
                    let i = r.random_range(0..b.len());
                    b[i] = r.random_range(0..256u64) as u8;
                }
                b
            }
        };
        let (status, text) = raw(addr, &bytes);
        assert!(
            status == 0 && text.is_empty() || (200..600).contains(&status),
            "{status}: {text}"
        );
    }
    let c = Client::new(addr);
    assert_eq!(c.request("GET", "/healthz", b"").status, 200);
    assert_eq!(c.request("POST", "/v1/decide", &body).status, 200);
    drop(c);
    server.shutdown().unwrap();
}
