//! Who is calling: the client's address, from the connection or, behind a reverse proxy
//! listed in `server.trusted_proxies`, from the right-most address in `X-Forwarded-For`
//! that is not a trusted proxy (the left-most entries are whatever the client claims).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

pub use crate::config::IpNet;
use crate::config::ipnet::canonical;

/// The peer address of the connection, set by [`super::listener`] on every request.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = canonical(peer?.ip());
    if !trusted.iter().any(|n| n.contains(peer)) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return Some(peer);
        };
        for part in value.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => chain.push(canonical(ip)),
                // Something unparsable in the chain: trust nothing left of it.
                Err(_) => chain.clear(),
            }
        }
    }
    Some(
        chain
            .into_iter()
            .rev()
            .find(|ip| !trusted.iter().any(|n| n.contains(*ip)))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let direct: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |peer, h: &HeaderMap| client_ip(Some(peer), h, &trusted).unwrap().to_string();
        // A client that is not a proxy cannot choose its address.
        assert_eq!(ip(direct, &headers(&["203.0.113.1"])), "198.51.100.7");
        // Behind the proxy: the right-most untrusted entry, whatever the client prepended.
        assert_eq!(
            ip(proxy, &headers(&["1.1.1.1, 203.0.113.1"])),
            "203.0.113.1"
        );
        assert_eq!(
            ip(proxy, &headers(&["1.1.1.1", "203.0.113.1, 10.0.0.9"])),
            "203.0.113.1"
        );
        assert_eq!(ip(proxy, &headers(&[])), "10.0.0.5");
        assert_eq!(ip(proxy, &headers(&["garbage"])), "10.0.0.5");
        assert!(client_ip(None, &headers(&[]), &trusted).is_none());
    }
}
