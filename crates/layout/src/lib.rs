//! The one page shell every HTML page of ccbridge is rendered in: the admin console, the pages a
//! visitor sees (thank-you, errors, confirmations) and the built-in sandbox's pages. One `<head>`,
//! one stylesheet (a base and a part per look), one place that decides `lang`, `robots` and which
//! same-origin scripts a page loads.
//!
//! Pages are written with [`maud`]: templates checked at compile time that escape every value
//! by default, so there is no hand-rolled escaping left to forget. This crate sits below both the
//! service and the sandbox; it knows nothing about either.

pub use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

/// The three kinds of page; each has its own width and decorations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// What a visitor of the site sees: narrow, plain, indexable.
    Visitor,
    /// The admin console: a header with navigation, wide tables.
    Console,
    /// The Constant Contact simulator: a banner saying it is not the real service.
    Sandbox,
}

impl Look {
    fn class(self) -> &'static str {
        match self {
            Self::Visitor => "visitor",
            Self::Console => "console",
            Self::Sandbox => "sandbox",
        }
    }
}

const BASE_STYLE: &str = include_str!("style/base.css");
const VISITOR_STYLE: &str = include_str!("style/visitor.css");
const CONSOLE_STYLE: &str = include_str!("style/console.css");
const SANDBOX_STYLE: &str = include_str!("style/sandbox.css");

/// What surrounds a page's body.
#[derive(Debug, Clone)]
pub struct Shell<'a> {
    /// The page's language (`<html lang>`), a BCP 47 tag such as `en` or `de`.
    pub lang: &'a str,
    /// The whole `<title>`.
    pub title: &'a str,
    pub look: Look,
    /// Shown above `<main>` (the console's navigation); the sandbox's banner comes by itself.
    pub header: Option<Markup>,
    /// Same-origin scripts the page loads (`defer`); most pages have none.
    pub scripts: &'a [&'a str],
    /// Extra `<head>` markup (e.g. a `<meta http-equiv="refresh">`).
    pub head: Option<Markup>,
}

impl<'a> Shell<'a> {
    /// A shell with no header, scripts or extra head.
    pub fn new(look: Look, lang: &'a str, title: &'a str) -> Self {
        Self {
            lang,
            title,
            look,
            header: None,
            scripts: &[],
            head: None,
        }
    }

    /// The complete page around `body`.
    pub fn render(&self, body: Markup) -> Markup {
        let look_style = match self.look {
            Look::Visitor => VISITOR_STYLE,
            Look::Console => CONSOLE_STYLE,
            Look::Sandbox => SANDBOX_STYLE,
        };
        html! {
            (DOCTYPE)
            html lang=(self.lang) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if self.look != Look::Visitor {
                        meta name="robots" content="noindex";
                    }
                    @if let Some(head) = &self.head { (head) }
                    title { (self.title) }
                    style { (PreEscaped(BASE_STYLE)) (PreEscaped(look_style)) }
                    @for src in self.scripts {
                        script src=(src) defer {}
                    }
                }
                body class=(self.look.class()) {
                    @if let Some(header) = &self.header { (header) }
                    main {
                        @if self.look == Look::Sandbox {
                            p.sandbox-banner {
                                "Constant Contact " strong { "sandbox" }
                                ": a local simulator, not the real service."
                            }
                        }
                        (body)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_look_decides_robots_and_the_banner() {
        let page = Shell::new(Look::Visitor, "de", "<Danke>")
            .render(html! { p { ("<script>alert(1)</script>") } })
            .into_string();
        assert!(
            page.starts_with("<!DOCTYPE html><html lang=\"de\">"),
            "{page}"
        );
        assert!(page.contains("<title>&lt;Danke&gt;</title>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("noindex"), "{page}");
        assert!(!page.contains("sandbox-banner\""), "{page}");

        let sandbox = Shell::new(Look::Sandbox, "en", "x")
            .render(html! {})
            .into_string();
        assert!(sandbox.contains("noindex"), "{sandbox}");
        assert!(
            sandbox.contains("<p class=\"sandbox-banner\">"),
            "{sandbox}"
        );
    }

    #[test]
    fn scripts_are_same_origin_files_loaded_deferred() {
        let shell = Shell {
            scripts: &["/embed/v1.js"],
            ..Shell::new(Look::Console, "en", "Forms")
        };
        let page = shell.render(html! {}).into_string();
        assert!(
            page.contains("<script src=\"/embed/v1.js\" defer></script>"),
            "{page}"
        );
    }
}
