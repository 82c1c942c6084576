//! WCAG 2.1 AA with axe-core in headless Chromium: the web chat (after a question and an
//! answer) and the reports dashboard (with a seeded week) have no violations. Dutch
//! government sites must meet WCAG 2.1 AA, and both pages are part of a municipality's site.
//!
//! axe-core comes from the npm registry: `scripts/test.sh` fetches it into
//! `<target>/axe/` (`npm pack axe-core@4.14.1`), or `LOKET_AXE` names an `axe.min.js`.

use std::path::PathBuf;
use std::time::Duration;

use loket::store::keys::Scope;
use serde_json::{Value, json};

use crate::cdp::Browser;
use crate::helpers::{Content, TestApp, root};

const WAIT: Duration = Duration::from_secs(20);

fn axe_source() -> String {
    let path = std::env::var_os("LOKET_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .map(|p| if p.is_relative() { root().join(p) } else { p })
                .unwrap_or_else(|| root().join("target"))
                .join("axe/package/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing at {} ({e}): scripts/test.sh fetches it with npm \
             (`npm pack axe-core@4.14.1` unpacked into target/axe), or set LOKET_AXE",
            path.display()
        )
    })
}

/// The WCAG 2.0/2.1 A and AA violations on the page, as `rule: nodes` lines.
async fn violations(browser: &Browser) -> Vec<String> {
    browser.eval(&axe_source()).await;
    let found = browser
        .eval(
            "axe.run(document, {runOnly: {type: 'tag', values: \
             ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}) \
             .then(r => r.violations.map(v => v.id + ' (' + v.impact + '): ' + \
             v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
        )
        .await;
    match found {
        Value::Array(items) => items.iter().map(|v| v.to_string()).collect(),
        other => panic!("axe-core answered {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_chat_meets_wcag_2_1_aa() {
    let app = TestApp::spawn(Content::Bundled, false).await;
    let addr = app.serve().await;
    let browser = Browser::launch(1000, 1100).await;
    browser.navigate(&format!("http://{addr}/")).await;
    browser
        .wait_for("document.querySelector('.loket-chat__input')", WAIT)
        .await;
    browser
        .type_text(".loket-chat__input", "wat kost een paspoort?")
        .await;
    browser.press_enter().await;
    browser
        .wait_for(
            "document.querySelectorAll('.loket-msg--bot:not(.loket-msg--intro)').length === 1",
            WAIT,
        )
        .await;
    let found = violations(&browser).await;
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert_eq!(browser.eval("typeof axe").await, json!("object"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reports_dashboard_meets_wcag_2_1_aa() {
    let app = TestApp::spawn(Content::Bundled, false).await;
    crate::reports::seed(&app.store).await;
    let (_, key) = app
        .store
        .create_key("teamleider", &[Scope::Editor])
        .await
        .unwrap();
    let addr = app.serve().await;
    let browser = Browser::launch(1280, 2000).await;
    browser
        .navigate(&format!(
            "http://{addr}/dashboard#key={key}&{}",
            crate::reports::WEEK
        ))
        .await;
    // Rendered: the tiles have numbers and the charts are drawn.
    browser
        .wait_for(
            "document.querySelector('[data-metric=conversations]') && \
             document.querySelector('[data-metric=conversations]').textContent.includes('9') && \
             document.querySelectorAll('svg').length >= 3",
            WAIT,
        )
        .await;
    let found = violations(&browser).await;
    assert!(found.is_empty(), "{}", found.join("\n"));
}
