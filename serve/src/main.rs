//! `serve`: live dispatch decisions over HTTP (or JSONL on stdin), with the expert rules as
//! the safety fallback. `serve --help` lists every flag with its default.
//!
//! Exit codes: 0 ok (also after a graceful shutdown on SIGTERM or Ctrl-C), 2 bad arguments
//! or config, 1 an I/O failure (listen, audit log).

use clap::{Parser, ValueEnum};
use powermix_agent::rules::ExpertParams;
use powermix_env::SiteConfig;
use powermix_serve::http::{AuthToken, HttpOptions, serve};
use powermix_serve::{
    Clock, SERVER_VERSION, ServeOptions, Service, SystemClock, TimeLimits, TimeSource,
    example_request, load_primary,
};
use powermix_wire::FIELD_DOCS;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Live dispatch decisions for the powermix site over HTTP (or JSONL on stdin), with the
/// expert rules as the safety fallback.
#[derive(Debug, Parser)]
#[command(name = "serve", version, max_term_width = 100)]
struct Args {
    /// Primary policy checkpoint; without a loadable one the expert rules answer (reason
    /// no_checkpoint).
    #[arg(long, value_name = "DIR", default_value = "checkpoints/default")]
    checkpoint: PathBuf,
    /// Site config TOML [default: the embedded configs/site.toml].
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Expert rule parameters TOML [default: the embedded configs/expert.toml].
    #[arg(long, value_name = "FILE")]
    expert: Option<PathBuf>,
    /// Address to listen on. Other than loopback, set --auth-token-file.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Bearer token file: `/v1/decide` (it feeds the day-ahead offer's state), `/v1/reload`
    /// and `/metrics` then need `Authorization: Bearer <token>` (401 without); `/healthz`
    /// and `/readyz` stay open [default: no token].
    #[arg(long, value_name = "FILE")]
    auth_token_file: Option<PathBuf>,
    /// Append every request and answer as JSON lines, each written before its answer is
    /// sent [default: no audit log].
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Also fdatasync every audit line (survives a machine crash; slower).
    #[arg(long, requires = "audit_log")]
    audit_fsync: bool,
    /// Oldest accepted snapshot, minutes, in (0, 1440].
    #[arg(long, value_name = "N", default_value_t = 20.0, value_parser = parse_minutes)]
    max_age_minutes: f64,
    /// What "now" is for the age check: the system clock, or replay (each request's
    /// snapshot_time_utc) [default: system over HTTP, replay with --stdin].
    #[arg(long, value_enum, value_name = "MODE")]
    clock: Option<ClockMode>,
    /// Read JSONL requests on stdin, write JSONL answers on stdout (no HTTP).
    #[arg(long)]
    stdin: bool,
    /// Print a valid request body (stdout) and its field docs (stderr), then exit.
    #[arg(long)]
    example_request: bool,
    /// Threads of the HTTP runtime, 1 to 256 [default: the number of CPUs].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    /// Most connections open at once; more wait in the kernel's accept queue. Keep it
    /// below the open-file limit (ulimit -n).
    #[arg(long, value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Deadline for a request's head, and for its body, seconds (a stalled body gets 408; a
    /// stalled head closes the connection).
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_seconds: u64,
    /// A keep-alive connection with no request for this long is closed, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout_seconds: u64,
    /// Log format on stderr.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Least severe log level written (info: one line per request).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = LogLevel::Info)]
    log_level: LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClockMode {
    System,
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per event, with the request span's fields.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

fn parse_minutes(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|m| m.is_finite() && *m > 0.0 && *m <= 24.0 * 60.0)
        .ok_or_else(|| format!("{v}: must be a number of minutes in (0, 1440]"))
}

fn init_logs(format: LogFormat, level: LogLevel) {
    let level = match level {
        LogLevel::Error => tracing::Level::ERROR,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Debug => tracing::Level::DEBUG,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// SIGHUP reloads the checkpoint; the first SIGTERM or SIGINT starts a graceful shutdown,
/// a second one exits at once. signal-hook's handler only records the signal; this thread
/// acts on it.
#[cfg(unix)]
fn watch_signals(
    service: Arc<Service>,
    stop: tokio::sync::oneshot::Sender<String>,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM])?;
    let mut stop = Some(stop);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let name = match sig {
                    SIGHUP => {
                        service.reload("sighup");
                        continue;
                    }
                    SIGTERM => "SIGTERM",
                    _ => "SIGINT",
                };
                match stop.take() {
                    Some(tx) => {
                        tracing::info!("{name}: graceful shutdown");
                        let _ = tx.send(name.to_string());
                    }
                    None => {
                        tracing::warn!("{name} again: exiting now");
                        std::process::exit(1);
                    }
                }
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format, args.log_level);
    if args.example_request {
        let req = example_request(SystemClock.now_ms());
        match serde_json::to_string_pretty(&req) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        }
        eprint!("{FIELD_DOCS}");
        return ExitCode::SUCCESS;
    }
    let cfg = match &args.site {
        Some(p) => SiteConfig::load(p),
        None => Ok(SiteConfig::default_site()),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let expert = match &args.expert {
        Some(p) => ExpertParams::load(p),
        None => Ok(ExpertParams::default_params()),
    };
    let expert = match expert {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let token = match &args.auth_token_file {
        Some(p) => match AuthToken::from_file(p) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("--auth-token-file: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let replay = match args.clock {
        Some(c) => c == ClockMode::Replay,
        None => args.stdin,
    };
    let opts = ServeOptions {
        checkpoint_dir: args.checkpoint.clone(),
        limits: TimeLimits {
            max_age_ms: (args.max_age_minutes * 60_000.0).round() as i64,
            ..TimeLimits::default()
        },
        time: if replay {
            TimeSource::Replay
        } else {
            TimeSource::Clock(Arc::new(SystemClock))
        },
        audit_log: args.audit_log.clone(),
        audit_fsync: args.audit_fsync,
    };
    let service = match Service::new(cfg, expert, opts, Arc::new(load_primary)) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let st = service.decider.status();
    let serving = match &st.model_id {
        Some(id) => format!("policy {id}"),
        None => format!(
            "the expert fallback ({}: {})",
            st.reason.map(|r| r.code()).unwrap_or("?"),
            st.message
        ),
    };

    if args.stdin {
        tracing::info!(
            "serve {SERVER_VERSION}: JSONL on stdin, decisions by {serving}; clock: {}",
            if replay { "replay" } else { "system" }
        );
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        return match service.run_jsonl(stdin.lock(), std::io::BufWriter::new(stdout.lock())) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        };
    }

    let workers = args.workers.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("serve-http")
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let http = HttpOptions {
        workers,
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds),
        max_connections: args.max_connections as usize,
        auth_token: token,
        ..HttpOptions::default()
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let addr: Option<SocketAddr> = listener.local_addr().ok();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<String>();
        #[cfg(unix)]
        if let Err(e) = watch_signals(service.clone(), stop_tx) {
            tracing::error!("cannot watch signals (SIGHUP, SIGTERM, SIGINT): {e}");
            return ExitCode::FAILURE;
        }
        #[cfg(not(unix))]
        let _keep = stop_tx;
        tracing::info!(
            "serve {SERVER_VERSION}: listening on http://{} ({workers} workers), decisions by {serving}; config {}{}",
            addr.map(|a| a.to_string()).unwrap_or_else(|| args.listen.clone()),
            service.config_hash(),
            args.audit_log
                .as_ref()
                .map(|p| format!("; audit log {}", p.display()))
                .unwrap_or_default()
        );
        if http.auth_token.is_none() && addr.is_some_and(|a| !a.ip().is_loopback()) {
            tracing::warn!(
                "listening on {} (not loopback) without --auth-token-file: anyone who reaches the port can send decisions that feed the day-ahead offer, reload the policy and read /metrics",
                args.listen
            );
        }
        let stop = async move { stop_rx.await.unwrap_or_else(|_| "signals".into()) };
        match serve(listener, service.clone(), http, stop).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("audit log at shutdown: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
