//! The server as an attacker and an operator try it: hundreds of silent or trickling
//! connections do not delay a decision, idle connections are closed, the operator endpoints
//! need the token, and a graceful shutdown finishes the request in progress.

mod common;

use common::{Client, audited_service, temp_dir};
use powermix_serve::http::{AuthToken, HttpOptions, HttpServer};
use powermix_serve::{Clock, SystemClock, example_request};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn start(audit: &Path, opts: HttpOptions) -> HttpServer {
    let service = audited_service(&temp_dir("robust-ckpt"), audit);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    HttpServer::start(listener, service, opts).unwrap()
}

fn example_body() -> Vec<u8> {
    serde_json::to_vec(&example_request(SystemClock.now_ms())).unwrap()
}

/// A decision on a fresh connection: its status and how long it took.
fn timed_decision(addr: SocketAddr, body: &[u8]) -> (u16, Duration) {
    let t0 = Instant::now();
    let r = Client::new(addr).request("POST", "/v1/decide", body);
    (r.status, t0.elapsed())
}

/// Decides `n` times on fresh connections; each must be answered within 100 ms.
fn assert_prompt(addr: SocketAddr, n: usize, what: &str) {
    let body = example_body();
    let mut worst = Duration::ZERO;
    for _ in 0..n {
        let (status, took) = timed_decision(addr, &body);
        assert_eq!(status, 200);
        worst = worst.max(took);
    }
    assert!(
        worst < Duration::from_millis(100),
        "{what}: slowest decision {worst:?}"
    );
    eprintln!("{what}: slowest of {n} decisions {worst:?}");
}

fn open(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

#[test]
fn silent_connections_do_not_delay_a_decision() {
    let audit = temp_dir("robust-silent").join("a.jsonl");
    let server = start(&audit, HttpOptions::default());
    let addr = server.local_addr();
    // 256 connections that never send a byte, and 256 that sent a request head and stop
    // before the body.
    let silent = open(addr, 256);
    std::thread::sleep(Duration::from_millis(200));
    assert_prompt(addr, 20, "256 silent connections");
    drop(silent);
    let mut stalled = open(addr, 256);
    for s in &mut stalled {
        s.write_all(b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_prompt(addr, 20, "256 connections stalled mid-body");
    drop(stalled);
    server.shutdown().unwrap();
}

#[test]
fn trickling_connections_do_not_delay_a_decision() {
    let audit = temp_dir("robust-trickle").join("a.jsonl");
    let server = start(&audit, HttpOptions::default());
    let addr = server.local_addr();
    // 256 connections send a request line, then one header byte each every 2 s.
    let mut slow = open(addr, 256);
    for s in &mut slow {
        s.write_all(b"POST /v1/decide HTTP/1.1\r\nX-Slow: ")
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for s in &mut slow {
                    let _ = s.write_all(b"a");
                }
                for _ in 0..20 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        assert_prompt(addr, 5, "256 trickling connections");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        Client::new(addr).request("GET", "/healthz", b"").status,
        200
    );
    stop.store(true, Ordering::SeqCst);
    trickle.join().unwrap();
    server.shutdown().unwrap();
}

/// Reads until the server closes (or 5 s pass); true when it closed.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn idle_and_stalled_connections_are_closed() {
    let audit = temp_dir("robust-idle").join("a.jsonl");
    let server = start(
        &audit,
        HttpOptions {
            request_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(1),
            ..HttpOptions::default()
        },
    );
    let addr = server.local_addr();
    // An idle keep-alive connection after its answer: closed after the idle timeout.
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t0 = Instant::now();
    assert!(closed_by_server(&mut kept, Duration::from_secs(5)));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A connection that never sends: closed after the idle timeout too.
    let mut silent = TcpStream::connect(addr).unwrap();
    let t0 = Instant::now();
    assert!(closed_by_server(&mut silent, Duration::from_secs(5)));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // A head that never ends: closed at the head deadline.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: a")
        .unwrap();
    let t0 = Instant::now();
    assert!(closed_by_server(&mut slow, Duration::from_secs(6)));
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    server.shutdown().unwrap();
}

#[test]
fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let audit = temp_dir("robust-limit").join("a.jsonl");
    let server = start(
        &audit,
        HttpOptions {
            max_connections: 4,
            idle_timeout: Duration::from_secs(1),
            ..HttpOptions::default()
        },
    );
    let addr = server.local_addr();
    let held = open(addr, 4);
    std::thread::sleep(Duration::from_millis(100));
    // A fifth connection is accepted by the kernel but served only once the idle ones
    // are closed (after the idle timeout).
    let t0 = Instant::now();
    let (status, _) = timed_decision(addr, &example_body());
    assert_eq!(status, 200);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "{took:?}"
    );
    drop(held);
    server.shutdown().unwrap();
}

const TOKEN: &str = "s3cret-token-for-the-tests-0123456789";

#[test]
fn operator_endpoints_need_the_bearer_token() {
    let audit = temp_dir("robust-auth").join("a.jsonl");
    let server = start(
        &audit,
        HttpOptions {
            auth_token: Some(AuthToken::new(&format!("{TOKEN}\n")).unwrap()),
            ..HttpOptions::default()
        },
    );
    let addr = server.local_addr();
    let open_client = Client::new(addr);
    let wrong = Client::new(addr).with_token("s3cret-token-for-the-tests-0123456788");
    let right = Client::new(addr).with_token(TOKEN);
    // Every endpoint that changes later answers needs the token: /v1/decide feeds the
    // day-ahead head, /v1/reload swaps the policy.
    for path in ["/metrics", "/v1/reload", "/v1/decide"] {
        let method = if path == "/metrics" { "GET" } else { "POST" };
        let body = if path == "/v1/decide" {
            example_body()
        } else {
            Vec::new()
        };
        for c in [&open_client, &wrong] {
            let r = c.request(method, path, &body);
            assert_eq!(r.status, 401, "{path}: {}", r.body);
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(v["error"], "unauthorized");
            assert_eq!(v["status"], 401);
            assert!(v["message"].as_str().unwrap().contains("Bearer"), "{v}");
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        }
        let r = right.request(method, path, &body);
        assert!(r.status == 200 || r.status == 409, "{path}: {}", r.body);
    }
    // The probes stay open.
    assert_eq!(open_client.request("GET", "/healthz", b"").status, 200);
    assert_eq!(open_client.request("GET", "/readyz", b"").status, 200);
    let m = right.request("GET", "/metrics", b"").body;
    assert!(
        m.contains("powermix_rejected_requests_total{status=\"401\"} 6"),
        "{m}"
    );
    server.shutdown().unwrap();
    let text = std::fs::read_to_string(&audit).unwrap();
    let refused = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"rejected\"") && l.contains("\"status\":401"))
        .count();
    assert_eq!(refused, 6, "every refusal is audited");
    assert!(
        !text.contains(TOKEN),
        "the token never reaches the audit log"
    );
}

#[test]
fn graceful_shutdown_finishes_the_request_in_progress() {
    let audit = temp_dir("robust-shutdown").join("a.jsonl");
    let server = start(&audit, HttpOptions::default());
    let addr = server.local_addr();
    let idle = TcpStream::connect(addr).unwrap();
    let body = example_body();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        format!(
            "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let stopping = std::thread::spawn(move || server.shutdown().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused while the one in progress finishes.
    assert!(
        Client::new(addr)
            .try_request("GET", "/healthz", b"")
            .is_err()
    );
    s.write_all(&body[body.len() / 2..]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("\"source\":\"fallback\""), "{text}");
    assert_eq!(stopping.join().unwrap(), 0, "nothing left unfinished");
    drop(idle);
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["startup", "decide", "shutdown"]);
}
