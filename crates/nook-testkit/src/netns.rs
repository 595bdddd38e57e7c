//! A network namespace of the test's own: a thread that unshares its
//! network namespace (namespaces are per thread), brings its loopback up and
//! gives it one extra address, so that a server can listen on an address
//! that is not loopback without touching the host's network.  Processes
//! the closure starts inherit the namespace; it is gone when the thread and
//! they have ended.

use std::net::IpAddr;
use std::process::Command;

/// Run `f` on a new thread in a new network namespace whose `lo` is up
/// and also has `addr` (use a documentation address such as 192.0.2.1);
/// `f`'s result, or its panic passed on.
pub fn with_netns<T: Send + 'static>(addr: IpAddr, f: impl FnOnce() -> T + Send + 'static) -> T {
    let t = std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread's namespaces; no memory
        // is passed.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        crate::need("ip", "iproute2");
        crate::run(Command::new("ip").args(["link", "set", "lo", "up"]));
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        crate::run(Command::new("ip").args([
            "addr",
            "add",
            &format!("{addr}/{prefix}"),
            "dev",
            "lo",
        ]));
        f()
    });
    match t.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
