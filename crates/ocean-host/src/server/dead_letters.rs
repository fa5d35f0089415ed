//! `/dead-letters`: the live events kept after failing, listed, replayed or
//! discarded while `sail` runs (the `dead-letters` command talks to these when
//! the journal is held by the running process). Guarded by the webhook secret.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ServerState, authorised, reply};
use crate::journal::Selection;

#[derive(serde::Deserialize)]
pub struct Which {
    seq: Option<u64>,
    #[serde(default)]
    all: bool,
}

impl Which {
    fn selection(&self) -> Option<Selection> {
        match (self.seq, self.all) {
            (Some(seq), false) => Some(Selection::One(seq)),
            (None, true) => Some(Selection::All),
            _ => None,
        }
    }
}

fn unauthorised() -> Response {
    reply(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong webhook secret",
    )
}

pub async fn list(
    State(state): State<ServerState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !authorised(&state, &headers, &query) {
        return unauthorised();
    }
    let letters = state.live.journal.dead_letters();
    axum::Json(json!({"ok": true, "deadLetters": letters})).into_response()
}

async fn act(
    state: &ServerState,
    headers: &HeaderMap,
    query: &Option<String>,
    which: &Which,
    replay: bool,
) -> Response {
    if !authorised(state, headers, query) {
        return unauthorised();
    }
    let Some(selection) = which.selection() else {
        return reply(
            StatusCode::BAD_REQUEST,
            "bad_selection",
            "say ?seq=N for one dead letter or ?all=true for every one",
        );
    };
    let journal = &state.live.journal;
    let count = if replay {
        journal.revive(selection).await
    } else {
        journal.discard(selection).await
    };
    axum::Json(json!({"ok": true, "count": count})).into_response()
}

pub async fn replay(
    State(state): State<ServerState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Query(which): Query<Which>,
) -> Response {
    act(&state, &headers, &query, &which, true).await
}

pub async fn discard(
    State(state): State<ServerState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Query(which): Query<Which>,
) -> Response {
    act(&state, &headers, &query, &which, false).await
}
