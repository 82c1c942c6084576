//! A minimal Chrome DevTools Protocol client for browser tests: starts headless Chromium,
//! attaches to one page over a WebSocket and drives it (navigate, evaluate, type, click,
//! screenshot), collecting console errors and uncaught exceptions.
//!
//! Chromium is found as `$LOKET_CHROMIUM`, else `chromium`, `chromium-browser` or
//! `google-chrome` on the PATH. Without it the tests fail and say how to install it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The Chromium executable, or a panic that says how to install it.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("LOKET_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
    }
    panic!(
        "Chromium is missing: the web chat test drives headless Chromium. Install it with \
         `apt-get install chromium` (scripts/test.sh does this when apt-get is available), \
         or point LOKET_CHROMIUM at a Chromium or Chrome executable"
    );
}

pub struct Browser {
    child: Child,
    sink: tokio::sync::Mutex<Sink>,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
    next_id: AtomicU64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts headless Chromium with a fresh profile and opens one page (`width` × `height`).
    pub async fn launch(width: u32, height: u32) -> Browser {
        let exe = chromium();
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&exe)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-extensions",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
                "--hide-scrollbars",
                "--lang=nl-NL",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));

        // Chromium prints the browser's WebSocket address on stderr; the rest of stderr is
        // drained so the pipe never fills up.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.to_string());
                    }
                } else if tx.is_some() {
                    seen.push(line);
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(format!("EXITED\n{}", seen.join("\n")));
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Chromium did not print its DevTools address within 30 s");
        if let Some(log) = url.strip_prefix("EXITED\n") {
            let _ = child.kill();
            panic!("Chromium exited before it listened; its output:\n{log}");
        }

        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to Chromium's DevTools WebSocket");
        let (sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        {
            let pending = pending.clone();
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    if let Some(id) = v.get("id").and_then(Value::as_u64) {
                        if let Some(tx) = pending.lock().unwrap().remove(&id) {
                            let _ = tx.send(v);
                        }
                    } else {
                        events.lock().unwrap().push(v);
                    }
                }
            });
        }
        let mut browser = Browser {
            child,
            sink: tokio::sync::Mutex::new(sink),
            pending,
            events,
            next_id: AtomicU64::new(1),
            session: String::new(),
            _profile: profile,
        };
        let target = browser
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = browser
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.send(domain, json!({})).await;
        }
        browser
            .send(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
            )
            .await;
        browser
    }

    /// One command; panics on a protocol error. `session`: `None` for the browser itself.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::Text(msg.to_string()))
            .await
            .expect("send to Chromium");
        let resp = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .unwrap_or_else(|_| panic!("Chromium did not answer {method} within 30 s"))
            .expect("Chromium closed the connection");
        if let Some(err) = resp.get("error") {
            panic!("{method} failed: {err}");
        }
        resp["result"].clone()
    }

    /// A command to the page.
    pub async fn send(&self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    fn count_events(&self, method: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["method"] == method)
            .count()
    }

    async fn wait_for_load(&self, before: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count_events("Page.loadEventFired") <= before {
            assert!(
                Instant::now() < deadline,
                "{what}: the page did not load within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens `url` and waits for its load event.
    pub async fn navigate(&self, url: &str) {
        let before = self.count_events("Page.loadEventFired");
        let r = self.send("Page.navigate", json!({"url": url})).await;
        if let Some(e) = r.get("errorText") {
            panic!("navigating to {url} failed: {e}");
        }
        self.wait_for_load(before, url).await;
    }

    /// Reloads the page and waits for its load event.
    pub async fn reload(&self) {
        let before = self.count_events("Page.loadEventFired");
        self.send("Page.reload", json!({"ignoreCache": true})).await;
        self.wait_for_load(before, "reload").await;
    }

    /// Evaluates an expression (promises are awaited) and returns its value as JSON.
    pub async fn eval(&self, js: &str) -> Value {
        let r = self
            .send(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("evaluating {js} threw: {ex}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (an expression) is truthy.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(&format!("!!({condition})")).await;
            if v == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                let html = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!(
                    "waited {timeout:?} for `{condition}`; console errors: {:?}; the page says:\n{}",
                    self.console_errors(),
                    html.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Focuses the element and types `text` into it (as an input method would).
    pub async fn type_text(&self, selector: &str, text: &str) {
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({s}); if (!e) return false; e.focus(); return document.activeElement === e; }})()",
                s = json!(selector)
            ))
            .await;
        assert_eq!(found, Value::Bool(true), "cannot focus {selector}");
        self.send("Input.insertText", json!({"text": text})).await;
    }

    async fn key(&self, key: &str, code: i64, text: Option<&str>) {
        let mut down = json!({"type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code});
        if let Some(t) = text {
            down["text"] = json!(t);
            down["unmodifiedText"] = json!(t);
        }
        self.send("Input.dispatchKeyEvent", down).await;
        self.send(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}),
        )
        .await;
    }

    pub async fn press_enter(&self) {
        self.key("Enter", 13, Some("\r")).await;
    }

    pub async fn press_tab(&self) {
        self.key("Tab", 9, None).await;
    }

    /// Clicks the centre of the first element matching `selector`, like a mouse would.
    pub async fn click(&self, selector: &str) {
        let rect = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({s}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height]; }})()",
                s = json!(selector)
            ))
            .await;
        let r = rect
            .as_array()
            .unwrap_or_else(|| panic!("no element {selector} to click"));
        let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        assert!(
            r[2].as_f64().unwrap() > 0.0 && r[3].as_f64().unwrap() > 0.0,
            "{selector} is not visible"
        );
        self.send(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .await;
        for kind in ["mousePressed", "mouseReleased"] {
            self.send(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1}),
            )
            .await;
        }
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let r = self
            .send(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": false}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Console errors, uncaught exceptions and error log entries (CSP violations, failed
    /// loads) seen so far.
    pub fn console_errors(&self) -> Vec<String> {
        let events = self.events.lock().unwrap();
        let mut out = Vec::new();
        for e in events.iter() {
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                    let args: Vec<String> = p["args"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    x.get("value")
                                        .map(|v| v.to_string())
                                        .or_else(|| x.get("description").map(|v| v.to_string()))
                                        .unwrap_or_default()
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push(format!("console.error: {}", args.join(" ")));
                }
                Some("Runtime.exceptionThrown") => {
                    let d = &p["exceptionDetails"];
                    out.push(format!(
                        "exception: {} {}",
                        d["text"].as_str().unwrap_or_default(),
                        d["exception"]["description"].as_str().unwrap_or_default()
                    ));
                }
                Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                    out.push(format!(
                        "log: {} ({})",
                        p["entry"]["text"].as_str().unwrap_or_default(),
                        p["entry"]["url"].as_str().unwrap_or_default()
                    ));
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
