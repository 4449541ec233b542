//! Upstream proxy overhead, request by request: one keep-alive connection to the upstream and
//! one to the gateway in front of it, used in turn, so each proxied call is paired with a
//! direct call made moments before and the upstream's drift (a Python server on a shared
//! machine) falls out of the difference. A raw HTTP/1.1 client, so the client adds nothing
//! but the socket calls.
//!
//! Run by `benches/upstream/overhead.sh`, which starts KServe and modeldeck:
//! `cargo bench --bench upstream -- DIRECT_URL PROXIED_URL KEY BODY_FILE [PAIRS]`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// A keep-alive connection that POSTs one body to one path.
struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(url: &str, key: Option<&str>, body: &[u8]) -> Conn {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
        let stream = TcpStream::connect(authority).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(k) = key {
            request.push_str(&format!("Authorization: {k}\r\n"));
        }
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        Conn {
            stream,
            request,
            buf: vec![0; 64 << 10],
        }
    }

    /// One call; its latency in microseconds. Panics on anything but a 200.
    fn call(&mut self) -> f64 {
        let t = Instant::now();
        self.stream.write_all(&self.request).expect("write");
        let mut have = 0;
        loop {
            let n = self.stream.read(&mut self.buf[have..]).expect("read");
            assert!(n > 0, "the server closed the connection");
            have += n;
            let text = &self.buf[..have];
            let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = std::str::from_utf8(&text[..end]).expect("headers");
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if have >= end + 4 + length {
                return t.elapsed().as_secs_f64() * 1e6;
            }
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [direct, proxied, key, body, rest @ ..] = args.as_slice() else {
        eprintln!("usage: upstream DIRECT_URL PROXIED_URL KEY BODY_FILE [PAIRS]");
        std::process::exit(2);
    };
    let pairs: usize = rest.first().and_then(|p| p.parse().ok()).unwrap_or(20_000);
    let body = std::fs::read(body).expect("the body file");
    let mut d = Conn::new(direct, None, &body);
    let mut p = Conn::new(proxied, Some(key), &body);
    for _ in 0..500 {
        d.call();
        p.call();
    }
    let (mut ds, mut ps, mut diffs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let a = d.call();
        let b = p.call();
        ds.push(a);
        ps.push(b);
        diffs.push(b - a);
    }
    println!(
        "{pairs} pairs: direct p50 {:.1} µs, proxied p50 {:.1} µs, difference of p50s {:.1} µs, median paired difference {:.1} µs",
        median(&mut ds.clone()),
        median(&mut ps.clone()),
        median(&mut ps) - median(&mut ds),
        median(&mut diffs)
    );
}
