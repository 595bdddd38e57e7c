//! The terminal side of attached containers, through a pty this test
//! makes itself (nook's stdin, stdout and stderr, and its controlling
//! terminal): the container's terminal starts at the test's size and
//! follows it when the test resizes (SIGWINCH to nook); the detach keys
//! (default and `--detach-keys`) leave the container running, bad ones
//! are refused; `--sig-proxy` forwards signals to the container's
//! process and `--sig-proxy=false` does not; `run -a STDOUT|STDERR`;
//! an attached `run --restart on-failure:2` restarts as Docker does.
//! Every test removes its containers however it ends (the monitor
//! tests' `Store`), and kills the nook it started.

use super::monitor::Store;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `nook ARGS` on a pty of its own (its controlling terminal, in a
/// session of its own), everything it writes collected; killed on drop.
struct Session {
    master: OwnedFd,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Session {
    fn start(s: &Store, args: &[&str], rows: u16, cols: u16) -> Session {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).unwrap();
        let mut cmd = s.n.cmd(args);
        cmd.stdin(pty.slave.try_clone().unwrap())
            .stdout(pty.slave.try_clone().unwrap())
            .stderr(pty.slave.try_clone().unwrap());
        // SAFETY: setsid and an ioctl on the child's stdin, between fork
        // and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(pty.slave);
        let out = Arc::new(Mutex::new(Vec::new()));
        let mut reader = std::fs::File::from(pty.master.try_clone().unwrap());
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // (EIO once every slave is closed)
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Session {
            master: pty.master,
            child,
            out,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Wait until the output holds `needle`; while waiting, `poke` is
    /// typed every 200 ms (when not empty).
    fn wait_for(&self, needle: &str, poke: &[u8]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in {:?}",
                self.text()
            );
            if !poke.is_empty() {
                self.type_in(poke);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn type_in(&self, bytes: &[u8]) {
        nix::unistd::write(&self.master, bytes).unwrap();
    }

    /// Resize the terminal (the kernel sends SIGWINCH to nook).
    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a valid winsize on our master.
        assert_eq!(
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
            0
        );
    }

    /// nook's exit status, waited for (at most 15 s).
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "nook still runs: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_terminal_size_follows_the_caller_s() {
    let s = Store::new();
    // a line read per size printed; `q` ends it
    let script = "while true; do busybox stty size; read x; [ \"$x\" = q ] && exit 0; done";
    let mut t = Session::start(
        &s,
        &["run", "-it", "--name", "ww", "bb", "sh", "-c", script],
        30,
        100,
    );
    t.wait_for("30 100", b"");
    t.resize(40, 120);
    t.wait_for("40 120", b"\r");
    t.type_in(b"q\r");
    assert_eq!(t.wait().code(), Some(0), "{}", t.text());
    // attach sets the size too: a second session at another size
    let script = "echo up; while true; do read x; busybox stty size; done";
    s.n.ok(&["run", "-dit", "--name", "aa", "bb", "sh", "-c", script]);
    let t = Session::start(&s, &["attach", "aa"], 25, 90);
    t.wait_for("25 90", b"\r");
    t.resize(26, 91);
    t.wait_for("26 91", b"\r");
}

#[test]
fn detach_keys_leave_the_container_running() {
    let s = Store::new();
    let script = "echo ready; while true; do read x; echo got $x; done";
    let mut t = Session::start(
        &s,
        &["run", "-it", "--name", "dd", "bb", "sh", "-c", script],
        24,
        80,
    );
    t.wait_for("ready", b"");
    t.type_in(b"one\r");
    t.wait_for("got one", b"");
    t.type_in(b"\x10\x11");
    assert_eq!(t.wait().code(), Some(0), "{}", t.text());
    assert!(s.status_of("dd").starts_with("Up"), "{}", s.status_of("dd"));
    // attach with keys of its own: the default ones pass through
    let mut t = Session::start(&s, &["attach", "--detach-keys", "ctrl-x,y", "dd"], 24, 80);
    t.type_in(b"two\r");
    t.wait_for("got two", b"");
    // (ctrl-q is the container terminal's XON: ctrl-p alone is checked)
    t.type_in(b"\x10three\r");
    t.wait_for("got \x10three", b"");
    t.type_in(b"\x18y");
    assert_eq!(t.wait().code(), Some(1), "{}", t.text());
    t.wait_for("read escape sequence", b"");
    assert!(s.status_of("dd").starts_with("Up"), "{}", s.status_of("dd"));
    // --rm, detached from: removed once it exits
    let script = "echo ready; while true; do sleep 0.1; done";
    let args = [
        "run", "-it", "--rm", "--name", "dr", "bb", "sh", "-c", script,
    ];
    let mut t = Session::start(&s, &args, 24, 80);
    t.wait_for("ready", b"");
    t.type_in(b"\x10\x11");
    assert_eq!(t.wait().code(), Some(0), "{}", t.text());
    assert!(s.status_of("dr").starts_with("Up"), "{}", s.status_of("dr"));
    s.n.ok(&["kill", "dr"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !s.status_of("dr").is_empty() {
        assert!(Instant::now() < deadline, "{}", s.status_of("dr"));
        std::thread::sleep(Duration::from_millis(50));
    }
    // bad keys: refused, nothing made
    let e = s.n.fails(&["attach", "--detach-keys", "ctrl-pp", "dd"]);
    assert!(e.contains("ctrl-pp"), "{e}");
    let e =
        s.n.fails(&["run", "-it", "--detach-keys", "meta-a", "bb", "true"]);
    assert!(e.contains("meta-a"), "{e}");
    assert_eq!(s.n.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn start_i_sends_input_and_detaches() {
    let s = Store::new();
    let script = "echo ready; while true; do read x; echo got $x; done";
    s.n.ok(&["create", "-it", "--name", "si", "bb", "sh", "-c", script]);
    let e = s.n.fails(&["start", "-ai", "--detach-keys", "ctrl-", "si"]);
    assert!(e.contains("ctrl-"), "{e}");
    let args = ["start", "-ai", "--detach-keys", "ctrl-x,y", "si"];
    let mut t = Session::start(&s, &args, 24, 80);
    t.wait_for("ready", b"");
    t.type_in(b"hi\r");
    t.wait_for("got hi", b"");
    t.type_in(b"\x18y");
    assert_eq!(t.wait().code(), Some(0), "{}", t.text());
    assert!(s.status_of("si").starts_with("Up"), "{}", s.status_of("si"));
}

/// `nook ARGS` with its output on a pipe; the lines it writes.
fn spawn_piped(s: &Store, args: &[&str]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = s.n.cmd(args).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in out.lines().map_while(|l| l.ok()) {
            let _ = tx.send(l);
        }
    });
    (child, rx)
}

fn next_line(rx: &std::sync::mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(15)).unwrap()
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
}

const TRAPS: &str = "trap 'echo got USR1; touch /tmp/usr1' USR1; \
                     trap 'echo got TERM; exit 7' TERM; \
                     echo ready; while true; do sleep 0.1; done";

#[test]
fn sig_proxy_forwards_signals_to_the_container() {
    use nix::sys::signal::Signal;
    let s = Store::new();
    let (mut child, rx) = spawn_piped(&s, &["run", "--name", "pp", "bb", "sh", "-c", TRAPS]);
    let guard = KillOnDrop(&mut child);
    assert_eq!(next_line(&rx), "ready");
    signal(guard.0, Signal::SIGUSR1);
    assert_eq!(next_line(&rx), "got USR1");
    signal(guard.0, Signal::SIGTERM);
    assert_eq!(next_line(&rx), "got TERM");
    let st = guard.0.wait().unwrap();
    assert_eq!(st.code(), Some(7), "{st}");
    drop(guard);
    // --sig-proxy=false: nook dies of it, the container runs on untouched
    let args = [
        "run",
        "--sig-proxy=false",
        "--name",
        "ff",
        "bb",
        "sh",
        "-c",
        TRAPS,
    ];
    let (mut child, rx) = spawn_piped(&s, &args);
    let guard = KillOnDrop(&mut child);
    assert_eq!(next_line(&rx), "ready");
    signal(guard.0, Signal::SIGUSR1);
    let st = guard.0.wait().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGUSR1), "{st}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.status_of("ff").starts_with("Up"), "{}", s.status_of("ff"));
    let seen = |s: &Store| s.n.ok(&["exec", "ff", "sh", "-c", "ls /tmp/usr1 || true"]);
    assert_eq!(seen(&s), "", "the container got the signal");
    // (the trap works: a signal sent to it is seen)
    s.n.ok(&["kill", "-s", "USR1", "ff"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(seen(&s), "/tmp/usr1\n");
}

#[test]
fn start_a_and_attach_forward_signals_too() {
    use nix::sys::signal::Signal;
    let s = Store::new();
    s.n.ok(&["create", "--name", "sa", "bb", "sh", "-c", TRAPS]);
    let (mut child, rx) = spawn_piped(&s, &["start", "-a", "sa"]);
    let guard = KillOnDrop(&mut child);
    assert_eq!(next_line(&rx), "ready");
    signal(guard.0, Signal::SIGUSR1);
    assert_eq!(next_line(&rx), "got USR1");
    // another client, attached to it: its signals go there too
    let (mut other, rx2) = spawn_piped(&s, &["attach", "sa"]);
    let other = KillOnDrop(&mut other);
    std::thread::sleep(Duration::from_millis(300)); // (connected)
    signal(other.0, Signal::SIGTERM);
    assert_eq!(next_line(&rx2), "got TERM");
    assert_eq!(next_line(&rx), "got TERM");
    assert_eq!(other.0.wait().unwrap().code(), Some(7));
    assert_eq!(guard.0.wait().unwrap().code(), Some(7));
}

/// A child killed (and reaped) on drop.
struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn run_attaches_the_streams_asked_for() {
    let s = Store::new();
    let script = "echo out; echo err >&2";
    let out = s.n.run(&["run", "-a", "STDOUT", "bb", "sh", "-c", script]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let out = s.n.run(&["run", "-a", "stderr", "bb", "sh", "-c", script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = s.n.run(&[
        "run", "-a", "stdout", "-a", "STDERR", "bb", "sh", "-c", script,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let before = s.n.ok(&["ps", "-aq"]).lines().count();
    let e = s.n.fails(&["run", "-a", "stdio", "bb", "true"]);
    assert!(e.contains("\"stdio\""), "{e}");
    let e = s.n.fails(&["run", "-d", "-a", "stdout", "bb", "true"]);
    assert!(e.contains("-a and -d"), "{e}");
    assert_eq!(s.n.ok(&["ps", "-aq"]).lines().count(), before);
}

#[test]
fn an_attached_run_restarts_as_docker_s() {
    let s = Store::new();
    let args = [
        "run",
        "--name",
        "rr",
        "--restart",
        "on-failure:2",
        "bb",
        "sh",
        "-c",
    ];
    let out = s.n.run(&[&args[..], &["echo run; exit 3"]].concat());
    // the client follows the first run, and ends with its code
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run\n");
    // the container is restarted twice, then stays exited
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = s.n.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
    loop {
        let rec = s.record(&id).unwrap();
        if rec.restart_count == 2 && s.status_of("rr").starts_with("Exited (3)") {
            break;
        }
        assert!(Instant::now() < deadline, "{rec:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.n.ok(&["logs", "rr"]), "run\nrun\nrun\n");
    // with a terminal (under its monitor from the start): the same
    let args = [
        "run",
        "-t",
        "--name",
        "rt",
        "--restart",
        "on-failure:1",
        "bb",
    ];
    let out =
        s.n.run(&[&args[..], &["sh", "-c", "echo run; exit 4"]].concat());
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.status_of("rt").starts_with("Exited (4)")
        || s.n.ok(&["logs", "rt"]).lines().count() < 2
    {
        assert!(Instant::now() < deadline, "{}", s.status_of("rt"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ps -a`'s STATUS by name.
trait StatusOf {
    fn status_of(&self, name: &str) -> String;
}

impl StatusOf for Store {
    fn status_of(&self, name: &str) -> String {
        self.n
            .ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(String::from))
            .unwrap_or_default()
    }
}

/// A line read, and shown.
const READ: &str = "read x; echo got $x";

#[test]
fn exec_has_a_terminal_its_input_and_a_detached_mode() {
    use std::io::Write;
    let s = Store::new();
    let script = "while true; do sleep 0.1; done";
    s.n.ok(&["run", "-d", "--name", "ex", "bb", "sh", "-c", script]);
    let script = "while true; do busybox stty size; read x; [ \"$x\" = q ] && exit 5; done";
    let args = ["exec", "-it", "ex", "sh", "-c", script];
    let mut t = Session::start(&s, &args, 20, 70);
    t.wait_for("20 70", b"");
    t.resize(21, 71);
    t.wait_for("21 71", b"\r");
    t.type_in(b"q\r");
    assert_eq!(t.wait().code(), Some(5), "{}", t.text());
    // detach keys
    let args = ["exec", "-it", "--detach-keys", "ctrl-x,y", "ex", "sh"];
    let mut t = Session::start(&s, &args, 20, 70);
    t.type_in(b"echo in$((1+1))\r");
    t.wait_for("in2", b"");
    t.type_in(b"\x18y");
    assert_eq!(t.wait().code(), Some(1), "{}", t.text());
    t.wait_for("read escape sequence", b"");
    let e =
        s.n.fails(&["exec", "-it", "--detach-keys", "ctrl-", "ex", "sh"]);
    assert!(e.contains("ctrl-"), "{e}");
    // -i: this process's input; without it, none
    let mut c = s.n.cmd(&["exec", "-i", "ex", "sh", "-c", READ]);
    let mut c = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"data\n").unwrap();
    let out = c.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got data\n");
    let mut c = s.n.cmd(&["exec", "ex", "sh", "-c", READ]);
    let mut c = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut open = c.stdin.take().unwrap();
    let _ = open.write_all(b"data\n");
    let out = c.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got\n");
    // -d: started, not waited for
    let out =
        s.n.ok(&["exec", "-d", "ex", "sh", "-c", "sleep 0.3; touch /tmp/done"]);
    assert_eq!(out, "");
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.n.ok(&["exec", "ex", "sh", "-c", "ls /tmp/done || true"]) != "/tmp/done\n" {
        assert!(Instant::now() < deadline, "exec -d did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
}
