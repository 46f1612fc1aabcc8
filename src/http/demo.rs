//! `GET /demo`: the demo signup page that `ccbridge demo` serves, posting to the demo form.

use axum::extract::State;
use ccbridge_sandbox as sandbox;

use super::DemoMode;
use super::pages::escape;

/// The id of the demo's signup form.
pub const DEMO_FORM: &str = "demo";

/// `GET /demo`: a signup page for the demo form.
pub async fn page(State(demo): State<DemoMode>) -> axum::response::Html<String> {
    let sandbox_page = demo.sandbox.map_or_else(
        || "the sandbox's page".to_owned(),
        |url| {
            format!(
                "<a href=\"{}\">the sandbox's page</a>",
                escape(url.as_str())
            )
        },
    );
    super::pages::layout(
        "ccbridge demo",
        &format!(
            r#"<h1>Sign up for our newsletter</h1>
<p>This is <strong>ccbridge demo</strong>: submissions are stored, then delivered to the built-in
Constant Contact sandbox within its limits. Watch them arrive on {sandbox_page}.</p>
<form method="post" action="/signup/{DEMO_FORM}">
  <p><label>Email<br><input type="email" name="email" id="email" required maxlength="50"></label></p>
  <p><label>First name<br><input name="first_name" id="first_name" maxlength="50"></label></p>
  <p><label>Last name<br><input name="last_name" id="last_name" maxlength="50"></label></p>
  <p><label><input type="checkbox" name="list" value="{events}"> Events</label><br>
     <label><input type="checkbox" name="list" value="{news}"> Product news</label></p>
  <p><label>Favorite topic<br><input name="favorite_topic" id="favorite_topic" maxlength="255"></label></p>
  <input type="text" name="website" tabindex="-1" autocomplete="off" aria-hidden="true" style="position:absolute;left:-10000px">
  <p><button type="submit" id="submit">Sign up</button></p>
</form>"#,
            events = sandbox::EVENTS_LIST_ID,
            news = sandbox::PRODUCT_NEWS_LIST_ID,
        ),
    )
}
