//! The web chat channel: the embeddable widget (`GET /chat/loket-chat.js`,
//! `GET /chat/loket-chat.css`) and the demo page at `GET /` that shows it inline.
//!
//! The files are compiled into the binary (`assets/`), so a deployment is still one
//! executable. The page carries a strict content security policy: everything from Loket
//! itself, no inline script.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName};
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;

use super::AppState;
use super::error::ApiError;
use crate::content::Municipality;
use crate::knowledge::settings::Look;

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const CHAT_JS: &str = include_str!("../../assets/webchat/loket-chat.js");
const CHAT_CSS: &str = include_str!("../../assets/webchat/loket-chat.css");

/// The policy of the demo page: only Loket's own script, style and API.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

/// `GET /`: the demo page of the default municipality.
pub async fn index(State(state): State<AppState>) -> impl IntoResponse {
    let m = state.parts.municipalities.default();
    page(m, state.parts.municipalities.len() > 1)
}

/// `GET /gemeenten/{slug}`: the demo page of one municipality (its name, answers and look).
pub async fn municipality_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let m = state
        .parts
        .municipalities
        .get(&slug)
        .ok_or_else(|| ApiError::Missing(format!("no municipality `{slug}` is served here")))?;
    Ok(page(m, true))
}

/// The demo page for `m`; `named`: the widget names its municipality (`data-gemeente`).
fn page(m: &Municipality, named: bool) -> impl IntoResponse + use<> {
    let settings = m.content.snapshot().kb.settings.clone();
    let slug = crate::text::escape_html(&m.slug);
    let has_look = settings.look != Default::default();
    let body = INDEX_HTML
        .replace(
            "{{municipality}}",
            &crate::text::escape_html(&settings.name),
        )
        .replace(
            "{{gemeente}}",
            &if named {
                format!(" data-gemeente=\"{slug}\"")
            } else {
                String::new()
            },
        )
        .replace(
            "{{look}}",
            &if has_look && !named {
                format!("<link rel=\"stylesheet\" href=\"/chat/look/{slug}.css\">\n")
            } else {
                String::new()
            },
        );
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

/// `GET /chat/look/{slug}.css`: a municipality's colours and logo as CSS custom properties
/// over the widget's defaults (and the demo page's). The values were checked when the
/// settings were loaded (colours `#rrggbb`, the logo an https:// address without quotes).
pub async fn look(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let slug = file.strip_suffix(".css").unwrap_or("");
    let m = state
        .parts
        .municipalities
        .get(slug)
        .ok_or_else(|| ApiError::Missing(format!("no municipality `{slug}` is served here")))?;
    let look = m.content.snapshot().kb.settings.look.clone();
    Ok((
        StatusCode::OK,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (CACHE_CONTROL, NO_CACHE),
            (X_CONTENT_TYPE_OPTIONS, NOSNIFF),
        ],
        look_css(&look),
    ))
}

/// The style sheet of a look (doubled classes: it wins over the defaults in any order).
pub fn look_css(look: &Look) -> String {
    let mut props = look.css_properties();
    if let Some(c) = &look.primary_color {
        props.push_str(&format!(" --loket-accent-dark: {c};"));
    }
    let mut css = format!(
        ".loket-chat.loket-chat, .loket-page.loket-page {{ {} }}\n",
        props.trim()
    );
    if let Some(logo) = &look.logo_url {
        css.push_str(&format!(
            ".loket-chat.loket-chat, .loket-page.loket-page {{ --loket-logo: url(\"{logo}\"); }}\n\
             .loket-chat__logo.loket-chat__logo, .loket-page__logo.loket-page__logo {{ display: inline-block; }}\n"
        ));
    }
    css
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
