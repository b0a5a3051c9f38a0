//! Parquet reading and writing of market data, and the table validation both share.
//!
//! Schema (the shared data files use it): `interval_start_utc` timestamp (ms, "UTC"),
//! `rt_price` float64 without nulls, then the nullable float64 columns of
//! [`OptionalColumn::ALL`]. File key-value metadata: `settlement_point`, `interval_minutes`.
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use powermix_env::data::{COL_RT, COL_TIME, DataError, OptionalColumn, RawMarketData, validate};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File metadata key holding the settlement point name.
pub const META_SETTLEMENT_POINT: &str = "settlement_point";
/// File metadata key holding the interval length in minutes.
pub const META_INTERVAL_MINUTES: &str = "interval_minutes";
/// Settlement point assumed when a file has no `settlement_point` metadata.
pub const UNKNOWN_SETTLEMENT_POINT: &str = "UNKNOWN";

/// Reads and validates a market data parquet file.
///
/// Required columns: `interval_start_utc` (any timestamp unit, with or without a time zone,
/// read as UTC) and `rt_price` (float64, no nulls). Optional columns are nullable float64; a
/// missing optional column reads as all nulls. The table must pass [`validate`].
pub fn read_parquet(path: &Path) -> Result<RawMarketData, DataError> {
    let file_name = path.display().to_string();
    let err = |msg: String| DataError::new(file_name.clone(), msg);
    let file = File::open(path).map_err(|e| err(format!("cannot open file: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(format!("not a readable parquet file: {e}")))?;

    let settlement_point = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == META_SETTLEMENT_POINT))
        .and_then(|k| k.value.clone())
        .unwrap_or_else(|| UNKNOWN_SETTLEMENT_POINT.to_string());

    let schema = builder.schema().clone();
    let time_idx = schema
        .index_of(COL_TIME)
        .map_err(|_| err("missing required column".into()).column(COL_TIME))?;
    let time_unit = match schema.field(time_idx).data_type() {
        DataType::Timestamp(unit, _) => *unit,
        other => {
            return Err(err(format!("expected a timestamp column, found {other}")).column(COL_TIME));
        }
    };
    let rt_idx = schema
        .index_of(COL_RT)
        .map_err(|_| err("missing required column".into()).column(COL_RT))?;
    check_float64(&schema, rt_idx, COL_RT, &file_name)?;
    let mut opt_idx = [None; 8];
    for c in OptionalColumn::ALL {
        if let Ok(i) = schema.index_of(c.name()) {
            check_float64(&schema, i, c.name(), &file_name)?;
            opt_idx[c.index()] = Some(i);
        }
    }

    let reader = builder
        .with_batch_size(65_536)
        .build()
        .map_err(|e| err(format!("cannot read: {e}")))?;
    let mut raw = RawMarketData {
        settlement_point,
        ..RawMarketData::default()
    };
    for batch in reader {
        let batch = batch.map_err(|e| err(format!("cannot read: {e}")))?;
        let offset = raw.len();
        append_times(
            &mut raw.interval_start_ms,
            batch.column(time_idx),
            time_unit,
            offset,
            &file_name,
        )?;
        let rt = batch.column(rt_idx).as_primitive::<Float64Type>();
        if let Some(row) = (0..rt.len()).find(|&r| rt.is_null(r)) {
            return Err(err("null in a required column".into())
                .column(COL_RT)
                .row(offset + row));
        }
        raw.rt_price.extend(rt.values().iter().copied());
        for c in OptionalColumn::ALL {
            let out = &mut raw.optional[c.index()];
            match opt_idx[c.index()] {
                Some(i) => out.extend(batch.column(i).as_primitive::<Float64Type>().iter()),
                None => out.extend(std::iter::repeat_n(None, batch.num_rows())),
            }
        }
    }
    validate(&raw, &file_name)?;
    Ok(raw)
}

fn check_float64(schema: &Schema, idx: usize, name: &str, file: &str) -> Result<(), DataError> {
    match schema.field(idx).data_type() {
        DataType::Float64 => Ok(()),
        other => Err(DataError::new(file, format!("expected float64, found {other}")).column(name)),
    }
}

/// Appends a timestamp column of any unit as UTC milliseconds; nulls and timestamps with a
/// sub-millisecond part are errors naming the row.
fn append_times(
    out: &mut Vec<i64>,
    col: &ArrayRef,
    unit: TimeUnit,
    offset: usize,
    file: &str,
) -> Result<(), DataError> {
    if let Some(row) = (0..col.len()).find(|&r| col.is_null(r)) {
        return Err(DataError::new(file, "null in a required column")
            .column(COL_TIME)
            .row(offset + row));
    }
    let values: &[i64] = match unit {
        TimeUnit::Second => col.as_primitive::<TimestampSecondType>().values(),
        TimeUnit::Millisecond => col.as_primitive::<TimestampMillisecondType>().values(),
        TimeUnit::Microsecond => col.as_primitive::<TimestampMicrosecondType>().values(),
        TimeUnit::Nanosecond => col.as_primitive::<TimestampNanosecondType>().values(),
    };
    let (mul, div) = match unit {
        TimeUnit::Second => (1000, 1),
        TimeUnit::Millisecond => (1, 1),
        TimeUnit::Microsecond => (1, 1000),
        TimeUnit::Nanosecond => (1, 1_000_000),
    };
    out.reserve(values.len());
    for (r, &v) in values.iter().enumerate() {
        let ms = v.checked_mul(mul).filter(|_| v % div == 0).map(|x| x / div);
        match ms {
            Some(ms) => out.push(ms),
            None => {
                return Err(DataError::new(
                    file,
                    format!("timestamp {v} ({unit:?}) is not on a 15-minute boundary"),
                )
                .column(COL_TIME)
                .row(offset + r));
            }
        }
    }
    Ok(())
}

/// The arrow schema of the shared market data files.
fn file_schema() -> Arc<Schema> {
    let mut fields = vec![
        Field::new(
            COL_TIME,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new(COL_RT, DataType::Float64, false),
    ];
    for c in OptionalColumn::ALL {
        fields.push(Field::new(c.name(), DataType::Float64, true));
    }
    Arc::new(Schema::new(fields))
}

/// Compression codec of a written parquet file. The reader accepts every one of them (the
/// codecs pandas, pyarrow and polars write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    Uncompressed,
    /// Snappy: the default of pandas and pyarrow.
    Snappy,
    /// Gzip.
    Gzip,
    /// Zstandard: the default of polars, and of this project's files.
    Zstd,
    /// LZ4 (the `LZ4_RAW` codec pyarrow writes for `compression="lz4"`).
    Lz4Raw,
    /// Brotli.
    Brotli,
}

impl Codec {
    /// Every codec, for tests and tools.
    pub const ALL: [Codec; 6] = [
        Codec::Uncompressed,
        Codec::Snappy,
        Codec::Gzip,
        Codec::Zstd,
        Codec::Lz4Raw,
        Codec::Brotli,
    ];

    fn compression(self) -> Compression {
        match self {
            Codec::Uncompressed => Compression::UNCOMPRESSED,
            Codec::Snappy => Compression::SNAPPY,
            Codec::Gzip => Compression::GZIP(GzipLevel::default()),
            Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
            Codec::Lz4Raw => Compression::LZ4_RAW,
            Codec::Brotli => Compression::BROTLI(BrotliLevel::default()),
        }
    }
}

/// Writes a market data table as zstd parquet with the shared schema and metadata
/// (`settlement_point`, `interval_minutes=15`). The table must pass [`validate`]. The file is
/// written beside `path` under a temporary name and renamed into place, so readers never see a
/// half-written file.
pub fn write_parquet(data: &RawMarketData, path: &Path) -> Result<(), DataError> {
    write_parquet_with(data, path, Codec::Zstd)
}

/// [`write_parquet`] with another compression codec.
pub fn write_parquet_with(
    data: &RawMarketData,
    path: &Path,
    codec: Codec,
) -> Result<(), DataError> {
    write_parquet_full(data, &[], &[], path, codec)
}

/// [`write_parquet_with`] plus optional float64 columns beyond the schema's (written after
/// them, nullable; readers of the schema ignore them) and key-value metadata beyond
/// `settlement_point` and `interval_minutes` (e.g. an import's provenance).
pub fn write_parquet_full(
    data: &RawMarketData,
    extra: &[(&str, &[Option<f64>])],
    metadata: &[(String, String)],
    path: &Path,
    codec: Codec,
) -> Result<(), DataError> {
    let file_name = path.display().to_string();
    validate(data, &file_name)?;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMillisecondArray::from(data.interval_start_ms.clone()).with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from(data.rt_price.clone())),
    ];
    for c in OptionalColumn::ALL {
        columns.push(Arc::new(Float64Array::from(data.column(c).to_vec())));
    }
    let mut schema = file_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect::<Vec<_>>();
    for (name, values) in extra {
        if values.len() != data.len() {
            let msg = format!(
                "column has {} values for {} timestamps",
                values.len(),
                data.len()
            );
            return Err(DataError::new(file_name, msg).column(*name));
        }
        if schema.iter().any(|f| f.name() == name) {
            return Err(DataError::new(file_name, "column written twice").column(*name));
        }
        schema.push(Field::new(*name, DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(values.to_vec())));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(schema)), columns)
        .map_err(|e| DataError::new(file_name.clone(), format!("cannot build table: {e}")))?;
    let mut kv = vec![
        KeyValue::new(META_SETTLEMENT_POINT.into(), data.settlement_point.clone()),
        KeyValue::new(META_INTERVAL_MINUTES.into(), "15".to_string()),
    ];
    kv.extend(
        metadata
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    write_batch_atomic(&batch, kv, path, codec)
}

/// Writes one record batch with the shared metadata to `path` through a temporary file.
fn write_batch_atomic(
    batch: &RecordBatch,
    metadata: Vec<KeyValue>,
    path: &Path,
    codec: Codec,
) -> Result<(), DataError> {
    let file_name = path.display().to_string();
    let err = |msg: String| DataError::new(file_name.clone(), msg);
    if path.is_dir() {
        return Err(err("is a directory, not a file path".into()));
    }
    let tmp = temp_path(path).ok_or_else(|| err("not a file path".into()))?;
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| err(format!("cannot create file: {e}")))?;
        let props = WriterProperties::builder()
            .set_compression(codec.compression())
            .set_key_value_metadata(Some(metadata))
            .build();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))
            .map_err(|e| err(format!("cannot write parquet: {e}")))?;
        writer
            .write(batch)
            .map_err(|e| err(format!("cannot write parquet: {e}")))?;
        let file = writer
            .into_inner()
            .map_err(|e| err(format!("cannot write parquet: {e}")))?;
        file.sync_all()
            .map_err(|e| err(format!("cannot write file: {e}")))?;
        std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot rename temp file: {e}")))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/.name.<pid>.tmp` beside `path`, or None when `path` has no file name.
fn temp_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy();
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    Some(path.with_file_name(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray, TimestampSecondArray};
    use powermix_env::time::INTERVAL_MS;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const T0: i64 = 1_704_088_800_000; // 2024-01-01T06:00:00Z, local midnight

    /// A fresh empty directory under the system temp dir, unique per process and call.
    fn temp_dir(tag: &str) -> PathBuf {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("powermix-parquet-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample(n: usize) -> RawMarketData {
        let mut raw = RawMarketData {
            settlement_point: "HB_TEST".into(),
            interval_start_ms: (0..n as i64).map(|i| T0 + i * INTERVAL_MS).collect(),
            rt_price: (0..n).map(|i| 20.0 + i as f64 * 1.5 - 7.0).collect(),
            ..RawMarketData::default()
        };
        for c in OptionalColumn::ALL {
            raw.optional[c.index()] = (0..n)
                .map(|i| (i % 3 != c.index() % 3).then_some(c.index() as f64 * 10.0 + i as f64))
                .collect();
        }
        raw
    }

    /// Writes `columns` (name, array) as a parquet file and returns its path.
    fn write_columns(dir: &Path, columns: Vec<(&str, ArrayRef, bool)>) -> PathBuf {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a, nullable)| Field::new(*n, a.data_type().clone(), *nullable))
            .collect();
        let arrays = columns.into_iter().map(|(_, a, _)| a).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let path = dir.join("bad.parquet");
        let kv = vec![KeyValue::new(META_SETTLEMENT_POINT.into(), "X".to_string())];
        write_batch_atomic(&batch, kv, &path, Codec::Zstd).unwrap();
        path
    }

    fn times(n: usize) -> ArrayRef {
        Arc::new(
            TimestampMillisecondArray::from(
                (0..n as i64)
                    .map(|i| T0 + i * INTERVAL_MS)
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        )
    }

    fn floats(v: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(v))
    }

    fn assert_err(e: DataError, column: &str, row: Option<usize>, needle: &str) {
        assert_eq!(e.column.as_deref(), Some(column), "{e}");
        assert_eq!(e.row, row, "{e}");
        let text = e.to_string();
        assert!(text.contains(column), "{text}");
        if let Some(r) = row {
            assert!(text.contains(&format!("row {r}")), "{text}");
        }
        assert!(text.contains(needle), "`{text}` lacks `{needle}`");
    }

    #[test]
    fn round_trip_is_identical_and_keeps_metadata() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("m.parquet");
        let raw = sample(200);
        write_parquet(&raw, &path).unwrap();
        let back = read_parquet(&path).unwrap();
        assert_eq!(back, raw);
        // Only the final file remains: the temporary one was renamed.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("m.parquet")]);
        let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let kv = meta
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap()
            .clone();
        let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
        assert_eq!(get(META_INTERVAL_MINUTES).as_deref(), Some("15"));
        assert_eq!(get(META_SETTLEMENT_POINT).as_deref(), Some("HB_TEST"));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Files as pandas, pyarrow and polars write them: every codec they use reads back
    /// identically, and the file really is compressed with it (the column chunks say so).
    #[test]
    fn every_codec_users_write_reads_back() {
        let dir = temp_dir("codecs");
        let raw = sample(500);
        for codec in Codec::ALL {
            let path = dir.join(format!("{codec:?}.parquet"));
            write_parquet_with(&raw, &path, codec).unwrap();
            let back = read_parquet(&path).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            assert_eq!(back, raw, "{codec:?}");
            let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                .unwrap()
                .metadata()
                .clone();
            for column in meta.row_group(0).columns() {
                let written = std::mem::discriminant(&column.compression());
                let wanted = std::mem::discriminant(&codec.compression());
                assert_eq!(written, wanted, "{codec:?}: {:?}", column.compression());
            }
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn missing_optional_column_reads_as_nulls_and_other_units_convert() {
        let dir = temp_dir("units");
        let n = 5;
        let secs: Vec<i64> = (0..n as i64)
            .map(|i| (T0 + i * INTERVAL_MS) / 1000)
            .collect();
        let micros: Vec<i64> = secs.iter().map(|s| s * 1_000_000).collect();
        for arr in [
            Arc::new(TimestampSecondArray::from(secs)) as ArrayRef,
            Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("America/Chicago")),
        ] {
            let path = write_columns(
                &dir,
                vec![
                    (COL_TIME, arr, false),
                    (COL_RT, floats(vec![Some(1.0); n]), false),
                    (
                        "da_price",
                        floats(vec![Some(2.0), None, Some(3.0), None, None]),
                        true,
                    ),
                ],
            );
            let raw = read_parquet(&path).unwrap();
            assert_eq!(raw.settlement_point, "X");
            assert_eq!(raw.interval_start_ms[4], T0 + 4 * INTERVAL_MS);
            assert_eq!(raw.column(OptionalColumn::DaPrice)[2], Some(3.0));
            assert_eq!(raw.column(OptionalColumn::Hashprice), &[None; 5]);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn missing_required_columns_are_named() {
        let dir = temp_dir("missing");
        let p = write_columns(&dir, vec![(COL_RT, floats(vec![Some(1.0)]), false)]);
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_TIME,
            None,
            "missing required column",
        );
        let p = write_columns(&dir, vec![(COL_TIME, times(1), false)]);
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_RT,
            None,
            "missing required column",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn wrong_types_are_named() {
        let dir = temp_dir("types");
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1i64, 2]));
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, ints.clone(), false),
                (COL_RT, floats(vec![Some(1.0); 2]), false),
            ],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_TIME,
            None,
            "expected a timestamp",
        );
        let p = write_columns(
            &dir,
            vec![(COL_TIME, times(2), false), (COL_RT, ints.clone(), false)],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_RT,
            None,
            "expected float64",
        );
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, times(2), false),
                (COL_RT, floats(vec![Some(1.0); 2]), false),
                ("as_rrs", ints, true),
            ],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            "as_rrs",
            None,
            "expected float64",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn nulls_in_required_columns_are_named_with_row() {
        let dir = temp_dir("nulls");
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, times(4), false),
                (
                    COL_RT,
                    floats(vec![Some(1.0), Some(2.0), None, Some(4.0)]),
                    true,
                ),
            ],
        );
        assert_err(read_parquet(&p).unwrap_err(), COL_RT, Some(2), "null");
        let t: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![Some(T0), None]));
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, t, true),
                (COL_RT, floats(vec![Some(1.0); 2]), false),
            ],
        );
        assert_err(read_parquet(&p).unwrap_err(), COL_TIME, Some(1), "null");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn non_finite_values_are_named_with_row() {
        let dir = temp_dir("finite");
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, times(3), false),
                (
                    COL_RT,
                    floats(vec![Some(1.0), Some(f64::NAN), Some(3.0)]),
                    false,
                ),
            ],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_RT,
            Some(1),
            "finite price",
        );
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, times(3), false),
                (COL_RT, floats(vec![Some(1.0); 3]), false),
                (
                    "system_load_mw",
                    floats(vec![None, Some(1.0), Some(f64::INFINITY)]),
                    true,
                ),
            ],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            "system_load_mw",
            Some(2),
            "non-finite",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn prices_follow_the_shared_rule_above_the_cap_and_below_the_floor() {
        // What ERCOT published (adders above the offer cap, congestion under the floor)
        // loads; what cannot be a price is refused naming column, row and the rule.
        let mut raw = sample(4);
        raw.rt_price = vec![5215.59, 9310.0, -251.0, 20.0];
        raw.optional[OptionalColumn::AsRrs.index()] = vec![Some(25_000.0); 4];
        validate(&raw, "<memory>").unwrap();
        raw.rt_price[2] = 931_000.0;
        assert_err(
            validate(&raw, "<memory>").unwrap_err(),
            COL_RT,
            Some(2),
            "[-10000, 90000] $/MWh",
        );
        let mut raw = sample(4);
        raw.optional[OptionalColumn::AsNspin.index()][1] = Some(-1.0);
        assert_err(
            validate(&raw, "<memory>").unwrap_err(),
            "as_nspin",
            Some(1),
            "$/MW-h",
        );
        let mut raw = sample(4);
        raw.optional[OptionalColumn::DaPrice.index()][3] = Some(-20_000.0);
        assert_err(
            validate(&raw, "<memory>").unwrap_err(),
            "da_price",
            Some(3),
            "$/MWh",
        );
    }

    fn with_times(dir: &Path, t: Vec<i64>) -> PathBuf {
        let n = t.len();
        let t: ArrayRef = Arc::new(TimestampMillisecondArray::from(t).with_timezone("UTC"));
        write_columns(
            dir,
            vec![
                (COL_TIME, t, false),
                (COL_RT, floats(vec![Some(1.0); n]), false),
            ],
        )
    }

    #[test]
    fn grid_errors_are_named_with_row() {
        let dir = temp_dir("grid");
        let i = INTERVAL_MS;
        let cases = [
            (vec![T0, T0 + i, T0 + i, T0 + 3 * i], 2, "duplicate"),
            (vec![T0, T0 + i, T0 + 2 * i, T0 + i], 3, "not sorted"),
            (vec![T0, T0 + i, T0 + 3 * i], 2, "gap"),
            (
                vec![T0, T0 + i, T0 + 2 * i + 60_000],
                2,
                "15-minute boundary",
            ),
            (vec![T0 + 1, T0 + i + 1], 0, "15-minute boundary"),
        ];
        for (t, row, needle) in cases {
            let p = with_times(&dir, t);
            assert_err(read_parquet(&p).unwrap_err(), COL_TIME, Some(row), needle);
        }
        // Sub-millisecond timestamps cannot be on the grid either.
        let t: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            T0 * 1000,
            T0 * 1000 + 7,
        ]));
        let p = write_columns(
            &dir,
            vec![
                (COL_TIME, t, false),
                (COL_RT, floats(vec![Some(1.0); 2]), false),
            ],
        );
        assert_err(
            read_parquet(&p).unwrap_err(),
            COL_TIME,
            Some(1),
            "15-minute boundary",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn empty_and_unreadable_files_are_errors() {
        let dir = temp_dir("empty");
        let p = with_times(&dir, vec![]);
        let e = read_parquet(&p).unwrap_err();
        assert!(e.to_string().contains("no rows"), "{e}");
        assert!(e.file.ends_with("bad.parquet"));
        let e = read_parquet(&dir.join("absent.parquet")).unwrap_err();
        assert!(e.to_string().contains("cannot open"), "{e}");
        std::fs::write(dir.join("junk.parquet"), b"not parquet at all").unwrap();
        let e = read_parquet(&dir.join("junk.parquet")).unwrap_err();
        assert!(e.to_string().contains("not a readable parquet"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn validate_checks_lengths_and_write_refuses_invalid_tables() {
        let mut raw = sample(4);
        raw.optional[OptionalColumn::AsEcrs.index()].pop();
        assert_err(
            validate(&raw, "<memory>").unwrap_err(),
            "as_ecrs",
            None,
            "3 values",
        );
        let mut raw = sample(4);
        raw.rt_price[3] = f64::NEG_INFINITY;
        let dir = temp_dir("refuse");
        let e = write_parquet(&raw, &dir.join("x.parquet")).unwrap_err();
        assert_err(e, COL_RT, Some(3), "finite price");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let e = write_parquet(&sample(4), &dir).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
