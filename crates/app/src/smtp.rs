//! The SMTP listener: mail servers deliver customers' mail straight to Citius. A message is
//! answered 250 only once it is stored; a recipient no inbox owns is refused at RCPT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use citius_domain::email::{MAX_MESSAGE_BYTES, MAX_RECIPIENTS};
use citius_domain::smtp::{Command, DataReader, MAX_COMMAND_LINE, parse_command};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::App;
use crate::email::{MailError, MailSource, MailTarget};

/// Connections served at once; more are told to come back later.
const MAX_CONNECTIONS: usize = 256;
/// A client silent this long is disconnected.
const IDLE: Duration = Duration::from_secs(300);
/// Errors tolerated in one session before it is closed.
const MAX_ERRORS: u32 = 10;

/// Accepts SMTP connections until `shutdown` turns true; sessions under way finish their
/// current command.
pub async fn serve(
    app: App,
    listener: TcpListener,
    hostname: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let hostname: Arc<str> = Arc::from(hostname);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "smtp accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let (app, hostname, slots) = (app.clone(), hostname.clone(), slots.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let (read, mut write) = stream.into_split();
            let Ok(_slot) = slots.try_acquire_owned() else {
                let _ = write
                    .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                    .await;
                return;
            };
            let mut session = Session {
                app,
                hostname,
                peer,
                reader: BufReader::new(read),
                writer: write,
            };
            if let Err(e) = session.run().await {
                tracing::debug!(%peer, error = %e, "smtp session ended");
            }
        });
    }
}

struct Session<R, W> {
    app: App,
    hostname: Arc<str>,
    peer: SocketAddr,
    reader: BufReader<R>,
    writer: W,
}

enum Line {
    Eof,
    TooLong,
    Text(Vec<u8>),
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<R, W> {
    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        // One write per reply: a reply split over two small packets waits for the client's
        // delayed acknowledgement.
        let mut line = Vec::with_capacity(text.len() + 2);
        line.extend_from_slice(text.as_bytes());
        line.extend_from_slice(b"\r\n");
        self.writer.write_all(&line).await?;
        self.writer.flush().await
    }

    /// One line of at most `max` bytes; a longer one is read to its end and reported.
    async fn line(&mut self, max: usize) -> std::io::Result<Line> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(
            IDLE,
            (&mut self.reader)
                .take(max as u64)
                .read_until(b'\n', &mut buf),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        if n == 0 {
            return Ok(Line::Eof);
        }
        if !buf.ends_with(b"\n") && n >= max {
            // Skip the rest of the over-long line.
            loop {
                buf.clear();
                let n = (&mut self.reader)
                    .take(64 * 1024)
                    .read_until(b'\n', &mut buf)
                    .await?;
                if n == 0 || buf.ends_with(b"\n") {
                    break;
                }
            }
            return Ok(Line::TooLong);
        }
        Ok(Line::Text(buf))
    }

    /// The next piece of the DATA section: a line, or 64 KiB of a longer one.
    async fn chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(
            IDLE,
            (&mut self.reader)
                .take(64 * 1024)
                .read_until(b'\n', &mut buf),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        Ok((n > 0).then_some(buf))
    }

    async fn run(&mut self) -> std::io::Result<()> {
        let greeting = format!("220 {} Citius ESMTP ready", self.hostname);
        self.reply(&greeting).await?;
        let mut helo: Option<String> = None;
        let mut from: Option<String> = None;
        let mut targets: Vec<MailTarget> = Vec::new();
        let mut errors = 0;
        loop {
            if errors >= MAX_ERRORS {
                self.reply("421 4.7.0 Too many errors, closing connection")
                    .await?;
                return Ok(());
            }
            let line = match self.line(MAX_COMMAND_LINE).await {
                Ok(Line::Text(l)) => l,
                Ok(Line::Eof) => return Ok(()),
                Ok(Line::TooLong) => {
                    errors += 1;
                    self.reply("500 5.5.2 Line too long").await?;
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    let _ = self
                        .reply("421 4.4.2 Idle too long, closing connection")
                        .await;
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let text = String::from_utf8_lossy(&line);
            match parse_command(&text) {
                Command::Ehlo(name) => {
                    helo = Some(name);
                    from = None;
                    targets.clear();
                    let r = format!(
                        "250-{} greets you\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES",
                        self.hostname
                    );
                    self.reply(&r).await?;
                }
                Command::Helo(name) => {
                    helo = Some(name);
                    from = None;
                    targets.clear();
                    let r = format!("250 {}", self.hostname);
                    self.reply(&r).await?;
                }
                Command::Mail { .. } if helo.is_none() => {
                    errors += 1;
                    self.reply("503 5.5.1 Say EHLO first").await?;
                }
                Command::Mail { .. } if from.is_some() => {
                    errors += 1;
                    self.reply("503 5.5.1 Sender already given").await?;
                }
                Command::Mail { size: Some(n), .. } if n > MAX_MESSAGE_BYTES as u64 => {
                    self.reply("552 5.3.4 Message too large").await?;
                }
                Command::Mail { from: f, .. } => {
                    from = Some(f);
                    targets.clear();
                    self.reply("250 2.1.0 OK").await?;
                }
                Command::Rcpt { .. } if from.is_none() => {
                    errors += 1;
                    self.reply("503 5.5.1 Need MAIL first").await?;
                }
                Command::Rcpt { .. } if targets.len() >= MAX_RECIPIENTS => {
                    self.reply("452 4.5.3 Too many recipients").await?;
                }
                Command::Rcpt { to } => match self.app.mail_target(&to).await {
                    Ok(Some(t)) => {
                        if !targets.iter().any(|x| x.inbox.id == t.inbox.id) {
                            targets.push(t);
                        }
                        self.reply("250 2.1.5 OK").await?;
                    }
                    Ok(None) => {
                        errors += 1;
                        let r = format!("550 5.1.1 <{}>: no such mailbox here", sanitize(&to));
                        self.reply(&r).await?;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "smtp recipient lookup failed");
                        self.reply("451 4.3.0 Temporary failure, try again later")
                            .await?;
                    }
                },
                Command::Data if targets.is_empty() => {
                    errors += 1;
                    self.reply("503 5.5.1 Need RCPT first").await?;
                }
                Command::Data => {
                    self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                    let mut data = DataReader::new(MAX_MESSAGE_BYTES);
                    let header = self.received_header(helo.as_deref().unwrap_or(""));
                    data.data.extend_from_slice(header.as_bytes());
                    loop {
                        match self.chunk().await? {
                            None => return Ok(()),
                            Some(chunk) => {
                                if data.feed(&chunk) {
                                    break;
                                }
                            }
                        }
                    }
                    let envelope_from = from.take();
                    let these = std::mem::take(&mut targets);
                    if data.too_large {
                        self.reply("552 5.3.4 Message too large").await?;
                        continue;
                    }
                    let reply = self.deliver(&these, data.data, envelope_from).await;
                    self.reply(&reply).await?;
                }
                Command::Rset => {
                    from = None;
                    targets.clear();
                    self.reply("250 2.0.0 OK").await?;
                }
                Command::Noop => self.reply("250 2.0.0 OK").await?,
                Command::Quit => {
                    let r = format!("221 2.0.0 {} closing connection", self.hostname);
                    self.reply(&r).await?;
                    return Ok(());
                }
                Command::Vrfy => {
                    self.reply("252 2.5.0 Cannot verify, but will accept")
                        .await?
                }
                Command::Help => self.reply("214 2.0.0 See RFC 5321").await?,
                Command::StartTls | Command::Auth => {
                    errors += 1;
                    self.reply("502 5.5.1 Not available on this listener")
                        .await?;
                }
                Command::Malformed(why) => {
                    errors += 1;
                    let r = format!("501 5.5.4 {why}");
                    self.reply(&r).await?;
                }
                Command::Unknown => {
                    errors += 1;
                    self.reply("500 5.5.2 Command not recognised").await?;
                }
            }
        }
    }

    fn received_header(&self, helo: &str) -> String {
        format!(
            "Received: from {} ([{}])\r\n\tby {} (Citius) with ESMTP;\r\n\t{}\r\n",
            sanitize(helo),
            self.peer.ip(),
            self.hostname,
            jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        )
    }

    async fn deliver(
        &self,
        targets: &[MailTarget],
        raw: Vec<u8>,
        envelope_from: Option<String>,
    ) -> String {
        let envelope_from = envelope_from.filter(|f| !f.is_empty());
        match self
            .app
            .receive_mail(targets, raw, MailSource::Smtp, envelope_from)
            .await
        {
            Ok(receipts) => {
                let ids: Vec<String> = receipts
                    .iter()
                    .filter_map(|r| r.message_id.map(|m| m.to_string()))
                    .collect();
                tracing::info!(peer = %self.peer, outcomes = ?receipts.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(), "mail received");
                format!(
                    "250 2.0.0 Stored ({})",
                    if ids.is_empty() {
                        "-".into()
                    } else {
                        ids.join(", ")
                    }
                )
            }
            Err(MailError::Refused(why)) => format!("554 5.6.0 {why}"),
            Err(MailError::Failed(e)) => {
                tracing::error!(error = %e, "storing received mail failed");
                "451 4.3.0 Temporary failure, try again later".to_string()
            }
        }
    }
}

/// Text from the client, safe to echo in a reply or header: printable ASCII, bounded.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(200)
        .collect()
}
