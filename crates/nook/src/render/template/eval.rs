//! A parsed template run over a JSON value, as Go's text/template runs
//! one: dot, variables and their scopes, truthiness, values printed as
//! Go's `%v` prints them, and the functions.  In header mode (a `table`
//! template's header row) a field is its title and Docker's string
//! functions pass their value through.

use super::parse::{Arg, Kind, Node, Pipe};
use serde_json::Value;

/// A field's title, in header mode.
type Title<'a> = Option<&'a dyn Fn(&str) -> String>;

/// `nodes` run with dot (and `$`) at `v`.
pub fn run(nodes: &[Node], v: &Value, header: Title<'_>) -> Result<String, String> {
    let mut s = State {
        vars: vec![("$".into(), v.clone())],
        header,
    };
    let mut out = String::new();
    s.nodes(nodes, v, &mut out)?;
    Ok(out)
}

struct State<'a> {
    /// The variables in scope, innermost last.
    vars: Vec<(String, Value)>,
    header: Title<'a>,
}

impl State<'_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Print(p) => {
                    let v = self.pipe(p, dot)?;
                    match p.decl.first() {
                        Some(name) => self.vars.push((name.clone(), v)),
                        None => out.push_str(&show(&v)),
                    }
                }
                Node::Block(kind, p, body, els) => {
                    let mark = self.vars.len();
                    let r = self.block(*kind, p, (body, els), dot, out);
                    self.vars.truncate(mark);
                    r?
                }
            }
        }
        Ok(())
    }

    fn block(
        &mut self,
        kind: Kind,
        p: &Pipe,
        (body, els): (&[Node], &[Node]),
        dot: &Value,
        out: &mut String,
    ) -> Result<(), String> {
        let v = self.pipe(p, dot)?;
        if kind != Kind::Range {
            if let Some(name) = p.decl.first() {
                self.vars.push((name.clone(), v.clone()));
            }
            return match (truthy(&v), kind) {
                (true, Kind::With) => self.nodes(body, &v, out),
                (true, _) => self.nodes(body, dot, out),
                (false, _) => self.nodes(els, dot, out),
            };
        }
        let items: Vec<(Value, Value)> = match v {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, e)| (i.into(), e))
                .collect(),
            Value::Object(m) => m.into_iter().map(|(k, e)| (k.into(), e)).collect(),
            Value::Null => Vec::new(),
            _ if self.header.is_some() => Vec::new(),
            other => return Err(format!("range can't iterate over {}", show(&other))),
        };
        if items.is_empty() {
            return self.nodes(els, dot, out);
        }
        let mark = self.vars.len();
        for (key, elem) in items {
            self.vars.truncate(mark);
            match p.decl.as_slice() {
                [e] => self.vars.push((e.clone(), elem.clone())),
                [k, e, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((e.clone(), elem.clone()));
                }
                [] => {}
            }
            self.nodes(body, &elem, out)?;
        }
        Ok(())
    }

    /// A pipeline's value: each command's value the next one's last
    /// argument.
    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut last = None;
        for cmd in &p.cmds {
            last = Some(self.command(cmd, dot, last)?);
        }
        Ok(last.unwrap_or(Value::Null))
    }

    fn command(&mut self, cmd: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        match cmd {
            [Arg::Func(name), rest @ ..] => {
                let mut args = rest
                    .iter()
                    .map(|a| self.operand(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                args.extend(piped);
                match self.header {
                    Some(_) if PASS_THROUGH.contains(&name.as_str()) => {
                        Ok(args.into_iter().next().unwrap_or(Value::Null))
                    }
                    _ => call(name, args),
                }
            }
            [one] if piped.is_none() => self.operand(one, dot),
            // Docker's `.Label "key"` method (ps, images, volumes...)
            [Arg::Dot(path), key]
                if piped.is_none() && path.last().is_some_and(|l| l == "Label") =>
            {
                if let Some(title) = self.header {
                    return Ok(Value::String(title("Label")));
                }
                let key = self.operand(key, dot)?;
                let owner = field(dot.clone(), &path[..path.len() - 1])?;
                Ok(Value::String(label(
                    &owner["Labels"],
                    &text("Label", &key)?,
                )))
            }
            _ => Err("can't give argument to non-function".into()),
        }
    }

    fn operand(&mut self, a: &Arg, dot: &Value) -> Result<Value, String> {
        let (base, path) = match a {
            Arg::Lit(v) => return Ok(v.clone()),
            Arg::Func(f) => return Err(format!("{f} is not a value")),
            Arg::Dot(path) => (dot.clone(), path),
            Arg::Var(name, path) => {
                let v = self.vars.iter().rev().find(|(n, _)| n == name);
                let v = v.ok_or_else(|| format!("undefined variable: {name}"))?;
                (v.1.clone(), path)
            }
            Arg::Sub(p, path) => (self.pipe(p, dot)?, path),
        };
        if let (Some(title), Some(last)) = (self.header, path.last()) {
            return Ok(Value::String(title(last)));
        }
        field(base, path)
    }
}

/// Label `key` of `labels` (an object, or `k=v,k2=v2` as `ps` shows
/// them); empty when it has none.
fn label(labels: &Value, key: &str) -> String {
    match labels {
        Value::Object(m) => m.get(key).map(show).unwrap_or_default(),
        Value::String(s) => s
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Docker's functions that pass their value through in a header.
const PASS_THROUGH: [&str; 8] = [
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// `v`'s field `path`.
fn field(mut v: Value, path: &[String]) -> Result<Value, String> {
    let at = || format!("<.{}>", path.join("."));
    for name in path {
        v = match v {
            Value::Object(mut m) => m
                .remove(name)
                .ok_or_else(|| format!("executing at {}: can't evaluate field {name}", at()))?,
            Value::Null => {
                return Err(format!(
                    "executing at {}: nil pointer evaluating {name}",
                    at()
                ))
            }
            other => {
                return Err(format!(
                    "executing at {}: can't evaluate field {name} in {}",
                    at(),
                    kind_of(&other)
                ))
            }
        };
    }
    Ok(v)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Go's truth: false, 0, nil and empty strings, lists and maps are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// `v` as Go's `%v` prints it (`[a b]`, `map[k:v]`; nil as `<no value>`).
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut kv: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", show(v))).collect();
            kv.sort();
            format!("map[{}]", kv.join(" "))
        }
        other => other.to_string(),
    }
}

fn text(f: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("{f}: want a string, got {}", kind_of(other))),
    }
}

fn int(f: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{f}: want an integer, got {}", show(v)))
}

/// Call function `name` (known to the parser) with `args`.
fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let want = |n: usize| match args.len() == n {
        true => Ok(()),
        false => Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )),
    };
    let s = |v: String| Ok(Value::String(v));
    match name {
        "json" => want(1).and_then(|()| s(serde_json::to_string(&args[0]).unwrap_or_default())),
        "lower" => want(1).and_then(|()| s(text(name, &args[0])?.to_lowercase())),
        "upper" => want(1).and_then(|()| s(text(name, &args[0])?.to_uppercase())),
        "title" => want(1).and_then(|()| s(title(&text(name, &args[0])?))),
        "split" => {
            want(2)?;
            let (v, sep) = (text(name, &args[0])?, text(name, &args[1])?);
            let parts: Vec<Value> = match sep.is_empty() {
                true => v.chars().map(|c| c.to_string().into()).collect(),
                false => v.split(sep.as_str()).map(Value::from).collect(),
            };
            Ok(Value::Array(parts))
        }
        "join" => {
            want(2)?;
            let sep = text(name, &args[1])?;
            match &args[0] {
                Value::Array(a) => s(a.iter().map(show).collect::<Vec<_>>().join(&sep)),
                Value::String(one) => s(one.clone()),
                Value::Null => s(String::new()),
                other => Err(format!("join: want a list, got {}", kind_of(other))),
            }
        }
        "pad" => {
            want(3)?;
            let v = text(name, &args[0])?;
            let (pre, post) = (int(name, &args[1])?, int(name, &args[2])?);
            match v.is_empty() {
                true => s(v),
                false => {
                    s(" ".repeat(pre.max(0) as usize) + &v + &" ".repeat(post.max(0) as usize))
                }
            }
        }
        "truncate" => {
            want(2)?;
            let n = int(name, &args[1])?.max(0) as usize;
            s(text(name, &args[0])?.chars().take(n).collect())
        }
        "len" => want(1).and_then(|()| match &args[0] {
            Value::String(v) => Ok(v.len().into()),
            Value::Array(a) => Ok(a.len().into()),
            Value::Object(m) => Ok(m.len().into()),
            Value::Null => Ok(0.into()),
            other => Err(format!("len of {}", kind_of(other))),
        }),
        "index" => index(args),
        "print" => s(sprint(&args)),
        "println" => s(args.iter().map(show).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => match args.split_first() {
            Some((f, rest)) => s(printf(&text(name, f)?, rest)),
            None => Err("wrong number of args for printf: want at least 1 got 0".into()),
        },
        "not" => want(1).map(|()| Value::Bool(!truthy(&args[0]))),
        "and" | "or" => {
            let stop = |v: &Value| truthy(v) == (name == "or");
            match args.iter().position(stop) {
                Some(i) => Ok(args[i].clone()),
                None => args
                    .last()
                    .cloned()
                    .ok_or_else(|| format!("{name}: no arguments")),
            }
        }
        _ => compare(name, &args),
    }
}

/// Go's `strings.Title`: each word's first letter upper-cased.
fn title(v: &str) -> String {
    let mut out = String::new();
    let mut prev_sep = true;
    for c in v.chars() {
        match prev_sep {
            true => out.extend(c.to_uppercase()),
            false => out.push(c),
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn index(args: Vec<Value>) -> Result<Value, String> {
    let mut it = args.into_iter();
    let mut v = it
        .next()
        .ok_or("wrong number of args for index: want at least 1 got 0")?;
    for key in it {
        v = match (v, &key) {
            (Value::Array(mut a), k) => {
                let i = k
                    .as_i64()
                    .ok_or_else(|| format!("cannot index a list with {}", show(k)))?;
                match usize::try_from(i).ok().filter(|&i| i < a.len()) {
                    Some(i) => a.swap_remove(i),
                    None => return Err(format!("error calling index: index out of range: {i}")),
                }
            }
            (Value::Object(mut m), Value::String(k)) => m.remove(k).unwrap_or(Value::Null),
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            (other, k) => return Err(format!("can't index {} with {}", kind_of(&other), show(k))),
        };
    }
    Ok(v)
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out += &show(a);
    }
    out
}

/// Go's `fmt.Sprintf` for `%v %s %d %q %f %x %t %%`, with `-` and a
/// width.
fn printf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek().filter(|d| "-+# 0123456789.".contains(**d)) {
            spec.push(d);
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out += "%!(NOVERB)";
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.next() else {
            out += &format!("%!{verb}(MISSING)");
            continue;
        };
        let left = spec.starts_with('-');
        let spec = spec.trim_start_matches(['-', '+', '#', ' ']);
        let (width, prec) = spec.split_once('.').unwrap_or((spec, ""));
        let width: usize = width.trim_start_matches('0').parse().unwrap_or(0);
        let cell = match verb {
            'q' => serde_json::to_string(&show(a)).unwrap_or_default(),
            'd' => a
                .as_i64()
                .map_or_else(|| format!("%!d({})", show(a)), |n| n.to_string()),
            'f' => {
                let p = prec.parse().unwrap_or(6);
                a.as_f64()
                    .map_or_else(|| format!("%!f({})", show(a)), |n| format!("{n:.p$}"))
            }
            'x' => match a {
                Value::String(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                _ => a.as_i64().map_or_else(|| show(a), |n| format!("{n:x}")),
            },
            _ => show(a),
        };
        out += &match left {
            true => format!("{cell:<width$}"),
            false => format!("{cell:>width$}"),
        };
    }
    out
}

/// `eq`, `ne`, `lt`, `le`, `gt`, `ge`.
fn compare(name: &str, args: &[Value]) -> Result<Value, String> {
    let (a, rest) = args
        .split_first()
        .ok_or_else(|| format!("wrong number of args for {name}: want 2 got 0"))?;
    let same = |b: &Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    };
    if name == "eq" && !rest.is_empty() {
        return Ok(Value::Bool(rest.iter().any(same)));
    }
    let [b] = rest else {
        return Err(format!(
            "wrong number of args for {name}: want 2 got {}",
            args.len()
        ));
    };
    let ord = match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            _ if name == "ne" => return Ok(Value::Bool(a != b)),
            _ => return Err(format!("{name}: incompatible types for comparison")),
        },
    };
    use std::cmp::Ordering::*;
    Ok(Value::Bool(match name {
        "ne" => ord != Equal,
        "lt" => ord == Less,
        "le" => ord != Greater,
        "gt" => ord == Greater,
        _ => ord != Less,
    }))
}
