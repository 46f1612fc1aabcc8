//! Security headers on HTML pages and JSON answers.

use crate::database::Backend;
use crate::helpers::spawn_app;

backends!(html_pages_carry_security_headers_and_json_answers_nosniff: sqlite, postgres);
async fn html_pages_carry_security_headers_and_json_answers_nosniff(backend: Backend) {
    let app = spawn_app(backend).await;

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
        // Scripts only as files from ccbridge itself: no inline script, no eval.
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
    assert!(json.headers().get("content-security-policy").is_none());
    app.stop().await;
}
