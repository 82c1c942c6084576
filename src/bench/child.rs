//! `loket serve` started by a bench as a child process, on a fresh SQLite file.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::config::{Config, Secret};

/// `loket serve` as a child process; killed when dropped.
pub struct Child {
    pub process: std::process::Child,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Child {
    /// Starts `loket serve` with `config` (its own data folder, SQLite, an ephemeral port,
    /// no WhatsApp, no platform webhook) and returns once it listens, i.e. once it is ready.
    /// `log` is its `LOKET_LOG` level.
    pub fn start(config: &Config, log: &str) -> Result<Child> {
        use std::io::BufRead;
        let data_dir = std::env::temp_dir().join(format!(
            "loket-bench-child-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&data_dir)?;
        let mut cfg = config.clone();
        cfg.paths.cache_dir = Some(config.cache_dir());
        cfg.paths.data_dir = data_dir.clone();
        cfg.database.url = Secret::default();
        cfg.server.bind = "127.0.0.1:0".into();
        cfg.whatsapp.enabled = false;
        cfg.handoff.webhook_url = String::new();
        let file = data_dir.join("loket.toml");
        std::fs::write(&file, toml::to_string(&cfg)?)?;
        let mut process = std::process::Command::new(std::env::current_exe()?)
            .args(["--config", &file.to_string_lossy(), "serve"])
            .env("LOKET_LOG", log)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting loket serve")?;
        let stdout = process.stdout.take().context("child stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(url) = l.strip_prefix("listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => bail!("loket serve exited before listening"),
            }
        };
        Ok(Child {
            process,
            base,
            data_dir,
        })
    }

    pub fn peak_rss_mb(&self) -> f64 {
        super::proc_status_mb(&self.process.id().to_string(), "VmHWM:")
    }

    pub fn rss_mb(&self) -> f64 {
        super::proc_status_mb(&self.process.id().to_string(), "VmRSS:")
    }
}
