//! `nook-hot-trace OUT -- PROGRAM ARGS...`: single-steps PROGRAM and every
//! process it forks (until they exec something else) and appends to OUT the
//! offsets, inside PROGRAM's own file, of every instruction they executed.
//!
//! `scripts/hot-order` turns those offsets into the symbol ordering file
//! that links nook-runtime's hot code together: the kernel maps a binary's
//! pages 64 KiB at a time ("fault-around"), so code that runs on every
//! command, scattered over a 3 MB text, costs most of a peak RSS.  A
//! development tool; slow (every instruction is a ptrace stop).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Write;

fn die(msg: &str) -> ! {
    eprintln!("nook-hot-trace: {msg}");
    std::process::exit(1);
}

/// The executable mapping range of `exe` in process `pid`: (start, end, file offset).
fn text_maps(pid: i32, exe: &str) -> Vec<(u64, u64, u64)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut out = Vec::new();
    for l in maps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 6 && f[1].contains('x') && f[5] == exe {
            let (a, b) = f[0].split_once('-').unwrap();
            out.push((
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
                u64::from_str_radix(f[2], 16).unwrap(),
            ));
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 || args[2] != "--" {
        die("usage: nook-hot-trace OUT -- PROGRAM ARGS...");
    }
    let out = &args[1];
    let exe = std::fs::canonicalize(&args[3]).unwrap_or_else(|e| die(&format!("{}: {e}", args[3])));
    let exe_s = exe.to_string_lossy().into_owned();
    let cargs: Vec<CString> = args[3..]
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap())
        .collect();
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let cexe = CString::new(exe_s.clone()).unwrap();
    // SAFETY: fork/ptrace/exec; the child only makes async-signal-safe calls.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
            libc::execv(cexe.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a valid out-pointer.
    unsafe { libc::waitpid(child, &mut status, 0) };
    let opts = libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACEEXEC;
    // SAFETY: ptrace on our stopped tracee with plain integer options.
    unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, child, 0, opts) };
    // tid -> executable ranges of our binary in it (empty: not tracing it)
    let mut maps: HashMap<i32, Vec<(u64, u64, u64)>> = HashMap::new();
    let mut execs: HashMap<i32, u32> = HashMap::new();
    maps.insert(child, Vec::new());
    execs.insert(child, 0);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut steps: u64 = 0;
    // SAFETY: resumes our stopped tracee.
    unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, child, 0, 0) };
    let mut rc = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if tid < 0 {
            break;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if tid == child {
                rc = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                };
                // what it left running (a container's init waiting for
                // `start`) is let go when the tracer exits
                break;
            }
            maps.remove(&tid);
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        let mut inject = 0;
        if event == libc::PTRACE_EVENT_EXEC {
            let n = execs.entry(tid).or_insert(0);
            *n += 1;
            if *n > 1 || !maps.contains_key(&tid) {
                // it became another program: let it go
                maps.remove(&tid);
                // SAFETY: detaches a stopped tracee and wakes it; no memory is passed.
                unsafe {
                    libc::ptrace(libc::PTRACE_DETACH, tid, 0, 0);
                    // a stop queued while it was traced must not keep it
                    libc::kill(tid, libc::SIGCONT);
                }
                continue;
            }
            maps.insert(tid, text_maps(tid, &exe_s));
        } else if event == libc::PTRACE_EVENT_CLONE
            || event == libc::PTRACE_EVENT_FORK
            || event == libc::PTRACE_EVENT_VFORK
        {
            let mut new: libc::c_ulong = 0;
            // SAFETY: the event message is written to a c_ulong we own.
            unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, tid, 0, &mut new) };
            let m = maps.get(&tid).cloned().unwrap_or_default();
            maps.insert(new as i32, m);
            execs.insert(new as i32, 1);
        } else if event == 0 && sig != libc::SIGTRAP {
            if sig == libc::SIGSTOP && !maps.contains_key(&tid) {
                // a new child's first stop
                maps.entry(tid).or_default();
            } else {
                inject = sig;
            }
        }
        if let Some(m) = maps.get(&tid) {
            if !m.is_empty() {
                // SAFETY: user_regs_struct is plain data; all-zero is a valid value.
                let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
                // SAFETY: PTRACE_GETREGS writes a user_regs_struct into `regs`, which we own.
                unsafe { libc::ptrace(libc::PTRACE_GETREGS, tid, 0, &mut regs) };
                let rip = regs.rip;
                if let Some((a, _, off)) = m.iter().find(|(a, b, _)| rip >= *a && rip < *b) {
                    seen.insert(rip - a + off);
                }
                steps += 1;
            }
        }
        if let std::collections::hash_map::Entry::Vacant(e) = maps.entry(tid) {
            execs.entry(tid).or_insert(1);
            e.insert(Vec::new());
        }
        // SAFETY: resumes our stopped tracee, passing on a signal number.
        unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, tid, 0, inject as libc::c_long) };
    }
    // processes still traced (a container's init waiting for `start`) are
    // detached when the tracer exits; wake any that a queued stop holds
    let left: Vec<i32> = maps.keys().copied().filter(|t| *t != child).collect();
    // SAFETY: the tracer is single-threaded; the child only sleeps, signals and _exits.
    if !left.is_empty() && unsafe { libc::fork() } == 0 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        for t in left {
            // SAFETY: kill with a pid and a signal number.
            unsafe { libc::kill(t, libc::SIGCONT) };
        }
        // SAFETY: leaves without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap_or_else(|e| die(&format!("{out}: {e}")));
    let mut v: Vec<u64> = seen.into_iter().collect();
    v.sort_unstable();
    for o in &v {
        writeln!(f, "{o:x}").unwrap();
    }
    eprintln!(
        "nook-hot-trace: {} steps, {} distinct instructions",
        steps,
        v.len()
    );
    std::process::exit(rc);
}
