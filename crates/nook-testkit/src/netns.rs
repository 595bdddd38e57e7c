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

/// A network namespace of the test's own kept by a file (its `lo` up):
/// what `NOOK_NETNS` names, so that everything nook does to a network
/// (bridges, veths, nftables, routes) happens there and never on the
/// host's.  The file is unmounted and removed on drop; the namespace ends
/// with the last thing in it.
#[derive(Debug)]
pub struct NetnsFile {
    path: std::path::PathBuf,
}

impl NetnsFile {
    /// A new namespace bound to `path` (which must not exist).
    pub fn create(path: impl Into<std::path::PathBuf>) -> NetnsFile {
        use nook_network::{link, netlink::Netlink, netns::Netns};
        let path = path.into();
        let ns = Netns::create_file(&path).expect("create the test's network namespace");
        let file = NetnsFile { path };
        let mut nl = Netlink::open_in(&ns).expect("netlink in the test's namespace");
        let lo = link::get(&mut nl, "lo").unwrap().expect("lo");
        link::set_up(&mut nl, lo.index, "lo").unwrap();
        file
    }

    /// The namespace file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// `program` to be run inside the namespace (a `pre_exec` setns).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let ns = std::fs::File::open(&self.path).unwrap();
        // SAFETY: only setns (async-signal-safe) in the forked child before
        // exec; `ns` is moved into the closure, so it is open then.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                if libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
    }

    /// `CMD ARGS` run inside the namespace (for `ip`, `nft`): its stdout;
    /// panics when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let mut c = self.command(args[0]);
        c.args(&args[1..]);
        crate::run(&mut c)
    }
}

impl Drop for NetnsFile {
    fn drop(&mut self) {
        let _ = nook_network::netns::remove_file(&self.path);
    }
}
