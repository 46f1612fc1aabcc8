//! A German visitor in Chromium: a form on the site's own page (a tiny server on another port,
//! one of the form's allowed origins) posts to a form with `locale = "de"`; the error page is in
//! German and its link leads back to the page, and the thank-you page too.

use axum::response::Html;
use fantoccini::Locator;

use super::*;
use crate::database::Backend;
use crate::helpers::{AppOptions, FIXED_LIST};

/// The site's page with a plain form posting to `action`. It sends its whole address as the
/// Referer (a cross-origin post otherwise sends only the origin).
fn join_page(action: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">
        <meta name="referrer" content="no-referrer-when-downgrade"><title>Beitreten</title></head>
        <body><h1>Unser Newsletter</h1>
        <form method="post" action="{action}">
          <label for="email">E-Mail</label> <input id="email" name="email" type="text">
          <button id="submit" type="submit">Anmelden</button>
        </form></body></html>"#
    )
}

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(a_german_visitor_reads_the_error_in_german_and_finds_the_way_back: sqlite);
async fn a_german_visitor_reads_the_error_in_german_and_finds_the_way_back(backend: Backend) {
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", site.local_addr().unwrap());
    let sandbox = fast_sandbox(false).await;
    let form = format!(
        "[[forms]]\nid = \"deutsch\"\nlist_ids = [\"{FIXED_LIST}\"]\nlocale = \"de\"\n\
         allowed_origins = [\"{site_url}\"]\n"
    );
    let app = AppOptions::against(backend, &sandbox, &form).spawn().await;
    app.connect_ok().await;
    let page = join_page(&app.url("/signup/deutsch"));
    let server = tokio::spawn(async move {
        let router = axum::Router::new().route(
            "/join",
            axum::routing::get(move || {
                let page = page.clone();
                async move { Html(page) }
            }),
        );
        axum::serve(site, router).await.unwrap();
    });
    let join = format!("{site_url}/join");

    with_browser("german_visitor_error_and_back", |browser| async move {
        browser.goto(&join).await.unwrap();
        fill(&browser, "email", "keine-adresse").await;
        click(&browser, "submit").await;
        let source = wait_for_text(&browser, "Ihre Anmeldung wurde nicht angenommen").await;
        assert!(source.contains("<html lang=\"de\""), "{source}");
        assert!(
            source.contains("Diese E-Mail-Adresse scheint nicht zu stimmen"),
            "{source}"
        );
        assert!(source.contains("korrigieren Sie das Formular"), "{source}");
        let back = browser
            .find(Locator::Css("p.back a"))
            .await
            .expect("a link back");
        assert_eq!(
            back.attr("href").await.unwrap().as_deref(),
            Some(join.as_str())
        );
        assert!(
            back.text()
                .await
                .unwrap()
                .starts_with("Zurück zu 127.0.0.1")
        );
        back.click().await.unwrap();
        wait_for_text(&browser, "Unser Newsletter").await;
        assert_eq!(browser.current_url().await.unwrap().as_str(), join);

        // Now right: the German thank-you page, with the same way back.
        fill(&browser, "email", "heidi@example.org").await;
        click(&browser, "submit").await;
        wait_for_text(&browser, "Vielen Dank für Ihre Anmeldung!").await;
        let back = browser.find(Locator::Css("p.back a")).await.unwrap();
        assert_eq!(
            back.attr("href").await.unwrap().as_deref(),
            Some(join.as_str())
        );
        assert_eq!(app.signups().await.len(), 1);
        app.stop().await;
    })
    .await;
    server.abort();
    sandbox.shutdown().await;
}
