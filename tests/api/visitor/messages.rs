//! Every kind of refused signup, as a page and as JSON, in each shipped language: `<html lang>`,
//! a phrase of the message in that language, the code and field unchanged, and the request to
//! correct the form only where the visitor can.

use std::sync::Arc;

use ccbridge::clock::ManualClock;
use reqwest::{Client, RequestBuilder};
use serde_json::Value;

use super::{LANGUAGES, as_browser, html_lang, visitor_forms};
use crate::helpers::{AppOptions, Backend, FIXED_LIST, TestApp, free_port, spawn_app_with};

/// One way to be refused: how to make the request, the code, the field, and a phrase per
/// language (en, de, fr, es).
struct Case {
    code: &'static str,
    field: Option<&'static str>,
    /// Also sent as a plain HTML form post (else only JSON can cause it).
    page: bool,
    fixable: bool,
    phrases: [&'static str; 4],
    request: fn(&Client, &TestApp) -> RequestBuilder,
}

fn form_post(client: &Client, app: &TestApp, form: &str, body: &str) -> RequestBuilder {
    client
        .post(app.url(&format!("/signup/{form}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            code: "missing_field",
            field: Some("email"),
            page: true,
            fixable: true,
            phrases: [
                "Email address is required.",
                "E-Mail-Adresse ist ein Pflichtfeld.",
                "Le champ Adresse e-mail est obligatoire.",
                "El campo Correo electrónico es obligatorio.",
            ],
            request: |c, app| form_post(c, app, "visit", "first_name=Ann"),
        },
        Case {
            code: "invalid_email",
            field: Some("email"),
            page: true,
            fixable: true,
            phrases: [
                "does not look right",
                "scheint nicht zu stimmen",
                "ne semble pas correcte",
                "no parece correcta",
            ],
            request: |c, app| form_post(c, app, "visit", "email=nope"),
        },
        Case {
            code: "field_too_long",
            field: Some("first_name"),
            page: true,
            fixable: true,
            phrases: [
                "First name must be at most 50 characters",
                "Vorname darf höchstens 50 Zeichen lang sein",
                "Le champ Prénom doit comporter au plus 50 caractères",
                "El campo Nombre debe tener como máximo 50 caracteres",
            ],
            request: |c, app| {
                let long = "x".repeat(80);
                form_post(
                    c,
                    app,
                    "visit",
                    &format!("email=a@example.org&first_name={long}"),
                )
            },
        },
        Case {
            code: "invalid_characters",
            field: Some("favorite_topic"),
            page: true,
            fixable: true,
            // A custom field: its humanised name, or the operator's German label.
            phrases: [
                "Favorite topic contains characters that cannot be used",
                "Lieblingsthema enthält Zeichen",
                "Le champ Favorite topic contient des caractères",
                "El campo Favorite topic contiene caracteres",
            ],
            request: |c, app| {
                form_post(c, app, "visit", "email=a@example.org&favorite_topic=a%01b")
            },
        },
        Case {
            code: "unknown_list",
            field: Some("list"),
            page: true,
            fixable: false,
            phrases: [
                "offers a list that is not set up here",
                "bietet eine Liste an, die hier nicht eingerichtet ist",
                "propose une liste qui",
                "ofrece una lista que no",
            ],
            request: |c, app| form_post(c, app, "visit", "email=a@example.org&list=bogus"),
        },
        Case {
            code: "unknown_field",
            field: Some("zzz"),
            page: true,
            fixable: false,
            phrases: [
                "sent a field (zzz)",
                "ein Feld (zzz)",
                "un champ (zzz)",
                "un campo (zzz)",
            ],
            request: |c, app| form_post(c, app, "visit", "email=a@example.org&zzz=1"),
        },
        Case {
            code: "duplicate_field",
            field: Some("email"),
            page: true,
            fixable: false,
            phrases: [
                "sent Email address more than once",
                "hat E-Mail-Adresse mehrfach gesendet",
                "a envoyé Adresse e-mail plusieurs fois",
                "ha enviado Correo electrónico más de una vez",
            ],
            request: |c, app| form_post(c, app, "visit", "email=a@example.org&email=b@example.org"),
        },
        Case {
            code: "origin_not_allowed",
            field: None,
            page: true,
            fixable: false,
            phrases: [
                "not set up to accept signups from the page it is on",
                "nicht dafür eingerichtet",
                "configuré pour accepter les inscriptions",
                "no está configurado para aceptar",
            ],
            request: |c, app| {
                form_post(c, app, "visit", "email=a@example.org")
                    .header("origin", "https://evil.example")
            },
        },
        Case {
            code: "unknown_form",
            field: None,
            page: true,
            fixable: false,
            phrases: [
                "an address that does not exist",
                "an eine Adresse, die es nicht gibt",
                "une adresse qui",
                "una dirección que no existe",
            ],
            request: |c, app| form_post(c, app, "nope", "email=a@example.org"),
        },
        Case {
            code: "captcha_failed",
            field: Some("cf-turnstile-response"),
            page: true,
            fixable: false,
            phrases: [
                "do the check again",
                "wiederholen Sie die Prüfung",
                "refaire la vérification",
                "repita la comprobación",
            ],
            request: |c, app| form_post(c, app, "robot", "email=a@example.org"),
        },
        Case {
            code: "captcha_unavailable",
            field: None,
            page: true,
            fixable: false,
            phrases: [
                "could not be verified just now",
                "konnte gerade nicht bestätigt werden",
                "pu être confirmée pour le moment",
                "No se ha podido verificar",
            ],
            request: |c, app| {
                form_post(
                    c,
                    app,
                    "robot",
                    "email=a@example.org&cf-turnstile-response=token",
                )
            },
        },
        Case {
            code: "unsupported_media_type",
            field: None,
            page: true,
            fixable: false,
            phrases: [
                "in a format this address does not accept",
                "in einem Format gesendet",
                "dans un format que",
                "en un formato que",
            ],
            request: |c, app| {
                c.post(app.url("/signup/visit"))
                    .header("content-type", "text/plain")
                    .body("email=a@example.org")
            },
        },
        Case {
            code: "payload_too_large",
            field: None,
            page: true,
            fixable: false,
            phrases: [
                "more data than this address accepts",
                "mehr Daten gesendet",
                "plus de données",
                "más datos de los que",
            ],
            request: |c, app| {
                let big = "x".repeat(64 * 1024);
                form_post(
                    c,
                    app,
                    "visit",
                    &format!("email=a@example.org&first_name={big}"),
                )
            },
        },
        Case {
            code: "unexpected_file",
            field: Some("upload"),
            page: true,
            fixable: false,
            phrases: [
                "sent a file (upload)",
                "eine Datei (upload)",
                "un fichier (upload)",
                "un archivo (upload)",
            ],
            request: |c, app| {
                let file = reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt");
                let form = reqwest::multipart::Form::new()
                    .text("email", "a@example.org")
                    .part("upload", file);
                c.post(app.url("/signup/visit")).multipart(form)
            },
        },
        Case {
            code: "malformed_body",
            field: None,
            page: false,
            fixable: false,
            phrases: [
                "data could not be read",
                "konnten nicht gelesen werden",
                "pas pu être lues",
                "No se han podido leer",
            ],
            request: |c, app| {
                c.post(app.url("/signup/visit"))
                    .header("content-type", "application/json")
                    .body("{")
            },
        },
        Case {
            code: "invalid_type",
            field: Some("email"),
            page: false,
            fixable: false,
            phrases: [
                "sent Email address in a shape",
                "hat E-Mail-Adresse in einer Form gesendet",
                "a envoyé Adresse e-mail sous une forme",
                "ha enviado Correo electrónico de una forma",
            ],
            request: |c, app| {
                c.post(app.url("/signup/visit"))
                    .header("content-type", "application/json")
                    .body(r#"{"email": 5}"#)
            },
        },
    ]
}

/// The phrase shared by every message about a misconfigured site, per language.
const NOT_YOURS: [&str; 4] = [
    "there is nothing you can do about it",
    "Sie können daran nichts ändern",
    "vous ne pouvez rien y faire",
    "usted no puede hacer nada",
];
/// The request to correct the form, per language.
const CORRECT: [&str; 4] = [
    "Please go back, correct the form",
    "korrigieren Sie das Formular",
    "corriger le formulaire",
    "corrija el formulario",
];

backends!(every_refusal_speaks_the_visitors_language: sqlite, postgres);
async fn every_refusal_speaks_the_visitors_language(backend: Backend) {
    let app = spawn_app_with(backend, &visitor_forms(free_port())).await;
    let client = Client::new();
    for case in cases() {
        for (i, language) in LANGUAGES.into_iter().enumerate() {
            let phrase = case.phrases[i];
            let what = format!("{} in {language}", case.code);

            // A script: JSON, the same code and field, the message in the language.
            let request = (case.request)(&client, &app)
                .header("accept", "application/json")
                .header("accept-language", format!("{language}, en;q=0.1"));
            let answer = request.send().await.unwrap();
            assert!(answer.status().is_client_error() || answer.status().is_server_error());
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["code"], case.code, "{what}: {body}");
            assert_eq!(
                body["error"]["field"].as_str(),
                case.field,
                "{what}: {body}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(phrase), "{what}: {message}");
            assert!(!message.contains("first_name"), "{what}: {message}");

            // A browser: the page in the language, with the request to correct the form only
            // where that helps.
            if !case.page {
                continue;
            }
            let answer = as_browser((case.request)(&client, &app), language)
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer.headers()["vary"].to_str().unwrap(),
                "Accept-Language",
                "{what}"
            );
            let page = answer.text().await.unwrap();
            assert_eq!(html_lang(&page), language, "{what}: {page}");
            assert!(page.contains(phrase), "{what}: {page}");
            assert!(page.contains("role=\"alert\""), "{what}: {page}");
            assert_eq!(page.contains(CORRECT[i]), case.fixable, "{what}: {page}");
            if matches!(
                case.code,
                "origin_not_allowed" | "unknown_form" | "unknown_field"
            ) {
                assert!(page.contains(NOT_YOURS[i]), "{what}: {page}");
            }
        }
    }
    assert!(app.signups().await.is_empty());
    app.stop().await;
}

backends!(a_rate_limit_says_to_wait_in_each_language: sqlite, postgres);
async fn a_rate_limit_says_to_wait_in_each_language(backend: Backend) {
    let extra = format!(
        "[rate_limit]\nper_ip_per_minute = 1\nper_ip_burst = 1\n{}",
        visitor_forms(free_port())
    );
    let app = spawn_app_with(backend, &extra).await;
    let first = app.post_form("visit", &[("email", "a@example.org")]).await;
    assert_eq!(first.status(), 303);
    let waits = [
        "Please wait a minute and try again.",
        "Bitte warten Sie eine Minute",
        "Veuillez patienter une minute",
        "Espere un minuto",
    ];
    let client = Client::new();
    for (language, wait) in LANGUAGES.into_iter().zip(waits) {
        let request = client
            .post(app.url("/signup/visit"))
            .form(&[("email", "b@example.org")]);
        let answer = as_browser(request, language).send().await.unwrap();
        assert_eq!(answer.status(), 429);
        assert!(answer.headers().contains_key("retry-after"));
        let page = answer.text().await.unwrap();
        assert_eq!(html_lang(&page), language);
        assert!(page.contains(wait), "{language}: {page}");
        assert!(!page.contains(CORRECT[0]), "{page}");

        let answer = client
            .post(app.url("/signup/visit"))
            .header("accept-language", language)
            .json(&serde_json::json!({"email": "b@example.org"}))
            .send()
            .await
            .unwrap();
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(wait),
            "{body}"
        );
    }
    app.stop().await;
}

backends!(a_form_left_open_too_long_asks_for_a_reload_in_each_language: sqlite, postgres);
async fn a_form_left_open_too_long_asks_for_a_reload_in_each_language(backend: Backend) {
    let clock = ManualClock::new(chrono::Utc::now());
    let extra = format!(
        "[[forms]]\nid = \"timed\"\nlist_ids = [\"{FIXED_LIST}\"]\nmin_submit_time = \"3s\"\n"
    );
    let app = AppOptions::fresh(backend, &extra)
        .clock(Arc::new(clock.clone()))
        .spawn()
        .await;
    let token: Value = app.get_json("/signup/timed/token").await;
    let shown = token["value"].as_str().unwrap().to_owned();
    clock.advance(chrono::Duration::hours(24));
    let reloads = [
        "Please reload the page",
        "Bitte laden Sie die Seite neu",
        "Veuillez recharger la page",
        "Vuelva a cargar la página",
    ];
    let client = Client::new();
    for (language, reload) in LANGUAGES.into_iter().zip(reloads) {
        let request = client
            .post(app.url("/signup/timed"))
            .form(&[("email", "late@example.org"), ("_ts", shown.as_str())]);
        let answer = as_browser(request, language).send().await.unwrap();
        assert_eq!(answer.status(), 422);
        let page = answer.text().await.unwrap();
        assert_eq!(html_lang(&page), language);
        assert!(page.contains(reload), "{language}: {page}");
        assert!(!page.contains(CORRECT[0]), "{page}");
    }
    assert!(app.signups().await.is_empty());
    app.stop().await;
}
