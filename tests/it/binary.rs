//! `LoketProcess`: the real `loket serve` binary on a loopback port, for tests that need a
//! separate process (SIGKILL, restarts, several instances on one database).
//!
//! stdout and stderr go to files in the data directory (never to a pipe nobody reads, which
//! would stall the server once the pipe buffer is full); the address is taken from the first
//! stdout line `listening on http://ADDR`. The process is killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::root;

/// How long the binary may take to print its address (the real model's first start encodes
/// the intent examples once).
const START_TIMEOUT: Duration = Duration::from_secs(180);

pub struct LoketProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    /// Starts so far (1 after `start`); numbers the log files of each run.
    runs: usize,
}

impl LoketProcess {
    /// Starts `loket serve` with the bundled content and the lexical stand-in encoder on a
    /// free port, its data (SQLite file unless `LOKET__DATABASE__URL` says otherwise) under
    /// `data_dir`. `extra_env` is applied last, so it can override any default (e.g.
    /// `LOKET__CLASSIFIER__BACKEND=e5`).
    pub fn start(data_dir: &Path, extra_env: &[(&str, String)]) -> LoketProcess {
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let (child, addr) = launch(data_dir, &env, 1);
        LoketProcess {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            env,
            runs: 1,
        }
    }

    /// The stderr (logs) of the current run.
    pub fn stderr_path(&self) -> PathBuf {
        log_path(&self.data_dir, self.runs, "stderr")
    }

    /// The logs of the current run so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the binary again with the same data directory and environment (killing the
    /// current process first if it still runs); it gets a new port.
    pub fn restart(&mut self) {
        self.kill9();
        self.runs += 1;
        let (child, addr) = launch(&self.data_dir, &self.env, self.runs);
        self.child = child;
        self.addr = addr;
    }

    /// Waits up to `limit` for the process to exit; kills it when it does not.
    pub fn wait_with_timeout(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
        None
    }
}

impl Drop for LoketProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn log_path(data_dir: &Path, run: usize, stream: &str) -> PathBuf {
    data_dir.join(format!("loket-{run}.{stream}"))
}

/// Spawns `loket serve` (`run` numbers its log files) and waits for its address.
fn launch(data_dir: &Path, env: &[(String, String)], run: usize) -> (Child, String) {
    let stdout_path = log_path(data_dir, run, "stdout");
    let stderr_path = log_path(data_dir, run, "stderr");
    let stdout = std::fs::File::create(&stdout_path).expect("stdout file");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loket"));
    cmd.arg("serve")
        .current_dir(root())
        .env("LOKET__CLASSIFIER__BACKEND", "hashing")
        .env("LOKET__SERVER__BIND", "127.0.0.1:0")
        .env("LOKET__PATHS__DATA_DIR", data_dir)
        // Shared between tests, as in `helpers::config`: examples are encoded once.
        .env("LOKET__PATHS__CACHE_DIR", root().join("target/test-cache"))
        .env(
            "LOKET_LOG",
            "info,tantivy=warn,sqlx=warn,hyper=warn,h2=warn,tower=warn",
        )
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start loket serve");
    let logs = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let started = Instant::now();
    loop {
        let out = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        if let Some((line, _)) = out.split_once('\n') {
            let addr = line
                .trim()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
                .to_string();
            return (child, addr);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "loket serve exited ({status}) before listening; stderr:\n{}",
                logs()
            );
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "loket serve did not print its address within {START_TIMEOUT:?}; stderr:\n{}",
                logs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
