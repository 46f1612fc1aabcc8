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
