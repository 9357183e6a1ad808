//! The SMTP commands Citius's listener understands (RFC 5321), read from one line each.

/// A command line, read. Addresses are as given, without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    /// `MAIL FROM:<addr>`; the null sender `<>` (bounces) is an empty address.
    Mail {
        from: String,
        size: Option<u64>,
    },
    Rcpt {
        to: String,
    },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    StartTls,
    Auth,
    /// A known command with arguments that do not parse; the text says what is wrong.
    Malformed(&'static str),
    Unknown,
}

/// Longest command line accepted (RFC 5321 allows 512 octets; extensions make it longer).
pub const MAX_COMMAND_LINE: usize = 4096;

pub fn parse_command(line: &str) -> Command {
    let line = line.trim_end_matches(['\r', '\n']);
    let (verb, rest) = match line.split_once(' ') {
        Some((v, r)) => (v, r.trim()),
        None => (line, ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "HELO" if !rest.is_empty() => Command::Helo(rest.to_string()),
        "EHLO" if !rest.is_empty() => Command::Ehlo(rest.to_string()),
        "HELO" | "EHLO" => Command::Malformed("a domain or address literal is required"),
        "MAIL" => match path_after(rest, "FROM:") {
            Some((from, params)) => {
                let mut size = None;
                for p in params.split_whitespace() {
                    if let Some(v) = p.strip_prefix("SIZE=").or_else(|| p.strip_prefix("size=")) {
                        match v.parse() {
                            Ok(n) => size = Some(n),
                            Err(_) => return Command::Malformed("SIZE must be a number"),
                        }
                    }
                }
                Command::Mail { from, size }
            }
            None => Command::Malformed("syntax: MAIL FROM:<address>"),
        },
        "RCPT" => match path_after(rest, "TO:") {
            Some((to, _)) if !to.is_empty() => Command::Rcpt { to },
            _ => Command::Malformed("syntax: RCPT TO:<address>"),
        },
        "DATA" => Command::Data,
        "RSET" => Command::Rset,
        "NOOP" => Command::Noop,
        "QUIT" => Command::Quit,
        "VRFY" => Command::Vrfy,
        "HELP" => Command::Help,
        "STARTTLS" => Command::StartTls,
        "AUTH" => Command::Auth,
        _ => Command::Unknown,
    }
}

/// `FROM:<a@b> SIZE=10` after the verb: the address and the parameters.
fn path_after(rest: &str, keyword: &str) -> Option<(String, String)> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        let addr = inner[..end].trim();
        // A source route (`@a,@b:user@c`) is obsolete: keep the mailbox.
        let addr = addr.rsplit(':').next().unwrap_or(addr);
        Some((addr.to_string(), inner[end + 1..].trim().to_string()))
    } else {
        // Some clients leave out the brackets.
        let mut parts = rest.splitn(2, ' ');
        let addr = parts.next()?.trim();
        Some((addr.to_string(), parts.next().unwrap_or("").to_string()))
    }
}

/// Collects the DATA section line by line: undoes dot-stuffing, spots the final ".",
/// and stops keeping bytes (not reading) past the size limit.
#[derive(Debug)]
pub struct DataReader {
    pub data: Vec<u8>,
    limit: usize,
    pub too_large: bool,
    at_line_start: bool,
}

impl DataReader {
    pub fn new(limit: usize) -> Self {
        Self {
            data: Vec::new(),
            limit,
            too_large: false,
            at_line_start: true,
        }
    }

    /// Feeds one chunk that ends at a line end or where a long line was cut. Returns true
    /// when it was the terminating "." line.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        let complete = chunk.ends_with(b"\n");
        if self.at_line_start && matches!(chunk, b".\r\n" | b".\n") {
            return true;
        }
        let chunk = if self.at_line_start && chunk.first() == Some(&b'.') {
            &chunk[1..]
        } else {
            chunk
        };
        if self.data.len() + chunk.len() > self.limit {
            self.too_large = true;
        } else if !self.too_large {
            self.data.extend_from_slice(chunk);
        }
        self.at_line_start = complete;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            parse_command("EHLO mx.example.com\r\n"),
            Command::Ehlo("mx.example.com".into())
        );
        assert_eq!(
            parse_command("mail from:<Ann@Example.com> SIZE=1200 BODY=8BITMIME"),
            Command::Mail {
                from: "Ann@Example.com".into(),
                size: Some(1200)
            }
        );
        assert_eq!(
            parse_command("MAIL FROM:<>"),
            Command::Mail {
                from: String::new(),
                size: None
            }
        );
        assert_eq!(
            parse_command("RCPT TO:<@relay.example:support@acme.test>"),
            Command::Rcpt {
                to: "support@acme.test".into()
            }
        );
        assert_eq!(
            parse_command("RCPT TO: support@acme.test"),
            Command::Rcpt {
                to: "support@acme.test".into()
            }
        );
        assert!(matches!(parse_command("RCPT TO:<>"), Command::Malformed(_)));
        assert!(matches!(parse_command("MAIL <x@y>"), Command::Malformed(_)));
        assert!(matches!(parse_command("HELO"), Command::Malformed(_)));
        assert_eq!(parse_command("data"), Command::Data);
        assert_eq!(parse_command("XYZZY"), Command::Unknown);
        assert_eq!(parse_command(""), Command::Unknown);
    }

    #[test]
    fn data_is_unstuffed_and_ends_at_the_dot() {
        let mut r = DataReader::new(1000);
        for line in [
            &b"Subject: x\r\n"[..],
            b"\r\n",
            b"..leading dot\r\n",
            b"end\r\n",
        ] {
            assert!(!r.feed(line));
        }
        assert!(r.feed(b".\r\n"));
        assert_eq!(r.data, b"Subject: x\r\n\r\n.leading dot\r\nend\r\n");
    }

    #[test]
    fn a_dot_inside_a_long_line_is_content() {
        let mut r = DataReader::new(1000);
        assert!(!r.feed(b"aaaa"));
        assert!(!r.feed(b".\r\n"));
        assert!(r.feed(b".\r\n"));
        assert_eq!(r.data, b"aaaa.\r\n");
    }

    #[test]
    fn oversize_is_noticed_but_read_to_the_end() {
        let mut r = DataReader::new(10);
        assert!(!r.feed(b"0123456789\r\n"));
        assert!(r.too_large);
        assert!(r.feed(b".\r\n"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "\\PC{0,300}") {
            let _ = parse_command(&s);
        }

        #[test]
        fn data_round_trips(lines in proptest::collection::vec("[ -~]{0,40}", 0..20)) {
            // What a client sends: each line dot-stuffed, then the final dot.
            let mut r = DataReader::new(1 << 20);
            let mut expected = Vec::new();
            for l in &lines {
                let sent = if l.starts_with('.') { format!(".{l}\r\n") } else { format!("{l}\r\n") };
                proptest::prop_assert!(!r.feed(sent.as_bytes()));
                expected.extend_from_slice(format!("{l}\r\n").as_bytes());
            }
            proptest::prop_assert!(r.feed(b".\r\n"));
            proptest::prop_assert_eq!(r.data, expected);
        }
    }
}
