//! `GET /demo`: the demo signup page that `ccbridge demo` serves, posting to the demo form.

use axum::extract::State;
use ccbridge_sandbox as sandbox;

use super::DemoMode;
use super::pages::escape;

/// The id of the demo's signup form.
pub const DEMO_FORM: &str = "demo";
/// The id of the demo's double opt-in form.
pub const DEMO_DOUBLE_FORM: &str = "demo-double";

/// `GET /demo`: a signup page for the demo form.
pub async fn page(State(demo): State<DemoMode>) -> axum::response::Html<String> {
    let sandbox_page = demo.sandbox.as_ref().map_or_else(
        || "the sandbox's page".to_owned(),
        |url| {
            format!(
                "<a href=\"{}\">the sandbox's page</a>",
                escape(url.as_str())
            )
        },
    );
    let mailbox = demo.sandbox.as_ref().map_or_else(
        || "mailbox".to_owned(),
        |url| match url.join("mailbox") {
            Ok(page) => format!("<a href=\"{}\">mailbox</a>", escape(page.as_str())),
            Err(_) => "mailbox".to_owned(),
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
</form>
<h2>With double opt-in</h2>
<p>This form has <code>consent = "double"</code>: nothing reaches Constant Contact until the person
clicks the link in the confirmation mail. The demo's mail goes to the sandbox's
{mailbox}; open the mail there, follow its link and press the button.</p>
<form method="post" action="/signup/{DEMO_DOUBLE_FORM}">
  <p><label>Email<br><input type="email" name="email" id="double-email" required maxlength="50"></label></p>
  <p><label>First name<br><input name="first_name" id="double-first_name" maxlength="50"></label></p>
  <input type="text" name="website" tabindex="-1" autocomplete="off" aria-hidden="true" style="position:absolute;left:-10000px">
  <p><button type="submit" id="double-submit">Sign up (confirm by mail)</button></p>
</form>"#,
            events = sandbox::EVENTS_LIST_ID,
            news = sandbox::PRODUCT_NEWS_LIST_ID,
        ),
    )
}
