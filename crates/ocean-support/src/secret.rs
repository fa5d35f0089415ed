//! A value that must never reach a log, an error message or a panic.

use std::fmt;

/// A credential (token, secret) whose `Debug` and `Display` print `"***"` (or `""` when empty);
/// made with [`Secret::new`], it is also masked by [`crate::redact`] in whatever is shipped to Port.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Also registers the value with `redact`, so it is masked in whatever
    /// this process ships to Port (log lines, raw data examples).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// The only way to read the value: call sites that do are easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is the empty string (an unset credential); safe to ask, it reveals nothing else.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("s3cr3t");
        assert_eq!(format!("{secret} {secret:?}"), "\"***\" \"***\"");
        assert_eq!(secret.expose(), "s3cr3t");
    }
}
