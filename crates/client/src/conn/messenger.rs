//! One broker connection: framing, correlation ids, pipelining, and failure propagation.
//!
//! ```text
//!  callers ──encode──► [mpsc: frames] ──► io task: writer ──► socket
//!     ▲                                      io task: reader ◄── socket
//!     └──── oneshot per correlation id ◄──────────┘
//! ```
//!
//! Each request registers a waiter under its correlation id, then hands its encoded frame to
//! the connection's single I/O task, which writes frames whole (so a caller that gives up
//! cannot leave half a request on the wire) and routes every response to its waiter. A read
//! or write error *poisons* the connection: every waiter fails at once with the cause, and
//! later requests fail immediately, so nothing hangs on a dead socket. A semaphore bounds
//! the requests in flight; every wait is bounded by the request timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::wire::messages::{ApiKey, RequestHeader, ResponseHeader};
use crate::wire::{Decodable, Encodable, Request, StrBytes};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::transport::Transport;
use super::versions::ApiVersionTable;
use crate::error::{Error, Result};

type Reply = std::result::Result<Bytes, String>;

struct Waiter {
    api: ApiKey,
    reply: oneshot::Sender<Reply>,
}

enum Pending {
    Open(HashMap<i32, Waiter>),
    Closed(String),
}

/// State shared by a connection's handle and its I/O task: waiters by correlation id.
struct ConnectionState {
    pending: Mutex<Pending>,
}

impl ConnectionState {
    /// Fails every waiter with `reason` and refuses new ones.
    fn poison(&self, reason: String) {
        let waiters = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let Pending::Open(w) = &mut *p else {
                return; // already poisoned: keep the first cause
            };
            let waiters = std::mem::take(w);
            *p = Pending::Closed(reason.clone());
            waiters
        };
        for (_, w) in waiters {
            let _ = w.reply.send(Err(format!(
                "{reason} while a {:?} request was outstanding",
                w.api
            )));
        }
    }
}

/// A live connection to one broker, shared by every user of a client.
pub struct Connection {
    broker: String,
    client_id: StrBytes,
    frames: mpsc::Sender<Bytes>,
    shared: Arc<ConnectionState>,
    next_correlation_id: AtomicI32,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    request_timeout: Duration,
    versions: OnceLock<ApiVersionTable>,
    io_task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.io_task.abort();
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.broker)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// Options the messenger needs from the client configuration.
pub(crate) struct MessengerOptions {
    pub client_id: String,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    pub max_response_size: usize,
}

impl Connection {
    /// Starts the I/O task over an established transport.
    pub(crate) fn start(broker: String, transport: Transport, opts: &MessengerOptions) -> Self {
        let (frames_tx, frames_rx) = mpsc::channel::<Bytes>(opts.max_in_flight.max(1) * 2);
        let shared = Arc::new(ConnectionState {
            pending: Mutex::new(Pending::Open(HashMap::new())),
        });
        let io_task = tokio::spawn(run_io(
            transport,
            frames_rx,
            shared.clone(),
            opts.max_response_size,
        ));
        Connection {
            broker,
            client_id: StrBytes::from_string(opts.client_id.clone()),
            frames: frames_tx,
            shared,
            next_correlation_id: AtomicI32::new(1),
            in_flight: Arc::new(Semaphore::new(opts.max_in_flight)),
            max_in_flight: opts.max_in_flight,
            request_timeout: opts.request_timeout,
            versions: OnceLock::new(),
            io_task,
        }
    }

    pub(crate) fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The broker this connection talks to (`host:port`).
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Requests sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight - self.in_flight.available_permits()
    }

    /// False once the connection has failed; a new one must be opened.
    pub fn is_alive(&self) -> bool {
        let p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        matches!(*p, Pending::Open(_))
    }

    /// The versions the broker advertised at connect time.
    pub fn versions(&self) -> &ApiVersionTable {
        static EMPTY: OnceLock<ApiVersionTable> = OnceLock::new();
        self.versions
            .get()
            .unwrap_or_else(|| EMPTY.get_or_init(ApiVersionTable::default))
    }

    pub(crate) fn set_versions(&self, table: ApiVersionTable) {
        let _ = self.versions.set(table);
    }

    /// The highest version of `R` both kafkit and this broker support, at most `cap`.
    pub fn version_for<R: Request>(&self, cap: Option<i16>) -> Result<i16> {
        let api = api_of::<R>();
        let mut ours = R::VERSIONS;
        if let Some(cap) = cap {
            ours.max = ours.max.min(cap);
        }
        self.versions()
            .highest_common(api, ours)
            .ok_or_else(|| Error::UnsupportedVersion {
                api,
                broker: self.broker.clone(),
                ours: format!("{}..={}", ours.min, ours.max),
                theirs: self
                    .versions()
                    .range(api)
                    .map_or("none".into(), |r| format!("{}..={}", r.min, r.max)),
            })
    }

    /// Sends `request` at the highest common version and awaits its response.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response> {
        let version = self.version_for::<R>(None)?;
        self.send_version(request, version).await
    }

    /// Sends `request` encoded at `version` and awaits its response, within the request
    /// timeout.
    pub async fn send_version<R: Request>(&self, request: &R, version: i16) -> Result<R::Response> {
        self.dispatch(request, version).await?.response().await
    }

    /// Puts `request` on the wire and returns at once with the future of its response.
    ///
    /// Requests dispatched one after another from one task reach the broker in that order
    /// (the producer relies on this to keep sequence numbers in order). The wait for an
    /// in-flight slot and the response share one deadline: the request timeout.
    pub async fn dispatch<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<PendingResponse<R>> {
        self.dispatch_with_timeout(request, version, self.request_timeout)
            .await
    }

    /// Like [`dispatch`](Self::dispatch) with a longer (or shorter) bound than the request
    /// timeout, for requests the broker may hold on purpose (JoinGroup, SyncGroup).
    pub async fn dispatch_with_timeout<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<PendingResponse<R>> {
        let deadline = Instant::now() + timeout;
        let api = api_of::<R>();
        let (correlation_id, frame) = self.encode(request, version, api)?;
        let permit = self.acquire(api, deadline).await?;
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match &mut *p {
                Pending::Open(w) => {
                    w.insert(correlation_id, Waiter { api, reply: tx });
                }
                Pending::Closed(reason) => return Err(self.disconnected(reason.clone())),
            }
        }
        let guard = WaiterGuard {
            shared: self.shared.clone(),
            correlation_id,
        };
        self.push_frame(frame, api, deadline).await?;
        Ok(PendingResponse {
            rx,
            _guard: guard,
            _permit: permit,
            broker: self.broker.clone(),
            request_timeout: timeout,
            deadline,
            version,
            api,
            _request: std::marker::PhantomData,
        })
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub async fn send_oneway<R: Request>(&self, request: &R, version: i16) -> Result<()> {
        let deadline = Instant::now() + self.request_timeout;
        let api = api_of::<R>();
        let (_, frame) = self.encode(request, version, api)?;
        if let Pending::Closed(reason) = &*self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            return Err(self.disconnected(reason.clone()));
        }
        self.push_frame(frame, api, deadline).await
    }

    async fn acquire(
        &self,
        api: ApiKey,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout_at(deadline.into(), self.in_flight.clone().acquire_owned()).await
        {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(self.disconnected("connection closed".into())),
            Err(_) => Err(Error::Timeout {
                api,
                broker: self.broker.clone(),
                after: self.request_timeout,
            }),
        }
    }

    async fn push_frame(&self, frame: Bytes, api: ApiKey, deadline: Instant) -> Result<()> {
        match tokio::time::timeout_at(deadline.into(), self.frames.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.disconnected("connection task ended".into())),
            Err(_) => Err(Error::Timeout {
                api,
                broker: self.broker.clone(),
                after: self.request_timeout,
            }),
        }
    }

    fn encode<R: Request>(&self, request: &R, version: i16, api: ApiKey) -> Result<(i32, Bytes)> {
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let header_version = R::header_version(version);
        let encode_err = |e: &dyn std::fmt::Display| Error::Encode {
            api,
            message: e.to_string(),
        };
        let size = header
            .compute_size(header_version)
            .and_then(|h| request.compute_size(version).map(|b| h + b))
            .map_err(|e| encode_err(&e))?;
        let mut buf = BytesMut::with_capacity(4 + size);
        buf.put_i32(size as i32);
        header
            .encode(&mut buf, header_version)
            .map_err(|e| encode_err(&e))?;
        request
            .encode(&mut buf, version)
            .map_err(|e| encode_err(&e))?;
        Ok((correlation_id, buf.freeze()))
    }

    fn disconnected(&self, reason: String) -> Error {
        Error::Disconnected {
            broker: self.broker.clone(),
            reason,
        }
    }
}

/// A request on the wire whose response has not been read yet; see
/// [`Connection::dispatch`]. Dropping it forgets the response (the stream stays in sync).
pub struct PendingResponse<R: Request> {
    rx: oneshot::Receiver<Reply>,
    _guard: WaiterGuard,
    _permit: tokio::sync::OwnedSemaphorePermit,
    broker: String,
    request_timeout: Duration,
    deadline: Instant,
    version: i16,
    api: ApiKey,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R: Request> std::fmt::Debug for PendingResponse<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResponse")
            .field("api", &self.api)
            .field("broker", &self.broker)
            .finish()
    }
}

impl<R: Request> PendingResponse<R> {
    /// Awaits and decodes the response, within the request's deadline.
    pub async fn response(self) -> Result<R::Response> {
        let disconnected = |reason: String| Error::Disconnected {
            broker: self.broker.clone(),
            reason,
        };
        let body = match tokio::time::timeout_at(self.deadline.into(), self.rx).await {
            Err(_) => {
                return Err(Error::Timeout {
                    api: self.api,
                    broker: self.broker.clone(),
                    after: self.request_timeout,
                })
            }
            Ok(Err(_)) => return Err(disconnected("connection task ended".into())),
            Ok(Ok(Err(reason))) => return Err(disconnected(reason)),
            Ok(Ok(Ok(body))) => body,
        };
        decode::<R>(body, self.version, self.api, &self.broker)
    }
}

fn decode<R: Request>(
    mut body: Bytes,
    version: i16,
    api: ApiKey,
    broker: &str,
) -> Result<R::Response> {
    skip_header(&mut body, version, api, broker)?;
    <R::Response as Decodable>::decode(&mut body, version).map_err(|e| Error::Protocol {
        api,
        broker: broker.to_string(),
        message: format!("cannot decode version {version}: {e}"),
    })
}

/// Reads the response header off `body`.
pub(crate) fn skip_header(body: &mut Bytes, version: i16, api: ApiKey, broker: &str) -> Result<()> {
    let header_version = api.response_header_version(version);
    ResponseHeader::decode(body, header_version).map_err(|e| Error::Protocol {
        api,
        broker: broker.to_string(),
        message: format!("bad response header: {e}"),
    })?;
    Ok(())
}

/// Removes the waiter if the request future is dropped or finishes early.
struct WaiterGuard {
    shared: Arc<ConnectionState>,
    correlation_id: i32,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if let Pending::Open(w) = &mut *self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            w.remove(&self.correlation_id);
        }
    }
}

/// The API key of a request type.
pub(crate) fn api_of<R: Request>() -> ApiKey {
    // Every Request impl of kafka-protocol has a key its ApiKey enum knows.
    ApiKey::try_from(R::KEY).expect("kafka-protocol request keys are valid ApiKeys")
}

/// The connection's I/O task: writes queued frames, reads responses, poisons on failure.
async fn run_io(
    transport: Transport,
    mut frames: mpsc::Receiver<Bytes>,
    shared: Arc<ConnectionState>,
    max_response_size: usize,
) {
    let (read_half, write_half) = tokio::io::split(transport);
    let mut writer = BufWriter::with_capacity(64 * 1024, write_half);
    let write_loop = async {
        while let Some(frame) = frames.recv().await {
            writer.write_all(&frame).await?;
            // Coalesce whatever else is queued into the same flush.
            while let Ok(frame) = frames.try_recv() {
                writer.write_all(&frame).await?;
            }
            writer.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let read_loop = read_responses(read_half, &shared, max_response_size);
    let reason = tokio::select! {
        r = write_loop => match r {
            Ok(()) => "connection closed by client".to_string(),
            Err(e) => format!("write failed: {e}"),
        },
        r = read_loop => r,
    };
    tracing::debug!(%reason, "connection closed");
    shared.poison(reason);
}

/// How reading ended early.
enum ReadEnd {
    Eof,
    Failed(std::io::Error),
}

impl ReadEnd {
    /// A read's result: `Err` when it ended the connection (0 bytes: end of stream).
    fn check(read: std::io::Result<usize>) -> Result<(), ReadEnd> {
        match read {
            Ok(0) => Err(ReadEnd::Eof),
            Ok(_) => Ok(()),
            Err(e) => Err(ReadEnd::Failed(e)),
        }
    }
}

/// Reads until `buf` holds at least `want` bytes. Reads ask for at least 64 KiB at a time, so
/// small responses arrive many per syscall.
async fn fill(
    reader: &mut tokio::io::ReadHalf<Transport>,
    buf: &mut BytesMut,
    want: usize,
) -> Result<(), ReadEnd> {
    while buf.len() < want {
        buf.reserve((want - buf.len()).max(64 * 1024));
        ReadEnd::check(reader.read_buf(buf).await)?;
    }
    Ok(())
}

/// Frames larger than this are read into a buffer of their own (see `read_body`).
const OWN_BUFFER_FROM: usize = 256 * 1024;

/// Reads until `buf` holds exactly `want` bytes (its capacity), never past it.
async fn fill_exact(
    reader: &mut tokio::io::ReadHalf<Transport>,
    buf: &mut BytesMut,
    want: usize,
) -> Result<(), ReadEnd> {
    while buf.len() < want {
        let n = want - buf.len();
        ReadEnd::check(reader.read_buf(&mut (&mut *buf).limit(n)).await)?;
    }
    Ok(())
}

/// Reads the body of the frame whose 4-byte size `buf` starts with. A small frame is split
/// off `buf`; a large one (a fetch's) gets a buffer of exactly its size, freed as soon as the
/// last slice of it is dropped and holding no part of the next frame.
async fn read_body(
    reader: &mut tokio::io::ReadHalf<Transport>,
    buf: &mut BytesMut,
    size: usize,
) -> Result<Bytes, ReadEnd> {
    if buf.len() >= 4 + size || size <= OWN_BUFFER_FROM {
        fill(reader, buf, 4 + size).await?;
        buf.advance(4);
        return Ok(buf.split_to(size).freeze());
    }
    let mut frame = BytesMut::with_capacity(size);
    frame.extend_from_slice(&buf[4..]);
    buf.clear();
    fill_exact(reader, &mut frame, size).await?;
    Ok(frame.freeze())
}

/// Reads response frames into one buffer and hands each waiter its frame as a zero-copy
/// slice; a large frame (a fetch's) is read into a buffer of exactly its size. The buffer
/// never holds more than one frame (bounded by `max_response_size`) plus one read's worth.
async fn read_responses(
    mut reader: tokio::io::ReadHalf<Transport>,
    shared: &ConnectionState,
    max_response_size: usize,
) -> String {
    let mut buf = BytesMut::new();
    loop {
        match fill(&mut reader, &mut buf, 4).await {
            Ok(()) => {}
            Err(ReadEnd::Eof) if buf.is_empty() => return "connection closed by broker".into(),
            Err(ReadEnd::Eof) => {
                return "connection closed by broker in the middle of a response".into()
            }
            Err(ReadEnd::Failed(e)) => return format!("read failed: {e}"),
        }
        let size = (&buf[..4]).get_i32();
        let Some(size) = usize::try_from(size)
            .ok()
            .filter(|&s| (4..=max_response_size).contains(&s))
        else {
            return format!("invalid response size {size} (limit {max_response_size})");
        };
        let body = match read_body(&mut reader, &mut buf, size).await {
            Ok(body) => body,
            Err(ReadEnd::Eof) => {
                return "connection closed by broker in the middle of a response".into()
            }
            Err(ReadEnd::Failed(e)) => return format!("read failed: {e}"),
        };
        let correlation_id = (&body[..4]).get_i32();
        let waiter = match &mut *shared.pending.lock().unwrap_or_else(|e| e.into_inner()) {
            Pending::Open(w) => w.remove(&correlation_id),
            Pending::Closed(_) => None,
        };
        match waiter {
            // The body still starts with the response header; the caller decodes it.
            Some(w) => {
                let _ = w.reply.send(Ok(body));
            }
            None => tracing::debug!(correlation_id, "response for a request nobody awaits"),
        }
    }
}
