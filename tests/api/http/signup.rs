//! Every answer path of `POST /signup/{form_id}`.

use ccbridge::domain::SignupState;
use serde_json::{Value, json};

use crate::database::Backend;
use crate::helpers::{FIXED_LIST, OPTIONAL_LIST, TOPIC_FIELD, error_code, spawn_app};

backends!(a_json_signup_is_stored_before_the_202: sqlite, postgres);
async fn a_json_signup_is_stored_before_the_202(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("user-agent", "test-browser/1.0")
        .json(&json!({
            "email": " Jane.Doe@Example.ORG ",
            "first_name": "Jane",
            "last_name": "Doe",
            "phone": "+1 555 0100",
            "company": "Acme",
            "job_title": "Engineer",
            "list": [OPTIONAL_LIST],
            "topic": "rust",
            "website": ""
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    assert_eq!(
        body["message"],
        "Thank you for signing up! Your subscription has been received."
    );
    let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let stored = app
        .store
        .signup(id)
        .await
        .unwrap()
        .expect("the acknowledged signup is stored");
    assert_eq!(stored.email.as_deref(), Some("Jane.Doe@example.org"));
    assert_eq!(stored.first_name.as_deref(), Some("Jane"));
    assert_eq!(stored.job_title.as_deref(), Some("Engineer"));
    assert_eq!(
        stored.list_ids,
        vec![
            FIXED_LIST.parse::<uuid::Uuid>().unwrap(),
            OPTIONAL_LIST.parse().unwrap()
        ]
    );
    assert_eq!(
        stored.custom_fields[0].custom_field_id,
        TOPIC_FIELD.parse::<uuid::Uuid>().unwrap()
    );
    assert_eq!(stored.custom_fields[0].value, "rust");
    assert_eq!(stored.state, SignupState::Pending);
    assert_eq!(stored.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(stored.user_agent.as_deref(), Some("test-browser/1.0"));
    app.stop().await;
}

backends!(an_html_form_post_redirects_to_the_forms_success_url: sqlite, postgres);
async fn an_html_form_post_redirects_to_the_forms_success_url(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.post_form("site", &[("email", "a@example.com")]).await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "https://example.org/thanks");
    assert_eq!(app.signups().await.len(), 1);
    app.stop().await;
}

backends!(without_a_success_url_the_browser_lands_on_the_built_in_thank_you_page: sqlite, postgres);
async fn without_a_success_url_the_browser_lands_on_the_built_in_thank_you_page(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .post_form(
            "newsletter",
            &[
                ("email", "a@example.com"),
                ("list", OPTIONAL_LIST),
                ("list", OPTIONAL_LIST),
            ],
        )
        .await;

    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/signup/newsletter/thank-you");
    let page = app.client.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Thank you"));
    let stored = app.signups().await;
    assert_eq!(
        stored[0].list_ids.len(),
        2,
        "the repeated list is kept once"
    );
    app.stop().await;
}

backends!(a_multipart_signup_is_accepted: sqlite, postgres);
async fn a_multipart_signup_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let form = reqwest::multipart::Form::new()
        .text("email", "multi@example.com")
        .text("first_name", "Multi")
        .text("list", OPTIONAL_LIST);

    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 202);
    let stored = app.signups().await;
    assert_eq!(stored[0].email.as_deref(), Some("multi@example.com"));
    assert_eq!(stored[0].first_name.as_deref(), Some("Multi"));
    assert_eq!(stored[0].list_ids.len(), 2);
    app.stop().await;
}

backends!(a_multipart_file_upload_is_refused: sqlite, postgres);
async fn a_multipart_file_upload_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let part = reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("cv.pdf");
    let form = reqwest::multipart::Form::new()
        .text("email", "a@example.com")
        .part("first_name", part);

    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_code(response).await,
        (422, "unexpected_file".into(), Some("first_name".into()))
    );
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(a_multipart_part_named_with_filename_star_is_a_file_too: sqlite, postgres);
async fn a_multipart_part_named_with_filename_star_is_a_file_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = "--b0undary\r\n\
        Content-Disposition: form-data; name=\"email\"\r\n\r\n\
        star@example.com\r\n\
        --b0undary\r\n\
        Content-Disposition: form-data; name=\"first_name\"; filename*=UTF-8''cv.pdf\r\n\
        Content-Type: application/pdf\r\n\r\n\
        x\r\n\
        --b0undary--\r\n";

    let response = app
        .post_raw("newsletter", "multipart/form-data; boundary=b0undary", body)
        .await;

    assert_eq!(
        error_code(response).await,
        (422, "unexpected_file".into(), Some("first_name".into()))
    );
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(a_form_body_with_a_json_accept_header_gets_a_json_answer: sqlite, postgres);
async fn a_form_body_with_a_json_accept_header_gets_a_json_answer(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .post(app.url("/signup/site"))
        .header("accept", "application/json")
        .form(&[("email", "a@example.com")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 202);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "accepted"
    );
    app.stop().await;
}

backends!(each_invalid_field_has_its_own_error_code_and_nothing_is_stored: sqlite, postgres);
async fn each_invalid_field_has_its_own_error_code_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let email_51 = format!("{}@example.com", "a".repeat(39));
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({ "first_name": "No Email" }),
            "missing_field",
            "email",
        ),
        (json!({ "email": "   " }), "missing_field", "email"),
        (json!({ "email": "not-an-email" }), "invalid_email", "email"),
        (json!({ "email": "a@localhost" }), "invalid_email", "email"),
        (json!({ "email": email_51 }), "field_too_long", "email"),
        (
            json!({ "email": "a@example.com", "first_name": "x".repeat(51) }),
            "field_too_long",
            "first_name",
        ),
        (
            json!({ "email": "a@example.com", "phone": "1".repeat(26) }),
            "field_too_long",
            "phone",
        ),
        (
            json!({ "email": "a@example.com", "topic": "t".repeat(256) }),
            "field_too_long",
            "topic",
        ),
        (
            json!({ "email": "a@example.com", "company": "bad\u{7}bell" }),
            "invalid_characters",
            "company",
        ),
        (
            json!({ "email": "a@example.com", "list": FIXED_LIST }),
            "unknown_list",
            "list",
        ),
        (
            json!({ "email": "a@example.com", "list": ["nope"] }),
            "unknown_list",
            "list",
        ),
        (
            json!({ "email": "a@example.com", "favourite": "x" }),
            "unknown_field",
            "favourite",
        ),
        (
            json!({ "email": "a@example.com", "first_name": 7 }),
            "invalid_type",
            "first_name",
        ),
        (
            json!({ "email": "a@example.com", "list": [1] }),
            "invalid_type",
            "list",
        ),
    ];

    for (body, code, field) in cases {
        let response = app.post_json("newsletter", &body).await;
        assert_eq!(
            error_code(response).await,
            (422, code.to_owned(), Some(field.to_owned())),
            "for {body}"
        );
    }

    assert!(
        app.signups().await.is_empty(),
        "a refused signup changes nothing"
    );
    app.stop().await;
}

backends!(a_repeated_field_in_a_form_post_is_refused: sqlite, postgres);
async fn a_repeated_field_in_a_form_post_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("accept", "application/json")
        .form(&[("email", "a@example.com"), ("email", "b@example.com")])
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_code(response).await,
        (422, "duplicate_field".into(), Some("email".into()))
    );
    app.stop().await;
}

backends!(a_fifty_character_email_is_accepted: sqlite, postgres);
async fn a_fifty_character_email_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = format!("{}@example.com", "a".repeat(38));
    assert_eq!(email.len(), 50);

    let response = app
        .post_json("newsletter", &json!({ "email": email }))
        .await;

    assert_eq!(response.status(), 202);
    app.stop().await;
}

backends!(an_unknown_form_is_a_404_for_scripts_and_browsers: sqlite, postgres);
async fn an_unknown_form_is_a_404_for_scripts_and_browsers(backend: Backend) {
    let app = spawn_app(backend).await;

    let json = app
        .post_json("nope", &json!({ "email": "a@example.com" }))
        .await;
    assert_eq!(error_code(json).await, (404, "unknown_form".into(), None));
    let html = app.post_form("nope", &[("email", "a@example.com")]).await;
    assert_eq!(html.status(), 404);
    assert!(html.text().await.unwrap().contains("not accepted"));
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(an_oversized_body_is_a_413_whether_declared_or_streamed: sqlite, postgres);
async fn an_oversized_body_is_a_413_whether_declared_or_streamed(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = format!("email=a%40example.com&first_name={}", "x".repeat(20 * 1024));

    let declared = app
        .post_raw(
            "newsletter",
            "application/x-www-form-urlencoded",
            big.clone(),
        )
        .await;
    assert_eq!(
        error_code(declared).await,
        (413, "payload_too_large".into(), None)
    );

    // Without a Content-Length the limit is enforced while reading.
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..10_000].to_owned()), Ok(big[10_000..].to_owned())];
    let streamed = app
        .post_raw(
            "newsletter",
            "application/x-www-form-urlencoded",
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!(
        error_code(streamed).await,
        (413, "payload_too_large".into(), None)
    );
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(an_unsupported_or_missing_media_type_is_a_415: sqlite, postgres);
async fn an_unsupported_or_missing_media_type_is_a_415(backend: Backend) {
    let app = spawn_app(backend).await;

    let text = app
        .post_raw("newsletter", "text/plain", "email=a@example.com")
        .await;
    assert_eq!(
        error_code(text).await,
        (415, "unsupported_media_type".into(), None)
    );
    let none = app
        .client
        .post(app.url("/signup/newsletter"))
        .header("accept", "application/json")
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(none).await,
        (415, "unsupported_media_type".into(), None)
    );
    app.stop().await;
}

backends!(a_malformed_body_is_a_400: sqlite, postgres);
async fn a_malformed_body_is_a_400(backend: Backend) {
    let app = spawn_app(backend).await;

    for (content_type, body) in [
        ("application/json", &b"{\"email\": "[..]),
        ("application/json", &b"[\"a@example.com\"]"[..]),
        (
            "application/x-www-form-urlencoded",
            &b"email=%FF%FE%40example.com"[..],
        ),
        (
            "multipart/form-data; boundary=XYZ",
            &b"--XYZ\r\nno headers here"[..],
        ),
    ] {
        let response = app
            .post_raw("newsletter", content_type, body.to_vec())
            .await;
        assert_eq!(
            error_code(response).await,
            (400, "malformed_body".into(), None),
            "for {content_type}"
        );
    }
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(invalid_input_from_a_browser_redirects_to_the_error_url_with_the_code: sqlite, postgres);
async fn invalid_input_from_a_browser_redirects_to_the_error_url_with_the_code(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app.post_form("site", &[("email", "nope")]).await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://example.org/oops?lang=en&error=invalid_email&field=email"
    );
    app.stop().await;
}

backends!(invalid_input_from_a_browser_without_an_error_url_gets_a_422_page: sqlite, postgres);
async fn invalid_input_from_a_browser_without_an_error_url_gets_a_422_page(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .post_form("newsletter", &[("email", "<script>@x")])
        .await;

    assert_eq!(response.status(), 422);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("This email address does not look right"));
    assert!(
        !page.contains("<script>"),
        "input is never echoed unescaped"
    );
    app.stop().await;
}

backends!(a_filled_honeypot_gets_the_normal_success_answer_and_is_not_queued: sqlite, postgres);
async fn a_filled_honeypot_gets_the_normal_success_answer_and_is_not_queued(backend: Backend) {
    let app = spawn_app(backend).await;

    let json = app
        .post_json(
            "newsletter",
            &json!({ "email": "bot@example.com", "website": "http://spam.example" }),
        )
        .await;
    assert_eq!(json.status(), 202);
    assert_eq!(json.json::<Value>().await.unwrap()["status"], "accepted");
    let html = app
        .post_form(
            "site",
            &[("email", "bot2@example.com"), ("website", "spam")],
        )
        .await;
    assert_eq!(html.status(), 303);
    assert_eq!(html.headers()["location"], "https://example.org/thanks");
    // Invalid *and* honeypot: still the success answer, nothing kept.
    let junk = app
        .post_json("newsletter", &json!({ "email": "junk", "website": "x" }))
        .await;
    assert_eq!(junk.status(), 202);

    let stored = app.signups().await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| s.state == SignupState::Spam));
    assert!(
        stored
            .iter()
            .all(|s| s.spam_reason.as_deref() == Some("honeypot"))
    );
    let counts = app.store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.spam), (0, 2));
    app.stop().await;
}

backends!(every_response_carries_a_request_id: sqlite, postgres);
async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .post_json("newsletter", &json!({ "email": "a@example.com" }))
        .await;
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok());

    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "lb-1234");
    app.stop().await;
}

backends!(a_long_or_odd_client_request_id_is_replaced: sqlite, postgres);
async fn a_long_or_odd_client_request_id_is_replaced(backend: Backend) {
    let app = spawn_app(backend).await;

    let long = "a".repeat(65);
    for sent in [long.as_str(), "two words", "<b>x</b>", "a/b", "x;y"] {
        let response = app
            .client
            .post(app.url("/signup/newsletter"))
            .header("x-request-id", sent)
            .json(&json!({ "email": "id@example.com" }))
            .send()
            .await
            .unwrap();
        let answered = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(
            answered, sent,
            "a client id over 64 characters or not plain is not echoed"
        );
        assert!(uuid::Uuid::parse_str(answered).is_ok(), "{answered}");
    }
    let plain = "A.b_c-9".repeat(9) + "x";
    assert_eq!(plain.len(), 64);
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", &plain)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], plain.as_str());
    app.stop().await;
}

backends!(an_email_with_a_one_letter_top_level_domain_is_refused: sqlite, postgres);
async fn an_email_with_a_one_letter_top_level_domain_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;

    for email in ["jane@example.c", "jane@example.1"] {
        let response = app
            .post_json("newsletter", &json!({ "email": email }))
            .await;
        assert_eq!(
            error_code(response).await,
            (422, "invalid_email".into(), Some("email".into())),
            "{email}: Constant Contact would refuse it, so the intake does"
        );
    }
    assert!(app.signups().await.is_empty());
    let two = app
        .post_json("newsletter", &json!({ "email": "jane@example.co" }))
        .await;
    assert_eq!(two.status(), 202);
    app.stop().await;
}
