//! Published ports against real nftables, in network namespaces the test makes.
