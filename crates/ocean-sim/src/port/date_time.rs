//! Port's date-times: written as RFC 3339 in UTC, and read as JSON Schema's
//! `date-time` format reads them (RFC 3339 strictly: full date, `T`, `t` or a
//! space, seconds, and `Z` or a `±hh:mm` offset).

use jiff::Timestamp;

/// `at` as Port writes its timestamps, e.g. `2026-11-30T00:39:44.123Z`.
pub fn rfc3339(at: Timestamp) -> String {
    at.to_string()
}

/// `text` as an instant when it is an RFC 3339 date-time; jiff alone also takes
/// ISO 8601's looser forms (no seconds, `+0100`, bracketed zones), Port does not.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    if !is_rfc3339_shape(text.as_bytes()) {
        return None;
    }
    text.parse().ok()
}

fn is_rfc3339_shape(b: &[u8]) -> bool {
    let digits =
        |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        // Leap seconds: Port's validator and jiff disagree, so none.
        && b[17] < b'6';
    if !fixed {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rfc3339_date_times_parse() {
        for good in [
            "2024-01-01T00:00:00Z",
            "2024-01-01t00:00:00z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00.5+01:00",
            "2024-01-01T00:00:00-00:00",
        ] {
            assert!(parse_rfc3339(good).is_some(), "{good}");
        }
        for bad in [
            "2024-01-01T00:00Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+01",
            "2024-01-01T00:00:00Z[UTC]",
            "20240101T000000Z",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T23:59:60Z",
            "2024-01-01T00:00:00",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2024-01-01T01:00:00+01:00").map(rfc3339).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
    }
}
