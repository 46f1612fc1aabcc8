//! Origin control and CORS.

use super::post_with;
use crate::database::Backend;
use crate::helpers::{FIXED_LIST, error_code, spawn_app_with};

fn shop_form() -> String {
    format!(
        "[[forms]]\nid = \"shop\"\nlist_ids = [\"{FIXED_LIST}\"]\nallowed_origins = [\"https://shop.example\"]\n"
    )
}

backends!(a_post_from_another_sites_page_is_refused_and_nothing_is_stored: sqlite, postgres);
async fn a_post_from_another_sites_page_is_refused_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app_with(backend, &shop_form()).await;

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

backends!(an_allowed_origin_gets_cors_headers_and_its_preflight_is_answered: sqlite, postgres);
async fn an_allowed_origin_gets_cors_headers_and_its_preflight_is_answered(backend: Backend) {
    let app = spawn_app_with(backend, &shop_form()).await;

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
