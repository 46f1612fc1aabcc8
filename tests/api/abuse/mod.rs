//! Abuse resistance on real sockets, one file per defence (as in `src/abuse`): rate limits,
//! origins and CORS, CAPTCHA, minimum time-to-submit, spam release and purge, security headers and
//! admin login backoff.

mod admin_backoff;
mod captcha;
mod origins;
mod rate_limits;
mod security_headers;
mod spam;
mod timing;

use serde_json::json;

use crate::helpers::TestApp;

/// A JSON signup with extra headers.
async fn post_with(
    app: &TestApp,
    form: &str,
    email: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/signup/{form}")))
        .json(&json!({ "email": email }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}
