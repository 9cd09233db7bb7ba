//! Calendar dates are those of the district: Asia/Shanghai.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

/// Today's date in Zhoucun.
pub fn today() -> NaiveDate {
    date_of(Utc::now())
}

/// The district calendar date of an instant: before 08:00 Beijing time it is still the UTC
/// date's next day there, never the UTC date.
pub fn date_of(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Shanghai).date_naive()
}

/// The last instant of a district calendar day, in UTC: "as of date X" means at the end of X.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    let midnight = next.and_hms_opt(0, 0, 0).expect("midnight exists");
    // China has had no DST since 1991, so local midnight is never ambiguous or missing.
    Shanghai
        .from_local_datetime(&midnight)
        .single()
        .map(|t| t.with_timezone(&Utc) - chrono::Duration::nanoseconds(1))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// A time as the district reads it: Beijing time, to the minute (`2026-12-02 08:05`).
pub fn local_minute(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_day_is_just_before_local_midnight() {
        let d = NaiveDate::from_ymd_opt(2020, 6, 15).unwrap();
        let t = end_of_day(d);
        assert_eq!(t.with_timezone(&Shanghai).date_naive(), d);
        assert_eq!(
            (t + chrono::Duration::nanoseconds(1)).to_rfc3339(),
            "2020-06-15T16:00:00+00:00"
        );
    }

    #[test]
    fn times_are_shown_in_beijing_time() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(super::local_minute(t), "2026-12-02 07:30");
    }
}
