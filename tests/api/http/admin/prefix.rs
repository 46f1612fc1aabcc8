//! The console behind a proxy that serves it under a path prefix (`public_url` ending in
//! `/cc/`; the proxy strips the prefix): every link, form action and redirect keeps it.

use super::{BROWSER_ACCEPT, app_with_data, csrf_of};
use crate::database::Backend;
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USER, AppOptions, fast_sandbox};

backends!(every_console_link_action_and_redirect_keeps_the_public_urls_prefix: sqlite);
async fn every_console_link_action_and_redirect_keeps_the_public_urls_prefix(backend: Backend) {
    let sandbox = fast_sandbox().await;
    // Connected first (the sandbox's redirect comes back without the prefix, with no proxy
    // here), then restarted on the same database with the prefixed public_url.
    let (app, id) = app_with_data(backend, &sandbox).await;
    let (dir, db_path) = app.stop().await;
    let app = AppOptions::new(
        backend,
        dir,
        db_path,
        "[constant_contact]\nrequests_per_second = 1000",
    )
    .configure(|config| {
        let prefixed = format!("{}cc/", config.server.public_url);
        config.server.public_url = prefixed.parse().unwrap();
    })
    .without_background_delivery()
    .spawn()
    .await;

    let landing = app.client.get(app.url("/")).send().await.unwrap();
    assert!(landing.text().await.unwrap().contains("href=\"/cc/admin\""));
    let stranger = app
        .client
        .get(app.url("/admin"))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.headers()["location"], "/cc/admin/login");
    let login_page = app
        .client
        .get(app.url("/admin/login"))
        .send()
        .await
        .unwrap();
    assert!(
        login_page
            .text()
            .await
            .unwrap()
            .contains("action=\"/cc/admin/login\"")
    );
    let login = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["location"], "/cc/admin");
    let cookie = crate::helpers::cookie_pair(&login);
    let get = |path: &'static str| super::get_page(&app, path, &cookie);

    let mut csrf = String::new();
    for path in [
        "/admin",
        "/admin/signups",
        "/admin/forms",
        "/admin/links",
        "/admin/privacy",
        "/admin/disconnect",
    ] {
        let page = get(path).await;
        csrf = csrf_of(&page);
        for unprefixed in [
            "href=\"/admin",
            "action=\"/admin",
            "action=\"/connect",
            "src=\"/assets",
        ] {
            assert!(!page.contains(unprefixed), "{path}: {unprefixed} in {page}");
        }
        assert!(page.contains("href=\"/cc/admin/signups\""), "{path}");
    }
    assert!(
        get("/admin")
            .await
            .contains("href=\"/cc/admin/signups?state=dead\"")
    );
    assert!(
        get("/admin/forms")
            .await
            .contains("src=\"/cc/assets/console-v1.js\"")
    );
    assert!(
        get("/admin/signups")
            .await
            .contains(&format!("action=\"/cc/admin/signups/{id}/retry\""))
    );

    let retry = app
        .client
        .post(app.url(&format!("/admin/signups/{id}/retry")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retry.headers()["location"], "/cc/admin/signups?requeued=1");
    let slash = app
        .client
        .get(app.url("/admin/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(slash.headers()["location"], "/cc/admin");
    let disconnect = app
        .client
        .post(app.url("/admin/disconnect"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(disconnect.headers()["location"], "/cc/admin?disconnected");
    let logout = app
        .client
        .post(app.url("/admin/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.headers()["location"], "/cc/admin/login");
    app.stop().await;
}
