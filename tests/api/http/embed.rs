//! The scripts ccbridge serves: `/embed/v1.js` for sites' signup forms and the console's
//! `/assets/console-v1.js`. How they are served (type, caching, CORS), that the bytes served are
//! the pinned release, and that the console's snippet pins the very bytes served.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ccbridge::http::assets::{CONSOLE_V1, EMBED_V1, embed_v1_integrity};
use sha2::{Digest as _, Sha384};

use crate::database::Backend;
use crate::helpers::{AppOptions, spawn_app};
use crate::http::admin::{get_page, login};

fn sha384(bytes: &[u8]) -> String {
    format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes)))
}

backends!(the_embed_script_is_served_to_any_site_cached_for_a_year: sqlite, postgres);
async fn the_embed_script_is_served_to_any_site_cached_for_a_year(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .get(app.url("/embed/v1.js"))
        .header("origin", "https://www.some-site.example")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cross-origin-resource-policy"], "cross-origin");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers.get("content-security-policy").is_none(),
        "a script is no page"
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(body, EMBED_V1.as_bytes());
    // The pinned release (the unit test in src/http/assets.rs names the value) is what is served.
    assert_eq!(sha384(&body), embed_v1_integrity());
    // And the API document says what comes back.
    let document: serde_json::Value = app.get_json("/openapi.json").await;
    for path in ["/embed/v1.js", "/assets/console-v1.js"] {
        let content = &document["paths"][path]["get"]["responses"]["200"]["content"];
        assert!(content["text/javascript"].is_object(), "{path}: {content}");
    }
    app.stop().await;
}

backends!(the_console_script_is_served_for_the_console_only: sqlite, postgres);
async fn the_console_script_is_served_for_the_console_only(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .get(app.url("/assets/console-v1.js"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["cross-origin-resource-policy"], "same-origin");
    assert!(headers.get("access-control-allow-origin").is_none());
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.bytes().await.unwrap(), CONSOLE_V1.as_bytes());
    app.stop().await;
}

backends!(the_console_snippet_pins_the_bytes_the_service_serves: sqlite, postgres);
async fn the_console_snippet_pins_the_bytes_the_service_serves(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = login(&app).await;

    let page = get_page(&app, "/admin/forms", &session.cookie).await;
    let served = app
        .client
        .get(app.url("/embed/v1.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // The snippet is shown escaped in a textarea: `<script src="…/embed/v1.js" integrity="…"`.
    let tag = format!(
        "&lt;script src=&quot;{}&quot; integrity=&quot;",
        app.url("/embed/v1.js")
    );
    let start = page
        .find(&tag)
        .unwrap_or_else(|| panic!("no embed script tag in the forms page:\n{page}"))
        + tag.len();
    let integrity = &page[start..start + page[start..].find("&quot;").unwrap()];
    assert_eq!(integrity, sha384(&served));
    assert!(
        page[start..].starts_with(&format!(
            "{integrity}&quot; crossorigin=&quot;anonymous&quot; defer&gt;&lt;/script&gt;"
        )),
        "the browser checks integrity only with crossorigin"
    );
    app.stop().await;
}

backends!(the_demo_page_loads_the_embed_script_under_the_public_urls_prefix: sqlite, postgres);
async fn the_demo_page_loads_the_embed_script_under_the_public_urls_prefix(backend: Backend) {
    let app = AppOptions::fresh(backend, "")
        .with_demo_page()
        .configure(|config| {
            config.server.public_url = "https://forms.example.org/cc/".parse().unwrap();
        })
        .spawn()
        .await;

    let response = app.client.get(app.url("/demo")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<script src=\"/cc/embed/v1.js\" defer></script>"),
        "{page}"
    );
    assert!(page.contains("action=\"/cc/signup/demo\""), "{page}");
    assert!(!page.contains("<script>"), "no inline script: {page}");
    app.stop().await;
}
