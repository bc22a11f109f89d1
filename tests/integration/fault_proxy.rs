//! An HTTP proxy on 127.0.0.1 that injects the faults of a real network between Minerva and
//! the S3 test server: `503 SlowDown`, responses cut mid-body, connections reset before any
//! answer, and slow answers.
//!
//! Each request is read whole, sent to the server on a connection of its own, and its answer
//! read whole; then the proxy's [`Plan`] decides what the client gets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the client gets instead of (or with) the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The answer as it is.
    None,
    /// `503 Slow Down`, S3's throttling, without asking the server.
    SlowDown,
    /// The answer's head and half its body, then the connection closes.
    CutBody,
    /// The connection is reset before any answer.
    Reset,
    /// The answer, half a second late.
    Delay,
}

/// Which fault each request meets.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// The first attempt of every request (method, path and query, without range, start-after
    /// or continuation token: a retry that resumes counts as the same request) meets the next
    /// fault of a rotation through every kind; later attempts pass.
    EveryFirstAttempt,
    /// Every LIST response is cut mid-body, however often it is asked.
    CutEveryList,
    /// No faults: every answer arrives this long after it was asked, as over a distant
    /// network (requests in flight wait together).
    Latency(Duration),
}

/// A running proxy; it stops with the test process.
pub struct FaultProxy {
    pub endpoint: String,
    faults: Arc<Mutex<HashMap<&'static str, usize>>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:port`).
    pub fn start(upstream: &str, plan: Plan) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the S3 test server listens on an IP address");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(HashMap::new()));
        let state = Arc::new(State {
            upstream,
            plan,
            seen: Mutex::new(HashMap::new()),
            rotation: AtomicUsize::new(0),
            faults: Arc::clone(&faults),
        });
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let _ = serve(client, &state).await;
                    });
                }
            });
        });
        Self { endpoint, faults }
    }

    /// How many faults of each kind were injected.
    pub fn injected(&self) -> HashMap<&'static str, usize> {
        self.faults.lock().unwrap().clone()
    }
}

struct State {
    upstream: SocketAddr,
    plan: Plan,
    /// Attempts so far, per request.
    seen: Mutex<HashMap<String, usize>>,
    rotation: AtomicUsize,
    faults: Arc<Mutex<HashMap<&'static str, usize>>>,
}

impl State {
    fn fault(&self, request: &Request) -> Fault {
        let key = request.key();
        let attempt = {
            let mut seen = self.seen.lock().unwrap();
            let attempt = seen.entry(key).or_default();
            *attempt += 1;
            *attempt
        };
        let fault = match self.plan {
            Plan::EveryFirstAttempt if attempt == 1 => {
                const ROTATION: [Fault; 4] =
                    [Fault::SlowDown, Fault::CutBody, Fault::Reset, Fault::Delay];
                ROTATION[self.rotation.fetch_add(1, Ordering::Relaxed) % ROTATION.len()]
            }
            Plan::CutEveryList if request.is_list() => Fault::CutBody,
            _ => Fault::None,
        };
        let name = match fault {
            Fault::None => return fault,
            Fault::SlowDown => "slow down",
            Fault::CutBody => "cut body",
            Fault::Reset => "reset",
            Fault::Delay => "delay",
        };
        *self.faults.lock().unwrap().entry(name).or_default() += 1;
        fault
    }
}

struct Request {
    head: Vec<u8>,
    body: Vec<u8>,
    method: String,
    target: String,
}

impl Request {
    /// The request without what changes between a request and its resumption.
    fn key(&self) -> String {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        let mut params: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with("start-after=") && !p.starts_with("continuation-token="))
            .collect();
        params.sort_unstable();
        format!("{} {path}?{}", self.method, params.join("&"))
    }

    fn is_list(&self) -> bool {
        self.method == "GET" && self.target.contains("list-type=2")
    }
}

/// Serves one client connection, request after request.
async fn serve(mut client: TcpStream, state: &State) -> std::io::Result<()> {
    let mut buffered = Vec::new();
    loop {
        let Some(request) = read_request(&mut client, &mut buffered).await? else {
            return Ok(());
        };
        let fault = state.fault(&request);
        match fault {
            Fault::SlowDown => {
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let answer = format!(
                    "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                client.write_all(answer.as_bytes()).await?;
                continue;
            }
            Fault::Reset => {
                client.set_zero_linger()?;
                return Ok(());
            }
            _ => {}
        }
        let (head, body) = forward(&request, state.upstream).await?;
        if let Plan::Latency(latency) = state.plan {
            tokio::time::sleep(latency).await;
        }
        if fault == Fault::Delay {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        client.write_all(&head).await?;
        if fault == Fault::CutBody {
            client.write_all(&body[..body.len() / 2]).await?;
            client.flush().await?;
            return Ok(());
        }
        client.write_all(&body).await?;
    }
}

/// The next request on the connection: its head and its body (by `Content-Length`).
async fn read_request(
    client: &mut TcpStream,
    buffered: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    let Some(head_end) = read_until_head_end(client, buffered).await? else {
        return Ok(None);
    };
    let head: Vec<u8> = buffered.drain(..head_end).collect();
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default().to_string();
    let length = header(&text, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buffered.len() < length {
        let mut chunk = [0u8; 64 << 10];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffered.extend_from_slice(&chunk[..n]);
    }
    let body: Vec<u8> = buffered.drain(..length).collect();
    Ok(Some(Request {
        head,
        body,
        method,
        target,
    }))
}

/// Reads until `buffered` holds a whole head; its length (through the blank line), or `None`
/// when the connection closed first.
async fn read_until_head_end(
    stream: &mut TcpStream,
    buffered: &mut Vec<u8>,
) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(at) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        let mut chunk = [0u8; 64 << 10];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffered.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `request` to the server on a new connection and reads its answer whole: the head
/// as it came, and the body (by `Content-Length`, chunks, or to the end).
async fn forward(request: &Request, upstream: SocketAddr) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request.head).await?;
    server.write_all(&request.body).await?;
    let mut buffered = Vec::new();
    let head_end = read_until_head_end(&mut server, &mut buffered)
        .await?
        .ok_or_else(|| std::io::Error::other("the server closed without answering"))?;
    let head: Vec<u8> = buffered.drain(..head_end).collect();
    let text = String::from_utf8_lossy(&head).to_lowercase();
    let no_body = request.method == "HEAD"
        || text.starts_with("http/1.1 204")
        || text.starts_with("http/1.1 304");
    let mut body = buffered;
    if no_body {
        body.clear();
    } else if let Some(length) = header(&text, "content-length").and_then(|v| v.parse().ok()) {
        read_to(&mut server, &mut body, length).await?;
    } else if header(&text, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        while !body.ends_with(b"0\r\n\r\n") {
            let mut chunk = [0u8; 64 << 10];
            let n = server.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        server.read_to_end(&mut body).await?;
    }
    Ok((head, body))
}

async fn read_to(stream: &mut TcpStream, body: &mut Vec<u8>, length: usize) -> std::io::Result<()> {
    while body.len() < length {
        let mut chunk = [0u8; 64 << 10];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(())
}

/// The value of header `name` (lower case) in a head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}
