//! Reserved for issue 19: per-container anti-spoofing in nook's `bridge nook` table (the
//! `bridge` family sees frames at the bridge port, before any routing).
//!
//! Planned layout, consistent with the `inet nook` one (see `rules`): one base chain per
//! container veth, named after the veth (`p-<host veth>`, `type filter hook forward priority
//! -200` and one on `prerouting` for frames to the host), matching `iifname <veth>` and
//! dropping frames whose source MAC, IPv4/IPv6 source or ARP/ND sender is not the container's;
//! added and removed by name in one batch with the veth, exactly as the port chains are.
//! [`super::Firewall::remove_all`] already deletes this table when it exists, and
//! `nft::Family::Bridge` names it.
