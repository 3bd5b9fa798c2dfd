//! Just enough MQTT 3.1.1 for the gate: cutting a byte stream into packets, reading a CONNECT and
//! writing the one the broker gets instead, reading a PUBLISH's topic, and the four-byte acks the
//! gate sends on someone's behalf.
//!
//! Everything else passes through as opaque frames, so this is not a codec: it never decodes a
//! packet the gate has no decision to take on. Every length read from the wire is bounded before
//! anything is allocated for it.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Packet types (the high nibble of the first byte) the gate looks at.
pub(crate) mod kind {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBACK: u8 = 9;
    pub const UNSUBACK: u8 = 11;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// The largest remaining length the 4-byte varint can express.
const MAX_REMAINING: usize = 268_435_455;

/// One whole packet as it came off the wire: fixed header, then body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    bytes: Vec<u8>,
    header_len: usize,
}

impl Frame {
    /// The packet type.
    pub fn kind(&self) -> u8 {
        self.bytes[0] >> 4
    }

    /// The low nibble of the first byte (PUBLISH keeps DUP, QoS and RETAIN there).
    pub fn flags(&self) -> u8 {
        self.bytes[0] & 0x0f
    }

    /// Everything after the fixed header.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.header_len..]
    }

    /// The packet, ready to write.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The packet id of a PUBACK, PUBREC, PUBREL or PUBCOMP (whose body is exactly that id).
    pub fn ack_pid(&self) -> io::Result<u16> {
        match *self.body() {
            [hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(malformed("an acknowledgement's body is not a packet id")),
        }
    }
}

/// Reads one packet of at most `limit` bytes (fixed header included). `None` is a clean end of
/// stream between packets; an end inside a packet is an error.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R, limit: usize) -> io::Result<Option<Frame>> {
    let first = match reader.read_u8().await {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut header = vec![first];
    let remaining = read_remaining_length(reader, &mut header).await?;
    let total = header.len() + remaining;
    if total > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a {total}-byte packet exceeds the {limit}-byte limit")));
    }
    let header_len = header.len();
    let mut bytes = header;
    bytes.resize(total, 0);
    reader.read_exact(&mut bytes[header_len..]).await?;
    Ok(Some(Frame { bytes, header_len }))
}

async fn read_remaining_length<R: AsyncRead + Unpin>(reader: &mut R, header: &mut Vec<u8>) -> io::Result<usize> {
    let mut value = 0usize;
    for shift in [0, 7, 14, 21] {
        let b = reader.read_u8().await?;
        header.push(b);
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("remaining length longer than 4 bytes"))
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed MQTT packet: {what}"))
}

/// A client's last will.
pub(crate) struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// A parsed CONNECT of MQTT 3.1 or 3.1.1 (which differ in nothing the gate forwards).
/// Deliberately not `Debug`: it holds a password, which must never be logged.
pub(crate) struct Connect {
    pub clean_session: bool,
    /// Seconds.
    pub keep_alive: u16,
    pub client_id: String,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

/// Why a first packet cannot start a session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// A CONNECT of a protocol version the broker does not speak: answer with CONNACK 1.
    UnsupportedLevel(u8),
    /// Not a CONNECT, or not a valid one: close without an answer.
    Malformed(&'static str),
}

impl Connect {
    /// Reads a CONNECT frame.
    pub fn parse(frame: &Frame) -> Result<Connect, ConnectError> {
        use ConnectError::Malformed;
        if frame.kind() != kind::CONNECT || frame.flags() != 0 {
            return Err(Malformed("the first packet is not a CONNECT"));
        }
        let mut r = Reader(frame.body());
        let name = r.bytes().ok_or(Malformed("no protocol name"))?;
        let level = r.u8().ok_or(Malformed("no protocol level"))?;
        match (name, level) {
            (b"MQTT", 4) | (b"MQIsdp", 3) => {}
            (b"MQTT" | b"MQIsdp", level) => return Err(ConnectError::UnsupportedLevel(level)),
            _ => return Err(Malformed("unknown protocol name")),
        }
        let flags = r.u8().ok_or(Malformed("no connect flags"))?;
        let keep_alive = r.u16().ok_or(Malformed("no keep alive"))?;
        let client_id = r.string().ok_or(Malformed("bad client id"))?;
        let will = read_will(flags, &mut r)?;
        let username = if flags & 0x80 != 0 { Some(r.string().ok_or(Malformed("bad username"))?) } else { None };
        let password = if flags & 0x40 != 0 { Some(r.bytes().ok_or(Malformed("bad password"))?.to_vec()) } else { None };
        if flags & 0x01 != 0 || !r.0.is_empty() {
            return Err(Malformed("reserved flag set or trailing bytes"));
        }
        Ok(Connect { clean_session: flags & 0x02 != 0, keep_alive, client_id, will, username, password })
    }

    /// The CONNECT as MQTT 3.1.1 (the only version rumqttd speaks), with another client id and
    /// credentials. `None` when a field no longer fits its 16-bit length.
    pub fn encode_as(&self, client_id: &str, username: &str, password: &str) -> Option<Vec<u8>> {
        let mut flags = 0xc0;
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | (w.qos << 3) | if w.retain { 0x20 } else { 0 };
        }
        let mut body = Vec::new();
        put_bytes(&mut body, b"MQTT")?;
        body.extend_from_slice(&[4, flags]);
        body.extend_from_slice(&self.keep_alive.to_be_bytes());
        put_bytes(&mut body, client_id.as_bytes())?;
        if let Some(w) = &self.will {
            put_bytes(&mut body, w.topic.as_bytes())?;
            put_bytes(&mut body, &w.payload)?;
        }
        put_bytes(&mut body, username.as_bytes())?;
        put_bytes(&mut body, password.as_bytes())?;
        Some(with_fixed_header(kind::CONNECT << 4, body))
    }
}

fn read_will(flags: u8, r: &mut Reader) -> Result<Option<Will>, ConnectError> {
    use ConnectError::Malformed;
    if flags & 0x04 == 0 {
        return match flags & 0x38 {
            0 => Ok(None),
            _ => Err(Malformed("will QoS or retain without a will")),
        };
    }
    let qos = (flags >> 3) & 0x03;
    if qos == 3 {
        return Err(Malformed("will QoS 3"));
    }
    let topic = r.string().ok_or(Malformed("bad will topic"))?;
    if !valid_topic_name(&topic) {
        return Err(Malformed("bad will topic"));
    }
    let payload = r.bytes().ok_or(Malformed("bad will payload"))?.to_vec();
    Ok(Some(Will { topic, payload, qos, retain: flags & 0x20 != 0 }))
}

/// What the gate needs of a PUBLISH.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Publish<'a> {
    pub topic: &'a str,
    pub qos: u8,
    /// Present when QoS > 0.
    pub pid: Option<u16>,
}

impl<'a> Publish<'a> {
    /// Reads a PUBLISH frame's topic and packet id; a malformed one is an error.
    pub fn parse(frame: &'a Frame) -> io::Result<Publish<'a>> {
        let qos = (frame.flags() >> 1) & 0x03;
        if qos == 3 {
            return Err(malformed("PUBLISH with QoS 3"));
        }
        let mut r = Reader(frame.body());
        let topic = r.bytes().and_then(|t| std::str::from_utf8(t).ok());
        let topic = topic.filter(|t| valid_topic_name(t)).ok_or_else(|| malformed("bad PUBLISH topic"))?;
        let pid = match qos {
            0 => None,
            _ => Some(r.u16().filter(|&p| p != 0).ok_or_else(|| malformed("bad PUBLISH packet id"))?),
        };
        Ok(Publish { topic, qos, pid })
    }
}

/// A topic one may publish to: not empty, no wildcards, no NUL (MQTT 3.1.1 §4.7).
fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A PUBACK, PUBREC, PUBREL or PUBCOMP for `pid`.
pub(crate) fn ack(kind: u8, pid: u16) -> Vec<u8> {
    // PUBREL is the one ack whose fixed-header flags are not zero.
    let flags = if kind == kind::PUBREL { 0x02 } else { 0 };
    let [hi, lo] = pid.to_be_bytes();
    vec![kind << 4 | flags, 2, hi, lo]
}

/// A CONNACK with `code` (0 accepted, 1 bad protocol level, 2 bad client id, 3 server
/// unavailable, 4 bad username or password, 5 not authorized).
pub(crate) fn connack(code: u8) -> Vec<u8> {
    vec![kind::CONNACK << 4, 2, 0, code]
}

fn with_fixed_header(first: u8, body: Vec<u8>) -> Vec<u8> {
    debug_assert!(body.len() <= MAX_REMAINING);
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&body);
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    out.extend_from_slice(&u16::try_from(bytes.len()).ok()?.to_be_bytes());
    out.extend_from_slice(bytes);
    Some(())
}

/// A cursor over a packet body whose reads fail, rather than panic, past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// A 16-bit length, then that many bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn string(&mut self) -> Option<String> {
        self.bytes().and_then(|b| String::from_utf8(b.to_vec()).ok())
    }
}

/// Runs the gate's parsers over `bytes` as if a client had sent them: cut into frames of at most
/// `limit` bytes, each CONNECT, PUBLISH and acknowledgement read as the gate reads it. A CONNECT
/// that parses must survive being re-encoded for rumqttd. For the fuzzer (`fuzz/`); it must
/// never panic, whatever the bytes.
pub fn parse_stream(mut bytes: &[u8], limit: usize) {
    while let Ok(Some(frame)) = now(read_frame(&mut bytes, limit)) {
        match frame.kind() {
            kind::CONNECT => {
                if let Ok(c) = Connect::parse(&frame) {
                    let again = c.encode_as(&c.client_id, "user", "password").map(|out| {
                        let frame = now(read_frame(&mut &out[..], usize::MAX)).ok().flatten();
                        frame.and_then(|f| Connect::parse(&f).ok())
                    });
                    if let Some(again) = again {
                        let r = again.expect("a re-encoded CONNECT parses");
                        let will = |c: &Connect| c.will.as_ref().map(|w| (w.topic.clone(), w.payload.clone(), w.qos, w.retain));
                        assert_eq!((r.clean_session, r.keep_alive, &r.client_id), (c.clean_session, c.keep_alive, &c.client_id));
                        assert_eq!(will(&r), will(&c));
                    }
                }
            }
            kind::PUBLISH => {
                let _ = Publish::parse(&frame);
            }
            kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => {
                let _ = frame.ack_pid();
            }
            _ => {}
        }
    }
}

/// The output of a future that cannot wait, such as a read from a byte slice.
fn now<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("reading from memory never waits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frame(bytes: &[u8], limit: usize) -> io::Result<Option<Frame>> {
        read_frame(&mut &bytes[..], limit).await
    }

    fn connect(client_id: &str, will: Option<Will>, user: Option<&str>, pass: Option<&[u8]>) -> Vec<u8> {
        let mut flags = 0x02;
        let mut body = Vec::new();
        put_bytes(&mut body, b"MQTT").unwrap();
        let payload_start = {
            body.extend_from_slice(&[4, 0, 0, 30]);
            body.len()
        };
        put_bytes(&mut body, client_id.as_bytes()).unwrap();
        if let Some(w) = &will {
            flags |= 0x04 | (w.qos << 3) | if w.retain { 0x20 } else { 0 };
            put_bytes(&mut body, w.topic.as_bytes()).unwrap();
            put_bytes(&mut body, &w.payload).unwrap();
        }
        if let Some(u) = user {
            flags |= 0x80;
            put_bytes(&mut body, u.as_bytes()).unwrap();
        }
        if let Some(p) = pass {
            flags |= 0x40;
            put_bytes(&mut body, p).unwrap();
        }
        body[payload_start - 3] = flags;
        with_fixed_header(0x10, body)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn frames_are_cut_by_remaining_length_and_bounded() {
        rt().block_on(async {
            let big = with_fixed_header(0x30, vec![7; 300]);
            assert_eq!(&big[..3], &[0x30, 0xac, 0x02]);
            let f = frame(&big, 1000).await.unwrap().unwrap();
            assert_eq!((f.kind(), f.body().len()), (kind::PUBLISH, 300));
            assert!(frame(&big, 302).await.is_err(), "303 bytes exceed a 302-byte limit");
            assert!(frame(&[], 10).await.unwrap().is_none(), "clean end between packets");
            assert!(frame(&big[..100], 1000).await.is_err(), "end inside a packet");
            assert!(frame(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], usize::MAX).await.is_err(), "5-byte varint");
        });
    }

    #[test]
    fn connect_round_trips_with_new_identity() {
        rt().block_on(async {
            let will = Will { topic: "w/t".into(), payload: b"gone".to_vec(), qos: 1, retain: true };
            let bytes = connect("c1", Some(will), Some("alice"), Some(b"pw"));
            let c = Connect::parse(&frame(&bytes, 1000).await.unwrap().unwrap()).unwrap();
            let identity = (c.client_id.as_str(), c.username.as_deref(), c.password.as_deref());
            assert_eq!(identity, ("c1", Some("alice"), Some(&b"pw"[..])));
            let w = c.will.as_ref().unwrap();
            assert_eq!((w.topic.as_str(), &w.payload[..], w.qos, w.retain), ("w/t", &b"gone"[..], 1, true));

            let out = c.encode_as("alice:c1", "internal", "secret").unwrap();
            let r = Connect::parse(&frame(&out, 1000).await.unwrap().unwrap()).unwrap();
            let identity = (r.client_id.as_str(), r.username.as_deref(), r.password.as_deref());
            assert_eq!(identity, ("alice:c1", Some("internal"), Some(&b"secret"[..])));
            assert_eq!((r.keep_alive, r.clean_session, r.will.unwrap().retain), (30, true, true));
        });
    }

    #[test]
    fn connect_without_credentials_and_bad_connects() {
        rt().block_on(async {
            let c = Connect::parse(&frame(&connect("", None, None, None), 1000).await.unwrap().unwrap()).unwrap();
            assert!(c.username.is_none() && c.password.is_none() && c.will.is_none());

            let mut level5 = connect("c", None, None, None);
            level5[8] = 5;
            let f = frame(&level5, 1000).await.unwrap().unwrap();
            assert_eq!(Connect::parse(&f).err(), Some(ConnectError::UnsupportedLevel(5)));

            let publish = with_fixed_header(0x30, vec![0, 1, b'a']);
            let f = frame(&publish, 1000).await.unwrap().unwrap();
            assert!(matches!(Connect::parse(&f), Err(ConnectError::Malformed(_))));

            let mut truncated = connect("client", None, Some("u"), None);
            truncated.truncate(truncated.len() - 1);
            truncated[1] -= 1;
            let f = frame(&truncated, 1000).await.unwrap().unwrap();
            assert!(matches!(Connect::parse(&f), Err(ConnectError::Malformed(_))));
        });
    }

    #[test]
    fn publish_topic_and_packet_id() {
        rt().block_on(async {
            let q1 = with_fixed_header(0x32, vec![0, 3, b'a', b'/', b'b', 0, 9, b'x']);
            let f = frame(&q1, 100).await.unwrap().unwrap();
            assert_eq!(Publish::parse(&f).unwrap(), Publish { topic: "a/b", qos: 1, pid: Some(9) });
            let wildcard = with_fixed_header(0x30, vec![0, 3, b'a', b'/', b'#']);
            assert!(Publish::parse(&frame(&wildcard, 100).await.unwrap().unwrap()).is_err());
            let qos3 = with_fixed_header(0x36, vec![0, 1, b'a', 0, 1]);
            assert!(Publish::parse(&frame(&qos3, 100).await.unwrap().unwrap()).is_err());
        });
    }

    #[test]
    fn acks() {
        assert_eq!(ack(kind::PUBACK, 0x0102), [0x40, 2, 1, 2]);
        assert_eq!(ack(kind::PUBREL, 7), [0x62, 2, 0, 7]);
        assert_eq!(connack(5), [0x20, 2, 0, 5]);
    }
}
