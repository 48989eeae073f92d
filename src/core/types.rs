//! Small value types that carry their unit or range, so that a bare integer
//! never has to be trusted to mean the right thing (see STYLE.md, holo's caution).

use std::fmt;
use std::time::Duration;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768: IPv4 only, interval in whole seconds, optional simple auth.
    V2,
    /// RFC 5798 as updated by RFC 9568: IPv4 and IPv6, interval in centiseconds.
    V3,
}

impl Version {
    /// The 4-bit version number on the wire.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version for a wire number, if it is one we speak.
    pub const fn from_number(n: u8) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.number())
    }
}

/// Virtual Router Identifier, 1..=255 (RFC 5798 Section 5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vrid(u8);

impl Vrid {
    /// A VRID, or `None` for 0, which the RFC does not allow.
    pub const fn new(v: u8) -> Option<Vrid> {
        if v == 0 {
            None
        } else {
            Some(Vrid(v))
        }
    }

    /// The wire value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A VRRP priority (RFC 5798 Section 5.2.4): 0 means "the master is leaving",
/// 255 means "I own the addresses", 1..=254 are ordinary backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Priority {
    /// Sent by a master that stops, so that backups take over after Skew_Time.
    pub const RESIGN: Priority = Priority(0);
    /// The IP address owner.
    pub const OWNER: Priority = Priority(255);
    /// The lowest priority a live backup may have.
    pub const MIN_BACKUP: Priority = Priority(1);
    /// The highest priority a router that does not own the addresses may have.
    pub const MAX_BACKUP: Priority = Priority(254);
    /// The RFC's default for a backup.
    pub const DEFAULT: Priority = Priority(100);

    /// The wire value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A duration in centiseconds, the unit of the VRRPv3 Max Adver Int field
/// (12 bits on the wire, so at most 4095 cs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centisecs(pub u16);

impl Centisecs {
    /// The largest value the 12-bit v3 field can carry.
    pub const MAX_V3: Centisecs = Centisecs(0x0fff);

    /// The same span as a [`Duration`].
    pub const fn to_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// The wire value.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}cs", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrid_zero_is_refused() {
        assert_eq!(Vrid::new(0), None);
        assert_eq!(Vrid::new(255).map(Vrid::get), Some(255));
    }

    #[test]
    fn centisecs_to_duration() {
        assert_eq!(Centisecs(1).to_duration(), Duration::from_millis(10));
        assert_eq!(Centisecs(100).to_duration(), Duration::from_secs(1));
    }

    #[test]
    fn version_numbers() {
        assert_eq!(Version::from_number(2), Some(Version::V2));
        assert_eq!(Version::from_number(4), None);
        assert_eq!(Version::V3.number(), 3);
    }
}
