//! The small part of nftables' language nook speaks: typed expressions, statements, commands and
//! batches, rendered as `nft -j` JSON (what is applied) or as nft's text syntax (what a person
//! reads, and the alternative the benchmark measures); and running `nft` on one batch.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::FirewallError;

/// How nft is told to read its batch from its stdin.
const STDIN: &str = "/proc/self/fd/0";

/// nook's table name, the same in every family it uses.
pub(crate) const TABLE: &str = "nook";

/// An nftables address family nook has a table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `inet`: NAT, forward filtering, the loopback guard (issue 15).
    Inet,
    /// `bridge`: per-port anti-spoofing (issue 19; see `antispoof`).
    Bridge,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Bridge => "bridge",
        }
    }
}

/// An expression: the left or right side of a match, or a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// `meta KEY` (iifname, oifname, nfproto, ...).
    Meta(&'static str),
    /// `PROTO FIELD` (ip daddr, tcp dport, ...).
    Payload(&'static str, &'static str),
    /// `ct KEY` (state, status).
    Ct(&'static str),
    /// `fib FLAGS type`.
    FibType(&'static [&'static str]),
    /// A string (an interface name): always quoted in text.
    Str(String),
    /// A symbolic constant (`local`, `ipv4`, `dnat`): never quoted.
    Sym(&'static str),
    /// A number (a port).
    Num(u32),
    /// An address.
    Addr(IpAddr),
    /// An address prefix.
    Prefix(IpAddr, u8),
    /// An inclusive range of numbers.
    Range(u32, u32),
    /// An anonymous set.
    Set(Vec<Expr>),
    /// A list of flags (`established,related`).
    Flags(Vec<&'static str>),
    /// `KEY map { k : v, ... }` of numbers.
    NumMap(Box<Expr>, Vec<(u32, u32)>),
}

impl Expr {
    /// A string constant.
    pub(crate) fn s(v: impl Into<String>) -> Expr {
        Expr::Str(v.into())
    }

    fn json(&self) -> Value {
        match self {
            Expr::Meta(k) => json!({"meta": {"key": k}}),
            Expr::Payload(p, f) => json!({"payload": {"protocol": p, "field": f}}),
            Expr::Ct(k) => json!({"ct": {"key": k}}),
            Expr::FibType(flags) => json!({"fib": {"result": "type", "flags": flags}}),
            Expr::Str(s) => json!(s),
            Expr::Sym(s) => json!(s),
            Expr::Num(n) => json!(n),
            Expr::Addr(a) => json!(a.to_string()),
            Expr::Prefix(a, l) => json!({"prefix": {"addr": a.to_string(), "len": l}}),
            Expr::Range(a, b) => json!({"range": [a, b]}),
            Expr::Set(items) => json!({"set": items.iter().map(Expr::json).collect::<Vec<_>>()}),
            Expr::Flags(f) => json!(f),
            Expr::NumMap(key, pairs) => json!({"map": {
                "key": key.json(),
                "data": {"set": pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()},
            }}),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Meta(k) => write!(f, "meta {k}"),
            Expr::Payload(p, fl) => write!(f, "{p} {fl}"),
            Expr::Ct(k) => write!(f, "ct {k}"),
            Expr::FibType(flags) => write!(f, "fib {} type", flags.join(" . ")),
            // Validated names: no quote or backslash to escape.
            Expr::Str(s) => write!(f, "\"{s}\""),
            Expr::Sym(s) => f.write_str(s),
            Expr::Num(n) => write!(f, "{n}"),
            Expr::Addr(a) => write!(f, "{a}"),
            Expr::Prefix(a, l) => write!(f, "{a}/{l}"),
            Expr::Range(a, b) => write!(f, "{a}-{b}"),
            Expr::Set(items) => {
                let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "{{ {} }}", items.join(", "))
            }
            Expr::Flags(fl) => f.write_str(&fl.join(",")),
            Expr::NumMap(key, pairs) => {
                let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} : {v}")).collect();
                write!(f, "{key} map {{ {} }}", pairs.join(", "))
            }
        }
    }
}

/// A match operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    In,
}

/// A rule's statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stmt {
    /// `LEFT OP RIGHT`.
    Match(Expr, Op, Expr),
    Accept,
    Drop,
    Masquerade,
    /// `jump CHAIN`.
    Jump(String),
    /// `dnat ip|ip6 to ADDR[:PORT]`; the port is a number or a map of the original port.
    Dnat(IpAddr, Option<Expr>),
}

impl Stmt {
    /// `left == right`.
    pub(crate) fn eq(left: Expr, right: Expr) -> Stmt {
        Stmt::Match(left, Op::Eq, right)
    }

    /// `left != right`.
    pub(crate) fn ne(left: Expr, right: Expr) -> Stmt {
        Stmt::Match(left, Op::Ne, right)
    }

    fn json(&self) -> Value {
        match self {
            Stmt::Match(l, op, r) => {
                let op = match op {
                    Op::Eq => "==",
                    Op::Ne => "!=",
                    Op::In => "in",
                };
                json!({"match": {"op": op, "left": l.json(), "right": r.json()}})
            }
            Stmt::Accept => json!({"accept": null}),
            Stmt::Drop => json!({"drop": null}),
            Stmt::Masquerade => json!({"masquerade": null}),
            Stmt::Jump(c) => json!({"jump": {"target": c}}),
            Stmt::Dnat(addr, port) => {
                let mut nat = json!({"family": ip_family(addr), "addr": addr.to_string()});
                if let Some(p) = port {
                    nat["port"] = p.json();
                }
                json!({ "dnat": nat })
            }
        }
    }
}

fn ip_family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

impl fmt::Display for Stmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stmt::Match(l, Op::Ne, r) => write!(f, "{l} != {r}"),
            Stmt::Match(l, _, r) => write!(f, "{l} {r}"),
            Stmt::Accept => f.write_str("accept"),
            Stmt::Drop => f.write_str("drop"),
            Stmt::Masquerade => f.write_str("masquerade"),
            Stmt::Jump(c) => write!(f, "jump {c}"),
            Stmt::Dnat(a, port) => {
                let fam = ip_family(a);
                match (a, port) {
                    (IpAddr::V6(_), Some(p)) => write!(f, "dnat {fam} to [{a}]:{p}"),
                    (_, Some(p)) => write!(f, "dnat {fam} to {a}:{p}"),
                    (_, None) => write!(f, "dnat {fam} to {a}"),
                }
            }
        }
    }
}

/// The hook of a base chain: its type, hook and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hook {
    /// `filter` or `nat`.
    pub kind: &'static str,
    /// `prerouting`, `input`, `forward`, `output`, `postrouting`.
    pub hook: &'static str,
    /// The priority number.
    pub prio: i32,
}

/// An object a command acts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Obj {
    /// nook's table in a family.
    Table(Family),
    /// A chain of nook's table; a base chain when hooked.
    Chain(Family, String, Option<Hook>),
    /// A rule appended to a chain.
    Rule(Family, String, Vec<Stmt>),
}

impl Obj {
    fn json(&self) -> Value {
        match self {
            Obj::Table(fam) => json!({"table": {"family": fam.name(), "name": TABLE}}),
            Obj::Chain(fam, name, hook) => {
                let mut c = json!({"family": fam.name(), "table": TABLE, "name": name});
                if let Some(h) = hook {
                    c["type"] = json!(h.kind);
                    c["hook"] = json!(h.hook);
                    c["prio"] = json!(h.prio);
                    c["policy"] = json!("accept");
                }
                json!({ "chain": c })
            }
            Obj::Rule(fam, chain, stmts) => json!({"rule": {
                "family": fam.name(), "table": TABLE, "chain": chain,
                "expr": stmts.iter().map(Stmt::json).collect::<Vec<_>>(),
            }}),
        }
    }

    fn text(&self, out: &mut String) {
        let _ = match self {
            Obj::Table(fam) => write!(out, "table {} {TABLE}", fam.name()),
            Obj::Chain(fam, name, None) => write!(out, "chain {} {TABLE} {name}", fam.name()),
            Obj::Chain(fam, name, Some(h)) => write!(
                out,
                "chain {} {TABLE} {name} {{ type {} hook {} priority {}; policy accept; }}",
                fam.name(),
                h.kind,
                h.hook,
                h.prio
            ),
            Obj::Rule(fam, chain, stmts) => {
                let stmts: Vec<String> = stmts.iter().map(ToString::to_string).collect();
                write!(
                    out,
                    "rule {} {TABLE} {chain} {}",
                    fam.name(),
                    stmts.join(" ")
                )
            }
        };
    }
}

/// One command of a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cmd {
    /// Create (tables, chains: when absent) or append (rules).
    Add(Obj),
    /// Empty a chain.
    Flush(Obj),
    /// Delete a table (with all it holds) or an empty, unreferenced chain.
    Delete(Obj),
}

/// An ordered list of commands applied as one kernel transaction: all or nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Batch {
    cmds: Vec<Cmd>,
}

impl Batch {
    /// Appends a command.
    pub(crate) fn push(&mut self, cmd: Cmd) {
        self.cmds.push(cmd);
    }

    /// Whether the batch has no command.
    pub(crate) fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The batch as `nft -j` input.
    pub(crate) fn to_json(&self) -> String {
        let cmds: Vec<Value> = self
            .cmds
            .iter()
            .map(|c| match c {
                Cmd::Add(o) => json!({ "add": o.json() }),
                Cmd::Flush(o) => json!({ "flush": o.json() }),
                Cmd::Delete(o) => json!({ "delete": o.json() }),
            })
            .collect();
        json!({ "nftables": cmds }).to_string()
    }

    /// The batch in nft's text syntax, one command a line.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.cmds {
            let (verb, o) = match c {
                Cmd::Add(o) => ("add", o),
                Cmd::Flush(o) => ("flush", o),
                Cmd::Delete(o) => ("delete", o),
            };
            out.push_str(verb);
            out.push(' ');
            o.text(&mut out);
            out.push('\n');
        }
        out
    }
}

/// How a batch is handed to `nft`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// `nft -j -f -`: the JSON interface (the default: no quoting or parsing ambiguity).
    #[default]
    Json,
    /// `nft -f -`: nft's text syntax (measured as the alternative).
    Text,
}

/// Runs `nft` with `args` (and `input` on stdin when given); returns its stdout.  `op` names
/// the operation in errors.
pub(crate) fn run(
    nft: &Path,
    args: &[&str],
    input: Option<&str>,
    op: &str,
) -> Result<String, FirewallError> {
    let mut child = Command::new(nft)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| FirewallError::Spawn {
            program: nft.display().to_string(),
            source,
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A write error (nft exited early) shows in its status and stderr below.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| FirewallError::Spawn {
            program: nft.display().to_string(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(FirewallError::Nft {
            op: op.to_string(),
            message: first_error_line(&stderr, out.status),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// nft's first error line (it follows with the offending input and carets).
fn first_error_line(stderr: &str, status: std::process::ExitStatus) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("Error:"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()));
    match line {
        Some(l) => l.trim().to_string(),
        None => format!("nft exited with {status}"),
    }
}

/// Applies `batch` atomically with `nft`.
pub(crate) fn apply(
    nft: &Path,
    syntax: Syntax,
    batch: &Batch,
    op: &str,
) -> Result<(), FirewallError> {
    if batch.is_empty() {
        return Ok(());
    }
    match syntax {
        // the batch on stdin, named by /proc: `-f -` opens /dev/stdin,
        // which a minimal /dev (devtmpfs alone) does not have
        Syntax::Json => run(nft, &["-j", "-f", STDIN], Some(&batch.to_json()), op)?,
        Syntax::Text => run(nft, &["-f", STDIN], Some(&batch.to_text()), op)?,
    };
    Ok(())
}

/// The names of the chains in nook's table of `family`; `None` when there is no such table.
pub(crate) fn list_chains(
    nft: &Path,
    family: Family,
) -> Result<Option<Vec<String>>, FirewallError> {
    let op = format!("list table {} {TABLE}", family.name());
    let out = run(nft, &["-j", "list", "chains", family.name()], None, &op)?;
    let v: Value = serde_json::from_str(&out).map_err(|e| FirewallError::Listing {
        op: op.clone(),
        reason: e.to_string(),
    })?;
    let items = v["nftables"]
        .as_array()
        .ok_or_else(|| FirewallError::Listing {
            op: op.clone(),
            reason: "no \"nftables\" array".into(),
        })?;
    let mut table = false;
    let mut chains = Vec::new();
    for item in items {
        let c = &item["chain"];
        if c["table"] == TABLE {
            table = true;
            if let Some(name) = c["name"].as_str() {
                chains.push(name.to_string());
            }
        }
    }
    if table {
        return Ok(Some(chains));
    }
    // A table without chains does not show in `list chains`: ask for it by name.
    let tables = run(nft, &["-j", "list", "tables", family.name()], None, &op)?;
    let v: Value = serde_json::from_str(&tables).map_err(|e| FirewallError::Listing {
        op: op.clone(),
        reason: e.to_string(),
    })?;
    let found = v["nftables"]
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["table"]["name"] == TABLE));
    Ok(found.then_some(chains))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Batch {
        let mut b = Batch::default();
        b.push(Cmd::Add(Obj::Table(Family::Inet)));
        b.push(Cmd::Add(Obj::Chain(
            Family::Inet,
            "c".into(),
            Some(Hook {
                kind: "nat",
                hook: "prerouting",
                prio: -100,
            }),
        )));
        b.push(Cmd::Add(Obj::Rule(
            Family::Inet,
            "c".into(),
            vec![
                Stmt::ne(Expr::Meta("iifname"), Expr::s("lo")),
                Stmt::eq(
                    Expr::Payload("ip", "daddr"),
                    Expr::Prefix("127.0.0.0".parse().unwrap(), 8),
                ),
                Stmt::Dnat("fd00::2".parse().unwrap(), Some(Expr::Num(80))),
            ],
        )));
        b.push(Cmd::Delete(Obj::Chain(Family::Inet, "x".into(), None)));
        b
    }

    #[test]
    fn json_has_nft_schema_shape() {
        let v: Value = serde_json::from_str(&sample().to_json()).unwrap();
        let cmds = v["nftables"].as_array().unwrap();
        assert_eq!(
            cmds[0],
            json!({"add": {"table": {"family": "inet", "name": "nook"}}})
        );
        assert_eq!(cmds[1]["add"]["chain"]["prio"], -100);
        assert_eq!(cmds[1]["add"]["chain"]["policy"], "accept");
        let expr = &cmds[2]["add"]["rule"]["expr"];
        assert_eq!(expr[0]["match"]["op"], "!=");
        assert_eq!(expr[1]["match"]["right"]["prefix"]["len"], 8);
        assert_eq!(
            expr[2],
            json!({"dnat": {"family": "ip6", "addr": "fd00::2", "port": 80}})
        );
        assert_eq!(
            cmds[3],
            json!({"delete": {"chain": {"family": "inet", "table": "nook", "name": "x"}}})
        );
    }

    #[test]
    fn text_is_nft_syntax() {
        assert_eq!(
            sample().to_text(),
            "add table inet nook\n\
             add chain inet nook c { type nat hook prerouting priority -100; policy accept; }\n\
             add rule inet nook c meta iifname != \"lo\" ip daddr 127.0.0.0/8 dnat ip6 to [fd00::2]:80\n\
             delete chain inet nook x\n"
        );
    }
}
