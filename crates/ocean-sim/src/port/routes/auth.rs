//! `POST /v1/auth/access_token`: client credentials for a bearer token.

use super::*;

pub(super) async fn token(State(sim): State<Arc<PortSim>>, body: Bytes) -> Reply {
    let body = json_object(&body)?;
    only_keys(&body, &["clientId", "clientSecret"])?;
    let (Some(Value::String(id)), Some(Value::String(secret))) =
        (body.get("clientId"), body.get("clientSecret"))
    else {
        return Err(invalid(
            "body must have required properties 'clientId' and 'clientSecret' (strings)",
        ));
    };
    if *id != sim.config.client_id || *secret != sim.config.client_secret {
        return Err(Refusal::new(
            401,
            "unauthorized",
            "The client ID or client secret is wrong",
        ));
    }
    let (token, lifetime) = sim.issue_token();
    ok(
        StatusCode::OK,
        json!({"ok": true, "accessToken": token, "expiresIn": lifetime.as_secs(), "tokenType": "Bearer"}),
    )
}
