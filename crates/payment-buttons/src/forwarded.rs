//! Who is really on the other end of a request that came through reverse proxies.
//!
//! Behind nginx or a load balancer every request's TCP peer is the proxy. The proxy appends the address it
//! received the request from to `X-Forwarded-For`, but anyone can send that header with whatever they like
//! in it, so it is read only as far as it was written by proxies we trust: from the right, one hop at a
//! time, while the address that handed us the request is one of [`TrustedProxies`].

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The reverse proxies whose `X-Forwarded-For` entries are believed: addresses or CIDR networks.
/// Empty (the default) believes nobody: the client is the TCP peer.
///
/// ```
/// use std::net::IpAddr;
/// use payment_buttons::forwarded::TrustedProxies;
///
/// let proxies = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
/// let nginx: IpAddr = "10.1.2.3".parse().unwrap();
/// // A buyer who claims to be 1.1.1.1; nginx appended the address it really saw.
/// let client = proxies.client_ip(nginx, ["1.1.1.1, 203.0.113.7"]);
/// assert_eq!(client, "203.0.113.7".parse::<IpAddr>().unwrap());
///
/// // Straight from the internet, the header is ignored.
/// let stranger: IpAddr = "198.51.100.9".parse().unwrap();
/// assert_eq!(proxies.client_ip(stranger, ["1.1.1.1"]), stranger);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of a trusted-proxies list that is neither an IP address nor a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is not an IP address or a network such as 10.0.0.0/8")]
pub struct InvalidProxy {
    /// The entry, as given.
    pub entry: String,
}

impl TrustedProxies {
    /// Reads addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<I, T>(entries: I) -> Result<Self, InvalidProxy>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| InvalidProxy {
                        entry: entry.to_owned(),
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: starting at the TCP `peer`, each trusted hop is replaced by the entry it
    /// appended to `X-Forwarded-For` (the values of every such header, in the order received). Stops at
    /// the first address that is not a trusted proxy, or when an entry is missing or unreadable.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if self.is_empty() {
            return client;
        }
        let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|value| value.split(',')).collect();
        for hop in hops.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match IpAddr::from_str(hop.trim()) {
                Ok(ip) => client = ip.to_canonical(),
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8", "::1"]).unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_never_read() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("127.0.0.1"), ["203.0.113.7"]), ip("127.0.0.1"));
    }

    #[test]
    fn a_forged_header_from_an_untrusted_peer_is_ignored() {
        assert_eq!(
            proxies().client_ip(ip("198.51.100.9"), ["127.0.0.1, 10.0.0.1"]),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn entries_a_client_put_before_the_proxies_are_not_believed() {
        // The client sent "X-Forwarded-For: 1.1.1.1"; nginx then 10.0.0.5 appended what they saw.
        let chain = ["1.1.1.1, 203.0.113.7", "10.0.0.5"];
        assert_eq!(proxies().client_ip(ip("127.0.0.1"), chain), ip("203.0.113.7"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_ends_at_the_leftmost_entry() {
        assert_eq!(proxies().client_ip(ip("::1"), ["10.0.0.9, 10.0.0.8"]), ip("10.0.0.9"));
    }

    #[test]
    fn an_unreadable_entry_stops_the_walk_at_the_proxy_that_wrote_it() {
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), ["unknown"]), ip("10.0.0.1"));
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), ["203.0.113.7, "]), ip("10.0.0.1"));
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), [] as [&str; 0]), ip("10.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        assert!(proxies().trusts(ip("::ffff:10.1.2.3")));
        assert_eq!(
            proxies().client_ip(ip("::ffff:127.0.0.1"), ["::ffff:203.0.113.7"]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_bad_entry_is_named() {
        let err = TrustedProxies::parse(["127.0.0.1", "nginx.internal"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"nginx.internal\" is not an IP address or a network such as 10.0.0.0/8"
        );
    }
}
