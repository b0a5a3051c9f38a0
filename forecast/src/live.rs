//! The forecasts of a live decision: the model files of a `forecast fit` folder run on one
//! [`Snapshot`] at a time, with the features of [`crate::features`] (the same functions the
//! fit and the scores use, so a planner's forecast in a backtest is the scored one).
//!
//! It holds no state: the 4CP features read the loads of one and two hours earlier from
//! the snapshot itself.

use crate::features::{
    fourcp_feature_names, fourcp_features_of, price_feature_names, price_features_of,
};
use crate::model::{ModelError, ModelFile};
use crate::{fourcp, price};
use powermix_env::learned::logit_chance;
use powermix_env::obs::Snapshot;
use std::path::Path;

/// File of the 4CP model in a `forecast fit` folder.
pub const FOURCP_FILE: &str = "fourcp.json";
/// File of the per-hour 4CP model in a `forecast fit` folder (optional: a folder of an
/// earlier `fit` has none).
pub const FOURCP_HOURS_FILE: &str = "fourcp_hours.json";
/// File of the real-time price model in a `forecast fit` folder.
pub const RT_PRICE_FILE: &str = "rt_price.json";

/// Quantiles (10/50/90 %) of the mean real-time price of each of the next four hours,
/// $/MWh, sorted.
pub type RtQuantiles = [[f64; 3]; price::HORIZONS];

/// The 4CP model's answer for one decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakChance {
    /// Probability that the decision's hour holds the month's 4CP interval.
    pub hour: f64,
    /// Probability that its local day holds it.
    pub day: f64,
}

/// The models a live decision reads.
#[derive(Debug, Clone)]
pub struct LiveForecasts {
    rt: ModelFile,
    fourcp: ModelFile,
    fourcp_hours: Option<ModelFile>,
    ids: Vec<(String, String)>,
}

impl LiveForecasts {
    /// Loads and checks `fourcp.json` and `rt_price.json` of `dir` (written by `forecast
    /// fit`), and `fourcp_hours.json` when the folder holds it; an error names the file and
    /// the field.
    pub fn load(dir: &Path) -> Result<LiveForecasts, ModelError> {
        let (rt, rt_id) = ModelFile::load(
            &dir.join(RT_PRICE_FILE),
            price::Target::Price.kind(),
            &price_feature_names(),
            &price::output_names(),
        )?;
        let (four, four_id) = ModelFile::load(
            &dir.join(FOURCP_FILE),
            fourcp::KIND,
            &fourcp_feature_names(),
            &fourcp::output_names(),
        )?;
        let mut live = LiveForecasts::new(rt, rt_id, four, four_id);
        let hours_path = dir.join(FOURCP_HOURS_FILE);
        if hours_path.exists() {
            let v = fourcp::Variant::PerHour;
            let (m, id) =
                ModelFile::load(&hours_path, v.kind(), &v.feature_names(), &v.output_names())?;
            live = live.with_hours(m, id);
        }
        Ok(live)
    }

    /// With the per-hour 4CP model (checked) and its id.
    pub fn with_hours(mut self, model: ModelFile, id: String) -> Self {
        self.fourcp_hours = Some(model);
        self.ids.push((FOURCP_HOURS_FILE.to_string(), id));
        self
    }

    /// Whether the per-hour 4CP model is loaded.
    pub fn has_hours(&self) -> bool {
        self.fourcp_hours.is_some()
    }

    /// From checked models and their ids.
    pub fn new(rt: ModelFile, rt_id: String, fourcp: ModelFile, fourcp_id: String) -> Self {
        LiveForecasts {
            rt,
            fourcp,
            fourcp_hours: None,
            ids: vec![
                (RT_PRICE_FILE.to_string(), rt_id),
                (FOURCP_FILE.to_string(), fourcp_id),
            ],
        }
    }

    /// The model ids, by file name.
    pub fn model_ids(&self) -> &[(String, String)] {
        &self.ids
    }

    /// The real-time quantiles of the next four hours from `snap` (every day-ahead price of
    /// a live snapshot is a real one).
    pub fn rt_quantiles(&self, snap: &Snapshot<'_>) -> RtQuantiles {
        powermix_env::learned::price_quantiles(
            &self.rt.forward(&price_features_of(snap, &|_| true)),
        )
    }

    fn fourcp_x(&self, snap: &Snapshot<'_>) -> Vec<f32> {
        fourcp_features_of(snap, &|_| true)
    }

    /// The per-hour model's chances for each hour of the rest of `snap`'s day (None
    /// without the model).
    pub fn peak_chance_by_hour(&self, snap: &Snapshot<'_>) -> Option<fourcp::HourChances> {
        let m = self.fourcp_hours.as_ref()?;
        Some(fourcp::HourChances::from_logits(
            &m.forward(&self.fourcp_x(snap)),
            snap.local.hour,
        ))
    }

    /// The 4CP chances of `snap`'s hour and day.
    pub fn peak_chance(&self, snap: &Snapshot<'_>) -> PeakChance {
        let z = self.fourcp.forward(&self.fourcp_x(snap));
        PeakChance {
            hour: logit_chance(z[0]),
            day: logit_chance(z[1]),
        }
    }
}

/// The mean of a distribution given by its 10/50/90 % quantiles, by the 0.3 / 0.4 / 0.3
/// weights of Swanson's rule (exact for a normal distribution's mean, and the usual
/// three-point reading of a P10/P50/P90 forecast).
pub fn three_point_mean(q: &[f64; 3]) -> f64 {
    0.3 * q[0] + 0.4 * q[1] + 0.3 * q[2]
}
