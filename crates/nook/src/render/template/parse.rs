//! A template's text into a tree: text and actions split (trim markers,
//! comments), each action's words lexed, and `if`/`range`/`with` blocks
//! nested up to their `end`.

/// A piece of a template.
#[derive(Debug)]
pub enum Node {
    /// Text, as it is.
    Text(String),
    /// A pipeline printed (nothing when it declares a variable).
    Print(Pipe),
    /// `if`, `range` or `with`: the pipeline, the body, the `else` part.
    Block(Kind, Pipe, Vec<Node>, Vec<Node>),
}

/// What a block does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{{if}}`: the body when truthy.
    If,
    /// `{{range}}`: the body for each element.
    Range,
    /// `{{with}}`: the body with dot set, when truthy.
    With,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::If => "if",
            Kind::Range => "range",
            Kind::With => "with",
        }
    }
}

/// Commands joined by `|`, maybe declaring variables (`$x :=`).
#[derive(Debug)]
pub struct Pipe {
    /// Variables declared (`$i, $e :=` in a range).
    pub decl: Vec<String>,
    /// The commands; each one's value is the next one's last argument.
    pub cmds: Vec<Vec<Arg>>,
}

/// A word of a command.
#[derive(Debug)]
pub enum Arg {
    /// A function's name (first in a command).
    Func(String),
    /// Fields of dot (`.A.B`; none: dot itself).
    Dot(Vec<String>),
    /// Fields of a variable (`$`, `$x.A`).
    Var(String, Vec<String>),
    /// Fields of a parenthesized pipeline's value.
    Sub(Box<Pipe>, Vec<String>),
    /// A literal: string, number, `true`, `false`, `nil`.
    Lit(serde_json::Value),
}

/// The functions a template may call.
pub const FUNCS: [&str; 22] = [
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate", "len", "index", "print",
    "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not",
];

/// Parse a whole template.
pub fn parse(text: &str) -> Result<Vec<Node>, String> {
    let pieces = split(text)?;
    let mut it = pieces.into_iter().peekable();
    let (nodes, end) = nodes(&mut it)?;
    match end {
        None => Ok(nodes),
        Some(w) => Err(format!("unexpected {{{{{w}}}}}")),
    }
}

/// Text or an action's inside.
enum Piece {
    Text(String),
    Action(String),
}

/// `text` cut into text and actions (comments dropped, trim markers
/// applied).
fn split(text: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(i) = rest.find("{{") {
        let mut before = &rest[..i];
        if trim_next {
            before = before.trim_start();
        }
        let inner_start = i + 2;
        let (trim_before, from) = match rest[inner_start..].strip_prefix("- ") {
            Some(_) => (true, inner_start + 2),
            None => (false, inner_start),
        };
        if trim_before {
            before = before.trim_end();
        }
        out.push(Piece::Text(before.to_string()));
        let len = action_len(&rest[from..]).ok_or("unclosed action")?;
        let mut inner = &rest[from..from + len];
        trim_next = inner.ends_with(" -") || inner == "-";
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            out.push(Piece::Action(inner.to_string()));
        }
        rest = &rest[from + len + 2..];
    }
    out.push(Piece::Text(match trim_next {
        true => rest.trim_start().to_string(),
        false => rest.to_string(),
    }));
    Ok(out)
}

/// Where the action at the start of `s` ends (its `}}`), past quotes.
fn action_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => i += s[i + 1..].find('`')? + 1,
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

type Pieces = std::iter::Peekable<std::vec::IntoIter<Piece>>;

/// Nodes up to an `{{else...}}` or `{{end}}` (returned) or the end.
fn nodes(it: &mut Pieces) -> Result<(Vec<Node>, Option<String>), String> {
    let mut out = Vec::new();
    while let Some(p) = it.next() {
        let a = match p {
            Piece::Text(t) if t.is_empty() => continue,
            Piece::Text(t) => {
                out.push(Node::Text(t));
                continue;
            }
            Piece::Action(a) => a,
        };
        let (word, rest) = a.split_once(char::is_whitespace).unwrap_or((&a, ""));
        let kind = match word {
            "end" | "else" => return Ok((out, Some(a.clone()))),
            "if" => Kind::If,
            "range" => Kind::Range,
            "with" => Kind::With,
            "define" | "template" | "block" | "break" | "continue" => {
                return Err(format!("{{{{{word}}}}} is not supported"))
            }
            _ => {
                out.push(Node::Print(pipe(&a)?));
                continue;
            }
        };
        out.push(block(kind, rest, it)?);
    }
    Ok((out, None))
}

/// A block's pipeline, body and else part, up to its `{{end}}`.
fn block(kind: Kind, head: &str, it: &mut Pieces) -> Result<Node, String> {
    let p = pipe(head)?;
    if p.cmds.is_empty() {
        return Err(format!("missing value for {}", kind.name()));
    }
    let (body, end) = nodes(it)?;
    let end = end.ok_or_else(|| format!("unexpected EOF in {{{{{}}}}}", kind.name()))?;
    let els = match end.split_once(char::is_whitespace) {
        None if end == "end" => Vec::new(),
        None => {
            let (els, end) = nodes(it)?;
            if end.as_deref() != Some("end") {
                return Err("expected {{end}} after {{else}}".into());
            }
            els
        }
        // `{{else if ...}}` (or `else with`): a block of its own, ended by
        // the same {{end}}
        Some(("else", rest)) => {
            let (word, rest) = rest
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((rest, ""));
            let k = match word {
                "if" => Kind::If,
                "with" => Kind::With,
                _ => return Err(format!("unexpected {{{{{end}}}}}")),
            };
            vec![block(k, rest, it)?]
        }
        _ => return Err(format!("unexpected {{{{{end}}}}}")),
    };
    Ok(Node::Block(kind, p, body, els))
}

/// A pipeline: `$x := cmd | cmd ...`.
pub fn pipe(s: &str) -> Result<Pipe, String> {
    let toks = lex(s)?;
    let mut pos = 0;
    let p = pipe_toks(&toks, &mut pos)?;
    match toks.get(pos) {
        None => Ok(p),
        Some(t) => Err(format!("unexpected {t:?} in {s:?}")),
    }
}

/// A word of an action.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Field(String),
    Var(String),
    Lit(serde_json::Value),
    Open,
    Close,
    Bar,
    Declare,
    Comma,
}

fn pipe_toks(t: &[Tok], pos: &mut usize) -> Result<Pipe, String> {
    let mut decl = Vec::new();
    // `$a :=` or `$a, $b :=`
    let mut look = *pos;
    let mut names = Vec::new();
    while let Some(Tok::Var(v)) = t.get(look) {
        names.push(v.clone());
        look += 1;
        match t.get(look) {
            Some(Tok::Comma) => look += 1,
            Some(Tok::Declare) => {
                decl = std::mem::take(&mut names);
                *pos = look + 1;
                break;
            }
            _ => break,
        }
    }
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while let Some(tok) = t.get(*pos) {
        *pos += 1;
        match tok {
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Bar => {
                if cmd.is_empty() {
                    return Err("missing command before |".into());
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Tok::Word(w) if cmd.is_empty() && FUNCS.contains(&w.as_str()) => {
                cmd.push(Arg::Func(w.clone()))
            }
            Tok::Word(w) => return Err(format!("function {w:?} not defined")),
            Tok::Field(f) => cmd.push(Arg::Dot(fields(f))),
            Tok::Var(v) => {
                let (name, path) = v.split_once('.').unwrap_or((v, ""));
                cmd.push(Arg::Var(name.to_string(), fields(path)))
            }
            Tok::Lit(v) => cmd.push(Arg::Lit(v.clone())),
            Tok::Open => {
                let sub = pipe_toks(t, pos)?;
                if t.get(*pos) != Some(&Tok::Close) {
                    return Err("unclosed left paren".into());
                }
                *pos += 1;
                let path = match t.get(*pos) {
                    Some(Tok::Field(f)) if f.starts_with('.') && f.len() > 1 => {
                        *pos += 1;
                        fields(f)
                    }
                    _ => Vec::new(),
                };
                cmd.push(Arg::Sub(Box::new(sub), path));
            }
            Tok::Declare | Tok::Comma => return Err(format!("unexpected {tok:?}")),
        }
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    } else if !cmds.is_empty() {
        return Err("missing command after |".into());
    }
    Ok(Pipe { decl, cmds })
}

/// `.A.B` (or `A.B`) as its names.
fn fields(f: &str) -> Vec<String> {
    f.split('.')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// An action's words.
fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word_char = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '-';
    while i < c.len() {
        let start = i;
        let ch = c[i];
        i += 1;
        let tok = match ch {
            _ if ch.is_whitespace() => continue,
            '(' => Tok::Open,
            ')' => Tok::Close,
            '|' => Tok::Bar,
            ',' => Tok::Comma,
            ':' if c.get(i) == Some(&'=') => {
                i += 1;
                Tok::Declare
            }
            '"' => {
                let (text, end) = quoted(&c, i)?;
                i = end;
                Tok::Lit(Value::String(text))
            }
            '`' => {
                let end = (i..c.len())
                    .find(|&j| c[j] == '`')
                    .ok_or("unterminated raw quoted string")?;
                let text: String = c[i..end].iter().collect();
                i = end + 1;
                Tok::Lit(Value::String(text))
            }
            '.' | '$' => {
                while i < c.len() && word_char(c[i]) && c[i] != '-' {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                match ch {
                    '.' => Tok::Field(w),
                    _ => Tok::Var(w),
                }
            }
            _ if ch.is_ascii_digit() || ch == '-' || ch == '+' => {
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                let n: serde_json::Number = w
                    .parse::<i64>()
                    .map(Into::into)
                    .ok()
                    .or_else(|| w.parse::<f64>().ok().and_then(serde_json::Number::from_f64))
                    .ok_or_else(|| format!("bad number syntax: {w:?}"))?;
                Tok::Lit(Value::Number(n))
            }
            _ if ch.is_alphabetic() || ch == '_' => {
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                match w.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    _ => Tok::Word(w),
                }
            }
            _ => return Err(format!("unexpected {ch:?} in command")),
        };
        out.push(tok);
    }
    Ok(out)
}

use serde_json::Value;

/// A Go string literal's text from `c[i..]` (just past its quote); the
/// text and where it ends.
fn quoted(c: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut s = String::new();
    while i < c.len() {
        match c[i] {
            '"' => return Ok((s, i + 1)),
            '\\' => {
                i += 1;
                s.push(match c.get(i) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    other => {
                        return Err(format!(
                            "unknown escape sequence \\{}",
                            other.unwrap_or(&' ')
                        ))
                    }
                });
            }
            ch => s.push(ch),
        }
        i += 1;
    }
    Err("unterminated quoted string".into())
}
