//! The scorecard (`evaluate --panel`) and the gap attribution (`--attribution`): panel files
//! are read strictly, every panel is scored against its own always-on and oracle, the
//! attribution adds up, and panels are marked against what a checkpoint saw.

use powermix_agent::rules::ExpertParams;
use powermix_data::{synth, write_parquet};
use powermix_env::SiteConfig;
use powermix_eval::attribution::GROUPS;
use powermix_eval::panel::{
    Exposure, PanelError, PanelFile, ScorecardRequest, Seen, format_scorecard, run_scorecard,
};
use std::path::{Path, PathBuf};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("powermix-panel-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("data")).unwrap();
    d
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn panel_files_are_read_strictly_and_name_the_panel() {
    let d = temp_dir("strict");
    let f = d.join("p.toml");
    write(
        &f,
        "[[panel]]\nname = \"A\"\ndata = \"data/a.parquet\"\nperiod = \"2024-01-01..2024-01-08\"\n",
    );
    let p = PanelFile::load(&f).unwrap();
    assert_eq!(p.seed, 7);
    // Relative data paths are read from the panel file's folder.
    assert_eq!(p.panel[0].data, d.join("data/a.parquet"));

    write(&f, "seed = 1\n");
    let e = PanelFile::load(&f).unwrap_err().to_string();
    assert!(e.contains("panel"), "{e}");
    write(
        &f,
        "[[panel]]\nname = \"A\"\ndata = \"a\"\nperiod = \"2024-01-01..2024-01-08\"\nhub = 1\n",
    );
    let e = PanelFile::load(&f).unwrap_err().to_string();
    assert!(e.contains("hub"), "{e}");
    write(
        &f,
        "[[panel]]\nname = \"Late\"\ndata = \"a\"\nperiod = \"2024-02-01..2024-01-01\"\n",
    );
    let e = PanelFile::load(&f).unwrap_err();
    assert!(matches!(e, PanelError::Period { .. }), "{e}");
    assert!(e.to_string().contains("Late"), "{e}");
    // The reason is in the message and not again as a source: `error: {e:#}` in the
    // binaries prints each source after the message, which printed it twice.
    assert!(std::error::Error::source(&e).is_none(), "{e}");
    let e = PanelFile::load(&d.join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn a_missing_data_file_names_the_panel_and_the_file() {
    let d = temp_dir("missing");
    let f = d.join("p.toml");
    write(
        &f,
        "[[panel]]\nname = \"Nowhere\"\ndata = \"data/none.parquet\"\nperiod = \"2024-01-01..2024-01-08\"\n",
    );
    let file = PanelFile::load(&f).unwrap();
    let e = run_scorecard(
        ScorecardRequest {
            file: &file,
            site: &SiteConfig::default_site(),
            policies: &["always-on".to_string()],
            expert: &ExpertParams::default_params(),
            checkpoint: None,
            forecasts: None,
            attribution: false,
        },
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Nowhere") && e.contains("none.parquet"), "{e}");
}

/// Two panels on two synthetic "hubs": every policy is scored against each panel's own
/// always-on and oracle, the table has a row per policy and a column per panel, and the
/// attribution's parts add up to each policy's gap, group by group and in total.
#[test]
fn the_scorecard_scores_every_panel_and_the_attribution_adds_up() {
    let d = temp_dir("card");
    for (name, seed) in [("a", 21), ("b", 22)] {
        write_parquet(
            &synth::generate_year(2024, seed),
            &d.join(format!("data/{name}.parquet")),
        )
        .unwrap();
    }
    let f = d.join("p.toml");
    write(
        &f,
        "seed = 3\n\
         [[panel]]\nname = \"A july\"\ndata = \"data/a.parquet\"\nperiod = \"2024-07-08..2024-07-12\"\n\
         [[panel]]\nname = \"B march\"\ndata = \"data/b.parquet\"\nperiod = \"2024-03-04..2024-03-08\"\n",
    );
    let file = PanelFile::load(&f).unwrap();
    let policies: Vec<String> = ["always-on", "expert", "oracle"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut seen = Vec::new();
    let card = run_scorecard(
        ScorecardRequest {
            file: &file,
            site: &SiteConfig::default_site(),
            policies: &policies,
            expert: &ExpertParams::default_params(),
            checkpoint: None,
            forecasts: None,
            attribution: true,
        },
        |name| seen.push(name.to_string()),
    )
    .unwrap();
    assert_eq!(seen, ["A july", "B march"]);
    // The attribution's references join the rows.
    assert_eq!(
        card.policies,
        [
            "always-on",
            "expert",
            "oracle",
            "day-ahead-mpc",
            "mpc-perfect-forecast"
        ]
    );
    assert_eq!(card.rows.len(), card.policies.len());
    for p in &card.panels {
        assert!(p.oracle_breaches.is_empty(), "{:?}", p.oracle_breaches);
        assert_eq!(p.value_captured["always-on"], Some(0.0));
        assert!((p.value_captured["oracle"].unwrap() - 1.0).abs() < 1e-12);
        assert!(p.oracle_usd > p.always_on_usd, "{}", p.panel.name);
        assert_eq!(p.exposure, None);
        let attribution = p.attribution.as_ref().unwrap();
        // Every policy but the oracle and the perfect-forecast MPC is attributed.
        let names: Vec<&str> = attribution.iter().map(|a| a.policy.as_str()).collect();
        assert_eq!(names, ["always-on", "expert", "day-ahead-mpc"]);
        for a in attribution {
            let gap = p.oracle_usd - p.profit_usd[&a.policy];
            assert!(
                (a.total.gap - gap).abs() < 1e-6 * gap.abs().max(1.0),
                "{}: {} vs {gap}",
                a.policy,
                a.total.gap
            );
            assert_eq!(a.groups.len(), GROUPS.len());
            for (g, s) in &a.groups {
                assert!(
                    (s.forecast + s.policy - s.gap).abs() < 1e-9,
                    "{} {g}",
                    a.policy
                );
            }
            // The forecast part is the same for every policy: a property of the MPC.
            assert_eq!(a.total.forecast, attribution[0].total.forecast);
        }
        // The day-ahead MPC's own policy error is what the perfect-forecast MPC still
        // leaves to the oracle.
        let mpc = attribution
            .iter()
            .find(|a| a.policy == "day-ahead-mpc")
            .unwrap();
        let perfect = p.profit_usd["mpc-perfect-forecast"];
        assert!(
            (mpc.total.policy - (p.oracle_usd - perfect)).abs() < 1e-6 * p.oracle_usd.abs(),
            "{} vs {}",
            mpc.total.policy,
            p.oracle_usd - perfect
        );
    }
    // Mean and worst of each row are over the panels' values.
    let expert = card.rows.iter().find(|r| r.policy == "expert").unwrap();
    let vals: Vec<f64> = card
        .panels
        .iter()
        .map(|p| p.value_captured["expert"].unwrap())
        .collect();
    assert!((expert.mean.unwrap() - (vals[0] + vals[1]) / 2.0).abs() < 1e-12);
    assert_eq!(expert.worst, Some(vals[0].min(vals[1])));
    assert_eq!(
        expert.mean_unseen, None,
        "no checkpoint: nothing is marked unseen"
    );
    let table = format_scorecard(&card);
    assert!(
        table.contains("A july") && table.contains("B march"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 1 + card.policies.len(), "{table}");
    // The JSON has every panel and row.
    let json = serde_json::to_value(&card).unwrap();
    assert_eq!(json["panels"].as_array().unwrap().len(), 2);
    assert_eq!(json["rows"].as_array().unwrap().len(), 5);
}

#[test]
fn panels_are_marked_against_what_the_checkpoint_saw() {
    let ms = |d: &str| powermix_env::time::parse_period(d).unwrap();
    let seen = Seen {
        data_hash: "west".into(),
        train: ms("2021-01-01..2024-01-01"),
        val: Some(ms("2024-01-01..2025-01-01")),
        also_train: Vec::new(),
        val_data: Vec::new(),
    };
    let p2023 = ms("2023-01-01..2024-01-01");
    let p2024 = ms("2024-01-01..2025-01-01");
    let p2025 = ms("2025-01-01..2026-01-01");
    assert_eq!(seen.exposure("west", p2023), Exposure::Trained);
    assert_eq!(seen.exposure("west", p2024), Exposure::Selected);
    assert_eq!(seen.exposure("houston", p2024), Exposure::SameYears);
    assert_eq!(seen.exposure("houston", p2023), Exposure::SameYears);
    assert_eq!(seen.exposure("west", p2025), Exposure::Unseen);
    assert_eq!(seen.exposure("houston", p2025), Exposure::Unseen);
    // A period that only touches the training period's end is not inside it.
    let dec = ms("2023-12-31..2024-01-01");
    assert_eq!(seen.exposure("west", dec), Exposure::Trained);
    let jan = ms("2024-01-01..2024-01-02");
    assert_eq!(seen.exposure("west", jan), Exposure::Selected);

    // A further training file (`train --also-train`): its panels in its period are trained
    // on; its other years, and other files in its years, are not unseen either.
    let more = Seen {
        also_train: vec![("synth".into(), ms("2015-01-01..2017-01-01"))],
        ..seen.clone()
    };
    let p2016 = ms("2016-01-01..2017-01-01");
    assert_eq!(more.exposure("synth", p2016), Exposure::Trained);
    assert_eq!(more.exposure("houston", p2016), Exposure::SameYears);
    assert_eq!(more.exposure("west", p2016), Exposure::SameYears);
    assert_eq!(more.exposure("synth", p2025), Exposure::Unseen);
    assert_eq!(more.exposure("synth", p2024), Exposure::SameYears);
    assert_eq!(seen.exposure("houston", p2016), Exposure::Unseen);

    // Validation on other files (`train --val-data`): those files' panels in their period
    // are selected on, their other years are not unseen; --data's own 2024 is then only
    // the same years (no validation ran on it).
    let elsewhere = Seen {
        val: None,
        val_data: vec![("synth".into(), p2024)],
        ..seen.clone()
    };
    assert_eq!(elsewhere.exposure("synth", p2024), Exposure::Selected);
    assert_eq!(elsewhere.exposure("west", p2024), Exposure::SameYears);
    assert_eq!(elsewhere.exposure("synth", p2025), Exposure::Unseen);
    assert_eq!(elsewhere.exposure("west", p2023), Exposure::Trained);
}

/// The real selection sets (`experiments/panels/selection.toml` and `fourcp-years.toml`) hold no
/// panel of the card (`configs/panel.toml`), and none of their panels overlaps the shipped
/// checkpoint's training period on the same data file (`Seen::exposure`, the rule that
/// marks the card): what ships is never chosen on what it reports or learnt from.
#[test]
fn the_selection_set_is_apart_from_the_card_and_the_training_years() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let card = PanelFile::load(&root.join("configs/panel.toml")).unwrap();
    // Data files are compared by name here (the card compares hashes, which needs the
    // data): the same name is the same hub.
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let period = |s: &str| powermix_env::time::parse_period(s).unwrap();
    let meta = powermix_agent::checkpoint::read_meta(&root.join("checkpoints/default")).unwrap();
    let mut trained = Seen::from_meta(&meta).unwrap();
    trained.data_hash = name(Path::new(&meta.data.file));
    trained.also_train = (meta.data.also_train.iter())
        .map(|a| (name(Path::new(&a.file)), period(&a.train_period)))
        .collect();
    // Every set that chooses among candidates for checkpoints/default (real data).
    for file in [
        "experiments/panels/selection.toml",
        "experiments/panels/fourcp-years.toml",
    ] {
        let sel = PanelFile::load(&root.join(file)).unwrap();
        assert!(!sel.panel.is_empty(), "{file}");
        for s in &sel.panel {
            for c in &card.panel {
                let card_panel = Seen {
                    data_hash: name(&c.data),
                    train: period(&c.period),
                    val: Some(period(&c.period)),
                    also_train: Vec::new(),
                    val_data: Vec::new(),
                };
                assert_ne!(
                    card_panel.exposure(&name(&s.data), period(&s.period)),
                    Exposure::Trained,
                    "{file}: panel {} overlaps card panel {}",
                    s.name,
                    c.name
                );
            }
            assert_ne!(
                trained.exposure(&name(&s.data), period(&s.period)),
                Exposure::Trained,
                "{file}: panel {} overlaps the training period {}",
                s.name,
                meta.data.train_period
            );
        }
    }
}
