//! A small HTTP/1.1 proxy in front of a registry, one request per
//! connection: it logs each request and lets the test forward it, corrupt
//! or cut the answer, or answer itself (a token endpoint, a 401).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A request as received.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to do with a request.
pub enum Reply {
    /// Pass it to the registry and its answer back.
    Forward,
    /// ... with the answer's body byte at this offset flipped.
    Corrupt(usize),
    /// ... with only this many body bytes, then the connection closed.
    Cut(usize),
    /// Answer with this status, headers and body.
    Respond(u16, Vec<(String, String)>, Vec<u8>),
    /// Pass it on, and send the answer's body slowly: this many bytes,
    /// then a pause, until it is all sent.
    Slow(usize, std::time::Duration),
}

type Handler = dyn Fn(&Req) -> Reply + Send + Sync;

pub struct Proxy {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy for the registry on 127.0.0.1:`upstream`.
    pub fn start(upstream: u16, handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (l, s) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (l, h) = (l.clone(), handler.clone());
                std::thread::spawn(move || serve(conn, upstream, &l, &*h));
            }
        });
        Proxy {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut b).ok()? == 0 {
            return None;
        }
        head.push(b[0]);
    }
    Some(head)
}

fn parse(head: &[u8]) -> Req {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Req {
        method,
        path,
        headers,
    }
}

fn serve(mut conn: TcpStream, upstream: u16, log: &Mutex<Vec<Req>>, handler: &Handler) {
    // a TLS hello (the client tries HTTPS first): not spoken here
    let mut first = [0u8; 1];
    if conn
        .peek(&mut first)
        .map_or(true, |n| n == 0 || first[0] == 0x16)
    {
        return;
    }
    let Some(head) = read_head(&mut conn) else {
        return;
    };
    let req = parse(&head);
    log.lock().unwrap().push(req.clone());
    let (status_line, headers, mut body, cut) = match handler(&req) {
        Reply::Respond(status, headers, body) => {
            (format!("HTTP/1.1 {status} X"), headers, body, None)
        }
        reply => {
            let (status_line, headers, mut body) = forward(&req, upstream);
            match reply {
                Reply::Corrupt(at) if at < body.len() => body[at] ^= 0xff,
                Reply::Cut(n) => return send(&mut conn, &status_line, &headers, &body, Some(n)),
                Reply::Slow(chunk, pause) => {
                    return send_slowly(&mut conn, &status_line, &headers, &body, chunk, pause)
                }
                _ => {}
            }
            (status_line, headers, body, None)
        }
    };
    let body = std::mem::take(&mut body);
    send(&mut conn, &status_line, &headers, &body, cut);
}

/// The registry's answer to `req`: status line, headers, body.
fn forward(req: &Req, upstream: u16) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            out += &format!("{k}: {v}\r\n");
        }
    }
    out += "Connection: close\r\n\r\n";
    up.write_all(out.as_bytes()).unwrap();
    let mut all = Vec::new();
    up.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = parse(&all[..split + 4]);
    let status_line = String::from_utf8_lossy(&all[..split])
        .lines()
        .next()
        .unwrap()
        .to_string();
    let headers = head
        .headers
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("connection"))
        .collect();
    (status_line, headers, all[split + 4..].to_vec())
}

fn send_slowly(
    conn: &mut TcpStream,
    status_line: &str,
    headers: &[(String, String)],
    body: &[u8],
    chunk: usize,
    pause: std::time::Duration,
) {
    send_head(conn, status_line, headers, body.len());
    for part in body.chunks(chunk.max(1)) {
        if conn.write_all(part).and_then(|_| conn.flush()).is_err() {
            return;
        }
        std::thread::sleep(pause);
    }
    let _ = conn.shutdown(Shutdown::Both);
}

fn send_head(conn: &mut TcpStream, status_line: &str, headers: &[(String, String)], len: usize) {
    let mut out = format!("{status_line}\r\n");
    let mut has_length = false;
    for (k, v) in headers {
        has_length |=
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding");
        out += &format!("{k}: {v}\r\n");
    }
    if !has_length {
        out += &format!("Content-Length: {len}\r\n");
    }
    out += "Connection: close\r\n\r\n";
    let _ = conn.write_all(out.as_bytes());
}

fn send(
    conn: &mut TcpStream,
    status_line: &str,
    headers: &[(String, String)],
    body: &[u8],
    cut: Option<usize>,
) {
    send_head(conn, status_line, headers, body.len());
    let n = cut.unwrap_or(body.len()).min(body.len());
    let _ = conn.write_all(&body[..n]);
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Both);
}

/// A token server and registry front for the registry on 127.0.0.1:`upstream`:
/// `/token` gives `T-<scope>` for the credentials `user`:`password`;
/// `/v2/...` wants `Bearer T-repository:<repo>:pull`.
pub fn token_proxy(upstream: u16, user: &str, password: &str) -> Proxy {
    let basic = format!(
        "Basic {}",
        nook_image::Credentials {
            username: user.into(),
            password: password.into(),
        }
        .encoded()
    );
    let port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
    let p = port.clone();
    let proxy = Proxy::start(upstream, move |r| {
        let realm = format!(
            "http://127.0.0.1:{}/token",
            p.load(std::sync::atomic::Ordering::SeqCst)
        );
        if let Some(q) = r.path.strip_prefix("/token?") {
            if r.header("Authorization") != Some(basic.as_str()) {
                return Reply::Respond(401, vec![], b"{}".to_vec());
            }
            let scope = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("scope="))
                .unwrap_or("");
            let scope = scope.replace("%3A", ":").replace("%2F", "/");
            let body =
                serde_json::json!({"token": format!("T-{scope}"), "expires_in": 300}).to_string();
            return Reply::Respond(
                200,
                vec![("Content-Type".into(), "application/json".into())],
                body.into_bytes(),
            );
        }
        let repo = r
            .path
            .strip_prefix("/v2/")
            .and_then(|p| p.split("/manifests/").next())
            .and_then(|p| p.split("/blobs/").next());
        let want = match repo {
            Some(repo) if !repo.is_empty() => format!("Bearer T-repository:{repo}:pull"),
            _ => "Bearer ".to_string(),
        };
        let ok = r
            .header("Authorization")
            .is_some_and(|a| a.starts_with(&want));
        if ok {
            return Reply::Forward;
        }
        let challenge = format!(r#"Bearer realm="{realm}",service="fixture""#);
        Reply::Respond(
            401,
            vec![("WWW-Authenticate".into(), challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"token wanted"}]}"#.to_vec(),
        )
    });
    port.store(proxy.port, std::sync::atomic::Ordering::SeqCst);
    proxy
}
