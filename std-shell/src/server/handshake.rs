//! A connection on its way into the room: from a trusted proxy on the
//! chat port its PROXY header, on a TLS port the TLS handshake (after a
//! look at the first byte, so that a plain client is told at once), and on
//! the web port the HTTP request and its reply. Only then does the room
//! see it, and admission decide, by the client's address (the one the
//! trusted proxy gave, `docs/PROTOCOL.md` section 14).

use super::proxy_header::{self, Header};
use super::stream::Stream;
use super::tls::{HANDSHAKE_RECORD, TlsStream};
use super::transport::Transport;
use super::web::{self, Answer};
use super::websocket::WebSocketLink;
use fernchat_core::room::Notice;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Which listener a connection came in on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The chat port (`--listen`): frames on a stream.
    Chat,
    /// The web port (`--web`): the page, and frames on a WebSocket.
    Web,
}

/// What a handshake has come to.
pub enum Progress {
    /// It waits for the peer or the socket.
    Waiting,
    /// Done: the connection goes to the room.
    Ready,
    /// The connection is to be closed after `last` (a notice or an HTTP
    /// reply, already sent when empty).
    Close {
        /// What to send before closing.
        last: Vec<u8>,
        /// The notice `last` holds, if any.
        notice: Option<Notice>,
    },
    /// The peer broke the handshake or went away.
    Failed(io::Error),
}

/// One connection before the room.
pub struct Handshake {
    /// The stream; `None` only while it is swapped for another form.
    stream: Option<Stream>,
    /// TLS settings when the port speaks TLS and the first byte is unseen.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The client's address: the TCP peer's, or the one its trusted proxy
    /// gave once the PROXY header or HTTP request is read.
    pub peer: SocketAddr,
    port: Port,
    /// The TCP peer is a trusted proxy (`--trusted-proxy`).
    from_proxy: bool,
    /// The PROXY header read so far, while one is awaited (a trusted
    /// proxy's connection to the chat port).
    proxy_header: Option<Vec<u8>>,
    /// The HTTP request read so far.
    head: Vec<u8>,
    /// The HTTP reply, and how much of it went out.
    reply: Vec<u8>,
    replied: usize,
    /// After a `101`: what the client sent after its request.
    early: Option<Vec<u8>>,
    /// When it came in, for the deadline.
    pub started: Instant,
}

impl Handshake {
    /// A connection from `peer` accepted on `port`, TLS if `tls` is given;
    /// `from_proxy` when `peer` is a trusted proxy, whose connections to
    /// the chat port start with a PROXY header.
    pub fn new(
        tcp: TcpStream,
        peer: SocketAddr,
        port: Port,
        tls: Option<Arc<rustls::ServerConfig>>,
        from_proxy: bool,
    ) -> Handshake {
        Handshake {
            stream: Some(Stream::Plain(tcp)),
            tls,
            peer,
            port,
            from_proxy,
            proxy_header: (from_proxy && port == Port::Chat).then(Vec::new),
            head: Vec::new(),
            reply: Vec::new(),
            replied: 0,
            early: None,
            started: Instant::now(),
        }
    }

    /// Moves the handshake on as far as the peer and the socket allow.
    pub fn advance(&mut self) -> Progress {
        loop {
            return match self.try_advance() {
                Ok(progress) => progress,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Progress::Waiting,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Progress::Failed(e),
            };
        }
    }

    /// The connection's transport, for the room or for closing.
    pub fn into_transport(self) -> Option<Transport> {
        let stream = self.stream?;
        Some(match self.early {
            Some(early) if self.replied == self.reply.len() => {
                Transport::WebSocket(Box::new(WebSocketLink::new(stream, early)))
            }
            _ => Transport::Stream(stream),
        })
    }

    fn try_advance(&mut self) -> io::Result<Progress> {
        if self.proxy_header.is_some() {
            self.read_proxy_header()?;
        }
        if let Some(config) = self.tls.take()
            && let Some(refusal) = self.start_tls(config)?
        {
            return Ok(refusal);
        }
        let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        if let Stream::Tls(tls) = stream {
            tls.handshake()?;
        }
        if self.port == Port::Chat {
            return Ok(Progress::Ready);
        }
        let mut chunk = [0u8; 2048];
        while self.reply.is_empty() {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.head.extend_from_slice(&chunk[..n]);
            if !self.from_proxy && proxy_header::starts_with_signature(&self.head) {
                return Ok(self.untrusted_header());
            }
            match web::answer(&self.head, self.peer, self.from_proxy) {
                Answer::Incomplete => {}
                Answer::Upgrade {
                    reply,
                    early,
                    client,
                } => {
                    self.reply = reply;
                    self.early = Some(early);
                    self.peer = client;
                }
                Answer::Reply(reply) => self.reply = reply,
            }
        }
        while self.replied < self.reply.len() {
            match stream.write(&self.reply[self.replied..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.replied += n,
            }
        }
        stream.flush()?;
        Ok(if self.early.is_some() {
            Progress::Ready
        } else {
            Progress::Close {
                last: Vec::new(),
                notice: None,
            }
        })
    }

    /// Looks at the first byte: a TLS handshake starts TLS; anything else
    /// is a plain client on a TLS port, told so in its own terms.
    fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<Option<Progress>> {
        let mut first = [0u8; 1];
        let peeked = match self.stream.as_mut().map(|s| s.tcp().peek(&mut first)) {
            Some(peeked) => peeked,
            None => return Err(io::ErrorKind::NotConnected.into()),
        };
        let n = peeked.inspect_err(|_| self.tls = Some(Arc::clone(&config)))?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != HANDSHAKE_RECORD {
            let mut start = [0u8; proxy_header::SIGNATURE.len()];
            let peeked = self.stream.as_mut().map(|s| s.tcp().peek(&mut start));
            if !self.from_proxy
                && let Some(Ok(n)) = peeked
                && proxy_header::starts_with_signature(&start[..n])
            {
                return Ok(Some(self.untrusted_header()));
            }
            tracing::info!("{} is not speaking TLS on a TLS port", self.peer);
            return Ok(Some(match self.port {
                Port::Chat => Progress::Close {
                    last: Notice::Tls.line().to_vec(),
                    notice: Some(Notice::Tls),
                },
                Port::Web => Progress::Close {
                    last: web::https_only(),
                    notice: None,
                },
            }));
        }
        self.stream = match self.stream.take() {
            Some(Stream::Plain(tcp)) => Some(Stream::Tls(Box::new(TlsStream::new(config, tcp)?))),
            other => other,
        };
        Ok(None)
    }

    /// Reads the PROXY header a trusted proxy sends first, exactly its
    /// bytes (what follows is the client's: TLS, or frames), and takes the
    /// client's address from it. A connection whose first bytes are no
    /// valid header fails; one that waits keeps what it has so far.
    fn read_proxy_header(&mut self) -> io::Result<()> {
        let Some(mut header) = self.proxy_header.take() else {
            return Ok(());
        };
        let invalid = |e: proxy_header::HeaderError| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no valid PROXY header from a trusted proxy: {e}"),
            )
        };
        let tcp = self
            .stream
            .as_mut()
            .ok_or(io::ErrorKind::NotConnected)?
            .tcp();
        loop {
            let needed = proxy_header::needed(&header).map_err(invalid)?;
            if header.len() >= needed {
                break;
            }
            let have = header.len();
            header.resize(needed, 0);
            match tcp.read(&mut header[have..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed before its PROXY header ended",
                    ));
                }
                Ok(n) => header.truncate(have + n),
                Err(e) => {
                    header.truncate(have);
                    self.proxy_header = Some(header);
                    return Err(e);
                }
            }
        }
        match proxy_header::parse(&header).map_err(invalid)? {
            Some((Header::Proxied { source, .. }, _)) => {
                tracing::debug!("{} is a trusted proxy for {source}", self.peer);
                self.peer = source;
            }
            Some((Header::Local, _)) => {
                tracing::debug!("{} sent a LOCAL PROXY header: its own address", self.peer);
            }
            None => return Err(io::ErrorKind::UnexpectedEof.into()),
        }
        Ok(())
    }

    /// Logs a PROXY header from an address that is no trusted proxy: the
    /// connection is closed without a word.
    fn untrusted_header(&self) -> Progress {
        tracing::info!(
            "{} refused: PROXY header from untrusted address (is it a proxy? see --trusted-proxy)",
            self.peer
        );
        Progress::Close {
            last: Vec::new(),
            notice: None,
        }
    }
}
