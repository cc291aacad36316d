//! The client's address, for login limits: the socket's, unless the socket is a configured
//! trusted proxy and a configured header names the client. A header from anyone else is
//! ignored — otherwise every client could pick the address it is counted under.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName};

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpBlock {
    addr: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, `v6` or `v6/n`.
    ///
    /// # Errors
    /// A message naming the bad entry.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not an IP address or CIDR block");
        let (addr, prefix) = match raw.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (raw, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (u128::MAX << (width - bits)) & (u128::MAX >> (128 - width))
            }
        };
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let m = mask(u32::from(self.prefix), 32);
                (u128::from(u32::from(net)) & m) == (u128::from(u32::from(ip)) & m)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let m = mask(u32::from(self.prefix), 128);
                (u128::from(net) & m) == (u128::from(ip) & m)
            }
            _ => false,
        }
    }
}

/// How the client's address is found.
#[derive(Clone, Debug, Default)]
pub struct ClientAddress {
    header: Option<HeaderName>,
    proxies: Vec<IpBlock>,
}

impl ClientAddress {
    /// The socket's address only (the default).
    pub fn socket_only() -> Self {
        Self::default()
    }

    /// `header` (e.g. `X-Forwarded-For`) is believed only on connections from `proxies`
    /// (comma-separated addresses or CIDR blocks). Both or neither.
    ///
    /// # Errors
    /// A message naming the bad header or entry.
    pub fn new(header: Option<&str>, proxies: Option<&str>) -> Result<Self, String> {
        let proxies: Vec<IpBlock> = proxies
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(IpBlock::parse)
            .collect::<Result<_, _>>()?;
        let header = header.map(str::trim).filter(|h| !h.is_empty());
        match (header, proxies.is_empty()) {
            (None, true) => Ok(Self::socket_only()),
            (Some(h), false) => {
                let header = HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("{h:?} is not an HTTP header name"))?;
                Ok(Self {
                    header: Some(header),
                    proxies,
                })
            }
            (Some(_), true) => {
                Err("a trusted proxy header needs the trusted proxies' addresses".into())
            }
            (None, false) => Err("trusted proxies need the header they set".into()),
        }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|p| p.contains(ip))
    }

    /// The client's address for a request that arrived from `peer` with `headers`.
    ///
    /// Behind trusted proxies the header lists `client, proxy1, proxy2…`, each hop appending
    /// the address it saw; only the entries appended by trusted hops are believed, so the
    /// answer is the rightmost entry that is not a trusted proxy. Anything a client wrote
    /// itself sits further left and is never reached.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        let Some(header) = &self.header else {
            return peer;
        };
        if !self.trusted(peer) {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all(header)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_hop(entry) else {
                // A trusted hop writes addresses; garbage came from further out. The last
                // trusted hop is the best we know.
                return client;
            };
            client = ip;
            if !self.trusted(ip) {
                return ip;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().expect("value"));
        h
    }

    #[test]
    fn the_header_is_ignored_unless_configured_and_from_a_trusted_proxy() {
        let none = ClientAddress::socket_only();
        assert_eq!(
            none.resolve(ip("10.0.0.1"), &xff("1.2.3.4")),
            ip("10.0.0.1")
        );
        let trusted = ClientAddress::new(Some("X-Forwarded-For"), Some("10.0.0.0/8")).expect("ok");
        assert_eq!(
            trusted.resolve(ip("192.0.2.1"), &xff("1.2.3.4")),
            ip("192.0.2.1"),
            "not from a trusted proxy"
        );
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &xff("1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_client_cannot_choose_its_address_by_writing_the_header_itself() {
        let trusted =
            ClientAddress::new(Some("x-forwarded-for"), Some("10.0.0.1, 10.0.0.2")).expect("ok");
        // The client sent "6.6.6.6", the first proxy appended what it saw.
        assert_eq!(
            trusted.resolve(ip("10.0.0.2"), &xff("6.6.6.6, 198.51.100.4, 10.0.0.1")),
            ip("198.51.100.4")
        );
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &xff("not an address, 198.51.100.4")),
            ip("198.51.100.4")
        );
        assert_eq!(
            trusted.resolve(ip("10.0.0.1"), &xff("198.51.100.4, garbage")),
            ip("10.0.0.1")
        );
        assert_eq!(
            trusted.resolve(ip("::ffff:10.0.0.1"), &xff("[2001:db8::1]:443")),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn settings_come_in_pairs_and_bad_entries_are_named() {
        assert!(ClientAddress::new(Some("X-Forwarded-For"), None).is_err());
        assert!(ClientAddress::new(None, Some("10.0.0.1")).is_err());
        let err =
            ClientAddress::new(Some("X-Forwarded-For"), Some("10.0.0.1/33")).expect_err("bad");
        assert!(err.contains("10.0.0.1/33"), "{err}");
        assert!(ClientAddress::new(Some("bad header"), Some("10.0.0.1")).is_err());
        assert!(IpBlock::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        assert!(IpBlock::parse("fd00::/8")
            .expect("ula")
            .contains(ip("fd12::1")));
        assert!(!IpBlock::parse("fd00::/8")
            .expect("ula")
            .contains(ip("10.0.0.1")));
    }
}
