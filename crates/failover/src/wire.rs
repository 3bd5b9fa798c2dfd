//! The sidecar message: 32 bytes, little-endian (docs/failover.md, "Sidecar messages").
//!
//! | offset | type | field |
//! | --- | --- | --- |
//! | 0 | u32 | `kind` |
//! | 4 | u32 | `index` (replica Host's position in the coordinator's list) |
//! | 8 | i64 | `t1` |
//! | 16 | i64 | `t2` |
//! | 24 | i64 | `t3` |
//!
//! The meaning of `t1`..`t3` depends on the kind; see each kind's constant.

/// Size of every sidecar message in bytes.
pub const MSG_LEN: usize = 32;

/// detector → coordinator / channel manager: a heartbeat arrived. `t1` = received at, `t3` = the
/// heartbeat's load (permille).
pub const ALIVE: u32 = 1;
/// detector → coordinator / channel manager: no heartbeat for the timeout. `t1` = detected at.
pub const DOWN: u32 = 2;
/// coordinator → channel manager: renew the primary's lease. `t1` = until.
pub const LEASE: u32 = 3;
/// coordinator → channel manager: become the primary. `t1` = until, `t2` = not before,
/// `t3` = detected at (0 = unknown, e.g. the initial election).
pub const ACTIVATE: u32 = 4;
/// coordinator → channel manager: stop being the primary. `t3` = detected at.
pub const DEACTIVATE: u32 = 5;
/// emitter → detector. `t1` = sent at, `t2` = activation index, `t3` = Host load (permille).
pub const HEARTBEAT: u32 = 6;
/// coordinator → Orchestrator (`notify`): a promotion. `index` = the new primary or
/// [`NO_PRIMARY`], `t1` = until (0 without a primary), `t3` = detected at.
pub const PROMOTED: u32 = 7;

/// `index` of a [`PROMOTED`] when no replica is left up.
pub const NO_PRIMARY: u32 = u32::MAX;

/// Every kind, in numeric order.
pub const KINDS: [u32; 7] = [ALIVE, DOWN, LEASE, ACTIVATE, DEACTIVATE, HEARTBEAT, PROMOTED];

/// The name of a kind as docs/failover.md writes it (`"ALIVE"`, ...), or `None` if unknown.
pub fn kind_name(kind: u32) -> Option<&'static str> {
    Some(match kind {
        ALIVE => "ALIVE",
        DOWN => "DOWN",
        LEASE => "LEASE",
        ACTIVATE => "ACTIVATE",
        DEACTIVATE => "DEACTIVATE",
        HEARTBEAT => "HEARTBEAT",
        PROMOTED => "PROMOTED",
        _ => return None,
    })
}

/// One sidecar message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Msg {
    /// One of the kind constants of this module.
    pub kind: u32,
    /// The replica Host's position in the coordinator's list.
    pub index: u32,
    /// First time field (meaning per kind).
    pub t1: i64,
    /// Second field (meaning per kind).
    pub t2: i64,
    /// Third field (meaning per kind).
    pub t3: i64,
}

impl Msg {
    /// A message from its fields.
    pub fn new(kind: u32, index: u32, t1: i64, t2: i64, t3: i64) -> Msg {
        Msg { kind, index, t1, t2, t3 }
    }

    /// The 32-byte little-endian encoding.
    pub fn encode(&self) -> [u8; MSG_LEN] {
        let mut b = [0u8; MSG_LEN];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.index.to_le_bytes());
        b[8..16].copy_from_slice(&self.t1.to_le_bytes());
        b[16..24].copy_from_slice(&self.t2.to_le_bytes());
        b[24..32].copy_from_slice(&self.t3.to_le_bytes());
        b
    }

    /// Decodes a message; `None` unless `bytes` is exactly 32 bytes of a known kind (the sidecars
    /// ignore anything else the same way).
    pub fn decode(bytes: &[u8]) -> Option<Msg> {
        let b: &[u8; MSG_LEN] = bytes.try_into().ok()?;
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let i64_at = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let kind = u32_at(0);
        kind_name(kind)?;
        Some(Msg { kind, index: u32_at(4), t1: i64_at(8), t2: i64_at(16), t3: i64_at(24) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_kind() {
        for kind in KINDS {
            let m = Msg::new(kind, 3, -1, i64::MAX, i64::MIN);
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        let m = Msg::new(PROMOTED, NO_PRIMARY, 0, 0, 42);
        assert_eq!(Msg::decode(&m.encode()), Some(m));
    }

    #[test]
    fn layout_is_little_endian_at_documented_offsets() {
        let b = Msg::new(HEARTBEAT, 0x0102_0304, 0x11, 0x22, 0x33).encode();
        assert_eq!(&b[0..4], &[6, 0, 0, 0]);
        assert_eq!(&b[4..8], &[4, 3, 2, 1]);
        assert_eq!(b[8], 0x11);
        assert_eq!(b[16], 0x22);
        assert_eq!(b[24], 0x33);
        assert!(b[9..16].iter().chain(&b[17..24]).chain(&b[25..32]).all(|&x| x == 0));
    }

    #[test]
    fn rejects_wrong_sizes() {
        let b = Msg::new(ALIVE, 0, 1, 2, 3).encode();
        assert_eq!(Msg::decode(&b[..31]), None);
        assert_eq!(Msg::decode(&[]), None);
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(Msg::decode(&long), None);
    }

    #[test]
    fn rejects_unknown_kinds() {
        for kind in [0, 8, 0xFFFF_FFFF] {
            let mut b = Msg::new(ALIVE, 0, 1, 2, 3).encode();
            b[0..4].copy_from_slice(&u32::to_le_bytes(kind));
            assert_eq!(Msg::decode(&b), None, "kind {kind}");
        }
        assert_eq!(kind_name(HEARTBEAT), Some("HEARTBEAT"));
    }
}
