//! Accepting connections so that no client can exhaust them: HTTP/1.1 with a header-read
//! timeout that also closes connections idle between requests (slowloris, forgotten
//! keep-alives), a cap on open connections per client address and in total, the client's
//! address handed to the handlers ([`ClientAddr`]), and graceful shutdown.
//!
//! axum's own `serve` exposes none of hyper's connection settings, so this is the small
//! accept loop of hyper-util's examples with those limits added.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::client::ClientAddr;

/// Connection limits (from `[server]`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request's head must arrive within this time of the connection opening or of the
    /// previous response; otherwise the connection is closed.
    pub header_read_timeout: Duration,
    /// Open connections from one address (trusted proxies are exempt).
    pub per_client: usize,
    /// Open connections in all.
    pub total: usize,
    /// Addresses that are never capped per address (a reverse proxy carries everyone).
    pub exempt: Vec<super::client::IpNet>,
}

/// Counts open connections per address; a [`Slot`] gives its place back when dropped.
#[derive(Default)]
struct Counts {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

struct Slot {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().expect("connection counts");
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Takes a place for a new connection from `ip`, or says why not.
fn admit(counts: &Arc<Mutex<Counts>>, limits: &Limits, ip: IpAddr) -> Result<Slot, &'static str> {
    // A std mutex: held for a few map operations, never across an await.
    let mut c = counts.lock().expect("connection counts");
    if c.total >= limits.total {
        return Err("too many connections");
    }
    let exempt = limits.exempt.iter().any(|n| n.contains(ip));
    let n = c.per_ip.get(&ip).copied().unwrap_or(0);
    if !exempt && n >= limits.per_client {
        return Err("too many connections from this address");
    }
    c.total += 1;
    *c.per_ip.entry(ip).or_insert(0) += 1;
    Ok(Slot {
        counts: counts.clone(),
        ip,
    })
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish
/// (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let slot = match admit(&counts, &limits, peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                crate::metrics::record_refused_connection();
                tracing::debug!(client = %peer.ip(), why, "connection refused");
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app,
            move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ClientAddr(peer));
                req
            },
        ));
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Raises the soft limit on open files to the hard limit, so the per-address cap, not the
/// process limit (often 1,024), decides when connections are refused.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        unsafe {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                let wanted = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                    tracing::debug!("cannot raise the open files limit");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_client: usize, total: usize) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(1),
            per_client,
            total,
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    #[test]
    fn one_address_cannot_take_every_connection() {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let l = limits(2, 4);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = admit(&counts, &l, a).unwrap();
        let _s2 = admit(&counts, &l, a).unwrap();
        assert!(admit(&counts, &l, a).is_err());
        let _s3 = admit(&counts, &l, b).unwrap();
        drop(s1);
        let _s4 = admit(&counts, &l, a).unwrap();
        // The total cap holds for everyone; a proxy is exempt from the per-address cap only.
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let _s5 = admit(&counts, &l, proxy).unwrap();
        assert!(admit(&counts, &l, proxy).is_err());
        assert_eq!(counts.lock().unwrap().total, 4);
    }
}
