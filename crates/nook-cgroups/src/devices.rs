//! Device access rules: which device nodes a container may read, write or
//! create.  Rules are evaluated like the v1 devices controller does: in
//! order, the last rule that matches a request decides, and nothing matched
//! means denied.  On v1 they are written to `devices.allow`/`devices.deny`;
//! on v2 they are compiled into a `BPF_PROG_TYPE_CGROUP_DEVICE` program.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::{CgroupError, Result};

/// Access bits (as the kernel's `BPF_DEVCG_ACC_*`).
pub const ACC_MKNOD: u32 = 1;
/// Read access.
pub const ACC_READ: u32 = 2;
/// Write access.
pub const ACC_WRITE: u32 = 4;

/// One device rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow or deny.
    pub allow: bool,
    /// `a` (all), `c` (char) or `b` (block).
    pub kind: char,
    /// Major number; `None` = any.
    pub major: Option<u32>,
    /// Minor number; `None` = any.
    pub minor: Option<u32>,
    /// Access bits (`ACC_*`).
    pub access: u32,
}

impl DeviceRule {
    const fn allow_char(major: u32, minor: Option<u32>) -> DeviceRule {
        DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(major),
            minor,
            access: ACC_MKNOD | ACC_READ | ACC_WRITE,
        }
    }

    /// The line for v1 `devices.allow`/`devices.deny`.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' {
            return "a".into();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            access_str(self.access)
        )
    }

    /// Does this rule match a request?  The request's access must be within
    /// the rule's.
    pub fn matches(&self, kind: char, major: u32, minor: u32, access: u32) -> bool {
        (self.kind == 'a' || self.kind == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && access & !self.access == 0
    }
}

/// `rwm` letters of access bits.
pub fn access_str(a: u32) -> String {
    let mut s = String::new();
    if a & ACC_READ != 0 {
        s.push('r');
    }
    if a & ACC_WRITE != 0 {
        s.push('w');
    }
    if a & ACC_MKNOD != 0 {
        s.push('m');
    }
    s
}

/// Parse `rwm` letters (empty = all three).
pub fn parse_access(s: &str) -> Result<u32> {
    if s.is_empty() {
        return Ok(ACC_MKNOD | ACC_READ | ACC_WRITE);
    }
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(CgroupError::Invalid {
                    controller: "devices".into(),
                    msg: format!("access {s:?} is not made of r, w and m"),
                })
            }
        };
    }
    Ok(a)
}

/// The devices every container may use in addition to its rules, as runc
/// and crun grant them: mknod of anything, and the standard nodes.
pub fn default_allowed() -> Vec<DeviceRule> {
    let m = |kind| DeviceRule {
        allow: true,
        kind,
        major: None,
        minor: None,
        access: ACC_MKNOD,
    };
    vec![
        m('c'),
        m('b'),
        DeviceRule::allow_char(1, Some(3)), // null
        DeviceRule::allow_char(1, Some(8)), // random
        DeviceRule::allow_char(1, Some(7)), // full
        DeviceRule::allow_char(5, Some(0)), // tty
        DeviceRule::allow_char(1, Some(5)), // zero
        DeviceRule::allow_char(1, Some(9)), // urandom
        DeviceRule::allow_char(136, None),  // pts
        DeviceRule::allow_char(5, Some(2)), // ptmx
    ]
}

fn num(v: Option<i64>, what: &str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(CgroupError::Invalid {
            controller: "devices".into(),
            msg: format!("{what} number {n} is out of range"),
        }),
    }
}

/// The rules of `linux.resources.devices`, validated.
pub fn from_spec(list: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    list.iter()
        .map(|d| {
            let kind = match d.typ() {
                None | Some(LinuxDeviceType::A) => 'a',
                Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
                Some(LinuxDeviceType::B) => 'b',
                Some(LinuxDeviceType::P) => {
                    return Err(CgroupError::Invalid {
                        controller: "devices".into(),
                        msg: "a device rule cannot have type p (FIFOs need no permission)".into(),
                    })
                }
            };
            Ok(DeviceRule {
                allow: d.allow(),
                kind,
                major: num(d.major(), "major")?,
                minor: num(d.minor(), "minor")?,
                access: parse_access(d.access().as_deref().unwrap_or(""))?,
            })
        })
        .collect()
}

/// The full rule list of a container: its own rules, then the defaults.
pub fn effective(list: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    let mut r = from_spec(list)?;
    r.extend(default_allowed());
    Ok(r)
}

/// Evaluate rules the way the kernel's v1 controller (and our v2 program)
/// does: last match wins, default deny.
pub fn allowed(rules: &[DeviceRule], kind: char, major: u32, minor: u32, access: u32) -> bool {
    rules
        .iter()
        .rev()
        .find(|r| r.matches(kind, major, minor, access))
        .is_some_and(|r| r.allow)
}

// ---------------------------------------------------------------- eBPF (v2)

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND_K: u8 = 0x57; // r_dst &= imm
const RSH_K: u8 = 0x77; // r_dst >>= imm
const MOV_X: u8 = 0xbf; // r_dst = r_src
const MOV_K: u8 = 0xb7; // r_dst = imm
const JNE_K: u8 = 0x55; // if r_dst != imm goto pc + off
const EXIT: u8 = 0x95;

/// Compile rules into a cgroup device program (`bpf_cgroup_dev_ctx` in r1:
/// `access_type` = access << 16 | type, then major, minor).
pub fn compile(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff), // r2 = type (1 block, 2 char)
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16), // r3 = access
        insn(LDX_W, 4, 1, 4, 0),  // r4 = major
        insn(LDX_W, 5, 1, 8, 0),  // r5 = minor
    ];
    for r in rules.iter().rev() {
        // A rule that matches every request decides everything after it:
        // the verifier refuses unreachable instructions, so stop here.
        let unconditional = r.kind == 'a'
            && r.major.is_none()
            && r.minor.is_none()
            && r.access == ACC_MKNOD | ACC_READ | ACC_WRITE;
        if unconditional {
            p.push(insn(MOV_K, 0, 0, 0, r.allow as i32));
            p.push(insn(EXIT, 0, 0, 0, 0));
            return p;
        }
        let mut block: Vec<Insn> = Vec::new();
        // Each check jumps to the end of this rule's block when it fails;
        // offsets are patched once the block length is known.
        let mut jumps = Vec::new();
        if r.kind != 'a' {
            jumps.push(block.len());
            block.push(insn(JNE_K, 2, 0, 0, if r.kind == 'b' { 1 } else { 2 }));
        }
        if r.access != ACC_MKNOD | ACC_READ | ACC_WRITE {
            block.push(insn(MOV_X, 1, 3, 0, 0));
            block.push(insn(AND_K, 1, 0, 0, (!r.access & 7) as i32));
            jumps.push(block.len());
            block.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(m) = r.major {
            jumps.push(block.len());
            block.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            jumps.push(block.len());
            block.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, r.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_ATTACH: i32 = 8;
const BPF_PROG_DETACH: i32 = 9;
const BPF_PROG_GET_FD_BY_ID: i32 = 13;
const BPF_PROG_QUERY: i32 = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(cmd: i32, attr: &mut [u64; 16]) -> std::result::Result<i64, nook_sys::Errno> {
    // SAFETY: attr is a zero-padded 128-byte bpf_attr.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if r < 0 {
        Err(nook_sys::Errno::last())
    } else {
        Ok(r)
    }
}

fn put32(attr: &mut [u64; 16], off: usize, v: u32) {
    // SAFETY: off is within the 128-byte buffer and 4-aligned.
    unsafe {
        (attr.as_mut_ptr() as *mut u8)
            .add(off)
            .cast::<u32>()
            .write(v)
    }
}

impl CgroupError {
    fn with_detail(self, d: &str) -> CgroupError {
        match self {
            CgroupError::Unsupported { controller, msg } if !d.is_empty() => {
                CgroupError::Unsupported {
                    controller,
                    msg: format!("{msg} ({d})"),
                }
            }
            e => e,
        }
    }
}

fn bpf_err(op: &str, e: nook_sys::Errno) -> CgroupError {
    CgroupError::Unsupported {
        controller: "devices".into(),
        msg: format!("{op} of the eBPF device program: {e}"),
    }
}

/// Load the program for `rules` and attach it to the cgroup v2 directory
/// `dir`, then detach the programs that were attached before (so an update
/// never leaves a window without a filter).
pub fn attach_v2(dir: BorrowedFd<'_>, rules: &[DeviceRule]) -> Result<()> {
    let prog = compile(rules);
    let license = b"Apache-2.0\0";
    let mut attr = [0u64; 16];
    put32(&mut attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE);
    put32(&mut attr, 4, prog.len() as u32);
    attr[1] = prog.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(e) => {
            // Ask the verifier why, for the error message.
            let mut log = vec![0u8; 16 * 1024];
            put32(&mut attr, 24, 1);
            put32(&mut attr, 28, log.len() as u32);
            attr[4] = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let why = text
                .trim_end_matches('\0')
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            return Err(bpf_err("load", e).with_detail(&why));
        }
    };
    // SAFETY: the kernel returned a new program fd.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let old = query(dir).unwrap_or_default();
    let mut attr = [0u64; 16];
    put32(&mut attr, 0, dir.as_raw_fd() as u32);
    put32(&mut attr, 4, prog_fd.as_raw_fd() as u32);
    put32(&mut attr, 8, BPF_CGROUP_DEVICE);
    put32(&mut attr, 12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| bpf_err("attach", e))?;
    for id in old {
        let mut a = [0u64; 16];
        put32(&mut a, 0, id);
        let Ok(ofd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut a) else {
            continue;
        };
        // SAFETY: new fd from the kernel.
        let ofd = unsafe { OwnedFd::from_raw_fd(ofd as i32) };
        let mut d = [0u64; 16];
        put32(&mut d, 0, dir.as_raw_fd() as u32);
        put32(&mut d, 4, ofd.as_raw_fd() as u32);
        put32(&mut d, 8, BPF_CGROUP_DEVICE);
        let _ = bpf(BPF_PROG_DETACH, &mut d);
    }
    Ok(())
}

fn query(dir: BorrowedFd<'_>) -> std::result::Result<Vec<u32>, nook_sys::Errno> {
    let mut ids = [0u32; 64];
    let mut attr = [0u64; 16];
    put32(&mut attr, 0, dir.as_raw_fd() as u32);
    put32(&mut attr, 4, BPF_CGROUP_DEVICE);
    attr[2] = ids.as_mut_ptr() as u64;
    put32(&mut attr, 24, ids.len() as u32);
    bpf(BPF_PROG_QUERY, &mut attr)?;
    // SAFETY: reading back prog_cnt at offset 24.
    let n = unsafe { (attr.as_ptr() as *const u8).add(24).cast::<u32>().read() } as usize;
    Ok(ids[..n.min(ids.len())].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions `compile` emits.
    fn run(p: &[Insn], kind: char, major: u32, minor: u32, access: u32) -> u64 {
        let t = if kind == 'b' { 1 } else { 2 };
        let ctx = [(access << 16) | t, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize] as u64,
                AND_K => r[dst] &= i.imm as u32 as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = i.imm as u32 as u64,
                JNE_K => {
                    if r[dst] != i.imm as u32 as u64 {
                        pc = (pc as i64 + i.off as i64) as usize
                    }
                }
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    fn spec(j: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn program_agrees_with_rules() {
        let rules = effective(&spec(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":10,"minor":229,"access":"rw"},
                {"allow":true,"type":"b","major":8,"access":"r"},
                {"allow":false,"type":"c","major":1,"minor":9,"access":"w"}]"#,
        ))
        .unwrap();
        let p = compile(&rules);
        let cases = [
            ('c', 1, 3, ACC_READ | ACC_WRITE),
            ('c', 1, 9, ACC_READ),
            ('c', 1, 9, ACC_WRITE),
            ('c', 10, 229, ACC_READ),
            ('c', 10, 229, ACC_MKNOD),
            ('c', 10, 229, ACC_MKNOD | ACC_READ),
            ('b', 8, 1, ACC_READ),
            ('b', 8, 1, ACC_WRITE),
            ('b', 7, 0, ACC_MKNOD),
            ('c', 4, 1, ACC_READ),
            ('c', 136, 5, ACC_READ | ACC_WRITE),
        ];
        for (k, ma, mi, acc) in cases {
            let want = allowed(&rules, k, ma, mi, acc);
            assert_eq!(
                run(&p, k, ma, mi, acc) == 1,
                want,
                "{k} {ma}:{mi} {}",
                access_str(acc)
            );
        }
        assert!(allowed(&rules, 'c', 1, 3, ACC_READ));
        assert!(!allowed(&rules, 'c', 4, 1, ACC_READ));
        assert!(allowed(&rules, 'c', 10, 229, ACC_READ));
        assert!(allowed(&rules, 'b', 7, 0, ACC_MKNOD));
    }

    #[test]
    fn allow_all_then_deny() {
        let rules = from_spec(&spec(
            r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3}]"#,
        ))
        .unwrap();
        let p = compile(&rules);
        assert_eq!(run(&p, 'c', 1, 3, ACC_READ), 0);
        assert_eq!(run(&p, 'c', 1, 5, ACC_READ), 1);
        assert_eq!(run(&p, 'b', 8, 0, ACC_WRITE), 1);
    }

    #[test]
    fn no_unreachable_code_after_a_catch_all() {
        let rules = effective(&spec(r#"[{"allow":false,"access":"rwm"}]"#)).unwrap();
        let p = compile(&rules);
        // the catch-all deny is the last instruction pair: nothing after it
        assert_eq!(p[p.len() - 2], insn(MOV_K, 0, 0, 0, 0));
        assert_eq!(
            p.iter().filter(|i| i.code == EXIT).count(),
            default_allowed().len() + 1
        );
        let p = compile(&from_spec(&spec(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap());
        assert_eq!(p.len(), 6 + 2);
        assert_eq!(run(&p, 'c', 4, 4, ACC_WRITE), 1);
    }

    #[test]
    fn v1_lines() {
        let r = from_spec(&spec(r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rw"}]"#)).unwrap();
        assert_eq!(r[0].v1_line(), "a");
        assert_eq!(r[1].v1_line(), "c 136:* rw");
        assert!(parse_access("rx").is_err());
        assert!(from_spec(&spec(r#"[{"allow":true,"type":"p"}]"#)).is_err());
    }
}
