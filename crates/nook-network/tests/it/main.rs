//! nook-network against the kernel. Every test makes its own network
//! namespaces: an anonymous one playing the host (its bridge, its routes,
//! its sysctls) and namespace files under a temporary directory playing
//! containers, so nothing touches the machine's own interfaces or routes.
//! Everything goes when a test ends, even when it fails: the namespaces die
//! with their file descriptors, the files are unmounted by Drop guards.
//! Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).

mod bench;
mod concurrency;
mod errors;
mod fixture;
mod idempotence;
mod netns_dir;
mod traffic;
