//! Container networking for nook: links, addresses, IPAM and the firewall (nftables rules in
//! nook's own `nook` tables) that NAT, publish ports and isolate its bridge networks.

pub mod firewall;
