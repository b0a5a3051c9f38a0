//! Backtest equals live: a synthetic week decided by the env with the expert rules and by
//! the server, from requests built the way an operator's system builds them, gives the
//! same projected dispatch to the bit (in process, and through `serve --stdin`).

mod common;

use common::decider;
use powermix_agent::rules::{Expert, ExpertParams};
use powermix_data::synth;
use powermix_env::env::{Env, Window};
use powermix_env::time::format_utc;
use powermix_env::{DayAheadOffer, Dispatch, Market, OBS_DIM, SiteConfig, SiteState};
use powermix_serve::{Answer, FixedClock, Reason, Source, TimeSource};
use powermix_wire::{DecideRequest, check, from_value, request_from_market};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

fn operator_request(m: &Market, t: usize, state: &SiteState) -> DecideRequest {
    request_from_market(m, t, state)
}

fn bits(d: &Dispatch) -> [u64; 8] {
    [
        d.inference_mw.to_bits(),
        d.training_mw.to_bits(),
        d.tranche_mw[0].to_bits(),
        d.tranche_mw[1].to_bits(),
        d.tranche_mw[2].to_bits(),
        d.award_mw[0].to_bits(),
        d.award_mw[1].to_bits(),
        d.award_mw[2].to_bits(),
    ]
}

/// The week around the year's highest price (spikes, and an emergency if there is one),
/// in a 4CP month when possible.
fn week(m: &Market) -> (usize, usize) {
    let n = m.len();
    let t_max = (0..n)
        .max_by(|&a, &b| {
            let p = &m.hindsight().data.rt_price;
            p[a].total_cmp(&p[b])
        })
        .unwrap();
    let start = t_max.saturating_sub(3 * 96).min(n - 7 * 96);
    (start, start + 7 * 96)
}

struct Run {
    requests: Vec<DecideRequest>,
    env_dispatch: Vec<Dispatch>,
    /// The day-ahead offer the env cleared at each gate (None elsewhere).
    offers: Vec<Option<DayAheadOffer>>,
    emergency: Vec<bool>,
}

/// Drives the env with the expert over the week, recording each interval's request.
fn env_run(m: &Arc<Market>, start: usize, end: usize) -> Run {
    let mut env = Env::new(m.clone(), Window::Whole { start, end }, 1).unwrap();
    let mut obs = vec![0.0; OBS_DIM];
    env.reset_into(Some(1), &mut obs);
    let mut expert = Expert::new(&m.cfg, ExpertParams::default_params());
    let mut run = Run {
        requests: Vec::new(),
        env_dispatch: Vec::new(),
        offers: Vec::new(),
        emergency: Vec::new(),
    };
    for t in start..end {
        assert_eq!(env.index(), t);
        let state = *env.state();
        run.requests.push(operator_request(m, t, &state));
        let snap = m.snapshot(t, &state);
        run.emergency.push(snap.emergency.active());
        let (a, offer) = powermix_agent::decide(&mut expert, &snap);
        let (_, info, _, _) = env.step_with_offer(&a, offer.as_ref(), &mut obs);
        run.offers.push(
            m.is_da_gate(t)
                .then(|| offer.unwrap_or_else(|| DayAheadOffer::from_action(&a, &m.cfg))),
        );
        run.env_dispatch.push(info.dispatch);
    }
    run
}

#[test]
fn backtest_equals_live_to_the_bit() {
    let cfg = SiteConfig::default_site();
    let m = Arc::new(Market::new(synth::synthetic_year(2024, 1), cfg.clone()));
    let (start, end) = week(&m);
    let run = env_run(&m, start, end);
    let emergencies = run.emergency.iter().filter(|&&e| e).count();
    let mut gates = 0;

    let clock = Arc::new(FixedClock::new(0));
    let fallback = decider(TimeSource::Clock(clock.clone()), None);
    let as_policy = decider(
        TimeSource::Clock(clock.clone()),
        Some(json!({"model_id": "expert-as-policy", "kind": "expert"})),
    );
    let mut by_policy = 0;
    for (k, t) in (start..end).enumerate() {
        clock.set(m.interval_start_ms(t));
        let req = &run.requests[k];
        let body = serde_json::to_vec(req).unwrap();

        // The request becomes the env's own snapshot.
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let (parsed, problems) = from_value(&v).unwrap();
        let checked = check(&parsed, &cfg, problems).unwrap();
        assert!(checked.problems.is_empty(), "t={t}: {:?}", checked.problems);
        let state = SiteState {
            tranche_mw: [0, 1, 2].map(|i| req.site.tranche_mw[i]),
            training_mw: req.site.training_mw,
            training_hold: req.site.training_hold,
            award_mw: req.site.award_mw.to_array(),
            unavailable_mw: [0.0; 3],
        };
        assert_eq!(
            checked.snapshot(),
            m.snapshot(t, &state),
            "snapshot at t={t}"
        );

        let want = bits(&run.env_dispatch[k]);
        let a = fallback.decide_body(&body).unwrap();
        assert_eq!(a.source, Source::Fallback);
        let expect_reason = if run.emergency[k] {
            Reason::Emergency
        } else {
            Reason::NoCheckpoint
        };
        assert_eq!(a.reason, Some(expect_reason), "t={t}: {}", a.message);
        assert_eq!(bits(&a.dispatch()), want, "fallback dispatch at t={t}");
        // At the gate the answer carries the offer the env cleared.
        assert_eq!(
            a.day_ahead_offer.as_ref().map(|o| o.hours.clone()),
            run.offers[k].as_ref().map(|o| o.hours.clone()),
            "day-ahead offer at t={t}"
        );
        gates += usize::from(run.offers[k].is_some());

        let b = as_policy.decide_body(&body).unwrap();
        if !run.emergency[k] {
            assert_eq!(b.source, Source::Policy, "t={t}: {}", b.message);
            by_policy += 1;
        }
        assert_eq!(bits(&b.dispatch()), want, "policy dispatch at t={t}");
    }
    assert_eq!(by_policy + emergencies, end - start);
    assert_eq!(gates, 7, "a gate a day");
    eprintln!(
        "week {}..{}: {} intervals equal to the bit, {emergencies} in emergency",
        format_utc(m.interval_start_ms(start)),
        format_utc(m.interval_start_ms(end - 1)),
        end - start
    );
}

#[test]
fn stdin_replay_equals_backtest_to_the_bit() {
    let m = Arc::new(Market::new(
        synth::synthetic_year(2024, 1),
        SiteConfig::default_site(),
    ));
    let (start, end) = week(&m);
    let run = env_run(&m, start, end);
    // Every 5th interval, plus a day in a row.
    let picked: Vec<usize> = (0..end - start)
        .filter(|k| k % 5 == 0 || (96..192).contains(k))
        .collect();
    let mut input = Vec::new();
    for &k in &picked {
        serde_json::to_writer(&mut input, &run.requests[k]).unwrap();
        input.push(b'\n');
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_serve"))
        .args([
            "--stdin",
            "--checkpoint",
            "/nonexistent/powermix-checkpoint",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve binary runs");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), picked.len());
    for (line, &k) in lines.iter().zip(&picked) {
        let a: Answer = serde_json::from_str(line).unwrap();
        let t = start + k;
        assert_eq!(a.interval_start_utc, format_utc(m.interval_start_ms(t)));
        assert!(
            matches!(a.reason, Some(Reason::NoCheckpoint | Reason::Emergency)),
            "{}",
            a.message
        );
        assert_eq!(
            bits(&a.dispatch()),
            bits(&run.env_dispatch[k]),
            "stdin dispatch at t={t}"
        );
    }
}
