//! The metrics listener: `/metrics` from the registry's debug server, and nothing else.
//!
//! distribution's debug server serves Prometheus metrics on the same listener as Go's
//! pprof (`/debug/pprof/`, heap and CPU profiles, goroutine dumps) and expvar
//! (`/debug/vars`, the command line included), with no option to leave them out. So the
//! charm binds that server to loopback and runs this small forwarder on the unit's
//! ingress address, at the same port: it answers `GET`/`HEAD /metrics` (any query) from
//! the debug server, and 404 to every other path.
//!
//! It is the charm's own binary run as `dispatch metrics-proxy --listen ADDR --upstream
//! ADDR [--user NAME]` (a service like the registry: systemd or the charm's supervisor).
//! It binds as root (a port below 1024 works) and then runs as `--user`.
//!
//! # Format
//!
//! One request per connection, answered with `Connection: close`:
//!
//! ```text
//! GET /metrics HTTP/1.1            -> forwarded: GET /metrics HTTP/1.1, Host: <upstream>,
//! Accept: text/plain               the client's Accept, Accept-Encoding and
//!                                  X-Prometheus-Scrape-Timeout-Seconds; the answer
//!                                  is copied back as it comes
//! GET /debug/pprof/ HTTP/1.1       -> HTTP/1.1 404 Not Found
//! POST /metrics HTTP/1.1           -> HTTP/1.1 405 Method Not Allowed
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The one path forwarded.
pub const METRICS_PATH: &str = "/metrics";
/// Connections handled at once; more are closed at once (scrapers come one at a time).
const MAX_CONNECTIONS: usize = 16;
/// The longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client or the debug server may take per read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Request headers passed on to the debug server.
const PASSED_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "x-prometheus-scrape-timeout-seconds",
];

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Where to listen (the unit's ingress address and debug-port).
    pub listen: SocketAddr,
    /// The registry's debug server (loopback and debug-port).
    pub upstream: SocketAddr,
    /// The account to run as once listening.
    pub user: Option<String>,
}

/// Why the forwarder could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The command line is wrong.
    #[error("usage: metrics-proxy --listen ADDR:PORT --upstream ADDR:PORT [--user NAME] ({0})")]
    Usage(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        cause: io::Error,
    },
    /// The account to run as could not be taken on.
    #[error("cannot run as {user}: {cause}")]
    User {
        /// The account.
        user: String,
        /// Why.
        cause: String,
    },
}

impl Args {
    /// Parses the arguments after `metrics-proxy`.
    pub fn parse(args: &[String]) -> Result<Args, ProxyError> {
        let (mut listen, mut upstream, mut user) = (None, None, None);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| ProxyError::Usage(format!("{flag} needs a value")))?;
            let addr = || {
                value
                    .parse::<SocketAddr>()
                    .map_err(|_| ProxyError::Usage(format!("{value:?} is not ADDR:PORT")))
            };
            match flag.as_str() {
                "--listen" => listen = Some(addr()?),
                "--upstream" => upstream = Some(addr()?),
                "--user" => user = Some(value.clone()),
                other => return Err(ProxyError::Usage(format!("unknown flag {other:?}"))),
            }
        }
        Ok(Args {
            listen: listen.ok_or_else(|| ProxyError::Usage("--listen is missing".into()))?,
            upstream: upstream.ok_or_else(|| ProxyError::Usage("--upstream is missing".into()))?,
            user,
        })
    }

    /// The arguments for this (the inverse of [`Args::parse`]).
    pub fn to_argv(&self) -> Vec<String> {
        let mut out = vec![
            "metrics-proxy".to_string(),
            "--listen".into(),
            self.listen.to_string(),
            "--upstream".into(),
            self.upstream.to_string(),
        ];
        if let Some(user) = &self.user {
            out.extend(["--user".to_string(), user.clone()]);
        }
        out
    }
}

/// Binds, drops to `--user`, and serves until killed.
pub fn run(args: &Args) -> Result<(), ProxyError> {
    let listener = TcpListener::bind(args.listen).map_err(|cause| ProxyError::Bind {
        addr: args.listen,
        cause,
    })?;
    if let Some(user) = &args.user {
        drop_to(user)?;
    }
    eprintln!(
        "metrics-proxy: serving {METRICS_PATH} on {} from {}",
        args.listen, args.upstream
    );
    serve(listener, args.upstream);
    Ok(())
}

/// Takes on `user`'s uid, gid and no supplementary groups.
fn drop_to(user: &str) -> Result<(), ProxyError> {
    use nix::unistd::{setgid, setgroups, setuid, User};
    let err = |cause: String| ProxyError::User {
        user: user.to_string(),
        cause,
    };
    let account = User::from_name(user)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no such user".into()))?;
    setgroups(&[account.gid]).map_err(|e| err(format!("setgroups: {e}")))?;
    setgid(account.gid).map_err(|e| err(format!("setgid: {e}")))?;
    setuid(account.uid).map_err(|e| err(format!("setuid: {e}")))?;
    Ok(())
}

/// Accepts connections until the listener fails, each on its own thread (at most
/// [`MAX_CONNECTIONS`] at once).
pub fn serve(listener: TcpListener, upstream: SocketAddr) {
    let busy = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            busy.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let busy = busy.clone();
        thread::spawn(move || {
            if let Err(e) = handle(client, upstream) {
                eprintln!("metrics-proxy: {e}");
            }
            busy.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// A request as far as the forwarder looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// Headers passed on, lower-cased names.
    pub headers: Vec<(String, String)>,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ask the debug server.
    Forward,
    /// Answer with this status line and no body.
    Refuse(&'static str),
}

/// Parses a request head (up to the blank line); `None` when it is not HTTP/1.x.
pub fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if first.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| PASSED_HEADERS.contains(&k.as_str()))
        .filter(|(_, v)| !v.contains(['\r', '\n']))
        .collect();
    Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
    })
}

/// Only `GET`/`HEAD` of exactly `/metrics` (a query allowed) goes through: no other path,
/// no encoded or dotted variant that the debug server would clean into another one.
pub fn verdict(req: &Request) -> Verdict {
    let path = req
        .target
        .split_once('?')
        .map_or(req.target.as_str(), |(p, _)| p);
    if path != METRICS_PATH {
        return Verdict::Refuse("404 Not Found");
    }
    match req.method.as_str() {
        "GET" | "HEAD" => Verdict::Forward,
        _ => Verdict::Refuse("405 Method Not Allowed"),
    }
}

/// The request sent to the debug server for `req`.
pub fn upstream_request(req: &Request, upstream: SocketAddr) -> String {
    let mut out = format!(
        "{} {} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n",
        req.method, req.target
    );
    for (k, v) in &req.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out
}

fn handle(mut client: TcpStream, upstream: SocketAddr) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&mut client)? else {
        return answer(&mut client, "400 Bad Request");
    };
    let Some(req) = parse_head(&head) else {
        return answer(&mut client, "400 Bad Request");
    };
    match verdict(&req) {
        Verdict::Refuse(status) => answer(&mut client, status),
        Verdict::Forward => {
            let mut server = match TcpStream::connect_timeout(&upstream, IO_TIMEOUT) {
                Ok(s) => s,
                Err(_) => return answer(&mut client, "502 Bad Gateway"),
            };
            server.set_read_timeout(Some(IO_TIMEOUT))?;
            server.set_write_timeout(Some(IO_TIMEOUT))?;
            server.write_all(upstream_request(&req, upstream).as_bytes())?;
            io::copy(&mut server, &mut client)?;
            client.shutdown(Shutdown::Both)
        }
    }
}

/// Reads up to the end of the request head; `None` when it is too long or cut short.
fn read_head(client: &mut TcpStream) -> io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(String::from_utf8(buf[..end].to_vec()).ok());
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        match client.read(&mut chunk)? {
            0 => return Ok(None),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn answer(client: &mut TcpStream, status: &str) -> io::Result<()> {
    let body = format!("{status}\n");
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(reply.as_bytes())?;
    client.shutdown(Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(head: &str) -> Request {
        parse_head(head).unwrap()
    }

    #[test]
    fn only_get_or_head_of_metrics_goes_through() {
        for ok in [
            "GET /metrics HTTP/1.1",
            "HEAD /metrics HTTP/1.0",
            "GET /metrics?name[]=registry HTTP/1.1",
        ] {
            assert_eq!(verdict(&req(ok)), Verdict::Forward, "{ok}");
        }
        for (bad, status) in [
            ("GET /debug/pprof/ HTTP/1.1", "404 Not Found"),
            ("GET /debug/vars HTTP/1.1", "404 Not Found"),
            ("GET /debug/health HTTP/1.1", "404 Not Found"),
            ("GET / HTTP/1.1", "404 Not Found"),
            ("GET /metrics/ HTTP/1.1", "404 Not Found"),
            ("GET //metrics HTTP/1.1", "404 Not Found"),
            ("GET /metrics/../debug/pprof/ HTTP/1.1", "404 Not Found"),
            ("GET /%6detrics HTTP/1.1", "404 Not Found"),
            ("GET http://x/metrics HTTP/1.1", "404 Not Found"),
            ("POST /metrics HTTP/1.1", "405 Method Not Allowed"),
        ] {
            assert_eq!(verdict(&req(bad)), Verdict::Refuse(status), "{bad}");
        }
        assert_eq!(parse_head("GET /metrics"), None);
        assert_eq!(parse_head("GET /metrics SSH-2.0"), None);
        assert_eq!(parse_head("GET /metrics HTTP/1.1 extra"), None);
    }

    #[test]
    fn only_the_scrape_headers_are_passed_on() {
        let r = req(
            "GET /metrics HTTP/1.1\r\nHost: 10.1.0.5:5001\r\nAccept: text/plain\r\n\
                     Authorization: Basic eA==\r\nX-Prometheus-Scrape-Timeout-Seconds: 10",
        );
        assert_eq!(
            upstream_request(&r, "127.0.0.1:5001".parse().unwrap()),
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:5001\r\nConnection: close\r\n\
             accept: text/plain\r\nx-prometheus-scrape-timeout-seconds: 10\r\n\r\n"
        );
    }

    #[test]
    fn args_round_trip_and_errors_name_the_flag() {
        let a = Args {
            listen: "10.1.0.5:5001".parse().unwrap(),
            upstream: "127.0.0.1:5001".parse().unwrap(),
            user: Some("docker-registry".into()),
        };
        let argv = a.to_argv();
        assert_eq!(argv[0], "metrics-proxy");
        assert_eq!(Args::parse(&argv[1..]).unwrap(), a);
        let e = Args::parse(&["--listen".into()]).unwrap_err();
        assert!(e.to_string().contains("--listen needs a value"), "{e}");
        let e = Args::parse(&["--listen".into(), "x".into()]).unwrap_err();
        assert!(e.to_string().contains("\"x\" is not ADDR:PORT"), "{e}");
    }

    /// A real debug-server stand-in on loopback: /metrics comes back whole, anything else
    /// is answered 404 without reaching it.
    #[test]
    fn forwards_metrics_and_nothing_else() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        thread::spawn(move || {
            for conn in upstream.incoming() {
                let mut c = conn.unwrap();
                let head = read_head(&mut c).unwrap().unwrap();
                seen2.lock().unwrap().push(head);
                c.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nregistry_up 1\n")
                    .unwrap();
            }
        });
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap();
        thread::spawn(move || serve(front, upstream_addr));
        let get = |path: &str| {
            let mut c = TcpStream::connect(front_addr).unwrap();
            write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out
        };
        let metrics = get("/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
        assert!(metrics.ends_with("registry_up 1\n"), "{metrics}");
        let pprof = get("/debug/pprof/");
        assert!(pprof.starts_with("HTTP/1.1 404 Not Found"), "{pprof}");
        let heads = seen.lock().unwrap().clone();
        assert_eq!(
            heads.len(),
            1,
            "only /metrics reached the debug server: {heads:?}"
        );
        assert!(heads[0].starts_with("GET /metrics HTTP/1.1\r\n"));
    }
}
