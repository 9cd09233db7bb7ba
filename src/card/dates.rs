//! The compact date encoding of the payload: days since 2000-01-01 as a `u16`.

use chrono::NaiveDate;

/// The epoch of the payload's day counts.
pub const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("2000-01-01 is a valid date"),
};

/// Encodes a date as days since 2000-01-01, or `None` if it is outside 2000-01-01..=2179-06-06.
pub fn to_days(date: NaiveDate) -> Option<u16> {
    u16::try_from(date.signed_duration_since(EPOCH).num_days()).ok()
}

/// Decodes days since 2000-01-01; every `u16` maps to a date.
pub fn from_days(days: u16) -> NaiveDate {
    // 65,535 days after 2000 is in 2179, well inside chrono's range, so this cannot fail;
    // fall back to the epoch rather than panic to keep the decoder total.
    EPOCH
        .checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bounds() {
        let d = NaiveDate::from_ymd_opt(2021, 3, 4).expect("date");
        assert_eq!(from_days(to_days(d).expect("in range")), d);
        assert_eq!(to_days(EPOCH), Some(0));
        assert_eq!(
            to_days(NaiveDate::from_ymd_opt(1999, 12, 31).expect("date")),
            None
        );
        assert_eq!(
            from_days(u16::MAX),
            NaiveDate::from_ymd_opt(2179, 6, 6).expect("date")
        );
    }
}
