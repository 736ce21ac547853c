//! A TCP proxy that injects faults between a client and a broker.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

struct Control {
    /// Bumped to close every open connection.
    close_generation: watch::Sender<u64>,
    /// True while traffic is held (connections stay open, nothing moves).
    stalled: watch::Sender<bool>,
    /// Delay added before forwarding each chunk, in milliseconds.
    delay_ms: AtomicU64,
    /// Bytes of the next broker→client chunk to pass before closing; -1 when off.
    cut_after: AtomicI64,
    /// Responses cut so far (each armed cut counts once it has happened).
    cuts_done: AtomicUsize,
    /// Corrupt the next Produce request on its way to the broker.
    corrupt_produce: std::sync::atomic::AtomicBool,
    /// Produce requests corrupted so far.
    corruptions_done: AtomicUsize,
    /// Close new connections at once.
    refuse: std::sync::atomic::AtomicBool,
    /// Connections currently open.
    open: AtomicUsize,
    /// Connections accepted in total.
    accepted: AtomicUsize,
}

/// A proxy on a free loopback port forwarding to `upstream`, with faults on command.
/// Optionally it terminates TLS, so TLS clients can be tested against a plaintext broker.
///
/// Dropping it stops accepting and closes every connection.
pub struct FaultProxy {
    port: u16,
    control: Arc<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.close_all();
    }
}

impl FaultProxy {
    /// Starts a plaintext proxy to `upstream` on a free port.
    pub async fn start(upstream: &str) -> FaultProxy {
        Self::start_on(0, upstream, None).await
    }

    /// Starts a proxy on `port` (0 for any). With `tls`, it accepts TLS and forwards plaintext.
    pub async fn start_on(
        port: u16,
        upstream: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> FaultProxy {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the proxy port can be bound");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let control = Arc::new(Control {
            close_generation: watch::channel(0).0,
            stalled: watch::channel(false).0,
            delay_ms: AtomicU64::new(0),
            cut_after: AtomicI64::new(-1),
            cuts_done: AtomicUsize::new(0),
            corrupt_produce: Default::default(),
            corruptions_done: AtomicUsize::new(0),
            refuse: Default::default(),
            open: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        });
        let upstream = upstream.to_string();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let c = control.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.accepted.fetch_add(1, Ordering::SeqCst);
                if c.refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let c = c.clone();
                let upstream = upstream.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let connect = TcpStream::connect(&upstream);
                    let Ok(Ok(server)) =
                        tokio::time::timeout(Duration::from_secs(5), connect).await
                    else {
                        return;
                    };
                    let _ = server.set_nodelay(true);
                    c.open.fetch_add(1, Ordering::SeqCst);
                    match acceptor {
                        None => relay(client, server, &c).await,
                        Some(acceptor) => {
                            if let Ok(Ok(tls)) = tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(client),
                            )
                            .await
                            {
                                relay(tls, server, &c).await
                            }
                        }
                    }
                    c.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        FaultProxy {
            port,
            control,
            task,
        }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every open connection now (new ones are still accepted).
    pub fn close_all(&self) {
        self.control.close_generation.send_modify(|g| *g += 1);
    }

    /// Holds all traffic (true) or lets it flow again (false); connections stay open.
    pub fn stall(&self, on: bool) {
        self.control.stalled.send_replace(on);
    }

    /// Delays every forwarded chunk by `delay`.
    pub fn delay(&self, delay: Duration) {
        self.control
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Passes only `bytes` bytes of the next broker→client data, then closes that connection:
    /// a response cut in the middle.
    pub fn cut_next_response(&self, bytes: usize) {
        self.control.cut_after.store(bytes as i64, Ordering::SeqCst);
    }

    /// Responses cut so far by [`FaultProxy::cut_next_response`]: a cut counts once the
    /// response it was armed for has passed through the proxy.
    pub fn cuts_done(&self) -> usize {
        self.control.cuts_done.load(Ordering::SeqCst)
    }

    /// Flips a bit in the CRC of the first record batch of the next Produce request on its
    /// way to the broker: the broker refuses that partition's batch with CORRUPT_MESSAGE, a
    /// retriable error, and writes nothing of it. The rest of the request passes unchanged.
    pub fn corrupt_next_produce(&self) {
        self.control.corrupt_produce.store(true, Ordering::SeqCst);
    }

    /// Produce requests corrupted so far by [`FaultProxy::corrupt_next_produce`].
    pub fn corruptions_done(&self) -> usize {
        self.control.corruptions_done.load(Ordering::SeqCst)
    }

    /// Closes new connections at once (true), or accepts them again (false).
    pub fn refuse(&self, on: bool) {
        self.control.refuse.store(on, Ordering::SeqCst);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.control.open.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted_connections(&self) -> usize {
        self.control.accepted.load(Ordering::SeqCst)
    }
}

async fn relay<C>(client: C, server: TcpStream, control: &Control)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = server.into_split();
    let mut closed = control.close_generation.subscribe();
    closed.borrow_and_update();
    tokio::select! {
        _ = pump_requests(&mut cr, &mut sw, control) => {}
        _ = pump_chunks(&mut sr, &mut cw, control, true) => {}
        _ = closed.changed() => {}
    }
    let _ = cw.shutdown().await;
}

/// Client to broker, a request frame at a time (so one can be altered on the way).
async fn pump_requests<R, W>(src: &mut R, dst: &mut W, control: &Control)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    const MAX_REQUEST: usize = 256 << 20;
    let mut stalled = control.stalled.subscribe();
    loop {
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        let mut size = [0u8; 4];
        if src.read_exact(&mut size).await.is_err() {
            return;
        }
        let prefix = size;
        let size = u32::from_be_bytes(size) as usize;
        if size > MAX_REQUEST {
            // Not a Kafka frame (an HTTP request starts "GET ", 1.2 GB as a length): not
            // Kafka traffic, so it passes as it comes.
            if dst.write_all(&prefix).await.is_err() {
                return;
            }
            return pump_chunks(src, dst, control, false).await;
        }
        let mut frame = vec![0u8; size];
        if src.read_exact(&mut frame).await.is_err() {
            return;
        }
        let delay = control.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        let is_produce = frame.get(..2) == Some(&[0, 0]);
        if is_produce && control.corrupt_produce.swap(false, Ordering::SeqCst) {
            match corrupt_first_batch(&frame) {
                Some(corrupted) => {
                    frame = corrupted;
                    control.corruptions_done.fetch_add(1, Ordering::SeqCst);
                }
                None => control.corrupt_produce.store(true, Ordering::SeqCst),
            }
        }
        let mut out = Vec::with_capacity(4 + frame.len());
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&frame);
        if dst.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// The Produce request `frame` with a bit of its first record batch's CRC flipped; None when
/// it holds no batch.
fn corrupt_first_batch(frame: &[u8]) -> Option<Vec<u8>> {
    use kafka_protocol::messages::{ProduceRequest, RequestHeader};
    use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
    const CRC_AT: usize = 17; // base offset 8, length 4, leader epoch 4, magic 1
    let version = i16::from_be_bytes([*frame.get(2)?, *frame.get(3)?]);
    let header_version = ProduceRequest::header_version(version);
    let mut buf = bytes::Bytes::copy_from_slice(frame);
    let header = RequestHeader::decode(&mut buf, header_version).ok()?;
    let mut request = ProduceRequest::decode(&mut buf, version).ok()?;
    let records = request
        .topic_data
        .first_mut()?
        .partition_data
        .first_mut()?
        .records
        .as_mut()?;
    let mut batch = records.to_vec();
    *batch.get_mut(CRC_AT)? ^= 1;
    *records = batch.into();
    let mut out = bytes::BytesMut::new();
    header.encode(&mut out, header_version).ok()?;
    request.encode(&mut out, version).ok()?;
    Some(out.to_vec())
}

/// Bytes as they come; broker to client (`cuts`), a response can be cut in the middle.
async fn pump_chunks<R, W>(src: &mut R, dst: &mut W, control: &Control, cuts: bool)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut stalled = control.stalled.subscribe();
    loop {
        // Wait while stalled.
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        let n = match src.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let delay = control.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        let cut = if cuts {
            control.cut_after.swap(-1, Ordering::SeqCst)
        } else {
            -1
        };
        if cut >= 0 {
            let keep = (cut as usize).min(n);
            let _ = dst.write_all(&buf[..keep]).await;
            let _ = dst.flush().await;
            control.cuts_done.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if dst.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
