//! Starting the container's program without exposing the runtime binary.
//!
//! nook never re-executes itself: the container's process is a fork of the
//! runtime, so until it calls `execve` its `/proc/self/exe` is the runtime's
//! binary on the host.  A hostile image can make that `execve` run
//! `/proc/self/exe` (a symlink, a `#!/proc/self/exe` script, an ELF
//! interpreter) and so obtain a handle on the host binary to overwrite it
//! later (CVE-2019-5736).  To close that, the final `execve` is made from a
//! tiny static program (under 250 bytes) held in a sealed memfd: whatever
//! `/proc/self/exe` resolves to at that moment is that read-only memfd.  The
//! trampoline receives `[MAGIC, path, argv...]` and calls
//! `execve(path, argv, envp)`; started any other way it exits with 127.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nook_sys::Errno;

use crate::{Result, SecurityError};

const MSG: &[u8] = b"nook: exec of the container process failed\n";

/// `argv[0]` nook gives the trampoline.  Anything else starting it (a
/// `#!/proc/self/exe` script, an ELF interpreter, a container process that
/// found the memfd) gets an error instead of an exec: without this, such a
/// script would make the trampoline execute itself forever.
pub const MAGIC: &[u8; 8] = b"nooktrmp";

/// x86_64 machine code of the trampoline (position independent).
#[cfg(target_arch = "x86_64")]
fn code() -> (u16, Vec<u8>) {
    let mut c: Vec<u8> = vec![
        0x48, 0x89, 0xe3, // mov rbx, rsp
        0x48, 0x83, 0x3b, 0x02, // cmp qword [rbx], 2      argc >= 2?
        0x72, 0, // jb fail
        0x48, 0x8b, 0x7b, 0x08, // mov rdi, [rbx+8]        argv[0]
        0x48, 0xb8, // mov rax, MAGIC
    ];
    let jb = 8; // the rel8 of `jb fail`
    c.extend_from_slice(MAGIC);
    c.extend_from_slice(&[0x48, 0x39, 0x07]); // cmp [rdi], rax
    c.extend_from_slice(&[0x75, 0]); // jne fail
    let jne1 = c.len() - 1;
    c.extend_from_slice(&[0x80, 0x7f, 0x08, 0x00]); // cmp byte [rdi+8], 0
    c.extend_from_slice(&[0x75, 0]); // jne fail
    let jne2 = c.len() - 1;
    c.extend_from_slice(&[
        0x48, 0x8b, 0x7b, 0x10, // mov rdi, [rbx+16]       path = argv[1]
        0x48, 0x8d, 0x73, 0x18, // lea rsi, [rbx+24]       argv = &argv[2]
        0x48, 0x8b, 0x0b, // mov rcx, [rbx]          argc
        0x48, 0x8d, 0x54, 0xcb, 0x10, // lea rdx, [rbx+rcx*8+16] envp
        0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
        0x0f, 0x05, // syscall
    ]);
    let fail = c.len();
    for j in [jb, jne1, jne2] {
        c[j] = (fail - (j + 1)) as u8;
    }
    c.extend_from_slice(&[
        0xbf, 0x02, 0x00, 0x00, 0x00, // mov edi, 2
        0x48, 0x8d, 0x35, 0, 0, 0, 0, // lea rsi, [rip+msg]
    ]);
    let after_lea = c.len();
    c.extend_from_slice(&[0xba]); // mov edx, len
    c.extend_from_slice(&(MSG.len() as u32).to_le_bytes());
    c.extend_from_slice(&[
        0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (write)
        0x0f, 0x05, // syscall
        0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
        0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
        0x0f, 0x05, // syscall
    ]);
    let disp = (c.len() - after_lea) as u32;
    c[after_lea - 4..after_lea].copy_from_slice(&disp.to_le_bytes());
    c.extend_from_slice(MSG);
    (0x3e, c)
}

#[cfg(not(target_arch = "x86_64"))]
fn code() -> (u16, Vec<u8>) {
    (0, Vec::new())
}

/// A static ELF executable holding the trampoline, or `None` on
/// architectures without one.
pub fn trampoline_elf() -> Option<Vec<u8>> {
    let (machine, code) = code();
    if code.is_empty() {
        return None;
    }
    const BASE: u64 = 0x40_0000;
    const HDR: u64 = 64 + 56;
    let total = HDR + code.len() as u64;
    let mut e = Vec::with_capacity(total as usize);
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&machine.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(BASE + HDR).to_le_bytes()); // entry
    e.extend_from_slice(&64u64.to_le_bytes()); // phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // flags
    e.extend_from_slice(&64u16.to_le_bytes()); // ehsize
    e.extend_from_slice(&56u16.to_le_bytes()); // phentsize
    e.extend_from_slice(&1u16.to_le_bytes()); // phnum
    e.extend_from_slice(&0u16.to_le_bytes()); // shentsize
    e.extend_from_slice(&0u16.to_le_bytes()); // shnum
    e.extend_from_slice(&0u16.to_le_bytes()); // shstrndx
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R+X
    e.extend_from_slice(&0u64.to_le_bytes()); // offset
    e.extend_from_slice(&BASE.to_le_bytes()); // vaddr
    e.extend_from_slice(&BASE.to_le_bytes()); // paddr
    e.extend_from_slice(&total.to_le_bytes()); // filesz
    e.extend_from_slice(&total.to_le_bytes()); // memsz
    e.extend_from_slice(&0x1000u64.to_le_bytes()); // align
    e.extend_from_slice(&code);
    Some(e)
}

const MFD_EXEC: u32 = 0x10;
const F_SEAL_EXEC: i32 = 0x20;

/// The trampoline in a sealed memfd (no write, grow, shrink or reseal).
pub fn sealed_trampoline() -> Result<Option<OwnedFd>> {
    let Some(elf) = trampoline_elf() else {
        return Ok(None);
    };
    let name = c"nook-exec";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a valid name; MFD_EXEC is refused by kernels
    // before 6.3, then we retry without it.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
    if fd < 0 {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(SecurityError::Exec(format!(
            "memfd_create: {}",
            Errno::last()
        )));
    }
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    nook_sys::fd::write_all(fd.as_raw_fd(), &elf)
        .map_err(|e| SecurityError::Exec(format!("write trampoline: {e}")))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our memfd.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals | F_SEAL_EXEC) } < 0
        && unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0
    {
        return Err(SecurityError::Exec(format!(
            "seal trampoline: {}",
            Errno::last()
        )));
    }
    Ok(Some(fd))
}

fn cvec(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes())
                .map_err(|_| SecurityError::Exec(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

/// Replace the calling process with `path` (argv `args`, environment `env`),
/// through the sealed `trampoline` when there is one.  Returns only on
/// failure.
pub fn exec(
    trampoline: Option<&OwnedFd>,
    path: &str,
    args: &[String],
    env: &[String],
) -> SecurityError {
    let run = || -> Result<()> {
        let cpath = CString::new(path)
            .map_err(|_| SecurityError::Exec("path contains a NUL byte".into()))?;
        let cargs = cvec(args)?;
        let cenv = cvec(env)?;
        let mut envp: Vec<*const libc::c_char> = cenv.iter().map(|c| c.as_ptr()).collect();
        envp.push(std::ptr::null());
        if let Some(t) = trampoline {
            let magic = CString::new(&MAGIC[..]).expect("no NUL in MAGIC");
            let mut argv: Vec<*const libc::c_char> = Vec::with_capacity(args.len() + 3);
            argv.push(magic.as_ptr());
            argv.push(cpath.as_ptr());
            argv.extend(cargs.iter().map(|c| c.as_ptr()));
            argv.push(std::ptr::null());
            let empty = c"";
            // SAFETY: NULL-terminated argv/envp of live CStrings.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    t.as_raw_fd(),
                    empty.as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            };
            let e = Errno::last();
            // A seccomp profile may deny execveat (but allow execve); only
            // then is the program started directly.
            if !matches!(e, Errno::EPERM | Errno::ENOSYS | Errno::EACCES) {
                return Err(SecurityError::Exec(format!("execveat trampoline: {e}")));
            }
            tracing::debug!("exec trampoline refused ({e}); executing {path} directly");
        }
        let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        argv.push(std::ptr::null());
        // SAFETY: NULL-terminated argv/envp of live CStrings.
        unsafe { libc::execve(cpath.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Err(SecurityError::Exec(format!("{path}: {}", Errno::last())))
    };
    match run() {
        Err(e) => e,
        Ok(()) => SecurityError::Exec("execve returned".into()),
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn run_child(args: &[&str]) -> (i32, String) {
        let t = sealed_trampoline().unwrap().unwrap();
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let out = std::env::temp_dir().join(format!("nook-exe-test-{}-{n}", std::process::id()));
        let outc = CString::new(out.to_str().unwrap()).unwrap();
        // SAFETY: fork in a test; the child execs or exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                let fd = libc::open(
                    outc.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                    0o600,
                );
                libc::dup2(fd, 1);
                libc::dup2(fd, 2);
            }
            let a: Vec<String> = args[1..].iter().map(|s| s.to_string()).collect();
            let _ = exec(Some(&t), args[0], &a, &["X=1".to_string()]);
            // SAFETY: the forked test child leaves without running the parent's destructors.
            unsafe { libc::_exit(99) };
        }
        let mut st = 0;
        // SAFETY: waits for our own child; `st` is a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        let s = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        (libc::WEXITSTATUS(st), s)
    }

    #[test]
    fn trampoline_runs_the_program_with_args_and_env() {
        let (code, out) = run_child(&["/bin/sh", "sh", "-c", "echo $0 $1 $X", "zero", "one"]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(out, "zero one 1\n");
    }

    #[test]
    fn proc_self_exe_is_the_sealed_memfd() {
        // Executing /proc/self/exe from the trampoline re-runs the
        // trampoline, which refuses (wrong argv[0]) instead of looping;
        // never the test binary.
        let (code, out) = run_child(&["/proc/self/exe", "/proc/self/exe"]);
        assert_eq!(code, 127, "{out:?}");
        assert!(
            out.contains("exec of the container process failed"),
            "{out:?}"
        );
    }

    #[test]
    fn missing_program_reports() {
        let (code, out) = run_child(&["/nonexistent/prog", "prog"]);
        assert_eq!(code, 127);
        assert!(out.contains("failed"));
    }

    #[test]
    fn memfd_is_sealed() {
        let t = sealed_trampoline().unwrap().unwrap();
        let p = format!("/proc/self/fd/{}", t.as_raw_fd());
        let w = std::fs::OpenOptions::new().write(true).open(&p);
        if let Ok(mut f) = w {
            use std::io::Write;
            assert!(
                f.write_all(b"x").is_err(),
                "a sealed memfd must refuse writes"
            );
        }
    }
}
