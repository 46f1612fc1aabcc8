//! Abuse resistance on real sockets: rate limits (and who the client is behind proxies), origin
//! control and CORS, CAPTCHA against the sandbox's test verifier, minimum time-to-submit, spam
//! release and purge, no open redirects, slow and surplus connections, security headers, admin
//! login backoff, secrets kept out of the logs, and the OpenAPI document.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ccbridge::clock::{ManualClock, SystemClock};
use ccbridge::domain::SignupState;
use ccbridge_sandbox::{CAPTCHA_SECRET, Sandbox, SandboxConfig};
use chrono::Utc;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USER, AppOptions, FIXED_LIST, TestApp, error_code, eventually, spawn_app,
    spawn_app_with, start_sandbox,
};

const LIMITS: &str = "[rate_limit]\nper_ip_per_minute = 10\nper_ip_burst = 3\n";

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

fn trusting_localhost(config: &mut ccbridge::Config) {
    config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

// ── Rate limits ──────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_client_past_its_burst_gets_429_with_retry_after_and_nothing_more_is_stored() {
    let app = spawn_app_with(LIMITS).await;
    for n in 0..3 {
        let response = post_with(&app, "newsletter", &format!("n{n}@example.com"), &[]).await;
        assert_eq!(response.status(), 202);
    }

    let limited = post_with(&app, "newsletter", "n3@example.com", &[]).await;

    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 10 per minute: the next token is at most 6 seconds away.
    assert!((1..=6).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(limited).await.1, "rate_limited");
    // Browsers: the form's error page, or the built-in page with the status.
    let page = app
        .post_form("newsletter", &[("email", "b@example.com")])
        .await;
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    let redirected = app.post_form("site", &[("email", "b@example.com")]).await;
    assert_eq!(redirected.status(), 303);
    assert_eq!(
        redirected.headers()["location"],
        "https://example.org/oops?lang=en&error=rate_limited"
    );
    assert_eq!(app.signups().await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit() {
    let app = spawn_app_with(LIMITS).await;

    let mut statuses = Vec::new();
    for n in 0..5 {
        let forged = format!("198.51.100.{n}");
        let response = post_with(
            &app,
            "newsletter",
            &format!("n{n}@example.com"),
            &[
                ("x-forwarded-for", &forged),
                ("forwarded", &format!("for={forged}")),
            ],
        )
        .await;
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    let stored = app.signups().await;
    assert!(
        stored
            .iter()
            .all(|s| s.client_ip.as_deref() == Some("127.0.0.1"))
    );
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let app = AppOptions::fresh(LIMITS)
        .configure(trusting_localhost)
        .spawn()
        .await;
    let first = [("x-forwarded-for", "203.0.113.7, 198.51.100.1")];
    let second = [("x-forwarded-for", "198.51.100.2")];

    for n in 0..3 {
        let response = post_with(&app, "newsletter", &format!("a{n}@example.com"), &first).await;
        assert_eq!(response.status(), 202);
    }
    let limited = post_with(&app, "newsletter", "a3@example.com", &first).await;
    let other = post_with(&app, "newsletter", "b@example.com", &second).await;

    assert_eq!(limited.status(), 429);
    assert_eq!(other.status(), 202);
    let stored = app.signups().await;
    assert_eq!(stored[0].client_ip.as_deref(), Some("198.51.100.1"));
    assert_eq!(stored[3].client_ip.as_deref(), Some("198.51.100.2"));
    app.stop().await;
}

#[tokio::test]
async fn the_per_form_limit_holds_across_clients() {
    let app = AppOptions::fresh(
        "[rate_limit]\nper_ip_per_minute = 0\nper_form_per_minute = 60\nper_form_burst = 2\n",
    )
    .configure(trusting_localhost)
    .spawn()
    .await;

    let mut statuses = Vec::new();
    for n in 0..3 {
        let client = format!("198.51.100.{n}");
        let response = post_with(
            &app,
            "newsletter",
            &format!("n{n}@example.com"),
            &[("x-forwarded-for", &client)],
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    let other_form = post_with(&app, "site", "s@example.com", &[]).await;

    assert_eq!(statuses, [202, 202, 429]);
    assert_eq!(other_form.status(), 202);
    app.stop().await;
}

// ── Origins and CORS ─────────────────────────────────────────────────────────────────────────

fn shop_form() -> String {
    format!(
        "[[forms]]\nid = \"shop\"\nlist_ids = [\"{FIXED_LIST}\"]\nallowed_origins = [\"https://shop.example\"]\n"
    )
}

#[tokio::test]
async fn a_post_from_another_sites_page_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with(&shop_form()).await;

    let by_origin = post_with(
        &app,
        "shop",
        "a@example.com",
        &[("origin", "https://evil.example")],
    )
    .await;
    let by_referer = post_with(
        &app,
        "shop",
        "a@example.com",
        &[("referer", "https://evil.example/signup.html")],
    )
    .await;
    let opaque = post_with(&app, "shop", "a@example.com", &[("origin", "null")]).await;
    let browser = app
        .client
        .post(app.url("/signup/site"))
        .header("origin", "https://evil.example")
        .form(&[("email", "a@example.com")])
        .send()
        .await
        .unwrap();

    for response in [by_origin, by_referer, opaque] {
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert_eq!(
            error_code(response).await,
            (403, "origin_not_allowed".into(), None)
        );
    }
    assert_eq!(browser.status(), 303);
    assert_eq!(
        browser.headers()["location"],
        "https://example.org/oops?lang=en&error=origin_not_allowed"
    );
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_and_its_preflight_is_answered() {
    let app = spawn_app_with(&shop_form()).await;

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/signup/shop"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    let refused_preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/signup/shop"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    let post = post_with(
        &app,
        "shop",
        "a@example.com",
        &[("origin", "https://shop.example")],
    )
    .await;
    let own_page = post_with(&app, "shop", "b@example.com", &[("origin", &app.url(""))]).await;
    let no_browser = post_with(&app, "shop", "c@example.com", &[]).await;

    assert_eq!(preflight.status(), 204);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "https://shop.example");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("content-type")
    );
    assert!(h.get_all("vary").iter().any(|v| v == "Origin"));
    assert_eq!(refused_preflight.status(), 403);
    assert!(
        refused_preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(post.status(), 202);
    assert_eq!(
        post.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(post.headers().get_all("vary").iter().any(|v| v == "Origin"));
    assert_eq!(own_page.status(), 202, "ccbridge's own pages may post");
    assert_eq!(
        no_browser.status(),
        202,
        "no Origin and no Referer: not a browser page"
    );
    assert_eq!(app.signups().await.len(), 3);
    app.stop().await;
}

// ── CAPTCHA ──────────────────────────────────────────────────────────────────────────────────

fn captcha_form(id: &str, table: &str) -> String {
    format!("[[forms]]\nid = \"{id}\"\nlist_ids = [\"{FIXED_LIST}\"]\n[forms.captcha]\n{table}\n")
}

fn verifier(sandbox: &Sandbox, provider: &str) -> String {
    format!(
        "provider = \"{provider}\"\nsecret = \"{CAPTCHA_SECRET}\"\nverify_url = \"{}\"",
        sandbox.captcha_verify_url()
    )
}

async fn captcha_sandbox() -> Sandbox {
    start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_solved_captcha_is_accepted_and_a_failed_or_missing_one_is_refused_unstored() {
    let sandbox = captcha_sandbox().await;
    let app = spawn_app_with(&captcha_form("human", &verifier(&sandbox, "turnstile"))).await;
    let client = &app;
    let post = |token: Option<&str>| {
        let mut body = json!({ "email": "a@example.com" });
        if let Some(token) = token {
            body["cf-turnstile-response"] = json!(token);
        }
        async move { client.post_json("human", &body).await }
    };

    let passed = post(Some("pass")).await;
    let failed = post(Some("fail")).await;
    let missing = post(None).await;

    assert_eq!(passed.status(), 202);
    let field = Some("cf-turnstile-response".to_owned());
    assert_eq!(
        error_code(failed).await,
        (422, "captcha_failed".into(), field.clone())
    );
    assert_eq!(
        error_code(missing).await,
        (422, "captcha_failed".into(), field)
    );
    let stored = app.signups().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, SignupState::Pending);
    app.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn recaptcha_v3_needs_a_score_above_the_threshold_and_the_expected_action() {
    let sandbox = captcha_sandbox().await;
    let table = format!(
        "{}\nmin_score = 0.5\naction = \"signup\"",
        verifier(&sandbox, "recaptcha_v3")
    );
    let app = spawn_app_with(&captcha_form("scored", &table)).await;
    let client = &app;
    let post = |token: &str| {
        let body = json!({ "email": "a@example.com", "g-recaptcha-response": token });
        async move { client.post_json("scored", &body).await }
    };

    let human = post("score-0.9").await;
    let bot = post("score-0.1").await;
    let other_action = post("score-0.9:login").await;

    assert_eq!(human.status(), 202);
    assert_eq!(error_code(bot).await.1, "captcha_failed");
    assert_eq!(error_code(other_action).await.1, "captcha_failed");
    assert_eq!(app.signups().await.len(), 1);
    app.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_captcha_provider_rejects_or_keeps_the_signup_as_spam_as_configured() {
    let sandbox = captcha_sandbox().await;
    let closed = format!("http://127.0.0.1:{}/siteverify", closed_port());
    let forms = [
        captcha_form(
            "strict",
            &format!("provider = \"hcaptcha\"\nsecret = \"x\"\nverify_url = \"{closed}\""),
        ),
        captcha_form(
            "lenient",
            &format!(
                "provider = \"hcaptcha\"\nsecret = \"x\"\nverify_url = \"{closed}\"\non_unreachable = \"accept_and_mark\""
            ),
        ),
        // The sandbox's verifier failing (HTTP 500), and one configured with the wrong secret.
        captcha_form("outage", &verifier(&sandbox, "hcaptcha")),
        captcha_form(
            "misconfigured",
            &verifier(&sandbox, "hcaptcha").replace(CAPTCHA_SECRET, "wrong-secret"),
        ),
    ]
    .concat();
    let app = spawn_app_with(&forms).await;
    let client = &app;
    let post = |form: &'static str, token: &'static str| {
        let body = json!({ "email": "a@example.com", "h-captcha-response": token });
        async move { client.post_json(form, &body).await }
    };

    let strict = post("strict", "pass").await;
    let lenient = post("lenient", "pass").await;
    let outage = post("outage", "server-error").await;
    let misconfigured = post("misconfigured", "pass").await;

    assert_eq!(strict.headers()["retry-after"], "5");
    assert_eq!(
        error_code(strict).await,
        (503, "captcha_unavailable".into(), None)
    );
    assert_eq!(lenient.status(), 202);
    assert_eq!(error_code(outage).await.1, "captcha_unavailable");
    assert_eq!(error_code(misconfigured).await.1, "captcha_unavailable");
    let stored = app.signups().await;
    assert_eq!(stored.len(), 1, "only the lenient form kept its signup");
    assert_eq!(stored[0].form_id, "lenient");
    assert_eq!(stored[0].state, SignupState::Spam);
    assert_eq!(
        stored[0].spam_reason.as_deref(),
        Some("captcha_unreachable")
    );
    app.stop().await;
    sandbox.shutdown().await;
}

// ── Minimum time-to-submit ───────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_submission_faster_than_min_submit_time_is_answered_as_success_and_kept_as_spam() {
    let clock = ManualClock::new(Utc::now());
    let extra = format!(
        "[[forms]]\nid = \"timed\"\nlist_ids = [\"{FIXED_LIST}\"]\nmin_submit_time = \"3s\"\n"
    );
    let app = AppOptions::fresh(&extra)
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let token = |app: &TestApp| {
        let url = app.url("/signup/timed/token");
        let client = app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.headers()["cache-control"], "no-store");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["field"], "_ts");
            assert_eq!(body["min_submit_time_ms"], 3000);
            body["value"].as_str().unwrap().to_owned()
        }
    };
    let post = |email: &str, ts: Option<&str>| {
        let mut fields = vec![("email", email.to_owned())];
        if let Some(ts) = ts {
            fields.push(("_ts", ts.to_owned()));
        }
        app.client
            .post(app.url("/signup/timed"))
            .header("accept", "text/html")
            .form(&fields)
            .send()
    };

    let shown = token(&app).await;
    let fast = post("fast@example.com", Some(&shown)).await.unwrap();
    clock.advance(chrono::Duration::seconds(4));
    let human = post("human@example.com", Some(&shown)).await.unwrap();
    let missing = post("missing@example.com", None).await.unwrap();
    let forged = post("forged@example.com", Some("1.AAAA")).await.unwrap();

    for response in [&fast, &human, &missing, &forged] {
        assert_eq!(response.status(), 303, "every one looks like a success");
        assert_eq!(response.headers()["location"], "/signup/timed/thank-you");
    }
    let by_email = |email: &str, signups: &[ccbridge::store::SignupRecord]| {
        let s = signups
            .iter()
            .find(|s| s.email.as_deref() == Some(email))
            .unwrap();
        (s.state, s.spam_reason.clone())
    };
    let stored = app.signups().await;
    assert_eq!(
        by_email("fast@example.com", &stored),
        (SignupState::Spam, Some("too_fast".into()))
    );
    assert_eq!(
        by_email("human@example.com", &stored),
        (SignupState::Pending, None)
    );
    assert_eq!(
        by_email("missing@example.com", &stored),
        (SignupState::Spam, Some("missing_timestamp".into()))
    );
    assert_eq!(
        by_email("forged@example.com", &stored),
        (SignupState::Spam, Some("invalid_timestamp".into()))
    );
    app.stop().await;
}

// ── Spam: release and purge ──────────────────────────────────────────────────────────────────

#[tokio::test]
async fn an_admin_can_release_spam_with_the_cli_and_old_spam_is_purged() {
    let app = spawn_app().await;
    let spam = app
        .post_json(
            "newsletter",
            &json!({ "email": "maybe@example.com", "website": "http://x" }),
        )
        .await;
    assert_eq!(spam.status(), 202);
    let spam_id = app.signups().await[0].id;
    let (dir, db_path) = app.stop().await;
    let config = dir.path().join("release.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n",
            crate::helpers::database_url(&db_path).await
        ),
    )
    .unwrap();
    let release = |id: uuid::Uuid| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_ccbridge"))
                .args(["retry", "--spam", "--id", &id.to_string(), "--config"])
                .arg(&config)
                .env_remove("CCBRIDGE_CONFIG")
                .output()
                .unwrap()
        })
    };

    let released = release(spam_id).await.unwrap();
    let again = release(spam_id).await.unwrap();

    assert!(released.status.success(), "{released:?}");
    assert!(!again.status.success(), "only spam can be released");
    let app = crate::helpers::spawn_app_in(dir, db_path, "").await;
    let record = app.store.signup(spam_id).await.unwrap().unwrap();
    assert_eq!(record.state, SignupState::Pending);
    assert_eq!(record.spam_reason, None);

    // Purging deletes only spam older than the cutoff.
    app.post_json(
        "newsletter",
        &json!({ "email": "bot@example.com", "website": "x" }),
    )
    .await;
    let now = Utc::now();
    assert_eq!(
        app.store
            .purge_spam_before(now - chrono::Duration::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.store
            .purge_spam_before(now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.spam, counts.pending), (0, 1));
    app.stop().await;
}

// ── No open redirect ─────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn redirect_targets_come_only_from_the_configuration() {
    let app = spawn_app().await;
    let evil = "https://evil.example/phish";

    let with_query = app
        .client
        .post(app.url(&format!(
            "/signup/site?next={evil}&redirect={evil}&success_url={evil}&return_to={evil}"
        )))
        .header("accept", "text/html")
        .form(&[("email", "a@example.com")])
        .send()
        .await
        .unwrap();
    let with_fields = app
        .post_form(
            "site",
            &[
                ("email", "b@example.com"),
                ("success_url", evil),
                ("next", evil),
            ],
        )
        .await;
    let built_in = app
        .client
        .post(app.url(&format!("/signup/newsletter?next={evil}")))
        .header("accept", "text/html")
        .header("x-forwarded-host", "evil.example")
        .form(&[("email", "c@example.com")])
        .send()
        .await
        .unwrap();
    let thank_you = app
        .client
        .get(app.url(&format!("/signup/newsletter/thank-you?next={evil}")))
        .send()
        .await
        .unwrap();

    assert_eq!(
        with_query.headers()["location"],
        "https://example.org/thanks"
    );
    let refused = with_fields.headers()["location"].to_str().unwrap();
    assert!(
        refused.starts_with("https://example.org/oops?lang=en&error=unknown_field"),
        "{refused}"
    );
    assert!(!refused.contains("evil"), "{refused}");
    assert_eq!(
        built_in.headers()["location"],
        "/signup/newsletter/thank-you"
    );
    assert_eq!(thank_you.status(), 200);
    assert!(thank_you.headers().get("location").is_none());
    assert!(!thank_you.text().await.unwrap().contains("evil"));
    app.stop().await;
}

// ── Connections ──────────────────────────────────────────────────────────────────────────────

/// Read until the server closes the connection; how long that took, or `None` past `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|()| started.elapsed())
}

#[tokio::test]
async fn a_client_that_sends_half_a_request_line_is_cut_off_after_the_header_read_timeout() {
    let app = AppOptions::fresh("")
        .configure(|c| c.server.header_read_timeout = Duration::from_secs(1))
        .spawn()
        .await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /hea").await.unwrap();

    let slow_closed = closed_within(&mut slow, Duration::from_secs(10)).await;
    let silent_closed = closed_within(&mut silent, Duration::from_secs(10)).await;

    let slow_closed = slow_closed.expect("the slow client is cut off");
    assert!(slow_closed >= Duration::from_millis(900), "{slow_closed:?}");
    assert!(slow_closed < Duration::from_secs(5), "{slow_closed:?}");
    assert!(
        silent_closed.is_some(),
        "a client that sends nothing is cut off too"
    );
    let healthy = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn connections_past_max_connections_wait_until_one_closes() {
    let app = AppOptions::fresh("")
        .configure(|c| {
            c.server.max_connections = 2;
            c.server.header_read_timeout = Duration::from_secs(30);
        })
        .spawn()
        .await;
    let first = TcpStream::connect(app.addr).await.unwrap();
    let _second = TcpStream::connect(app.addr).await.unwrap();

    let while_full = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    drop(first);
    let after = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served once a connection is free");

    assert!(while_full.is_err(), "{while_full:?}");
    assert_eq!(after.status(), 200);
    app.stop().await;
}

// ── Security headers ─────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn html_pages_carry_security_headers_and_json_answers_nosniff() {
    let app = spawn_app().await;

    let page = app
        .client
        .get(app.url("/signup/newsletter/thank-you"))
        .send()
        .await
        .unwrap();
    let not_found = app.client.get(app.url("/nowhere")).send().await.unwrap();
    let json = app.client.get(app.url("/healthz")).send().await.unwrap();

    for response in [&page, &not_found] {
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains(
                "form-action 'self' https://authz.constantcontact.com https://example.org"
            ),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
    assert!(json.headers().get("content-security-policy").is_none());
    app.stop().await;
}

// ── Admin login backoff ──────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn admin_logins_back_off_after_repeated_failures_with_growing_waits() {
    let app = spawn_app_with(
        "[rate_limit]\nadmin_failures = 2\nadmin_lockout = \"1s\"\nadmin_lockout_max = \"10s\"\n",
    )
    .await;
    let login = |password: &'static str| {
        app.client
            .get(app.url("/connect"))
            .basic_auth(ADMIN_USER, Some(password))
            .send()
    };
    // Without Constant Contact credentials configured, a good login answers 503 "not configured".
    const LOGGED_IN: u16 = 503;

    assert_eq!(login("guess-1").await.unwrap().status(), 401);
    assert_eq!(login("guess-2").await.unwrap().status(), 401);
    let locked = login(ADMIN_PASSWORD).await.unwrap();
    let anonymous = app.client.get(app.url("/connect")).send().await.unwrap();

    assert_eq!(locked.status(), 429, "even the right password waits");
    assert_eq!(locked.headers()["retry-after"], "1");
    assert_eq!(
        anonymous.status(),
        401,
        "requests without credentials are not held up"
    );
    eventually(Duration::from_secs(5), "the first wait to end", || async {
        (login(ADMIN_PASSWORD).await.unwrap().status() == LOGGED_IN).then_some(())
    })
    .await;
    assert_eq!(login("guess-3").await.unwrap().status(), 401);
    let doubled = login(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(doubled.status(), 429);
    assert_eq!(doubled.headers()["retry-after"], "2");
    app.stop().await;
}

// ── Secrets and personal data stay out of the logs ───────────────────────────────────────────

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything ccbridge does with secrets and personal data, with every log line captured (at
/// `trace` for ccbridge and its HTTP layers), then searched for them. A current-thread runtime
/// keeps every task of the app on this thread, under this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn secrets_and_personal_data_never_reach_the_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,ccbridge=trace,tower_http=trace,ccbridge_sandbox=off",
        ))
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests hit the same callsites at the same time, on threads without a subscriber. While
    // only one dispatcher exists, tracing-core decides a new callsite's interest by asking the
    // *registering thread's* default alone, so a callsite first reached by another test would be
    // "never" for this subscriber too, and its lines silently missing. A second live dispatcher
    // (interested in nothing) makes every registration ask all of them.
    let _second_dispatcher = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let sandbox = start_sandbox(SandboxConfig::default(), Arc::new(SystemClock)).await;
    let app = AppOptions::against(
        &sandbox,
        &format!("[security]\ntoken_encryption_key = \"{key}\"\n"),
    )
    .spawn()
    .await;
    let local_part = "zq7-private-local";
    let email = format!("{local_part}@example.org");

    app.connect_ok().await;
    let wrong = app
        .client
        .get(app.url("/connect"))
        .basic_auth(ADMIN_USER, Some("not-the-password-zq7"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let invalid = app
        .post_json(
            "newsletter",
            &json!({ "email": format!("{local_part}@"), "first_name": "Zq7first" }),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let accepted = app
        .post_json(
            "newsletter",
            &json!({ "email": email, "first_name": "Zq7first", "phone": "+1 555 0199" }),
        )
        .await;
    assert_eq!(accepted.status(), 202);
    eventually(Duration::from_secs(20), "the delivery", || async {
        (sandbox.contacts().len() == 1).then_some(())
    })
    .await;
    let access = app.keeper.access_token().await.unwrap();
    let stored = app.store.token_set().await.unwrap().unwrap();
    let refresh = app
        .keeper
        .cipher()
        .open(&stored.refresh_token, "refresh_token")
        .unwrap();
    let client_secret = sandbox.client_secret().to_owned();
    app.stop().await;
    sandbox.shutdown().await;

    let text = logs.text();
    assert!(
        text.contains("signup stored"),
        "the logs were captured:\n{text}"
    );
    assert!(
        text.contains("z***@example.org"),
        "emails appear redacted:\n{text}"
    );
    let secrets = [
        ("the email's local part", local_part.to_owned()),
        ("the first name", "Zq7first".to_owned()),
        ("the phone number", "555 0199".to_owned()),
        ("the access token", access.secret.expose_secret().to_owned()),
        ("the refresh token", refresh.expose_secret().to_owned()),
        ("the client secret", client_secret),
        ("the admin password", ADMIN_PASSWORD.to_owned()),
        ("a guessed password", "not-the-password-zq7".to_owned()),
        ("the encryption key", key),
    ];
    for (what, secret) in secrets {
        assert!(
            !text.contains(&secret),
            "{what} appears in the logs:\n{text}"
        );
    }
}

// ── OpenAPI ──────────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/signup/{form_id}"]["post"].is_object());
    assert!(document["paths"]["/signup/{form_id}"]["options"].is_object());
    assert!(document["components"]["schemas"]["Error"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn the_console_login_form_backs_off_after_repeated_failures_too() {
    let app = spawn_app_with("[rate_limit]\nadmin_failures = 2\nadmin_lockout = \"1m\"\n").await;
    let login = |password: &'static str| {
        app.client
            .post(app.url("/admin/login"))
            .form(&[("username", ADMIN_USER), ("password", password)])
            .send()
    };

    assert_eq!(login("guess-1").await.unwrap().status(), 403);
    assert_eq!(login("guess-2").await.unwrap().status(), 403);
    let locked = login(ADMIN_PASSWORD).await.unwrap();

    assert_eq!(locked.status(), 429, "the form is held up like HTTP Basic");
    assert!(
        locked.headers().get("set-cookie").is_none(),
        "no session while locked out"
    );
    app.stop().await;
}
