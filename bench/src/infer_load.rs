//! `bench infer` over HTTP: the in-process server (`powermix_serve::http`) on 127.0.0.1:0,
//! clients on ureq keep-alive connections.
//!
//! - closed loop: 4 clients, 10,000 requests in all, each sent when the previous answer is
//!   in (`http_p99_ms`, `http_req_per_sec`);
//! - under idle load: 1,000 connections opened and left silent for the whole run while 64
//!   clients send 1,000 requests per second in all, each on its own schedule, for 5 s
//!   (`http_p99_ms_under_idle`, target at most 2 ms). Needs about 2,200 file descriptors
//!   (`ulimit -n 4096`);
//! - in operation: one client sends whole days of consecutive intervals in order, as an
//!   operator does, pausing 20 ms after each 09:45 request (the 15 minutes in which the
//!   day-ahead head's gate LP runs on its own thread), so the 10:00 gate finds its plan
//!   ready (`http_p99_ms_in_operation`). The closed-loop and idle-load bodies are spread
//!   over the year, so some of their gates come with no 09:45 request before them and plan
//!   their LP on the request path.
//!
//! Latency is measured from sending to the answer.

use powermix_serve::Service;
use powermix_serve::http::{HttpOptions, HttpServer};
use serde_json::{Map, Value, json};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runtime threads of the server (the bench machine has 2 cores).
const WORKERS: usize = 2;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One decision: its latency in ms, or the error.
fn decide(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut r = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    if r.status() != 200 {
        return Err(format!("HTTP {}: {text}", r.status()));
    }
    Ok(ms)
}

/// When request `k` of a client may go.
enum Pace {
    /// Now (closed loop).
    Now,
    /// At this instant, or now if it has passed (open loop).
    At(Instant),
    /// Not at all: the client is done.
    Stop,
}

/// `clients` threads on their own keep-alive connections, each sending `per_client`
/// decisions (client `c` cycles through `bodies` from `c * per_client`) when `pace(c, k)`
/// lets it; the latencies of all, sorted.
fn run_clients(
    url: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    clients: usize,
    per_client: usize,
    pace: impl Fn(usize, usize) -> Pace + Send + Sync + 'static,
) -> Result<Vec<f64>, String> {
    let pace = Arc::new(pace);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (bodies, url, pace) = (bodies.clone(), url.to_string(), pace.clone());
            std::thread::spawn(move || -> Result<Vec<f64>, String> {
                let agent = agent();
                let mut lat = Vec::with_capacity(per_client);
                for k in 0..per_client {
                    match pace(c, k) {
                        Pace::Stop => break,
                        Pace::At(at) => {
                            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        Pace::Now => {}
                    }
                    let body = &bodies[(c * per_client + k) % bodies.len()];
                    lat.push(decide(&agent, &url, body)?);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| "client thread panicked".to_string())??,
        );
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

/// 4 keep-alive clients, 2,500 requests each, back to back; bounded to 60 s.
fn closed_loop(addr: SocketAddr, bodies: &Arc<Vec<Vec<u8>>>) -> Result<(Vec<f64>, f64), String> {
    let (clients, per_client) = (4, 2500);
    let url = format!("http://{addr}/v1/decide");
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = Instant::now();
    let lat = run_clients(&url, bodies, clients, per_client, move |_, _| {
        if Instant::now() > deadline {
            Pace::Stop
        } else {
            Pace::Now
        }
    })?;
    Ok((lat, started.elapsed().as_secs_f64()))
}

/// One client sending `days` (each body, and whether it is a 09:45 request) in order, with
/// a 20 ms pause after each 09:45 request, untimed.
fn in_operation(addr: SocketAddr, days: &[(Vec<u8>, bool)]) -> Result<Vec<f64>, String> {
    let url = format!("http://{addr}/v1/decide");
    let agent = agent();
    let mut lat = Vec::with_capacity(days.len());
    for (body, pre_gate) in days {
        lat.push(decide(&agent, &url, body)?);
        if *pre_gate {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}

/// 1,000 silent connections held open while 64 clients send 1,000 requests/s for 5 s.
fn under_idle(
    addr: SocketAddr,
    bodies: &Arc<Vec<Vec<u8>>>,
    idle: usize,
) -> Result<(Vec<f64>, f64), String> {
    let (clients, rate, secs) = (64usize, 1000.0, 5.0);
    let held: Vec<TcpStream> = (0..idle)
        .map(|k| {
            TcpStream::connect(addr).map_err(|e| {
                format!(
                    "idle connection {k} of {idle}: {e} (raise the open-file limit: ulimit -n 4096)"
                )
            })
        })
        .collect::<Result<_, _>>()?;
    std::thread::sleep(Duration::from_millis(300));
    let url = format!("http://{addr}/v1/decide");
    let period = Duration::from_secs_f64(clients as f64 / rate);
    let per_client = (secs * rate / clients as f64).round() as usize;
    let started = Instant::now();
    // Clients start spread over one period, so that the load is even.
    let lat = run_clients(&url, bodies, clients, per_client, move |c, k| {
        let first = started + period.mul_f64(c as f64 / clients as f64);
        Pace::At(first + period * k as u32)
    })?;
    let secs = started.elapsed().as_secs_f64();
    // The idle connections were open (and never closed by the server) all along.
    drop(held);
    Ok((lat, secs))
}

/// The HTTP figures of `bench infer`, decided by `service`, with request bodies `bodies`
/// (spread over the year) and `days` (whole days in order, each body with whether it is
/// the 09:45 request).
pub fn http_figures(
    service: Arc<Service>,
    bodies: Vec<Vec<u8>>,
    days: &[(Vec<u8>, bool)],
) -> Result<Map<String, Value>, String> {
    let bodies = Arc::new(bodies);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let server = HttpServer::start(
        listener,
        service,
        HttpOptions {
            workers: WORKERS,
            ..HttpOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let addr = server.local_addr();
    let operation = in_operation(addr, days)?;
    let (closed, closed_secs) = closed_loop(addr, &bodies)?;
    let idle = 1000;
    let (loaded, loaded_secs) = under_idle(addr, &bodies, idle)?;
    server.shutdown().map_err(|e| e.to_string())?;
    let v = json!({
        "http_p50_ms": percentile(&closed, 0.50),
        "http_p99_ms": percentile(&closed, 0.99),
        "http_req_per_sec": (closed.len() as f64 / closed_secs).round(),
        "http_requests": closed.len(),
        "http_clients": 4,
        "http_workers": WORKERS,
        "http_p50_ms_under_idle": percentile(&loaded, 0.50),
        "http_p99_ms_under_idle": percentile(&loaded, 0.99),
        "http_max_ms_under_idle": percentile(&loaded, 1.0),
        "http_req_per_sec_under_idle": (loaded.len() as f64 / loaded_secs).round(),
        "http_requests_under_idle": loaded.len(),
        "http_clients_under_idle": 64,
        "idle_connections": idle,
        "http_p50_ms_in_operation": percentile(&operation, 0.50),
        "http_p99_ms_in_operation": percentile(&operation, 0.99),
        "http_max_ms_in_operation": percentile(&operation, 1.0),
        "http_requests_in_operation": operation.len(),
    });
    match v {
        Value::Object(m) => Ok(m),
        _ => Err("figures are an object".into()),
    }
}
