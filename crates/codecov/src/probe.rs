//! The plugin's part of `probe`: per owner, does the token list its
//! repositories, how many, and how many of them answer 403 on a
//! per-repository route (the repository's own, `repos/{name}/`), the way a
//! private repository answers when the token's user is not activated on the
//! owner's plan. Every repository is checked, four at a time, up to the
//! newest [`MAX_CHECKED`] of an owner (the listing's order): a larger owner
//! is sampled, and the line says so.

use futures_util::{StreamExt, stream};
use serde::Deserialize;

use super::client::{CodecovClient, CodecovError};
use super::kinds::{KINDS, Kind};
use ocean_host::plugin::{Check, SourceCheck};
use ocean_host::settings::integration_variable;

/// Repositories checked per owner at most, newest first.
pub const MAX_CHECKED: usize = 200;
/// Per-repository requests in flight.
const CONCURRENCY: usize = 4;
/// Pages of the repository list read at most (the probe counts; it need not hold a huge list still).
const MAX_PAGES: u32 = 1000;
/// Repositories named in a line.
const NAMED: usize = 5;

#[derive(Deserialize)]
struct Listed {
    name: String,
}

/// The kinds read per repository: all but `repository`, which the list gives.
fn per_repository_kinds() -> Vec<&'static str> {
    KINDS
        .iter()
        .copied()
        .filter(|k| *k != Kind::Repository.name())
        .collect()
}

pub async fn checks(client: &CodecovClient) -> Vec<SourceCheck> {
    let mut checks = Vec::new();
    for owner in &client.settings().owners {
        checks.extend(owner_checks(client, owner).await);
    }
    checks
}

fn token_fix() -> String {
    format!(
        "set {} to a Codecov API access token (Codecov → Settings → Access) of a user who belongs to the owner",
        integration_variable("codecovToken")
    )
}

/// The fix for an error listing an owner's repositories.
fn listing_fix(error: &CodecovError) -> String {
    match error.status() {
        Some(401) => token_fix(),
        Some(404) => format!(
            "check the owner's name in {} and the git provider in {} (github, gitlab, bitbucket, ...)",
            integration_variable("codecovOwners"),
            integration_variable("codecovService")
        ),
        Some(403) => format!(
            "use a token ({}) of a member of the owner, activated on its Codecov plan",
            integration_variable("codecovToken")
        ),
        _ => reach_fix(),
    }
}

/// The fix when Codecov could not be reached or failed.
fn reach_fix() -> String {
    format!(
        "check {} (https://api.codecov.io, or your self-hosted Codecov), the network to it, and \
         OCEAN__SSL__THIRD_PARTY__VERIFY / SSL_CERT_FILE for a proxy's certificate; a 5xx is Codecov's own: run the probe again later",
        integration_variable("codecovUrl")
    )
}

async fn list_names(client: &CodecovClient, owner: &str) -> Result<(Vec<String>, u64), CodecovError> {
    let path = client.repos_path(owner, &[]);
    let page_size = client.settings().page_size;
    let mut names = Vec::new();
    let mut counted = 0;
    for page in 1..=MAX_PAGES {
        let listed = client
            .list_page::<Listed>(owner, &path, &[], page, page_size)
            .await?;
        counted = listed.count.unwrap_or(counted);
        let last = listed.next.is_none() || listed.results.is_empty();
        names.extend(listed.results.into_iter().map(|r| r.name));
        if last {
            break;
        }
    }
    let counted = counted.max(names.len() as u64);
    Ok((names, counted))
}

/// What the per-repository route answered for the repositories checked.
#[derive(Default)]
struct Tally {
    readable: usize,
    forbidden: Vec<String>,
    /// Removed since the listing (404 "Not found."): neither readable nor refused.
    gone: usize,
    failed: Vec<(String, String)>,
}

async fn tally(client: &CodecovClient, owner: &str, names: &[String]) -> Tally {
    let answers: Vec<(String, Result<serde_json::Value, CodecovError>)> = stream::iter(names.to_vec())
        .map(|name: String| async move {
            let path = client.repos_path(owner, &[&name]);
            let answer = client.get(owner, &path, &[]).await;
            (name, answer)
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut tally = Tally::default();
    for (name, answer) in answers {
        match answer {
            Ok(_) => tally.readable += 1,
            Err(e) if e.status() == Some(403) => tally.forbidden.push(name),
            Err(CodecovError::Api {
                status: 404, detail, ..
            }) if detail == "Not found." => tally.gone += 1,
            Err(e) => tally.failed.push((name, e.to_string())),
        }
    }
    tally
}

fn named(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMED).map(String::as_str).collect();
    match names.len().saturating_sub(NAMED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

async fn owner_checks(client: &CodecovClient, owner: &str) -> Vec<SourceCheck> {
    let what = format!("Codecov owner {owner}");
    let list_route = format!("GET /api/v2{}", client.repos_path(owner, &[]));
    let per_repo = per_repository_kinds();
    let (names, counted) = match list_names(client, owner).await {
        Ok(listed) => listed,
        Err(e) => {
            let check = Check::fail(&what, format!("{list_route}: {e}"), listing_fix(&e));
            return vec![SourceCheck::scoped(check, "owner", owner, &[])];
        }
    };
    if names.is_empty() {
        let check = Check::warn(
            &what,
            format!(
                "{list_route} answers, with no repositories: the owner has none on Codecov, or none the token's user may see"
            ),
        );
        return vec![SourceCheck::scoped(check, "owner", owner, &[])];
    }
    let listed = Check::ok(
        &what,
        format!("the token lists {counted} repositories ({list_route})"),
    );
    let checked = &names[..names.len().min(MAX_CHECKED)];
    let coverage = if checked.len() == names.len() {
        format!("checked all {}", checked.len())
    } else {
        format!("checked the newest {} of {}", checked.len(), names.len())
    };
    let route = format!("GET /api/v2{}", client.repos_path(owner, &["{name}"]));
    let tally = tally(client, owner, checked).await;
    let read = if !tally.forbidden.is_empty() {
        Check::fail(
            &what,
            format!(
                "{} of {} repositories answer 403 on {route} ({coverage}): {}; resyncs keep their entities as they are",
                tally.forbidden.len(),
                checked.len(),
                named(&tally.forbidden)
            ),
            format!(
                "activate the token's user on {owner}'s Codecov plan (Codecov → {owner} → Settings → Users), \
                 or set {} to a token of an activated user",
                integration_variable("codecovToken")
            ),
        )
    } else if let Some((name, error)) = tally.failed.first() {
        Check::fail(
            &what,
            format!(
                "{} of {} repositories could not be read on {route} ({coverage}); {name}: {error}",
                tally.failed.len(),
                checked.len()
            ),
            reach_fix(),
        )
    } else {
        let gone = match tally.gone {
            0 => String::new(),
            n => format!(", {n} removed since the listing"),
        };
        Check::ok(
            &what,
            format!(
                "{} of {} repositories read on {route} ({coverage}), none answer 403{gone}",
                tally.readable,
                checked.len()
            ),
        )
    };
    vec![
        SourceCheck::scoped(listed, "owner", owner, &[Kind::Repository.name()]),
        SourceCheck::scoped(read, "owner", owner, &per_repo),
    ]
}
