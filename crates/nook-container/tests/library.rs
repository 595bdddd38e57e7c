//! The library driven in-process, as the engine drives it: requests in
//! memory, stdio as pipes, handles waited on by pidfd, typed errors, calls
//! from several threads at once.  Root only (real containers).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nook_container::{
    CreateRequest, Error, ExecRequest, ExitStatus, HookContext, HookError, LifecycleHooks, Op,
    Runtime, Status,
};
use oci_spec::runtime::{ProcessBuilder, Spec};

/// A private state root and rootfs; every container made through it is
/// force-deleted and the directory removed on drop, also when a test fails.
struct World {
    dir: PathBuf,
    rootfs: PathBuf,
    rt: Runtime,
    ids: Mutex<Vec<String>>,
}

impl World {
    fn new(tag: &str) -> World {
        World::with_runtime(tag, |root| Runtime::new(root))
    }

    fn with_runtime(tag: &str, make: impl FnOnce(&Path) -> Runtime) -> World {
        let dir = std::env::temp_dir().join(format!("nook-lib-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("busybox-static must be installed (/bin/busybox)");
        for app in ["sh", "cat", "sleep", "echo", "readlink", "true"] {
            symlink("busybox", rootfs.join("bin").join(app)).unwrap();
        }
        let rt = make(&dir.join("state"));
        World {
            dir,
            rootfs,
            rt,
            ids: Mutex::new(Vec::new()),
        }
    }

    /// A unique container id, deleted when the world goes.
    fn id(&self, name: &str) -> String {
        let id = format!("lib-{name}-{}", std::process::id());
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// A request for `args`, without a terminal, on the busybox rootfs.
    fn request(&self, id: &str, args: &[&str]) -> CreateRequest {
        CreateRequest::new(id, spec(args), &self.rootfs)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().iter() {
            let _ = self.rt.delete(id, true);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// oci-spec's default configuration (the namespaces, mounts and
/// capabilities of `runc spec`) running `args`.
fn spec(args: &[&str]) -> Spec {
    let mut s = Spec::default();
    let mut p = s.process().clone().unwrap();
    p.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    p.set_terminal(Some(false));
    s.set_process(Some(p));
    s
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().unwrap()
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

/// The namespace `link` of this process, e.g. `pid_for_children`.
fn own_ns(link: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/thread-self/ns/{link}")).unwrap()
}

/// Threads that idle while a test runs, so that the library is called from
/// a process with several threads whatever the harness does.
fn busy_threads(n: usize) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|_| std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2))))
        .collect()
}

#[test]
fn create_start_wait_delete_with_stdio_as_pipes_from_a_threaded_caller() {
    let _threads = busy_threads(3);
    let w = World::new("pipes");
    let id = w.id("pipes");
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let mut req = w.request(&id, &["sh", "-c", "read x; echo got $x; echo err >&2"]);
    req.stdio.stdin = Some(in_r);
    req.stdio.stdout = Some(out_w);
    let (err_r, err_w) = pipe();
    req.stdio.stderr = Some(err_w);
    let before = (own_ns("pid_for_children"), own_ns("mnt"));
    let child = w.rt.create(req).expect("create");
    assert_eq!(w.rt.state(&id).unwrap().status, Status::Created);
    assert_eq!(w.rt.state(&id).unwrap().pid, child.pid);
    w.rt.start(&id).expect("start");
    std::fs::File::from(in_w).write_all(b"ping\n").unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
    assert_eq!(read_all(out_r), "got ping\n");
    assert_eq!(read_all(err_r), "err\n");
    assert_eq!(w.rt.status(&id).unwrap(), Status::Stopped);
    w.rt.delete(&id, false).expect("delete");
    assert!(matches!(w.rt.state(&id), Err(Error::NotFound { id: i }) if i == id));
    // nothing of the caller changed: namespaces, subreaper flag
    assert_eq!((own_ns("pid_for_children"), own_ns("mnt")), before);
    let mut sub: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int to a pointer we own.
    unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut sub) };
    assert_eq!(sub, 0, "the library made the caller a subreaper");
}

#[test]
fn exec_returns_a_handle_and_joins_the_container_only_in_the_child() {
    let _threads = busy_threads(2);
    let w = World::new("exec");
    let id = w.id("exec");
    let child = w.rt.create(w.request(&id, &["sleep", "1000"])).unwrap();
    w.rt.start(&id).unwrap();
    let before = (own_ns("pid_for_children"), own_ns("time_for_children"));
    let p = ProcessBuilder::default()
        .args(vec![
            "sh".into(),
            "-c".into(),
            "cat /proc/1/cmdline; echo; readlink /proc/self/ns/pid; exit 7".into(),
        ])
        .cwd("/")
        .build()
        .unwrap();
    let mut req = ExecRequest::new(&id, p);
    let (out_r, out_w) = pipe();
    req.stdio.stdout = Some(out_w);
    let handle = w.rt.exec(req).expect("exec");
    assert_eq!(handle.wait().unwrap(), ExitStatus::Exited(7));
    let out = read_all(out_r);
    let mut lines = out.lines();
    // it saw the container's pid 1, in the container's pid namespace
    assert_eq!(
        lines.next().unwrap().trim_end_matches('\0'),
        "sleep\u{0}1000"
    );
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", child.pid)).unwrap();
    assert_eq!(Path::new(lines.next().unwrap()), ns);
    // and the caller is where it was
    assert_eq!(
        (own_ns("pid_for_children"), own_ns("time_for_children")),
        before
    );
    w.rt.kill(&id, libc::SIGKILL, false).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    w.rt.delete(&id, false).unwrap();
}

#[test]
fn errors_are_typed() {
    let w = World::new("errors");
    let id = w.id("errors");
    let missing = w.id("missing");
    assert!(matches!(w.rt.start(&missing), Err(Error::NotFound { .. })));
    assert!(matches!(
        w.rt.create(w.request("a/b", &["true"])),
        Err(Error::InvalidId { .. })
    ));
    let mut bad = spec(&["true"]);
    let mut p = bad.process().clone().unwrap();
    p.set_cwd("relative".into());
    bad.set_process(Some(p));
    let e =
        w.rt.create(CreateRequest::new(&id, bad, &w.rootfs))
            .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidConfig { reason, .. } if reason.contains("process.cwd")),
        "{e}"
    );
    let child = w.rt.create(w.request(&id, &["sleep", "1000"])).unwrap();
    assert!(matches!(
        w.rt.create(w.request(&id, &["true"])),
        Err(Error::Exists { .. })
    ));
    assert!(matches!(
        w.rt.resume(&id),
        Err(Error::WrongStatus {
            op: Op::Resume,
            status: Status::Created,
            ..
        })
    ));
    w.rt.start(&id).unwrap();
    let e = w.rt.start(&id).unwrap_err();
    assert!(
        matches!(&e, Error::WrongStatus { op: Op::Start, status: Status::Running, id: i } if *i == id),
        "{e}"
    );
    // still the one-line message of nook-runtime
    assert!(!e.to_string().contains('\n'));
    assert!(e.to_string().contains(&id), "{e}");
    assert!(matches!(
        w.rt.delete(&id, false),
        Err(Error::WrongStatus {
            op: Op::Delete,
            status: Status::Running,
            ..
        })
    ));
    // (a pid namespace's init ignores signals it has no handler for)
    w.rt.kill(&id, libc::SIGKILL, false).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    let p = ProcessBuilder::default()
        .args(vec!["true".to_string()])
        .cwd("/")
        .build()
        .unwrap();
    assert!(matches!(
        w.rt.exec(ExecRequest::new(&id, p)),
        Err(Error::WrongStatus {
            op: Op::Exec,
            status: Status::Stopped,
            ..
        })
    ));
    w.rt.delete(&id, false).unwrap();
}

#[test]
fn containers_are_created_concurrently_from_threads_of_one_process() {
    let w = Arc::new(World::new("threads"));
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let w = Arc::clone(&w);
            std::thread::spawn(move || {
                let id = w.id(&format!("t{n}"));
                let (out_r, out_w) = pipe();
                let mut req = w.request(&id, &["sh", "-c", &format!("echo {n} $$")]);
                req.stdio.stdout = Some(out_w);
                let child = w.rt.create(req).expect("create");
                w.rt.start(&id).expect("start");
                assert_eq!(child.wait().unwrap(), ExitStatus::Exited(0));
                w.rt.delete(&id, false).expect("delete");
                read_all(out_r)
            })
        })
        .collect();
    for (n, t) in workers.into_iter().enumerate() {
        // each saw itself as pid 1 of its own pid namespace
        assert_eq!(t.join().unwrap(), format!("{n} 1\n"));
    }
    assert!(w.rt.list().unwrap().is_empty());
}

/// Records what the in-process hooks were told.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl LifecycleHooks for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn create_runtime(&self, ctx: &HookContext<'_>) -> Result<(), HookError> {
        let ns = std::fs::read_link(ctx.netns_path().ok_or("no netns")?)?;
        self.seen
            .lock()
            .unwrap()
            .push(format!("create {} {}", ctx.id, ns.display()));
        if ctx.id.contains("refused") {
            return Err("no network for you".into());
        }
        Ok(())
    }

    fn poststop(&self, ctx: &HookContext<'_>) -> Result<(), HookError> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("poststop {}", ctx.id));
        Ok(())
    }
}

#[test]
fn in_process_hooks_see_the_network_namespace_and_can_refuse() {
    let rec = Arc::new(Recorder::default());
    let hooks = Arc::clone(&rec);
    let w = World::with_runtime("hooks", |root| Runtime::new(root).with_hooks(hooks));
    let id = w.id("hooked");
    let child = w.rt.create(w.request(&id, &["true"])).unwrap();
    let netns = std::fs::read_link(format!("/proc/{}/ns/net", child.pid)).unwrap();
    assert_ne!(netns, std::fs::read_link("/proc/self/ns/net").unwrap());
    w.rt.start(&id).unwrap();
    child.wait().unwrap();
    w.rt.delete(&id, false).unwrap();
    let refused = w.id("refused");
    let e = w.rt.create(w.request(&refused, &["true"])).unwrap_err();
    assert!(
        matches!(&e, Error::Hook { which, reason, .. } if which == "recorder" && reason.contains("no network")),
        "{e}"
    );
    assert!(matches!(w.rt.state(&refused), Err(Error::NotFound { .. })));
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            format!("create {id} {}", netns.display()),
            format!("poststop {id}"),
            format!("create {refused} {}", seen[2].rsplit(' ').next().unwrap()),
            format!("poststop {refused}"),
        ]
    );
}

/// Lists, at createRuntime time, what the container's process has open.
#[derive(Debug, Default)]
struct FdLister {
    open: Mutex<Vec<PathBuf>>,
}

impl LifecycleHooks for FdLister {
    fn name(&self) -> &str {
        "fd-lister"
    }

    fn create_runtime(&self, ctx: &HookContext<'_>) -> Result<(), HookError> {
        let mut open = self.open.lock().unwrap();
        for e in std::fs::read_dir(format!("/proc/{}/fd", ctx.pid))? {
            open.extend(std::fs::read_link(e?.path()));
        }
        Ok(())
    }
}

#[test]
fn a_container_process_holds_none_of_the_callers_descriptors_while_it_is_set_up() {
    // What the caller has open when it creates a container (another
    // container's state lock, a pipe, a file) must not stay open in the
    // container's process during set-up: a lock held there made another
    // container look "creating" to `state`.
    let lister = Arc::new(FdLister::default());
    let hooks = Arc::clone(&lister);
    let w = World::with_runtime("fds", |root| Runtime::new(root).with_hooks(hooks));
    let marker = w.dir.join("marker");
    let _held = std::fs::File::create(&marker).unwrap();
    let id = w.id("fds");
    let child = w.rt.create(w.request(&id, &["true"])).unwrap();
    let open = lister.open.lock().unwrap().clone();
    assert!(!open.is_empty(), "the hook saw no descriptors at all");
    assert!(
        !open.contains(&marker),
        "the container's process held the caller's {}: {open:?}",
        marker.display()
    );
    w.rt.start(&id).unwrap();
    child.wait().unwrap();
    w.rt.delete(&id, false).unwrap();
}
