//! Double opt-in in the visitor's language: the "check your mail" page, the confirmation mail
//! (through a real SMTP server, see `mail`) and the link's pages speak the language chosen at
//! the signup, and the link's pages lead back to the page the form was on.

use std::sync::Arc;
use std::time::Duration;

use ccbridge::clock::{ManualClock, SharedClock};

use reqwest::Method;
use serde_json::Value;

use super::{LANGUAGES, SITE, as_browser, back_link, html_lang};
use crate::helpers::{
    AppOptions, Backend, FIXED_LIST, TestApp, client, eventually, fast_sandbox_on,
};
use crate::mail::{ServerOptions, SmtpServer, smtp_toml};

/// A double opt-in form on `SITE`.
fn double_form() -> String {
    format!(
        r#"
        [[forms]]
        id = "doppelt"
        list_ids = ["{FIXED_LIST}"]
        consent = "double"
        allowed_origins = ["{SITE}"]
        "#
    )
}

/// The confirmation link's path in a mail.
fn link_in(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let at = text.find("/confirm/").expect("a link") + "/confirm/".len();
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("/confirm/{token}")
}

/// A signup from the site's join page by a browser asking for `language`.
async fn sign_up(app: &TestApp, language: &str, email: &str) {
    let request = client()
        .post(app.url("/signup/doppelt"))
        .header("origin", SITE)
        .header("referer", format!("{SITE}/join"))
        .form(&[("email", email)]);
    let answer = as_browser(request, language).send().await.unwrap();
    assert_eq!(answer.status(), 303);
}

/// A page of a confirmation link, asked for by a browser that prefers English (the signup's
/// language must win).
async fn open(app: &TestApp, method: Method, path: &str) -> (u16, String) {
    let request = client().request(method, app.url(path));
    let answer = as_browser(request, "en").send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

backends!(the_confirmation_mail_and_pages_speak_the_signups_language: sqlite, postgres);
async fn the_confirmation_mail_and_pages_speak_the_signups_language(backend: Backend) {
    let test = format!("visitor_mail_{backend:?}");
    let Some(smtp) = SmtpServer::start(&test, ServerOptions::default()).await else {
        return;
    };
    let clock = ManualClock::new(chrono::Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let sandbox = fast_sandbox_on(shared.clone()).await;
    let extra = format!("{}\n{}", smtp_toml(smtp.port, "none", ""), double_form());
    let app = AppOptions::against(backend, &sandbox, &extra)
        .clock(shared)
        .spawn()
        .await;
    app.connect_ok().await;

    // The "check your mail" page, in each language.
    let check_mail = [
        "Almost done: please check your mail",
        "Fast geschafft: Bitte sehen Sie in Ihr Postfach",
        "Presque terminé : veuillez consulter votre messagerie",
        "Casi listo: revise su correo",
    ];
    for (language, words) in LANGUAGES.into_iter().zip(check_mail) {
        let request = client().get(app.url("/signup/doppelt/thank-you"));
        let page = as_browser(request, language)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(html_lang(&page), language);
        assert!(page.contains(words), "{page}");
    }

    // Each signup's mail in its visitor's language.
    let cases = [
        (
            "fr",
            "franz@example.org",
            "Veuillez confirmer votre inscription",
            "Bonjour,",
            "Confirmer mon inscription",
            "Merci : votre inscription",
        ),
        (
            "de-CH,de;q=0.9",
            "heidi@example.org",
            "Bitte bestätigen Sie Ihre Anmeldung",
            "Hallo,",
            "Meine Anmeldung bestätigen",
            "Vielen Dank: Ihre Anmeldung",
        ),
        (
            "es",
            "pablo@example.org",
            "Confirme su suscripción",
            "Hola:",
            "Confirmar mi suscripción",
            "Gracias: su suscripción",
        ),
        (
            "pt",
            "ana@example.org",
            "Please confirm your subscription",
            "Hello,",
            "Confirm my subscription",
            "Thank you: your subscription",
        ),
    ];
    for (n, (accept, email, subject, greeting, button, confirmed)) in cases.into_iter().enumerate()
    {
        let lang = &accept[..2];
        let lang = if lang == "pt" { "en" } else { lang };
        sign_up(&app, accept, email).await;
        let mails = smtp.wait_for(n + 1, "the confirmation mail").await;
        let mail = mails
            .iter()
            .find(|m| m["rcpt_tos"][0] == email)
            .expect("a mail to the address");
        assert!(
            mail["subject"].as_str().unwrap().starts_with(subject),
            "{mail}"
        );
        assert!(
            mail["text"].as_str().unwrap().starts_with(greeting),
            "{mail}"
        );
        assert!(mail["html"].as_str().unwrap().contains(button), "{mail}");
        let link = link_in(mail);

        // The link's page: in the signup's language (not this browser's), with the way back.
        let (status, page) = open(&app, Method::GET, &link).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(html_lang(&page), lang, "{page}");
        assert!(page.contains(button), "{page}");
        assert_eq!(
            back_link(&page).as_deref(),
            Some("https://shop.example/join")
        );

        // Confirmed, then already confirmed: still in that language.
        let (status, page) = open(&app, Method::POST, &link).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(html_lang(&page), lang);
        assert!(page.contains(confirmed), "{page}");
        let (_, again) = open(&app, Method::POST, &link).await;
        assert_eq!(html_lang(&again), lang, "{again}");
        assert_eq!(
            back_link(&again).as_deref(),
            Some("https://shop.example/join")
        );
    }

    // A link nobody made: this browser's language, no way back.
    let unknown = format!("/confirm/{}", "a".repeat(43));
    let request = client().get(app.url(&unknown));
    let answer = as_browser(request, "de").send().await.unwrap();
    assert_eq!(answer.status(), 404);
    let page = answer.text().await.unwrap();
    assert_eq!(html_lang(&page), "de");
    assert!(page.contains("Dieser Link ist unbekannt"), "{page}");
    assert_eq!(back_link(&page), None);

    eventually(Duration::from_secs(20), "the deliveries", || async {
        (sandbox.contacts().len() == 4).then_some(())
    })
    .await;

    // A link opened after it expired: in the signup's language too.
    sign_up(&app, "es-MX", "tarde@example.org").await;
    let mails = smtp.wait_for(5, "the last confirmation mail").await;
    let link = link_in(
        mails
            .iter()
            .find(|m| m["rcpt_tos"][0] == "tarde@example.org")
            .unwrap(),
    );
    clock.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let (status, page) = open(&app, Method::GET, &link).await;
    assert_eq!(status, 410, "{page}");
    assert_eq!(html_lang(&page), "es");
    assert!(page.contains("Este enlace ha caducado"), "{page}");
    app.stop().await;
    sandbox.shutdown().await;
}
