//! The OpenAPI document.

use serde_json::Value;

use crate::database::Backend;
use crate::helpers::spawn_app;

backends!(the_openapi_document_is_served: sqlite, postgres);
async fn the_openapi_document_is_served(backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/signup/{form_id}"]["post"].is_object());
    assert!(document["paths"]["/signup/{form_id}"]["options"].is_object());
    assert!(document["components"]["schemas"]["Error"].is_object());
    app.stop().await;
}

backends!(every_path_parameter_is_declared_and_sampled_answers_are_documented: sqlite, postgres);
async fn every_path_parameter_is_declared_and_sampled_answers_are_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let document: Value = app.get_json("/openapi.json").await;

    for (path, item) in document["paths"].as_object().unwrap() {
        let templated: Vec<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in &templated {
                assert!(
                    declared.contains(name),
                    "{method} {path}: path parameter `{name}` is not declared"
                );
            }
        }
    }
    // What the service answers, held to what the document says it answers.
    let demo = app.client.get(app.url("/demo")).send().await.unwrap();
    let browser = app
        .post_form("no-such-form", &[("email", "a@example.com")])
        .await;
    let script = app
        .post_json(
            "no-such-form",
            &serde_json::json!({ "email": "a@example.com" }),
        )
        .await;
    for (method, path, response) in [
        ("get", "/demo", demo),
        ("post", "/signup/{form_id}", browser),
        ("post", "/signup/{form_id}", script),
    ] {
        let status = response.status().as_str().to_owned();
        let content_type = response.headers()["content-type"].to_str().unwrap();
        let media = content_type.split(';').next().unwrap().trim();
        let documented = &document["paths"][path][method]["responses"][&status]["content"];
        assert!(
            documented[media].is_object(),
            "{method} {path} answered {status} {media}, which the document does not list: {documented}"
        );
    }
    app.stop().await;
}
