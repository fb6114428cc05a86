//! Days and aggregation periods: a day is its number since 1970-01-01 (UTC).

use time::{Date, Month};

use crate::proto::yandex::cloud::billing::usage_records::v1::TimeGrouping;

/// The Julian day number of 1970-01-01.
const EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// The day (since 1970-01-01) a timestamp's seconds fall on; the time of
/// day is ignored, as the API documents.
pub(crate) fn day_of_seconds(seconds: i64) -> i32 {
    let day = seconds.div_euclid(86_400);
    day.clamp(i64::from(i32::MIN / 2), i64::from(i32::MAX / 2)) as i32
}

/// The calendar date of a day.
pub(crate) fn date(day: i32) -> Date {
    Date::from_julian_day(day + EPOCH_JULIAN_DAY).unwrap_or(Date::MIN)
}

/// The day of a calendar date.
pub(crate) fn day(date: Date) -> i32 {
    date.to_julian_day() - EPOCH_JULIAN_DAY
}

/// The first day of the period of `grouping` that `d` falls in: the day
/// itself, the Monday of its week, the first of its month, quarter or year.
/// `UNSPECIFIED` is a day, as the API documents.
pub(crate) fn period_start(grouping: TimeGrouping, d: i32) -> i32 {
    let first_of = |month: Month| {
        let cal = date(d);
        Date::from_calendar_date(cal.year(), month, 1).map_or(d, day)
    };
    match grouping {
        TimeGrouping::Unspecified | TimeGrouping::Day => d,
        // 1970-01-01 was a Thursday: Monday is three days earlier.
        TimeGrouping::Week => d - (d + 3).rem_euclid(7),
        TimeGrouping::Month => first_of(date(d).month()),
        TimeGrouping::Quarter => {
            let m = date(d).month() as u8;
            let q = (m - 1) / 3 * 3 + 1;
            first_of(Month::try_from(q).unwrap_or(Month::January))
        }
        TimeGrouping::Year => first_of(Month::January),
    }
}

/// For the days `start..=end`, the index of each day's period and the
/// first day of each period (clamped to `start`, as the API answers the
/// period's timestamp: "the maximum between the start date and the usage date").
pub(crate) fn buckets(grouping: TimeGrouping, start: i32, end: i32) -> (Vec<u32>, Vec<i32>) {
    let mut index = Vec::with_capacity((end - start + 1).max(0) as usize);
    let mut starts: Vec<i32> = Vec::new();
    let mut last = None;
    for d in start..=end {
        let p = period_start(grouping, d);
        if last != Some(p) {
            starts.push(p.max(start));
            last = Some(p);
        }
        index.push((starts.len() - 1) as u32);
    }
    (index, starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_start_where_the_calendar_says() {
        let d = day(date!(2025 - 05 - 15)); // a Thursday
        let at = |g| date(period_start(g, d));
        assert_eq!(at(TimeGrouping::Day), date!(2025 - 05 - 15));
        assert_eq!(at(TimeGrouping::Unspecified), date!(2025 - 05 - 15));
        assert_eq!(at(TimeGrouping::Week), date!(2025 - 05 - 12));
        assert_eq!(at(TimeGrouping::Month), date!(2025 - 05 - 01));
        assert_eq!(at(TimeGrouping::Quarter), date!(2025 - 04 - 01));
        assert_eq!(at(TimeGrouping::Year), date!(2025 - 01 - 01));
        assert_eq!(day_of_seconds(-1), -1);
        assert_eq!(day_of_seconds(86_399), 0);
    }

    #[test]
    fn buckets_clamp_the_first_period_to_the_start() {
        let start = day(date!(2025 - 01 - 20));
        let end = day(date!(2025 - 04 - 02));
        let (index, starts) = buckets(TimeGrouping::Month, start, end);
        assert_eq!(index.len() as i32, end - start + 1);
        let dates: Vec<_> = starts.iter().map(|d| date(*d)).collect();
        assert_eq!(
            dates,
            [
                date!(2025 - 01 - 20),
                date!(2025 - 02 - 01),
                date!(2025 - 03 - 01),
                date!(2025 - 04 - 01)
            ]
        );
        assert_eq!(*index.last().unwrap(), 3);
    }
}
