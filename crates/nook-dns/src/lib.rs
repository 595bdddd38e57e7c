//! nook's DNS responder (aardvark-dns's job), as small in memory as can
//! be: std and libc only.
pub mod lookup;
pub mod records;
pub mod resolv;
pub mod wire;
