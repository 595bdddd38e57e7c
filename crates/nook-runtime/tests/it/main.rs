//! Integration tests: real containers from a busybox bundle, asserting on
//! what the container sees.  Must run as root.  Every test cleans up its
//! containers, cgroups and files through [`common::Env`]'s `Drop`, also when
//! it fails.

mod common;

mod conformance;

mod cgroups;
mod errors;
mod exec;
mod filesystem;
mod hooks;
mod lifecycle;
mod namespaces;
mod process;
mod security;
