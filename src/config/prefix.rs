//! `IpPrefix`: an address with its prefix length, as written in `virtual_ips`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP address with a prefix length, e.g. `172.16.1.254/24` or `2001:db8::1/64`.
///
/// The address keeps its host bits: it is the address to add to the
/// interface, not a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix_len: u8,
}

impl IpPrefix {
    /// The longest prefix for the address family (32 or 128).
    pub fn max_len(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

/// Why a string is not an [`IpPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpPrefixError {
    /// The part before the `/` is not an IPv4 or IPv6 address.
    #[error("\"{0}\" is not an IPv4 or IPv6 address")]
    BadAddress(String),
    /// The part after the `/` is not a number.
    #[error("prefix length \"{0}\" is not a number")]
    BadLength(String),
    /// The prefix length is longer than the address.
    #[error("prefix length /{len} is out of range for {family} (at most /{max})")]
    LengthOutOfRange {
        /// The length that was given.
        len: u32,
        /// The family of the address, `IPv4` or `IPv6`.
        family: &'static str,
        /// The longest allowed length.
        max: u8,
    },
}

impl FromStr for IpPrefix {
    type Err = IpPrefixError;

    /// Parse `addr/len`; a bare address means a host prefix (/32 or /128).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr_s, len_s) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr_s
            .parse()
            .map_err(|_| IpPrefixError::BadAddress(addr_s.to_string()))?;
        let max = IpPrefix::max_len(addr);
        let prefix_len = match len_s {
            None => max,
            Some(l) => {
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IpPrefixError::BadLength(l.to_string()));
                }
                let len: u32 = l
                    .parse()
                    .map_err(|_| IpPrefixError::BadLength(l.to_string()))?;
                if len > u32::from(max) {
                    return Err(IpPrefixError::LengthOutOfRange {
                        len,
                        family: if addr.is_ipv4() { "IPv4" } else { "IPv6" },
                        max,
                    });
                }
                len as u8
            }
        };
        Ok(IpPrefix { addr, prefix_len })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "172.16.1.254/24",
            "10.0.0.1/32",
            "2001:db8::1/64",
            "fe80::1/128",
            "0.0.0.0/0",
        ] {
            let p: IpPrefix = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn bare_address_is_host_prefix() {
        let p: IpPrefix = "192.0.2.1".parse().unwrap();
        assert_eq!(p.prefix_len, 32);
        let p: IpPrefix = "2001:db8::1".parse().unwrap();
        assert_eq!(p.prefix_len, 128);
    }

    #[test]
    fn refuses_bad_prefixes() {
        assert!(matches!(
            "10.0.0.1/33".parse::<IpPrefix>(),
            Err(IpPrefixError::LengthOutOfRange { len: 33, .. })
        ));
        assert!(matches!(
            "2001:db8::1/129".parse::<IpPrefix>(),
            Err(IpPrefixError::LengthOutOfRange { .. })
        ));
        assert!(matches!(
            "10.0.0.1/".parse::<IpPrefix>(),
            Err(IpPrefixError::BadLength(_))
        ));
        assert!(matches!(
            "10.0.0.1/-1".parse::<IpPrefix>(),
            Err(IpPrefixError::BadLength(_))
        ));
        assert!(matches!(
            "10.0.0.256/24".parse::<IpPrefix>(),
            Err(IpPrefixError::BadAddress(_))
        ));
        assert!(matches!(
            "ext0".parse::<IpPrefix>(),
            Err(IpPrefixError::BadAddress(_))
        ));
    }
}
