//! `<root>/engine.lock`: the lock between adding content and freeing it.
//!
//! Pull, load and import fetch and unpack content before the one
//! transaction that records it; until then nothing in the database says it
//! is used.  So they hold this lock shared for their whole run, and rmi and
//! prune, which decide what is unused and delete it, hold it exclusive.
//! Adders run side by side; a remover waits for them (and they for it).
//! The kernel drops the lock of a killed process.

use crate::{Engine, Error, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;

/// A held `engine.lock`, released when dropped.
pub struct EngineLock(#[allow(dead_code)] Flock<File>);

impl Engine {
    /// Take `engine.lock` shared (to add content) or exclusive (to free
    /// it), waiting for it.
    pub fn lock(&self, exclusive: bool) -> Result<EngineLock> {
        let path = self.root.join("engine.lock");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        let arg = match exclusive {
            true => FlockArg::LockExclusive,
            false => FlockArg::LockShared,
        };
        loop {
            match Flock::lock(file, arg) {
                Ok(l) => return Ok(EngineLock(l)),
                Err((f, nix::errno::Errno::EINTR)) => file = f,
                Err((_, e)) => return Err(Error::io("lock", &path)(e.into())),
            }
        }
    }
}
