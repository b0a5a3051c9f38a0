//! `serve`: live dispatch decisions over HTTP (or JSONL on stdin), with the expert rules as
//! the safety fallback.
//!
//! ```text
//! serve [--checkpoint DIR] [--site FILE] [--expert FILE] [--listen ADDR] [--audit-log FILE]
//!       [--audit-fsync] [--max-age-minutes N] [--workers N] [--clock system|replay]
//! serve --stdin [...]          JSONL requests on stdin -> JSONL answers on stdout
//! serve --example-request      a valid request body on stdout, its field docs on stderr
//! ```
//! Exit codes: 0 ok, 2 bad arguments or config, 1 an I/O failure (listen, audit log).

use powermix_agent::rules::ExpertParams;
use powermix_serve::http::{HttpOptions, HttpServer};
use powermix_serve::request::FIELD_DOCS;
use powermix_serve::{
    Clock, SERVER_VERSION, ServeOptions, Service, SystemClock, TimeLimits, TimeSource,
    example_request, load_primary,
};
use powermix_env::SiteConfig;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: serve [--checkpoint DIR] [--site FILE] [--expert FILE] [--listen ADDR]
             [--audit-log FILE] [--audit-fsync] [--max-age-minutes N] [--workers N]
             [--clock system|replay] [--stdin] [--example-request]
  --checkpoint DIR     primary policy checkpoint (default checkpoints/default); without a
                       loadable one the expert rules answer (reason no_checkpoint)
  --site FILE          site config TOML (default: the embedded configs/site.toml)
  --expert FILE        expert rule parameters TOML (default: the embedded configs/expert.toml)
  --listen ADDR        address to listen on (default 127.0.0.1:8080)
  --audit-log FILE     append every request and answer as JSON lines (written before answering)
  --audit-fsync        also fsync every audit line (survives a machine crash; slower)
  --max-age-minutes N  oldest accepted snapshot (default 20)
  --workers N          HTTP worker threads, one connection each at a time (default 8)
  --clock MODE         system (default for HTTP) or replay: \"now\" is each request's
                       snapshot_time_utc (default for --stdin)
  --stdin              read JSONL requests on stdin, write JSONL answers on stdout
  --example-request    print a valid request body (stdout) and its field docs (stderr)";

struct Args {
    checkpoint: PathBuf,
    site: Option<PathBuf>,
    expert: Option<PathBuf>,
    listen: String,
    audit_log: Option<PathBuf>,
    audit_fsync: bool,
    max_age_minutes: f64,
    workers: usize,
    clock: Option<String>,
    stdin: bool,
    example: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        checkpoint: PathBuf::from("checkpoints/default"),
        site: None,
        expert: None,
        listen: "127.0.0.1:8080".into(),
        audit_log: None,
        audit_fsync: false,
        max_age_minutes: 20.0,
        workers: 8,
        clock: None,
        stdin: false,
        example: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--version" => {
                println!("serve {SERVER_VERSION}");
                std::process::exit(0);
            }
            "--checkpoint" => a.checkpoint = value()?.into(),
            "--site" => a.site = Some(value()?.into()),
            "--expert" => a.expert = Some(value()?.into()),
            "--listen" => a.listen = value()?,
            "--audit-log" => a.audit_log = Some(value()?.into()),
            "--audit-fsync" => a.audit_fsync = true,
            "--max-age-minutes" => {
                let v = value()?;
                a.max_age_minutes = v
                    .parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m > 0.0 && *m <= 24.0 * 60.0)
                    .ok_or_else(|| {
                        format!("--max-age-minutes {v}: must be a number of minutes in (0, 1440]")
                    })?;
            }
            "--workers" => {
                let v = value()?;
                a.workers = v
                    .parse::<usize>()
                    .ok()
                    .filter(|w| (1..=256).contains(w))
                    .ok_or_else(|| format!("--workers {v}: must be a whole number in 1..=256"))?;
            }
            "--clock" => {
                let v = value()?;
                if v != "system" && v != "replay" {
                    return Err(format!("--clock {v}: must be system or replay"));
                }
                a.clock = Some(v);
            }
            "--stdin" => a.stdin = true,
            "--example-request" => a.example = true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.audit_fsync && a.audit_log.is_none() {
        return Err("--audit-fsync needs --audit-log FILE".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::from(2);
        }
    };
    if args.example {
        let req = example_request(SystemClock.now_ms());
        match serde_json::to_string_pretty(&req) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("serve: {e}");
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
            eprintln!("serve: {e}");
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
            eprintln!("serve: {e}");
            return ExitCode::from(2);
        }
    };
    let replay = match args.clock.as_deref() {
        Some(c) => c == "replay",
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
            eprintln!("serve: {e}");
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
        eprintln!(
            "serve {SERVER_VERSION}: JSONL on stdin, decisions by {serving}; clock: {}",
            if replay { "replay" } else { "system" }
        );
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        return match service.run_jsonl(stdin.lock(), std::io::BufWriter::new(stdout.lock())) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("serve: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("serve: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    #[cfg(unix)]
    if let Err(e) = powermix_serve::reload_on_sighup(service.clone()) {
        eprintln!("serve: SIGHUP reload not available: {e}");
    }
    let server = match HttpServer::start(
        listener,
        service.clone(),
        HttpOptions {
            workers: args.workers,
            ..HttpOptions::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "serve {SERVER_VERSION}: listening on http://{} ({} workers), decisions by {serving}; config {}{}",
        server.local_addr(),
        args.workers,
        service.config_hash(),
        args.audit_log
            .as_ref()
            .map(|p| format!("; audit log {}", p.display()))
            .unwrap_or_default()
    );
    server.join();
    ExitCode::SUCCESS
}
