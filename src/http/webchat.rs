//! The web chat channel: the embeddable widget (`GET /chat/loket-chat.js`,
//! `GET /chat/loket-chat.css`) and the demo page at `GET /` that shows it inline.
//!
//! The files are compiled into the binary (`assets/`), so a deployment is still one
//! executable. The page carries a strict content security policy: everything from Loket
//! itself, no inline script.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;

use super::AppState;

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const CHAT_JS: &str = include_str!("../../assets/webchat/loket-chat.js");
const CHAT_CSS: &str = include_str!("../../assets/webchat/loket-chat.css");

/// The policy of the demo page: only Loket's own script, style and API.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

/// `GET /`: the demo page with the municipality's name filled in.
pub async fn index(State(state): State<AppState>) -> impl IntoResponse {
    let name = state.parts.content.snapshot().kb.settings.name.clone();
    let body = INDEX_HTML.replace("{{municipality}}", &crate::text::escape_html(&name));
    (
        StatusCode::OK,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, NO_CACHE),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
}

/// `GET /chat/loket-chat.js`: the widget.
pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", CHAT_JS)
}

/// `GET /chat/loket-chat.css`: the widget's style sheet.
pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", CHAT_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, NO_CACHE),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_for_html() {
        assert_eq!(
            crate::text::escape_html("A&B <\"Z\"> 's"),
            "A&amp;B &lt;&quot;Z&quot;&gt; &#39;s"
        );
    }

    #[test]
    fn the_page_has_no_inline_script() {
        // The policy forbids inline script: every <script> must load a file.
        for part in INDEX_HTML.split("<script").skip(1) {
            let tag_end = part.find('>').unwrap();
            assert!(part[..tag_end].contains("src="), "inline script: {part}");
            assert!(part[tag_end + 1..].trim_start().starts_with("</script>"));
        }
        // No inline event handlers (` onclick=` and the like).
        for (i, _) in INDEX_HTML.match_indices(" on") {
            let name: String = INDEX_HTML[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let next = INDEX_HTML[i + 3 + name.len()..].chars().next();
            assert!(next != Some('='), "inline event handler on{name}");
        }
        assert!(!INDEX_HTML.contains("style="), "no inline styles");
    }
}
