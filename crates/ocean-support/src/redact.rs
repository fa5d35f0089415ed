//! Keeping secrets out of what leaves the process for Port: log lines shipped
//! to the integration's logs view and raw data examples. Every `Secret` the
//! process holds is registered here when it is made, and any text that
//! contains one is masked; so are credentials in URLs and bearer tokens, and
//! the values of fields whose names say they hold a credential.

use std::borrow::Cow;
use std::sync::RwLock;

use serde_json::Value;

/// What a masked secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Secrets shorter than this are not masked: they would match ordinary text
/// everywhere and hide nothing worth hiding.
const SHORTEST_SECRET: usize = 3;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Masks `value` from now on wherever this module is applied.
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < SHORTEST_SECRET {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !secrets.iter().any(|s| s == value) {
        secrets.push(value.to_string());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Field names whose values are credentials whatever they hold.
fn is_credential_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace(['-', '_'], "");
    [
        "authorization",
        "token",
        "accesstoken",
        "uploadtoken",
        "apikey",
        "apitoken",
        "password",
        "secret",
        "clientsecret",
        "cookie",
        "setcookie",
        "privatekey",
    ]
    .contains(&name.as_str())
        || name.ends_with("secret")
        || name.ends_with("password")
}

/// Whether an environment variable holds a secret: its value is a registered
/// secret, or its name (the part after the last `__`) says it is a credential.
pub fn is_secret_variable(name: &str, value: &str) -> bool {
    let last = name.rsplit("__").next().unwrap_or(name);
    let squashed = last.to_ascii_lowercase().replace(['-', '_'], "");
    if is_credential_name(last) || squashed.ends_with("token") || squashed.ends_with("apikey") {
        return true;
    }
    let value = value.trim();
    let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    !value.is_empty() && secrets.iter().any(|s| s == value)
}

/// `text` with registered secrets, URL passwords and bearer tokens masked.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let secrets = SECRETS.read().unwrap_or_else(|p| p.into_inner());
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
    }
    if let Some(masked) = mask_url_passwords(&out) {
        out = Cow::Owned(masked);
    }
    if let Some(masked) = mask_bearer_tokens(&out) {
        out = Cow::Owned(masked);
    }
    out
}

/// `scheme://user:password@host` → `scheme://user:[REDACTED]@host`.
fn mask_url_passwords(text: &str) -> Option<String> {
    if !text.contains("://") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) if colon + 1 < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// `Bearer abc.def` → `Bearer [REDACTED]` (also `token abc`, as Codecov's header is written).
fn mask_bearer_tokens(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("bearer ") && !lower.contains("token ") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut words = text.split_inclusive(char::is_whitespace).peekable();
    while let Some(word) = words.next() {
        out.push_str(word);
        let bare = word.trim_end().to_ascii_lowercase();
        let bare = bare.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        if (bare == "bearer" || bare == "token")
            && let Some(next) = words.peek()
            && next.trim_end().len() >= 16
        {
            let trailing = &next[next.trim_end().len()..];
            out.push_str(MASK);
            out.push_str(trailing);
            words.next();
            changed = true;
        }
    }
    changed.then_some(out)
}

/// Masks every string in `value` as `text` does, and replaces the values of
/// credential-named fields outright.
pub fn value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(masked) = text(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(self::value),
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if is_credential_name(key) && !field.is_null() {
                    *field = Value::String(MASK.into());
                } else {
                    self::value(field);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registered_secrets_are_masked_anywhere_in_text() {
        register("zq-registered-secret-0042");
        assert_eq!(
            text("calling with zq-registered-secret-0042 now"),
            format!("calling with {MASK} now")
        );
        assert!(matches!(text("nothing to hide"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_variables_are_told_by_name_or_value() {
        register("zq-value-secret-123");
        assert!(is_secret_variable("OCEAN__PORT__CLIENT_SECRET", "x"));
        assert!(is_secret_variable(
            "OCEAN__INTEGRATION__CONFIG__CODECOV_TOKEN",
            "x"
        ));
        assert!(is_secret_variable(
            "OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET",
            "x"
        ));
        assert!(is_secret_variable("SOMETHING_ELSE", "zq-value-secret-123"));
        assert!(!is_secret_variable("OCEAN__INTEGRATION__IDENTIFIER", "codecov"));
        assert!(!is_secret_variable("HOSTNAME", "pod-1"));
    }

    #[test]
    fn url_passwords_and_bearer_tokens_are_masked() {
        assert_eq!(
            text("fetching https://bob:hunter22@git.example.com/x failed"),
            format!("fetching https://bob:{MASK}@git.example.com/x failed")
        );
        assert_eq!(
            text("header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc sent"),
            format!("header Authorization: Bearer {MASK} sent")
        );
        assert_eq!(text("a token is needed"), "a token is needed");
    }

    #[test]
    fn credential_fields_are_replaced_and_strings_masked() {
        register("zq-nested-secret-7777");
        let mut item = json!({
            "name": "repo",
            "upload_token": "abc",
            "headers": {"Authorization": "token 1234567890abcdef1234"},
            "notes": ["see zq-nested-secret-7777"],
            "token": null,
        });
        value(&mut item);
        assert_eq!(
            item,
            json!({
                "name": "repo",
                "upload_token": MASK,
                "headers": {"Authorization": MASK},
                "notes": [format!("see {MASK}")],
                "token": null,
            })
        );
    }
}
