//! The ingest policy: what the map does with one neighbor message from the kernel.

use core::net::IpAddr;

use super::consts::{AF_INET, AF_INET6, RTM_DELNEIGH, RTM_NEWNEIGH};
use super::neigh::NeighMessage;
use super::{NtfFlags, NudState};
use crate::entry::{IgnoreReason, Ingest, NeighEntry, NeighKey};

/// Decides what the mirror does with a neighbor message (dump reply or event).
///
/// Checked in this order:
/// - not RTM_NEWNEIGH/RTM_DELNEIGH -> `Ignore(MessageType)`;
/// - family not AF_INET/AF_INET6 (bridge FDB, ...) -> `Ignore(Family)`;
/// - NTF_PROXY -> `Ignore(Proxy)` (a published address, not a neighbor);
/// - `ndm_ifindex` 0 -> `Ignore(NoInterface)`;
/// - no `NDA_DST`, or one of the other family -> `Ignore(NoDestination)`;
/// - RTM_DELNEIGH -> `Remove(key)`, whatever the state or MAC;
/// - a state without a valid link-layer address (INCOMPLETE, FAILED, NONE), or no
///   `NDA_LLADDR` -> `Upsert` with `mac: None` (unresolved, distinguishable from absent);
/// - `NDA_LLADDR` of 6 bytes -> `Upsert` with the MAC; any other length -> `Ignore(LinkLayer)`.
///
/// Pure: no side effects, O(1).
pub fn ingest(msg: &NeighMessage<'_>) -> Ingest {
    let remove = match msg.kind {
        RTM_NEWNEIGH => false,
        RTM_DELNEIGH => true,
        _ => return Ingest::Ignore(IgnoreReason::MessageType),
    };
    let v6 = match msg.family {
        AF_INET => false,
        AF_INET6 => true,
        _ => return Ingest::Ignore(IgnoreReason::Family),
    };
    if msg.flags.contains(NtfFlags::PROXY) {
        return Ingest::Ignore(IgnoreReason::Proxy);
    }
    if msg.ifindex == 0 {
        return Ingest::Ignore(IgnoreReason::NoInterface);
    }
    let addr = match msg.dst {
        Some(a @ IpAddr::V4(_)) if !v6 => a,
        Some(a @ IpAddr::V6(_)) if v6 => a,
        _ => return Ingest::Ignore(IgnoreReason::NoDestination),
    };
    let key = NeighKey {
        ifindex: msg.ifindex,
        addr,
    };
    if remove {
        return Ingest::Remove(key);
    }
    let mac = match msg.lladdr {
        Some(l) if msg.state.intersects(NudState::VALID) => match msg.mac() {
            Some(mac) => Some(mac),
            None if l.len() != 6 => return Ingest::Ignore(IgnoreReason::LinkLayer),
            None => None,
        },
        _ => None,
    };
    Ingest::Upsert(NeighEntry {
        key,
        mac,
        state: msg.state,
        flags: msg.flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::consts::AF_BRIDGE;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

    fn new_v4(state: NudState, lladdr: Option<&'static [u8]>) -> NeighMessage<'static> {
        NeighMessage {
            kind: RTM_NEWNEIGH,
            family: AF_INET,
            ifindex: 3,
            state,
            dst: Some("10.0.0.9".parse().unwrap()),
            lladdr,
            ..Default::default()
        }
    }

    fn key() -> NeighKey {
        NeighKey {
            ifindex: 3,
            addr: "10.0.0.9".parse().unwrap(),
        }
    }

    #[test]
    fn resolved_states_upsert_with_mac() {
        for state in [
            NudState::REACHABLE,
            NudState::STALE,
            NudState::PERMANENT,
            NudState::DELAY,
            NudState::PROBE,
            NudState::NOARP,
        ] {
            let m = NeighMessage {
                flags: NtfFlags::ROUTER,
                ..new_v4(state, Some(&MAC))
            };
            assert_eq!(
                ingest(&m),
                Ingest::Upsert(NeighEntry {
                    key: key(),
                    mac: Some(MAC),
                    state,
                    flags: NtfFlags::ROUTER
                })
            );
        }
    }

    #[test]
    fn incomplete_and_failed_upsert_unresolved() {
        for state in [NudState::INCOMPLETE, NudState::FAILED, NudState::NONE] {
            for lladdr in [None, Some(&MAC[..])] {
                let got = ingest(&new_v4(state, lladdr));
                assert_eq!(
                    got,
                    Ingest::Upsert(NeighEntry {
                        key: key(),
                        mac: None,
                        state,
                        flags: NtfFlags::NONE
                    })
                );
            }
        }
        // A valid state sent without NDA_LLADDR is unresolved too, not dropped.
        let got = ingest(&new_v4(NudState::STALE, None));
        assert!(matches!(got, Ingest::Upsert(e) if e.mac.is_none()));
    }

    #[test]
    fn delete_needs_no_mac() {
        let m = NeighMessage {
            kind: RTM_DELNEIGH,
            ..new_v4(NudState::FAILED, None)
        };
        assert_eq!(ingest(&m), Ingest::Remove(key()));
        let m6 = NeighMessage {
            kind: RTM_DELNEIGH,
            family: AF_INET6,
            dst: Some("fe80::9".parse().unwrap()),
            ..new_v4(NudState::STALE, Some(&MAC))
        };
        assert_eq!(
            ingest(&m6),
            Ingest::Remove(NeighKey {
                ifindex: 3,
                addr: "fe80::9".parse().unwrap()
            })
        );
    }

    #[test]
    fn ignored_with_reason() {
        let ok = new_v4(NudState::REACHABLE, Some(&MAC));
        let cases = [
            (
                NeighMessage {
                    flags: NtfFlags::PROXY,
                    ..ok
                },
                IgnoreReason::Proxy,
            ),
            (
                NeighMessage {
                    family: AF_BRIDGE,
                    ..ok
                },
                IgnoreReason::Family,
            ),
            (NeighMessage { family: 0, ..ok }, IgnoreReason::Family),
            (
                NeighMessage { dst: None, ..ok },
                IgnoreReason::NoDestination,
            ),
            (
                NeighMessage {
                    family: AF_INET6,
                    ..ok
                },
                IgnoreReason::NoDestination,
            ),
            (NeighMessage { ifindex: 0, ..ok }, IgnoreReason::NoInterface),
            (
                NeighMessage {
                    kind: crate::wire::consts::RTM_GETNEIGH,
                    ..ok
                },
                IgnoreReason::MessageType,
            ),
            (
                NeighMessage {
                    lladdr: Some(&[1, 2, 3, 4]),
                    ..ok
                },
                IgnoreReason::LinkLayer,
            ),
            (
                NeighMessage {
                    lladdr: Some(&[]),
                    ..ok
                },
                IgnoreReason::LinkLayer,
            ),
        ];
        for (m, why) in cases {
            assert_eq!(ingest(&m), Ingest::Ignore(why), "{m:?}");
        }
    }
}
