//! Codecov's number rules, written here from Codecov's sources (not shared
//! with the plugin, so the simulator can disagree with it):
//! - `shared/helpers/numeric.py` `ratio`: hits/lines in percent as
//!   `"%.5f" % round(x, 5)`, `"100"` when equal, `"0"` when either is 0;
//! - `worker/helpers/number.py` `precise_round`: `Decimal.quantize` to
//!   `0.1 ** precision` with `ROUND_CEILING` ("up"), `ROUND_FLOOR` ("down")
//!   or `ROUND_HALF_EVEN` (anything else);
//! - `shared/config` site defaults: `coverage.round: down`, `precision: 2`.

/// A decimal as Python's `Decimal` holds it: digits and a (non-positive) exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: u128,
    /// Places after the point.
    places: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let all: String = format!("{whole}{fraction}");
        if all.is_empty() || !all.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Decimal {
            negative,
            digits: all.parse().ok()?,
            places: fraction.len() as u32,
        })
    }

    fn signed_at(self, places: u32) -> i128 {
        let scaled = (self.digits * 10_u128.pow(places - self.places)) as i128;
        if self.negative { -scaled } else { scaled }
    }

    /// `self - other`, exact, at the larger number of places.
    fn minus(self, other: Decimal) -> Decimal {
        let places = self.places.max(other.places);
        let value = self.signed_at(places) - other.signed_at(places);
        Decimal {
            negative: value < 0,
            digits: value.unsigned_abs(),
            places,
        }
    }

    /// Python's `str(Decimal)` for plain (non-exponent) values.
    fn text(self) -> String {
        let sign = if self.negative { "-" } else { "" };
        if self.places == 0 {
            return format!("{sign}{}", self.digits);
        }
        let scale = 10_u128.pow(self.places);
        format!(
            "{sign}{}.{:0width$}",
            self.digits / scale,
            self.digits % scale,
            width = self.places as usize
        )
    }

    /// `Decimal.quantize(Decimal("0.1") ** places, rounding)`. The sign of a
    /// negative that rounds to zero is kept, as Python keeps it.
    fn quantize(self, places: u32, rounding: &str) -> Decimal {
        if places >= self.places {
            return Decimal {
                digits: self.digits * 10_u128.pow(places - self.places),
                places,
                ..self
            };
        }
        let unit = 10_u128.pow(self.places - places);
        let (kept, dropped) = (self.digits / unit, self.digits % unit);
        // Rounding the magnitude: away from zero or towards it.
        let away = match rounding {
            "up" => !self.negative && dropped > 0,
            "down" => self.negative && dropped > 0,
            _ => dropped * 2 > unit || (dropped * 2 == unit && kept % 2 == 1),
        };
        Decimal {
            negative: self.negative,
            digits: kept + u128::from(away),
            places,
        }
    }
}

/// Codecov's coverage string for `hits` of `lines`, or none without lines.
pub fn coverage_string(hits: i64, lines: i64) -> Option<String> {
    if lines == 0 {
        return None;
    }
    if hits == lines {
        return Some("100".into());
    }
    if hits == 0 {
        return Some("0".into());
    }
    Some(format!("{:.5}", hits as f64 / lines as f64 * 100.0))
}

/// The site defaults Codecov merges under every repository's YAML.
pub const SITE_ROUND: &str = "down";
pub const SITE_PRECISION: u32 = 2;

/// `compare.coverage` of the notify payload: `round_number(yaml, head - base)`.
pub fn compare_coverage(head: &str, base: &str, round: &str, precision: u32) -> Option<(String, i32)> {
    let difference = Decimal::parse(head)?.minus(Decimal::parse(base)?);
    let sign = match (difference.digits, difference.negative) {
        (0, _) => 0,
        (_, true) => -1,
        _ => 1,
    };
    Some((difference.quantize(precision, round).text(), sign))
}

/// Codecov's short service names, as its dashboard URLs use them (`utils/services.py`).
pub fn short_service(long: &str) -> Option<&'static str> {
    Some(match long {
        "github" => "gh",
        "gitlab" => "gl",
        "bitbucket" => "bb",
        "github_enterprise" => "ghe",
        "gitlab_enterprise" => "gle",
        "bitbucket_server" => "bbs",
        _ => return None,
    })
}

/// The long name for a service as a request path gives it (either form, any case).
pub fn long_service(given: &str) -> Option<&'static str> {
    let lower = given.to_ascii_lowercase();
    [
        "github",
        "gitlab",
        "bitbucket",
        "github_enterprise",
        "gitlab_enterprise",
        "bitbucket_server",
    ]
    .into_iter()
    .find(|long| *long == lower || short_service(long) == Some(lower.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Printed by Python 3's `decimal` (the plugin's test reads the same file):
    /// the simulator computes on its own, both are held to Python's figures.
    fn golden() -> Vec<(String, String, Vec<String>)> {
        let text = include_str!("../../../../tests/data/coverage-compare-golden.json");
        let golden: serde_json::Value = serde_json::from_str(text).expect("golden JSON");
        serde_json::from_value(golden["cases"].clone()).expect("[head, base, [nine]] cases")
    }

    #[test]
    fn compare_coverage_matches_pythons_decimal() {
        for (head, base, expected) in golden() {
            let mut at = 0;
            for round in ["down", "up", "nearest"] {
                for precision in [0, 2, 5] {
                    let (text, _) = compare_coverage(&head, &base, round, precision).expect("numbers");
                    assert_eq!(text, expected[at], "{head} - {base}, {round} {precision}");
                    at += 1;
                }
            }
        }
        assert_eq!(
            compare_coverage("60", "60.00000", "down", 2),
            Some(("0.00".into(), 0))
        );
    }

    #[test]
    fn coverage_strings_match_the_worker_tests() {
        assert_eq!(coverage_string(6, 10).as_deref(), Some("60.00000"));
        assert_eq!(coverage_string(35, 36).as_deref(), Some("97.22222"));
        assert_eq!(coverage_string(0, 36).as_deref(), Some("0"));
        assert_eq!(coverage_string(0, 0), None);
        assert_eq!(long_service("GL"), Some("gitlab"));
        assert_eq!(long_service("svn"), None);
    }
}
