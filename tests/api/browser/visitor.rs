//! Visitors in Chromium: a form on the site's own page (a tiny server on another port, one of the
//! form's allowed origins) posts to a form with a `locale`; the error page is in that language and
//! its link leads back to the page, and the thank-you page too. German in detail; French and
//! Spanish the same walk, each page also checked by axe-core.

use fantoccini::{Client, Locator};

use super::accessibility::assert_accessible;
use super::*;
use crate::database::Backend;
use crate::helpers::{AppOptions, FIXED_LIST};

/// The site's page with a plain form posting to `action`. It sends its whole address as the
/// Referer (a cross-origin post otherwise sends only the origin).
fn join_page(lang: &str, heading: &str, action: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
        <meta name="referrer" content="no-referrer-when-downgrade"><title>{heading}</title></head>
        <body><h1>{heading}</h1>
        <form method="post" action="{action}">
          <label for="email">E-mail</label> <input id="email" name="email" type="text">
          <button id="submit" type="submit">OK</button>
        </form></body></html>"#
    )
}

/// The visitor's way back from a ccbridge page: the link, its words, and where it leads.
async fn link_back(browser: &Client, join: &str, words: &str) -> fantoccini::elements::Element {
    let back = browser
        .find(Locator::Css("p.back a"))
        .await
        .expect("a link back");
    assert_eq!(back.attr("href").await.unwrap().as_deref(), Some(join));
    let text = back.text().await.unwrap();
    assert!(text.starts_with(&format!("{words} 127.0.0.1")), "{text}");
    back
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
    let page = join_page("de", "Unser Newsletter", &app.url("/signup/deutsch"));
    let server = tokio::spawn(serve_site(site, vec![("/join", page)]));
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
        let back = link_back(&browser, &join, "Zurück zu").await;
        back.click().await.unwrap();
        wait_for_text(&browser, "Unser Newsletter").await;
        assert_eq!(browser.current_url().await.unwrap().as_str(), join);

        // Now right: the German thank-you page, with the same way back.
        fill(&browser, "email", "heidi@example.org").await;
        click(&browser, "submit").await;
        wait_for_text(&browser, "Vielen Dank für Ihre Anmeldung!").await;
        link_back(&browser, &join, "Zurück zu").await;
        assert_eq!(app.signups().await.len(), 1);
        app.stop().await;
    })
    .await;
    server.abort();
    sandbox.shutdown().await;
}

/// What a visitor of one language must read: the form, then phrases of the error page (the
/// heading, the problem, what to do), the link back's words and the thank-you heading.
struct Visitor {
    lang: &'static str,
    form: &'static str,
    error: [&'static str; 3],
    back: &'static str,
    thanks: &'static str,
}

const FRENCH_AND_SPANISH: [Visitor; 2] = [
    Visitor {
        lang: "fr",
        form: "francais",
        error: [
            "pas été acceptée",
            "ne semble pas correcte",
            "corriger le formulaire",
        ],
        back: "Retour à",
        thanks: "Merci pour votre inscription",
    },
    Visitor {
        lang: "es",
        form: "espanol",
        error: [
            "no ha sido aceptada",
            "no parece correcta",
            "corrija el formulario",
        ],
        back: "Volver a",
        thanks: "Gracias por suscribirse",
    },
];

// SQLite only: the browser tests are about pages, and one backend is enough for them.
backends!(french_and_spanish_visitors_read_their_pages_in_their_language: sqlite);
async fn french_and_spanish_visitors_read_their_pages_in_their_language(backend: Backend) {
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", site.local_addr().unwrap());
    let sandbox = fast_sandbox(false).await;
    let forms: String = FRENCH_AND_SPANISH
        .iter()
        .map(|v| {
            format!(
                "[[forms]]\nid = \"{}\"\nlist_ids = [\"{FIXED_LIST}\"]\nlocale = \"{}\"\n\
                 allowed_origins = [\"{site_url}\"]\n",
                v.form, v.lang
            )
        })
        .collect();
    let app = AppOptions::against(backend, &sandbox, &forms).spawn().await;
    app.connect_ok().await;
    let pages = vec![
        (
            "/fr",
            join_page("fr", "Notre lettre", &app.url("/signup/francais")),
        ),
        (
            "/es",
            join_page("es", "Nuestro boletín", &app.url("/signup/espanol")),
        ),
    ];
    let server = tokio::spawn(serve_site(site, pages));

    with_browser("french_and_spanish_visitors", |browser| async move {
        for visitor in &FRENCH_AND_SPANISH {
            let join = format!("{site_url}/{}", visitor.lang);
            browser.goto(&join).await.unwrap();
            fill(&browser, "email", "pas-une-adresse").await;
            click(&browser, "submit").await;
            let source = wait_for_text(&browser, visitor.error[0]).await;
            assert!(
                source.contains(&format!("<html lang=\"{}\"", visitor.lang)),
                "{source}"
            );
            for phrase in &visitor.error[1..] {
                assert!(source.contains(phrase), "{phrase} missing: {source}");
            }
            link_back(&browser, &join, visitor.back).await;
            let what = format!("the {} error page", visitor.lang);
            assert_accessible(&browser, &what).await;

            browser.goto(&join).await.unwrap();
            fill(&browser, "email", &format!("{}@example.org", visitor.form)).await;
            click(&browser, "submit").await;
            wait_for_text(&browser, visitor.thanks).await;
            link_back(&browser, &join, visitor.back).await;
            let what = format!("the {} thank-you page", visitor.lang);
            assert_accessible(&browser, &what).await;
        }
        assert_eq!(app.signups().await.len(), 2);
        app.stop().await;
    })
    .await;
    server.abort();
    sandbox.shutdown().await;
}
