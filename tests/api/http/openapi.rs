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
