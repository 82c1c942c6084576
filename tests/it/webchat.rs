//! The web chat widget in headless Chromium against a real Loket HTTP server (bundled
//! knowledge base, lexical stand-in encoder): ask, get an answer, get a clarifying
//! question, pick an option, reload, keyboard, no console errors. Leaves a screenshot in
//! `<target>/screenshots/webchat.png`.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::cdp::Browser;
use crate::helpers::{Content, TestApp, root};

/// A message that makes Loket ask which topic is meant (with the bundled knowledge base
/// and the hashing encoder); the test checks that through the API first.
const AMBIGUOUS: &str = "ik heb een vraag over een vergunning";

const WAIT: Duration = Duration::from_secs(20);

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"));
    target.join("screenshots").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_chat_answers_clarifies_and_survives_a_reload() {
    let app = TestApp::spawn(Content::Bundled, false).await;

    // The ambiguous message really clarifies, so the browser part cannot pass vacuously.
    let v = app.ask("webchat-check", AMBIGUOUS).await;
    assert_eq!(v["action"], "clarify", "{AMBIGUOUS:?} should clarify: {v}");
    assert!(v["reply"]["options"].as_array().unwrap().len() >= 2, "{v}");

    // The page and the widget files, with their headers.
    let (status, headers, _) = app
        .request(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for (path, kind) in [
        ("/chat/loket-chat.js", "text/javascript"),
        ("/chat/loket-chat.css", "text/css"),
    ] {
        let (status, headers, _) = app
            .request(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache");
    }

    let addr = app.serve().await;
    let base = format!("http://{addr}");
    let browser = Browser::launch(1000, 1100).await;
    browser.navigate(&format!("{base}/")).await;
    browser
        .wait_for("document.querySelector('.loket-chat__input')", WAIT)
        .await;
    let title = browser.eval("document.title").await;
    assert_eq!(title, json!("Gemeente Voorbeeld — Stel uw vraag"));
    assert_eq!(
        browser
            .eval("document.querySelector('.loket-chat').getAttribute('lang')")
            .await,
        json!("nl")
    );
    assert_eq!(
        browser
            .eval("document.querySelector('[role=log]').getAttribute('aria-live')")
            .await,
        json!("polite")
    );
    assert_eq!(
        browser
            .eval("(() => { const i = document.querySelector('.loket-chat__input'); return !!(i.labels && i.labels.length && i.labels[0].textContent.trim()); })()")
            .await,
        json!(true),
        "the input has a label"
    );

    // Keyboard: Tab from the top of the page reaches the input.
    let mut reached = false;
    for _ in 0..10 {
        browser.press_tab().await;
        if browser
            .eval("document.activeElement && document.activeElement.classList.contains('loket-chat__input')")
            .await
            == json!(true)
        {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab does not reach the chat input");

    // A question and its answer.
    let citizen = ".loket-msg--citizen";
    let bot = ".loket-msg--bot:not(.loket-msg--intro)";
    browser
        .type_text(".loket-chat__input", "Wat kost een paspoort?")
        .await;
    browser.press_enter().await;
    browser
        .wait_for(
            &format!("document.querySelectorAll('{bot}').length === 1 && document.querySelector('{bot} .loket-msg__text').textContent.length > 10"),
            WAIT,
        )
        .await;
    let asked = browser
        .eval(&format!("document.querySelector('{citizen}').textContent"))
        .await;
    assert!(
        asked.as_str().unwrap().contains("Wat kost een paspoort?"),
        "the question is shown: {asked}"
    );
    assert_eq!(
        browser
            .eval("document.activeElement.classList.contains('loket-chat__input') && document.activeElement.value === ''")
            .await,
        json!(true),
        "focus stays in the emptied input after sending"
    );

    // An ambiguous question: Loket offers options as buttons in a labelled group.
    browser.type_text(".loket-chat__input", AMBIGUOUS).await;
    browser.press_enter().await;
    let options = "[role=group][aria-label='Kies een onderwerp'] button.loket-chat__option";
    browser
        .wait_for(
            &format!("document.querySelectorAll(\"{options}\").length >= 2"),
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!("Array.from(document.querySelectorAll(\"{options}\")).every(b => !b.disabled && b.tabIndex === 0 && b.getAttribute('tabindex') !== '-1')"))
            .await,
        json!(true),
        "option buttons are enabled and in the tab order"
    );
    // Keyboard: Tab from the log reaches the first option (past any links in answers).
    browser
        .eval("document.querySelector('[role=log]').focus()")
        .await;
    let mut reached = false;
    for _ in 0..15 {
        browser.press_tab().await;
        let on_option = browser
            .eval(&format!(
                "document.activeElement === document.querySelector(\"{options}\")"
            ))
            .await;
        if on_option == json!(true) {
            reached = true;
            break;
        }
    }
    assert!(
        reached,
        "Tab does not reach the first option; focus is on {}",
        browser.eval("document.activeElement.outerHTML").await
    );
    let first_title = browser
        .eval(&format!(
            "document.querySelector(\"{options} .loket-chat__option-title\").textContent"
        ))
        .await;
    let first_title = first_title.as_str().unwrap().to_string();
    browser
        .screenshot(&screenshot_path("webchat-options.png"))
        .await;

    let bots_before = browser
        .eval(&format!("document.querySelectorAll('{bot}').length"))
        .await;
    browser.click(options).await;
    browser
        .wait_for(
            &format!(
                "document.querySelectorAll('{bot}').length === {} && document.querySelector('{bot}:last-child .loket-msg__text')",
                bots_before.as_u64().unwrap() + 1
            ),
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!(
                "Array.from(document.querySelectorAll('{citizen}')).pop().textContent.includes({})",
                json!(first_title)
            ))
            .await,
        json!(true),
        "the chosen option is shown as the citizen's message"
    );
    assert_eq!(
        browser
            .eval(&format!("Array.from(document.querySelectorAll(\"{options}\")).slice(0, 2).every(b => b.disabled)"))
            .await,
        json!(true),
        "the options of the answered message are disabled"
    );
    browser.screenshot(&screenshot_path("webchat.png")).await;

    // A reload restores the conversation from the server.
    let count = "document.querySelectorAll('.loket-msg:not(.loket-msg--intro)').length";
    let before = browser.eval(count).await;
    assert!(before.as_u64().unwrap() >= 6, "{before}");
    let stored = browser
        .eval("localStorage.getItem('loket.conversation_id')")
        .await;
    browser.reload().await;
    browser
        .wait_for(&format!("{count} === {before}"), WAIT)
        .await;
    assert_eq!(
        browser
            .eval("localStorage.getItem('loket.conversation_id')")
            .await,
        stored
    );
    let restored = browser
        .eval("Array.from(document.querySelectorAll('.loket-msg:not(.loket-msg--intro) .loket-msg__who')).map(e => e.textContent)")
        .await;
    assert_eq!(restored[0], json!("U"), "{restored}");
    assert_eq!(restored[1], json!("Loket"), "{restored}");
    browser
        .screenshot(&screenshot_path("webchat-restored.png"))
        .await;

    // "Nieuw gesprek" starts over with a new conversation id.
    browser.click(".loket-chat__button--header").await;
    browser.wait_for(&format!("{count} === 0"), WAIT).await;
    let fresh = browser
        .eval("localStorage.getItem('loket.conversation_id')")
        .await;
    assert_ne!(fresh, stored);
    assert!(is_uuid_v4(fresh.as_str().unwrap()), "a v4 uuid: {fresh}");

    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

#[tokio::test]
async fn the_chat_messages_endpoint_restores_a_conversation() {
    let app = TestApp::spawn(Content::Bundled, false).await;
    let get = |path: String| Request::get(path).body(Body::empty()).unwrap();
    let (status, _, v) = app
        .request(get("/v1/chat/nobody/messages?after=0".into()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["messages"], json!([]), "{v}");

    app.ask("restore-1", "Wat kost een paspoort?").await;
    let (status, _, v) = app.request(get("/v1/chat/restore-1/messages".into())).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{v}");
    assert_eq!(msgs[0]["from"], "citizen");
    assert_eq!(msgs[1]["from"], "bot");
    assert!(msgs[1]["id"].as_i64().unwrap() > msgs[0]["id"].as_i64().unwrap());
    let first: Value = msgs[0]["id"].clone();
    let (_, _, v) = app
        .request(get(format!("/v1/chat/restore-1/messages?after={first}")))
        .await;
    assert_eq!(v["messages"].as_array().unwrap().len(), 1, "{v}");
    let (status, _, v) = app
        .request(get("/v1/chat/restore-1/messages?after=x".into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn only_configured_sites_may_call_the_chat_endpoints_from_the_browser() {
    let s = crate::server::Server::start(|c| {
        c.server.allowed_origins = vec!["https://www.voorbeeld.nl".into()];
    })
    .await;
    let c = crate::server::client();
    let preflight = |origin: &'static str| {
        c.request(reqwest::Method::OPTIONS, s.url("/v1/messages"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://www.voorbeeld.nl").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://www.voorbeeld.nl")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A key cannot be sent from another site: `authorization` is not an allowed header.
    let with_key = c
        .request(reqwest::Method::OPTIONS, s.url("/v1/handoffs"))
        .header("origin", "https://www.voorbeeld.nl")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    let allowed = with_key
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_lowercase())
        .unwrap_or_default();
    assert!(!allowed.contains("authorization"), "{allowed}");
}
