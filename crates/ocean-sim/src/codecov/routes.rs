//! Codecov API v2 routes, errors as Codecov's views and DRF write them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::{Value, json};

use super::CodecovSim;
use super::data::{Dataset, Owner, Repo};
use super::shapes;
use crate::exchange::{self, InjectedFault, header_text};
use crate::faults::{Fault, FaultConfig};

const API: &str = "/api/v2/{service}/{owner}/repos";

/// `RepositoryArtifactPermissions.message`.
const NOT_ACTIVATED: &str = "Permission denied: some possible reasons for this are (1) the user doesn't have \
permission to view the specific resource, (2) the organization has a per-user plan or (3) the user is trying to \
view a private repo but is not activated.";

/// Codecov's routers take the final slash as optional.
fn both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    method: MethodRouter<S>,
) -> Router<S> {
    router
        .route(path, method.clone())
        .route(&format!("{path}/"), method)
}

pub fn router(sim: Arc<CodecovSim>) -> Router {
    let mut router = Router::new();
    router = both(router, API, get(list_repos));
    router = both(router, &format!("{API}/{{repo}}"), get(get_repo));
    router = both(router, &format!("{API}/{{repo}}/commits"), get(list_commits));
    router = both(
        router,
        &format!("{API}/{{repo}}/commits/{{sha}}"),
        get(get_commit),
    );
    router = both(router, &format!("{API}/{{repo}}/pulls"), get(list_pulls));
    router = both(router, &format!("{API}/{{repo}}/pulls/{{pullid}}"), get(get_pull));
    router = both(router, &format!("{API}/{{repo}}/flags"), get(list_flags));
    router = both(router, &format!("{API}/{{repo}}/branches"), get(list_branches));
    router = both(router, &format!("{API}/{{repo}}/totals"), get(get_totals));
    router
        .route("/_admin/state", get(admin_state))
        .route(
            "/_admin/requests",
            get(admin_requests).delete(admin_clear_requests),
        )
        .route("/_admin/faults", get(admin_faults).put(admin_set_faults))
        .route("/_admin/webhook/{owner}/{repo}", get(admin_webhook))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "Page Not Found (404)"})),
            )
        })
        .layer(axum::middleware::from_fn_with_state(sim.clone(), wire))
        .with_state(sim)
}

/// DRF's error body, `{"detail": ...}`.
struct Refusal {
    status: StatusCode,
    detail: String,
}

impl Refusal {
    fn server_error(status: u16) -> Refusal {
        Refusal {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: String::new(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            return fault_reply(self.status.as_u16(), 0);
        }
        let mut response = (self.status, axum::Json(json!({"detail": self.detail}))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // DRF names the scheme the first authenticator expects.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn detail(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        detail: message.into(),
    }
}

fn fault_reply(code: u16, retry_after: u64) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match code {
        429 => {
            // DRF names the wait only when it knows one.
            let message = match retry_after {
                0 => "Request was throttled.".to_string(),
                secs => format!("Request was throttled. Expected available in {secs} seconds."),
            };
            let mut response = detail(status, message).into_response();
            if retry_after > 0 {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
        _ => (
            status,
            axum::Json(json!({"error": format!("Server Error ({code})")})),
        )
            .into_response(),
    }
}

/// Whether the caller is authenticated: no `Bearer` header means anonymous;
/// a wrong token is refused outright, as DRF's token authentication does.
enum Caller {
    Anonymous,
    Member,
}

fn caller(sim: &CodecovSim, headers: &HeaderMap) -> Result<Caller, Refusal> {
    let value = header_text(headers, header::AUTHORIZATION);
    let Some((keyword, token)) = value.split_once(' ') else {
        return Ok(Caller::Anonymous);
    };
    if !keyword.eq_ignore_ascii_case("bearer") {
        return Ok(Caller::Anonymous);
    }
    if token.trim() == sim.config.token {
        Ok(Caller::Member)
    } else {
        Err(detail(StatusCode::UNAUTHORIZED, "Invalid token."))
    }
}

async fn wire(State(sim): State<Arc<CodecovSim>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_admin") {
        return next.run(request).await;
    }
    let capture = sim.config.capture_bodies;
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let mut exchange = exchange::begin(request, &sim.faults, capture).await;
    let response = if let Fault::Status(code) = exchange.fault {
        fault_reply(code, exchange.retry_after)
    } else if exchange.dropped() {
        Response::default()
    } else {
        match caller(&sim, &exchange.headers) {
            Err(refused) => refused.into_response(),
            Ok(who) => {
                let mut request = exchange.take_request();
                request.extensions_mut().insert(Arc::new(who));
                next.run(request).await
            }
        }
    };
    // The answer is built: a scheduled change lands between this read and the next.
    sim.served(&path, &query);
    exchange.finish(response, &sim.log, capture).await
}

type Reply = Result<Response, Refusal>;

/// The wire middleware leaves who is calling in the request's extensions.
fn is_member(parts: &Parts) -> bool {
    matches!(
        parts.extensions.get::<Arc<Caller>>().map(|c| c.as_ref()),
        Some(Caller::Member)
    )
}

/// Where a request points in Codecov's records. The service is checked here
/// (short or long names, any case); owner and repository are looked up by the
/// handler under its own read of the records.
struct Scope {
    owner: String,
    repo: Option<String>,
    member: bool,
    params: HashMap<String, String>,
}

impl FromRequestParts<Arc<CodecovSim>> for Scope {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<CodecovSim>) -> Result<Self, Refusal> {
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, sim)
            .await
            .map_err(|_| detail(StatusCode::NOT_FOUND, "Not found."))?;
        let service = params.remove("service").unwrap_or_default();
        // Long or short names, any case, as Codecov's service middleware reads them.
        let Some(service) = super::numbers::long_service(&service) else {
            return Err(detail(StatusCode::NOT_FOUND, "Invalid service for Owner."));
        };
        let owner = params.remove("owner").unwrap_or_default();
        // A broken owner answers as Codecov does when its database call fails.
        if let Some(status) = sim.is_broken(&owner) {
            return Err(Refusal::server_error(status));
        }
        if sim.dataset().service != service {
            return Err(detail(StatusCode::NOT_FOUND, "No Owner matches the given query."));
        }
        let repo = params.remove("repo");
        Ok(Scope {
            owner,
            repo,
            member: is_member(parts),
            params,
        })
    }
}

impl Scope {
    fn owner<'a>(&self, dataset: &'a Dataset) -> Result<&'a Owner, Refusal> {
        dataset
            .owner(&self.owner)
            .ok_or_else(|| detail(StatusCode::NOT_FOUND, "No Owner matches the given query."))
    }

    /// The repository, as `RepositoryArtifactPermissions` lets the caller see it:
    /// hidden (404) when private to an anonymous caller, 403 when private and
    /// the token's user is not activated on the owner's plan.
    fn repo<'a>(&self, dataset: &'a Dataset) -> Result<&'a Repo, Refusal> {
        let name = self.repo.as_deref().unwrap_or_default();
        let repo = self
            .owner(dataset)?
            .repo(name)
            .filter(|r| self.member || !r.private)
            .ok_or_else(|| detail(StatusCode::NOT_FOUND, "Not found."))?;
        if repo.private && repo.not_activated {
            return Err(detail(StatusCode::FORBIDDEN, NOT_ACTIVATED));
        }
        Ok(repo)
    }
}

/// A list request: its query and where its `next` links point.
struct Listing {
    host: String,
    path: String,
    params: Vec<(String, String)>,
    member: bool,
    fault: Fault,
}

impl<S: Send + Sync> FromRequestParts<S> for Listing {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Listing {
            host: header_text(&parts.headers, header::HOST),
            path: parts.uri.path().to_string(),
            params: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            member: is_member(parts),
            fault: InjectedFault::of(&parts.extensions),
        })
    }
}

impl Listing {
    fn first(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// DRF page-number pagination with Codecov's `total_pages`; `page` past
    /// the end is 404 "Invalid page.", a bad `page_size` falls back to 20.
    /// Only the requested page is turned into JSON.
    fn page<T>(&self, items: Vec<T>, to_json: impl Fn(T) -> Value) -> Reply {
        let page_size = self
            .first("page_size")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(20);
        let count = items.len();
        let total_pages = count.div_ceil(page_size).max(1);
        let page = match self.first("page") {
            None => 1,
            Some("last") => total_pages,
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).unwrap_or(0),
        };
        if page == 0 || page > total_pages {
            return Err(detail(StatusCode::NOT_FOUND, "Invalid page."));
        }
        let link = |number: usize| {
            let mut query: Vec<(String, String)> =
                self.params.iter().filter(|(k, _)| k != "page").cloned().collect();
            if number > 1 {
                query.push(("page".into(), number.to_string()));
            }
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            let separator = if encoded.is_empty() { "" } else { "?" };
            json!(format!("http://{}{}{separator}{encoded}", self.host, self.path))
        };
        // An injected empty page keeps its count and links, as a lagging replica might.
        let shown = if self.fault == Fault::EmptyPage {
            0
        } else {
            page_size
        };
        let results: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * page_size)
            .take(shown)
            .map(to_json)
            .collect();
        let body = json!({
            "count": count,
            "next": if page < total_pages { link(page + 1) } else { Value::Null },
            "previous": if page > 1 { link(page - 1) } else { Value::Null },
            "results": results,
            "total_pages": total_pages,
        });
        Ok(axum::Json(body).into_response())
    }
}

async fn list_repos(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let owner = scope.owner(&dataset)?;
    let active = list.first("active").map(|v| matches!(v, "true" | "True" | "1"));
    let names: Vec<&str> = list
        .params
        .iter()
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v.as_str())
        .collect();
    let search = list.first("search");
    // An injected empty list: the owner seems to have no repositories at all.
    let listed = if list.fault == Fault::EmptyList {
        &[][..]
    } else {
        &owner.repos[..]
    };
    // `names` narrows by exact name; the records are sorted by name, so a
    // lookup per name keeps a bulk lookup cheap on a large owner.
    let candidates: Vec<&Repo> = if names.is_empty() {
        listed.iter().collect()
    } else {
        let mut named: Vec<&Repo> = names
            .iter()
            .filter_map(|n| {
                let at = listed.partition_point(|r| r.name.as_str() < *n);
                listed.get(at).filter(|r| r.name == *n)
            })
            .collect();
        named.sort_by_key(|r| r.repoid);
        named.dedup_by_key(|r| r.repoid);
        named
    };
    let repos: Vec<&Repo> = candidates
        .into_iter()
        .filter(|r| list.member || !r.private)
        .filter(|r| active.is_none_or(|a| r.active == a))
        .filter(|r| search.is_none_or(|s| r.name.contains(s)))
        .collect();
    // `Repository.Meta.ordering = ["-repoid"]`: newest first, so a repository
    // added while the list is paged shifts every later page by one.
    let mut repos = repos;
    repos.sort_by_key(|r| std::cmp::Reverse(r.repoid));
    list.page(repos, |r| shapes::repo_json(&dataset.service, owner, r))
}

async fn get_repo(State(sim): State<Arc<CodecovSim>>, scope: Scope) -> Reply {
    let dataset = sim.dataset();
    let repo = scope.repo(&dataset).map_err(|refused| match refused.status {
        // The repository view's own check says it shorter.
        StatusCode::FORBIDDEN => detail(StatusCode::FORBIDDEN, "User not activated"),
        _ => refused,
    })?;
    let repo = shapes::repo_json(&dataset.service, scope.owner(&dataset)?, repo);
    Ok(axum::Json(repo).into_response())
}

async fn list_commits(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let branch = list.first("branch");
    let commits: Vec<_> = scope
        .repo(&dataset)?
        .commits
        .iter()
        .filter(|c| branch.is_none_or(|b| c.branch == b))
        .collect();
    list.page(commits, |c| shapes::commit_json(&dataset.service, c))
}

async fn get_commit(State(sim): State<Arc<CodecovSim>>, scope: Scope) -> Reply {
    let dataset = sim.dataset();
    let sha = scope.params.get("sha").map(String::as_str).unwrap_or_default();
    let commit = scope
        .repo(&dataset)?
        .commits
        .iter()
        .find(|c| c.commitid == sha)
        .ok_or_else(|| detail(StatusCode::NOT_FOUND, "No Commit matches the given query."))?;
    Ok(axum::Json(shapes::commit_detail_json(&dataset.service, commit)).into_response())
}

async fn list_pulls(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let repo = scope.repo(&dataset)?;
    let state = list.first("state");
    let mut pulls: Vec<_> = repo
        .pulls
        .iter()
        .filter(|p| state.is_none_or(|s| p.state == s))
        .collect();
    pulls.sort_by_key(|p| std::cmp::Reverse(p.pullid));
    list.page(pulls, |p| shapes::pull_json(&dataset.service, repo, p))
}

async fn get_pull(State(sim): State<Arc<CodecovSim>>, scope: Scope) -> Reply {
    let dataset = sim.dataset();
    let repo = scope.repo(&dataset)?;
    let pullid = scope.params.get("pullid").map(String::as_str).unwrap_or_default();
    let pull = repo
        .pulls
        .iter()
        .find(|p| p.pullid.to_string() == pullid)
        .ok_or_else(|| detail(StatusCode::NOT_FOUND, "No Pull matches the given query."))?;
    Ok(axum::Json(shapes::pull_json(&dataset.service, repo, pull)).into_response())
}

/// `RepoPropertyMixin.get_commit`: `sha`, else the head of `branch` (the
/// default branch unless given).
fn commit_of<'a>(repo: &'a Repo, list: &Listing) -> Result<&'a super::data::Commit, Refusal> {
    let sha = match list.first("sha") {
        Some(sha) => sha.to_string(),
        None => {
            let branch = list
                .first("branch")
                .map(String::from)
                .or_else(|| repo.branch.clone())
                .unwrap_or_default();
            let head = repo
                .commits
                .iter()
                .filter(|c| c.branch == branch)
                .max_by(|a, b| a.timestamp.cmp(&b.timestamp));
            match head {
                Some(head) => head.commitid.clone(),
                None => {
                    return Err(detail(
                        StatusCode::NOT_FOUND,
                        format!(
                            "The branch '{branch}' in not in our records. Please provide a valid branch name."
                        ),
                    ));
                }
            }
        }
    };
    repo.commits.iter().find(|c| c.commitid == sha).ok_or_else(|| {
        detail(
            StatusCode::NOT_FOUND,
            format!("The commit {sha} is not in our records. Please specify valid commit."),
        )
    })
}

/// `FlagViewSet`: every flag of the repository (`repo.flags.all()`, so flags
/// marked deleted too), with its coverage in the chosen commit's report:
/// null without a report, 0 for a flag the report does not carry.
async fn list_flags(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let repo = scope.repo(&dataset)?;
    let has_report = commit_of(repo, &list).is_ok_and(|c| c.totals.is_some());
    let flags: Vec<_> = repo.flags.iter().collect();
    list.page(flags, |f| {
        let coverage = has_report.then(|| {
            f.coverage
                .as_deref()
                .and_then(|c| c.parse::<f64>().ok())
                .unwrap_or(0.0)
        });
        json!({"flag_name": f.name, "coverage": coverage})
    })
}

/// `TotalsViewSet`: report totals (with `messages` and `diff`) and each file's,
/// without line coverage. 404 when the commit has no report.
async fn get_totals(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let repo = scope.repo(&dataset)?;
    let commit = commit_of(repo, &list)?;
    let Some(totals) = &commit.totals else {
        return Err(detail(
            StatusCode::NOT_FOUND,
            format!("No coverage report found for commit {}", commit.commitid),
        ));
    };
    let short = super::numbers::short_service(&dataset.service).unwrap_or_default();
    let url = format!(
        "{}/{short}/{}/{}/commit/{}/tree",
        sim.config.dashboard_url, scope.owner, repo.name, commit.commitid
    );
    Ok(axum::Json(shapes::totals_json(totals, &url)).into_response())
}

async fn list_branches(State(sim): State<Arc<CodecovSim>>, scope: Scope, list: Listing) -> Reply {
    let dataset = sim.dataset();
    let mut branches: Vec<_> = scope.repo(&dataset)?.branches.iter().collect();
    branches.sort_by(|a, b| b.updatestamp.cmp(&a.updatestamp));
    list.page(
        branches,
        |b| json!({"name": b.name, "updatestamp": format!("{}Z", b.updatestamp)}),
    )
}

async fn admin_state(State(sim): State<Arc<CodecovSim>>) -> Response {
    let dataset = sim.dataset();
    let owners: Vec<Value> = dataset
        .owners
        .iter()
        .map(|o| {
            let count = |f: fn(&Repo) -> usize| o.repos.iter().map(f).sum::<usize>();
            json!({"username": o.username, "repos": o.repos.len(),
                   "activeRepos": o.repos.iter().filter(|r| r.active).count(),
                   "commits": count(|r| r.commits.len()), "pulls": count(|r| r.pulls.len()),
                   "flags": count(|r| r.flags.len()), "branches": count(|r| r.branches.len())})
        })
        .collect();
    axum::Json(json!({"service": dataset.service, "owners": owners})).into_response()
}

async fn admin_requests(State(sim): State<Arc<CodecovSim>>) -> Response {
    axum::Json(json!(sim.log.snapshot())).into_response()
}

async fn admin_clear_requests(State(sim): State<Arc<CodecovSim>>) -> Response {
    sim.log.clear();
    axum::Json(json!({"ok": true})).into_response()
}

async fn admin_faults(State(sim): State<Arc<CodecovSim>>) -> Response {
    axum::Json(json!(sim.faults.get())).into_response()
}

async fn admin_set_faults(State(sim): State<Arc<CodecovSim>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(config) => {
            sim.faults.set(config);
            axum::Json(json!(sim.faults.get())).into_response()
        }
        Err(e) => detail(StatusCode::BAD_REQUEST, format!("fault config: {e}")).into_response(),
    }
}

async fn admin_webhook(
    State(sim): State<Arc<CodecovSim>>,
    Path((owner, repo)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let with_pull = query.get("pull").is_some_and(|v| v == "true");
    match sim.webhook_payload(&owner, &repo, with_pull) {
        Some(payload) => axum::Json(payload).into_response(),
        None => detail(
            StatusCode::NOT_FOUND,
            "No such repository, or it has no processed commit.",
        )
        .into_response(),
    }
}
