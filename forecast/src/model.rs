//! The model file: one JSON file per model, written atomically (temp file, fsync, rename)
//! and loaded only after its format version, kind, feature names, shapes and finiteness are
//! checked. Its model id is the workspace's FNV-1a ([`powermix_agent::checkpoint::hash_hex`])
//! of the file's bytes, so a checkpoint can carry it as an extra file and name it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the file layout; a file with another version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// Largest model file read (bytes).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Which local years a model was fitted, selected and scored on, and on which data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Fitted on these local years (inclusive).
    pub fit_years: [i32; 2],
    /// Epochs and every other choice made on this year.
    pub select_year: i32,
    /// Scored on this year; nothing is chosen on it.
    pub score_year: i32,
    /// Settlement point of the fitting and selection data.
    pub fit_settlement_point: String,
    /// Generated market files whose every year was added to the fitting rows (`forecast
    /// fit --also-fit`; absent from files fitted on real years alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_fit: Vec<String>,
}

impl Split {
    /// Fit 2018-2022, select on 2023, score on 2024.
    pub fn standard(settlement_point: &str) -> Split {
        Split {
            fit_years: [2018, 2022],
            select_year: 2023,
            score_year: 2024,
            fit_settlement_point: settlement_point.to_string(),
            also_fit: Vec::new(),
        }
    }
}

/// One dense layer (env's, the layout observations read too).
pub use powermix_env::learned::DenseLayer as Layer;

/// A model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `fourcp`, `fourcp_lf`, `rt_price`, `rt_spread`, `rt_gate` or `reserve_gate` (checked
    /// at load against the kind the caller expects).
    pub kind: String,
    /// The split.
    pub split: Split,
    /// Input feature names, in order (checked against this build's at load).
    pub feature_names: Vec<String>,
    /// Output names, in order.
    pub output_names: Vec<String>,
    /// Feature normalisation: `(x - mean) / std`.
    pub norm_mean: Vec<f32>,
    /// See `norm_mean` (every entry > 0).
    pub norm_std: Vec<f32>,
    /// Layers; tanh after every layer but the last.
    pub layers: Vec<Layer>,
    /// Added to each output of the last layer (the 4CP model's prior correction of its
    /// class weight, `-ln w`; zeros for prices).
    pub output_offset: Vec<f32>,
    /// What was chosen on the selection year and how (epochs, width, weights, ...).
    pub selection: BTreeMap<String, f64>,
    /// The command that wrote it.
    pub command: String,
}

/// Why a model file was refused: the file and the field.
#[derive(Debug, thiserror::Error)]
#[error("forecast model {file}: {field}: {message}")]
pub struct ModelError {
    /// The file.
    pub file: String,
    /// The field at fault (or `file` for I/O).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ModelError {
    fn new(file: &Path, field: &str, message: impl Into<String>) -> ModelError {
        ModelError {
            file: file.display().to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl ModelFile {
    /// The outputs of the network for one row of raw (unnormalised) features.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        powermix_env::learned::dense_forward(
            &self.norm_mean,
            &self.norm_std,
            &self.layers,
            &self.output_offset,
            x,
        )
    }

    /// Checks the layout against `kind`, this build's feature names and output names.
    pub fn check(
        &self,
        file: &Path,
        kind: &str,
        features: &[String],
        outputs: &[String],
    ) -> Result<(), ModelError> {
        let err = |field: &str, msg: String| Err(ModelError::new(file, field, msg));
        if self.format_version != FORMAT_VERSION {
            return err(
                "format_version",
                format!(
                    "{} (this build reads {FORMAT_VERSION})",
                    self.format_version
                ),
            );
        }
        if self.kind != kind {
            return err("kind", format!("{:?}, expected {kind:?}", self.kind));
        }
        if self.feature_names != features {
            return err(
                "feature_names",
                format!(
                    "{:?} differ from this build's {:?}",
                    self.feature_names, features
                ),
            );
        }
        if self.output_names != outputs {
            return err(
                "output_names",
                format!(
                    "{:?} differ from this build's {:?}",
                    self.output_names, outputs
                ),
            );
        }
        let d = features.len();
        if self.norm_mean.len() != d || self.norm_std.len() != d {
            return err("norm_mean/norm_std", format!("length is not {d}"));
        }
        if self.norm_mean.iter().any(|x| !x.is_finite()) {
            return err("norm_mean", "not finite".into());
        }
        if self.norm_std.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
            return err("norm_std", "not finite and positive".into());
        }
        if self.layers.is_empty() {
            return err("layers", "empty".into());
        }
        let mut width = d;
        for (i, l) in self.layers.iter().enumerate() {
            let f = format!("layers[{i}]");
            if l.d_in != width {
                return err(&f, format!("d_in {} after width {width}", l.d_in));
            }
            if l.weight.len() != l.d_in * l.d_out || l.bias.len() != l.d_out {
                return err(&f, format!("shape is not [{}, {}]", l.d_in, l.d_out));
            }
            if l.weight.iter().chain(&l.bias).any(|x| !x.is_finite()) {
                return err(&f, "not finite".into());
            }
            width = l.d_out;
        }
        if width != outputs.len() || self.output_offset.len() != width {
            return err(
                "layers",
                format!("output width {width}, expected {}", outputs.len()),
            );
        }
        if self.output_offset.iter().any(|x| !x.is_finite()) {
            return err("output_offset", "not finite".into());
        }
        Ok(())
    }

    /// Writes the file atomically: `path.tmp-<pid>`, fsync, rename, fsync of the folder.
    /// Returns the model id.
    pub fn save(&self, path: &Path) -> Result<String, ModelError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| ModelError::new(path, "file", e.to_string()))?;
        let io = |e: std::io::Error| ModelError::new(path, "file", e.to_string());
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = PathBuf::from(path);
        tmp.set_extension(format!("tmp-{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(powermix_agent::checkpoint::hash_hex(&bytes))
    }

    /// Reads and checks a model file; returns it and its model id.
    pub fn load(
        path: &Path,
        kind: &str,
        features: &[String],
        outputs: &[String],
    ) -> Result<(ModelFile, String), ModelError> {
        let io = |e: std::io::Error| ModelError::new(path, "file", e.to_string());
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES {
            return Err(ModelError::new(
                path,
                "file",
                format!("{len} bytes > {MAX_FILE_BYTES}"),
            ));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        ModelFile::parse(&bytes, path, kind, features, outputs)
    }

    /// Parses and checks a model file's bytes (`origin` names it in errors); returns it and
    /// its model id. What [`ModelFile::load`] does after reading, for a model embedded in
    /// the build.
    pub fn parse(
        bytes: &[u8],
        origin: &Path,
        kind: &str,
        features: &[String],
        outputs: &[String],
    ) -> Result<(ModelFile, String), ModelError> {
        let m: ModelFile = serde_json::from_slice(bytes)
            .map_err(|e| ModelError::new(origin, "json", e.to_string()))?;
        m.check(origin, kind, features, outputs)?;
        Ok((m, powermix_agent::checkpoint::hash_hex(bytes)))
    }
}
