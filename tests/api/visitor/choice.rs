//! How the language is chosen (a form's `locale`, else `Accept-Language`, else English), an
//! operator's override shown, the thank-you page and the form's address in each language, the
//! link back (an allowed Referer only), and the chosen language kept with the signup.

use reqwest::Client;

use super::{LANGUAGES, SITE, as_browser, back_link, html_lang, visitor_forms};
use crate::helpers::{Backend, client, free_port, raw_pool, spawn_app_with};

/// The heading of the single opt-in thank-you page, per language.
const THANKS: [&str; 4] = [
    "Thank you for signing up!",
    "Vielen Dank für Ihre Anmeldung!",
    "Merci pour votre inscription !",
    "¡Gracias por suscribirse!",
];

backends!(the_forms_locale_beats_accept_language_and_english_comes_last: sqlite, postgres);
async fn the_forms_locale_beats_accept_language_and_english_comes_last(backend: Backend) {
    let app = spawn_app_with(backend, &visitor_forms(free_port())).await;
    let http = Client::new();
    let refused = |form: &'static str, accept: &'static str| {
        let request = http
            .post(app.url(&format!("/signup/{form}")))
            .form(&[("email", "nope")]);
        async move {
            let page = as_browser(request, accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (html_lang(&page).to_owned(), page)
        }
    };
    // `locale = "de"` wins over a French browser.
    let (lang, page) = refused("deutsch", "fr-FR, fr;q=0.9").await;
    assert_eq!(lang, "de", "{page}");
    assert!(page.contains("scheint nicht zu stimmen"), "{page}");
    // Swiss German finds German; Portuguese (not shipped) gets English; so does nothing at all.
    assert_eq!(refused("visit", "de-CH,de;q=0.9").await.0, "de");
    assert_eq!(refused("visit", "pt").await.0, "en");
    assert_eq!(refused("visit", "").await.0, "en");
    assert_eq!(refused("visit", "pt-BR, es;q=0.5").await.0, "es");

    // The operator's German words replace the catalog's for that form, in German only.
    let thanks = |accept: &'static str| {
        let request = http.get(app.url("/signup/visit/thank-you"));
        async move {
            as_browser(request, accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let german = thanks("de").await;
    assert!(german.contains("Danke schön, bis bald!"), "{german}");
    assert!(!german.contains(THANKS[1]), "{german}");
    assert!(thanks("fr").await.contains(THANKS[2]));
    app.stop().await;
}

backends!(the_thank_you_page_and_the_forms_address_link_back_to_an_allowed_page: sqlite, postgres);
async fn the_thank_you_page_and_the_forms_address_link_back_to_an_allowed_page(backend: Backend) {
    let app = spawn_app_with(backend, &visitor_forms(free_port())).await;
    let http = client();
    let page_on_site = format!("{SITE}/join?from=news&x=1");
    for (i, language) in LANGUAGES.into_iter().enumerate() {
        // The POST from the site's page: 303 to the thank-you page, carrying the page to go back to.
        let request = http
            .post(app.url("/signup/visit"))
            .header("origin", SITE)
            .header("referer", &page_on_site)
            .form(&[("email", format!("visitor-{language}@example.org"))]);
        let answer = as_browser(request, language).send().await.unwrap();
        assert_eq!(answer.status(), 303);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/signup/visit/thank-you?back="),
            "{location}"
        );
        let answer = as_browser(http.get(app.url(&location)), language)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let page = answer.text().await.unwrap();
        assert_eq!(html_lang(&page), language);
        let heading = if language == "de" {
            "Danke schön, bis bald!"
        } else {
            THANKS[i]
        };
        assert!(page.contains(heading), "{page}");
        assert_eq!(
            back_link(&page).as_deref(),
            Some(page_on_site.as_str()),
            "{page}"
        );

        // The form's address in a browser: what it is, nothing to see, and the way back.
        let address = |referer: &str| {
            let request = http
                .get(app.url("/signup/visit"))
                .header("referer", referer.to_owned());
            async move {
                let answer = as_browser(request, language).send().await.unwrap();
                assert_eq!(answer.status(), 200);
                answer.text().await.unwrap()
            }
        };
        let page = address(&page_on_site).await;
        assert_eq!(html_lang(&page), language);
        let phrase = [
            "There is nothing to see at this address",
            "Unter dieser Adresse gibt es nichts zu sehen",
            "Il n'y a rien à voir à cette adresse",
            "En esta dirección no hay nada que ver",
        ][i];
        assert!(
            page.contains(&phrase.replace('\'', "&#39;")) || page.contains(phrase),
            "{page}"
        );
        assert_eq!(back_link(&page).as_deref(), Some(page_on_site.as_str()));
        // Another site's page gets no link; nor does anything that is not an allowed page.
        assert_eq!(back_link(&address("https://evil.example/join").await), None);
        assert_eq!(back_link(&address("javascript:alert(1)").await), None);
    }

    // A `?back=` someone made up shows no link.
    for made_up in [
        "https://evil.example/",
        "javascript:alert(1)",
        "//evil.example/",
        "https://shop.example.evil.example/",
    ] {
        let url = format!(
            "/signup/visit/thank-you?back={}",
            url::form_urlencoded::byte_serialize(made_up.as_bytes()).collect::<String>()
        );
        let page = http
            .get(app.url(&url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(back_link(&page), None, "{made_up}: {page}");
    }
    // The error page links back to an allowed page too, and not to another one.
    let refused = |referer: &'static str, origin: &'static str| {
        let request = http
            .post(app.url("/signup/visit"))
            .header("origin", origin)
            .header("referer", referer)
            .form(&[("email", "nope")]);
        async move {
            as_browser(request, "en")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let page = refused("https://shop.example/join", SITE).await;
    assert!(page.contains("does not look right"), "{page}");
    assert_eq!(
        back_link(&page).as_deref(),
        Some("https://shop.example/join")
    );
    let page = refused("https://evil.example/join", "https://evil.example").await;
    assert!(page.contains("not set up to accept signups"), "{page}");
    assert_eq!(back_link(&page), None, "{page}");

    // An unknown form's address: not found, in the visitor's language.
    let answer = as_browser(http.get(app.url("/signup/nope")), "es")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let page = answer.text().await.unwrap();
    assert_eq!(html_lang(&page), "es");
    assert!(page.contains("No hay nada en esta dirección"), "{page}");
    app.stop().await;
}

backends!(the_chosen_language_is_kept_with_the_signup: sqlite, postgres);
async fn the_chosen_language_is_kept_with_the_signup(backend: Backend) {
    let app = spawn_app_with(backend, &visitor_forms(free_port())).await;
    let http = Client::new();
    let signups = [
        ("visit", "de-CH, de;q=0.9"),
        ("deutsch", "fr"),
        ("visit", "pt"),
    ];
    for (n, (form, accept)) in signups.into_iter().enumerate() {
        let answer = http
            .post(app.url(&format!("/signup/{form}")))
            .header("accept-language", accept)
            .json(&serde_json::json!({ "email": format!("visitor-{n}@example.org") }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
    }
    let pool = raw_pool(app.backend, &app.db_path).await;
    let mut kept: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "select form_id, language, page_language from consent_records order by signed_up_at, email",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    kept.sort();
    pool.close().await;
    assert_eq!(
        kept,
        [
            ("deutsch".into(), Some("fr".into()), Some("de".into())),
            ("visit".into(), Some("de-ch".into()), Some("de".into())),
            ("visit".into(), Some("pt".into()), Some("en".into())),
        ]
    );
    // An access request's export shows it.
    let records = app
        .store
        .consent_records_for("visitor-0@example.org")
        .await
        .unwrap();
    assert_eq!(records[0].page_language.as_deref(), Some("de"));
    assert_eq!(records[0].language.as_deref(), Some("de-ch"));
    app.stop().await;
}

// A script's success answer carries the thank-you page's words for the embed script to show in
// place: in the visitor's language, with the form's own texts.
backends!(a_scripts_success_message_speaks_the_visitors_language: sqlite, postgres);
async fn a_scripts_success_message_speaks_the_visitors_language(backend: Backend) {
    let app = spawn_app_with(backend, &visitor_forms(free_port())).await;
    let http = Client::new();
    let success = |form: &str, language: &str, email: String| {
        let request = http
            .post(app.url(&format!("/signup/{form}")))
            .header("accept-language", language)
            .json(&serde_json::json!({ "email": email }));
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 202);
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    for (i, language) in LANGUAGES.iter().enumerate() {
        let answer = success("deutsch", language, format!("ok{i}@example.org")).await;
        // The form's locale wins over the header.
        let message = answer["message"].as_str().unwrap();
        assert!(message.starts_with(THANKS[1]), "{language}: {message}");

        let answer = success("visit", language, format!("visit{i}@example.org")).await;
        let message = answer["message"].as_str().unwrap();
        let expected = match *language {
            // The operator's German text for this form.
            "de" => "Danke schön, bis bald!",
            _ => THANKS[i],
        };
        assert!(message.starts_with(expected), "{language}: {message}");
    }
    app.stop().await;
}
