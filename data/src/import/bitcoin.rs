//! A daily bitcoin file (CSV, one row per UTC day): `date` (`YYYY-MM-DD`) and either
//! `hashprice_usd_per_ph_day`, or `price_usd` and `difficulty` (optionally
//! `fees_btc_per_block`, the mean transaction fees of the day's blocks).
//!
//! Hashprice as the data README defines it: the block subsidy's value per unit of hashrate,
//! fees excluded, in $ per PH/s per day. A hashrate of 1 PH/s finds
//! `86,400 x 10^15 / (difficulty x 2^32)` blocks a day, each paying the subsidy:
//! `hashprice = price x subsidy x 86,400 x 10^15 / (difficulty x 2^32)`. With
//! `--include-fees` the fees per block are added to the subsidy. The subsidy halves at
//! blocks 210,000 x k; by UTC date the halvings fell on 2012-11-28, 2016-07-09, 2020-05-11 and
//! 2024-04-20 (the new subsidy counts from that date on). Later dates need the hashprice
//! column (the next halving's date is not known in advance).
use super::clock::parse_date;
use super::store::{Store, Target};
use super::{Header, Layout, bad_value, csv_error, row_error};
use chrono::NaiveDate;
use powermix_env::data::DataError;

/// The block subsidy (BTC) in force on a UTC date, None after the last known halving era.
pub(crate) fn subsidy_btc(date: NaiveDate) -> Option<f64> {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("valid date");
    let halvings = [
        d(2012, 11, 28),
        d(2016, 7, 9),
        d(2020, 5, 11),
        d(2024, 4, 20),
    ];
    if date >= d(2028, 1, 1) {
        return None;
    }
    let n = halvings.iter().filter(|&&h| date >= h).count();
    Some(50.0 / f64::from(1u32 << n))
}

/// Hashprice ($ per PH/s per day) from the day's price ($/BTC), difficulty and the BTC paid
/// per block (subsidy, plus fees if counted).
pub fn hashprice(price_usd: f64, difficulty: f64, btc_per_block: f64) -> f64 {
    price_usd * btc_per_block * 86_400.0 * 1e15 / (difficulty * 4_294_967_296.0)
}

/// The bitcoin layout of a header, if it is one.
pub(crate) fn detect(h: &Header) -> Option<Layout> {
    let dated = h.has("date");
    let direct = h.has("hashpriceusdperphday");
    let inputs = h.has("priceusd") && h.has("difficulty");
    (dated && (direct || inputs)).then_some(Layout::Bitcoin)
}

/// Stores the rows of a daily bitcoin CSV.
pub(crate) fn read(
    store: &mut Store,
    source: usize,
    header: &Header,
    rdr: &mut csv::Reader<&[u8]>,
    include_fees: bool,
) -> Result<(), DataError> {
    let file = store.sources[source].file.clone();
    let date_i = header.find("date").expect("detected");
    let direct = header.find("hashpriceusdperphday");
    let price_i = header.find("priceusd");
    let diff_i = header.find("difficulty");
    let fees_i = header.find("feesbtcperblock");
    if include_fees && direct.is_none() && fees_i.is_none() {
        return Err(DataError::new(
            &file,
            "--include-fees needs a fees_btc_per_block column (or hashprice_usd_per_ph_day)",
        ));
    }
    let mut rec = csv::StringRecord::new();
    let mut row = 0;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&file, row, e)),
        }
        let r = row;
        row += 1;
        store.sources[source].rows_read += 1;
        let get = |i: usize| rec.get(i).unwrap_or_default().trim();
        let num = |i: usize| -> Result<Option<f64>, DataError> {
            let s = get(i);
            if s.is_empty() {
                return Ok(None);
            }
            s.parse()
                .map(Some)
                .map_err(|_| bad_value(&file, r, header.name(i), s, "a number"))
        };
        let ds = get(date_i);
        let date = parse_date(ds)
            .ok_or_else(|| bad_value(&file, r, header.name(date_i), ds, "a date (YYYY-MM-DD)"))?;
        let key = date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        let (value, column) = if let Some(i) = direct {
            (num(i)?, header.name(i))
        } else {
            let (pi, di) = (price_i.expect("detected"), diff_i.expect("detected"));
            let (Some(price), Some(difficulty)) = (num(pi)?, num(di)?) else {
                continue;
            };
            if difficulty <= 0.0 {
                let s = get(di);
                return Err(bad_value(
                    &file,
                    r,
                    header.name(di),
                    s,
                    "a positive difficulty",
                ));
            }
            let subsidy = subsidy_btc(date).ok_or_else(|| {
                row_error(
                    &file,
                    r,
                    header.name(date_i),
                    format!("`{ds}`: the block subsidy after 2027 is not known here; give hashprice_usd_per_ph_day"),
                )
            })?;
            let fees = match (include_fees, fees_i) {
                (true, Some(i)) => num(i)?.unwrap_or(0.0),
                _ => 0.0,
            };
            (
                Some(hashprice(price, difficulty, subsidy + fees)),
                header.name(pi),
            )
        };
        if let Some(v) = value {
            store.put(Target::Hashprice, key, v, source, r, column)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsidy_follows_the_halvings() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(subsidy_btc(d(2019, 6, 1)), Some(12.5));
        assert_eq!(subsidy_btc(d(2020, 5, 10)), Some(12.5));
        assert_eq!(subsidy_btc(d(2020, 5, 11)), Some(6.25));
        assert_eq!(subsidy_btc(d(2024, 4, 19)), Some(6.25));
        assert_eq!(subsidy_btc(d(2024, 4, 20)), Some(3.125));
        assert_eq!(subsidy_btc(d(2028, 6, 1)), None);
    }

    #[test]
    fn hashprice_by_hand() {
        // $44,000/BTC, difficulty 72.0e12, 6.25 BTC: 44,000 x 6.25 x 86,400e15 / (72e12 x
        // 2^32) = 2.376e25 / 3.0924e23 = 76.83 $/PH/day.
        let h = hashprice(44_000.0, 72.0e12, 6.25);
        assert!((h - 76.834).abs() < 0.01, "{h}");
    }
}
