//! No open redirect: redirect targets come only from the configuration.

use crate::database::Backend;
use crate::helpers::spawn_app;

backends!(redirect_targets_come_only_from_the_configuration: sqlite, postgres);
async fn redirect_targets_come_only_from_the_configuration(backend: Backend) {
    let app = spawn_app(backend).await;
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

backends!(an_unknown_field_name_reaches_the_error_url_only_when_plain: sqlite, postgres);
async fn an_unknown_field_name_reaches_the_error_url_only_when_plain(backend: Backend) {
    let app = spawn_app(backend).await;

    for name in [
        "<script>alert(1)</script>",
        "Visit EVIL.example now",
        "a&error=x",
    ] {
        let refused = app
            .post_form("site", &[("email", "a@example.com"), (name, "x")])
            .await;
        assert_eq!(refused.status(), 303);
        assert_eq!(
            refused.headers()["location"],
            "https://example.org/oops?lang=en&error=unknown_field",
            "a name the sender chose is not passed on unless it is plain"
        );
    }
    let plain = app
        .post_form("site", &[("email", "b@example.com"), ("nick-name_2", "x")])
        .await;
    assert_eq!(
        plain.headers()["location"],
        "https://example.org/oops?lang=en&error=unknown_field&field=nick-name_2"
    );
    let known = app.post_form("site", &[("email", "not an address")]).await;
    assert_eq!(
        known.headers()["location"],
        "https://example.org/oops?lang=en&error=invalid_email&field=email"
    );
    assert!(app.signups().await.is_empty());
    app.stop().await;
}
