//! The journal's on-disk records: `[payload length u32][CRC-32 of payload u32][payload]`,
//! little-endian. A record whose length or checksum does not hold marks the
//! end of what was written whole (a torn tail after a crash).

/// Payloads above this are not records but garbage (a webhook body is at most 1 MiB).
pub const MAX_PAYLOAD: usize = 4 * 1024 * 1024;
const HEADER: usize = 8;

use super::state::Dead;

/// One entry of the log. `seq` numbers events; the other records refer to them.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// First record of every segment: the next event number when it was opened,
    /// so numbering survives the deletion of every older segment.
    SegmentStart {
        /// The number the next event appended gets.
        next_seq: u64,
    },
    /// An accepted event: when it arrived (ms since the epoch) and its body.
    Event {
        /// The event's number, increasing from 1 across segments.
        seq: u64,
        /// When it was accepted, in ms since the Unix epoch.
        received_ms: u64,
        /// The body as it was accepted.
        body: Vec<u8>,
    },
    /// The event reached its destination (or a newer one superseded it), with
    /// the ordering keys it established: (entity key, order).
    Applied {
        /// The event.
        seq: u64,
        /// (entity key, order) pairs: the newest order applied for each key.
        marks: Vec<(String, i64)>,
    },
    /// The event failed and is kept: attempts so far, whether it is poison
    /// (not retried on its own), when to retry, and why.
    DeadLetter {
        /// The event.
        seq: u64,
        /// Attempts made so far.
        attempts: u32,
        /// Poison flag, next due time and reason.
        dead: Dead,
    },
    /// A dead letter made due at once (an operator's replay).
    Revived {
        /// The event.
        seq: u64,
    },
    /// A dead letter an operator dropped.
    Discarded {
        /// The event.
        seq: u64,
    },
    /// Ordering keys copied forward when the segment holding them is deleted.
    Marks {
        /// (entity key, order) pairs still needed to order later events.
        marks: Vec<(String, i64)>,
    },
}

const SEGMENT_START: u8 = 0;
const EVENT: u8 = 1;
const APPLIED: u8 = 2;
const DEAD_LETTER: u8 = 3;
const REVIVED: u8 = 4;
const DISCARDED: u8 = 5;
const MARKS: u8 = 6;

fn put_marks(out: &mut Vec<u8>, marks: &[(String, i64)]) {
    out.extend_from_slice(&(marks.len() as u32).to_le_bytes());
    for (key, order) in marks {
        let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&order.to_le_bytes());
    }
}

impl Record {
    /// Appends the framed record to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        match self {
            Record::SegmentStart { next_seq } => {
                out.push(SEGMENT_START);
                out.extend_from_slice(&next_seq.to_le_bytes());
            }
            Record::Event {
                seq,
                received_ms,
                body,
            } => {
                out.push(EVENT);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&received_ms.to_le_bytes());
                out.extend_from_slice(body);
            }
            Record::Applied { seq, marks } => {
                out.push(APPLIED);
                out.extend_from_slice(&seq.to_le_bytes());
                put_marks(out, marks);
            }
            Record::DeadLetter { seq, attempts, dead } => {
                out.push(DEAD_LETTER);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&attempts.to_le_bytes());
                out.push(u8::from(dead.poison));
                out.extend_from_slice(&dead.retry_at_ms.to_le_bytes());
                out.extend_from_slice(dead.reason.as_bytes());
            }
            Record::Revived { seq } => {
                out.push(REVIVED);
                out.extend_from_slice(&seq.to_le_bytes());
            }
            Record::Discarded { seq } => {
                out.push(DISCARDED);
                out.extend_from_slice(&seq.to_le_bytes());
            }
            Record::Marks { marks } => {
                out.push(MARKS);
                put_marks(out, marks);
            }
        }
        let payload = &out[start + HEADER..];
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32fast::hash(payload).to_le_bytes();
        out[start..start + 4].copy_from_slice(&len);
        out[start + 4..start + HEADER].copy_from_slice(&crc);
    }

    /// The framed size of an event record with a body of `body_len` bytes.
    pub fn event_size(body_len: usize) -> usize {
        HEADER + 1 + 8 + 8 + body_len
    }

    /// Where an event's body sits inside its framed record.
    pub const EVENT_BODY_OFFSET: usize = HEADER + 1 + 8 + 8;
}

/// Why reading stopped before the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Torn {
    /// Fewer bytes than a header or than the length it declares.
    Short,
    /// A length no record has.
    BadLength,
    /// The payload does not match its checksum.
    BadChecksum,
    /// The checksum holds but the payload is not a record this version knows.
    Unreadable,
}

/// Reads the record at the start of `bytes`: the record and its framed size.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), Torn> {
    let header = bytes.get(..HEADER).ok_or(Torn::Short)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_PAYLOAD {
        return Err(Torn::BadLength);
    }
    let payload = bytes.get(HEADER..HEADER + len).ok_or(Torn::Short)?;
    if crc32fast::hash(payload) != crc {
        return Err(Torn::BadChecksum);
    }
    let record = parse(payload).ok_or(Torn::Unreadable)?;
    Ok((record, HEADER + len))
}

/// Checks a framed record read back from disk and returns its payload.
pub fn payload(framed: &[u8]) -> Option<&[u8]> {
    let (_, size) = decode_header(framed)?;
    let payload = framed.get(HEADER..size)?;
    let crc = u32::from_le_bytes([framed[4], framed[5], framed[6], framed[7]]);
    (crc32fast::hash(payload) == crc).then_some(payload)
}

fn decode_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let header = bytes.get(..HEADER)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    Some((len, HEADER + len))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }
    fn marks(&mut self) -> Option<Vec<(String, i64)>> {
        let count = self.u32()? as usize;
        let mut marks = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let len = self.u16()? as usize;
            let key = String::from_utf8(self.take(len)?.to_vec()).ok()?;
            marks.push((key, self.i64()?));
        }
        Some(marks)
    }
}

fn parse(payload: &[u8]) -> Option<Record> {
    let mut r = Reader { bytes: payload };
    let record = match r.u8()? {
        SEGMENT_START => Record::SegmentStart { next_seq: r.u64()? },
        EVENT => Record::Event {
            seq: r.u64()?,
            received_ms: r.u64()?,
            body: r.rest().to_vec(),
        },
        APPLIED => Record::Applied {
            seq: r.u64()?,
            marks: r.marks()?,
        },
        DEAD_LETTER => Record::DeadLetter {
            seq: r.u64()?,
            attempts: r.u32()?,
            dead: Dead {
                poison: r.u8()? != 0,
                retry_at_ms: r.u64()?,
                reason: String::from_utf8_lossy(r.rest()).into_owned(),
            },
        },
        REVIVED => Record::Revived { seq: r.u64()? },
        DISCARDED => Record::Discarded { seq: r.u64()? },
        MARKS => Record::Marks { marks: r.marks()? },
        _ => return None,
    };
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Record> {
        vec![
            Record::SegmentStart { next_seq: 7 },
            Record::Event {
                seq: 7,
                received_ms: 1_700_000_000_000,
                body: b"{\"a\":1}".to_vec(),
            },
            Record::Applied {
                seq: 7,
                marks: vec![("bp\u{0}id".into(), -5), ("x".into(), i64::MAX)],
            },
            Record::DeadLetter {
                seq: 8,
                attempts: 3,
                dead: Dead {
                    poison: true,
                    retry_at_ms: 9,
                    reason: "mapping: é".into(),
                },
            },
            Record::Revived { seq: 8 },
            Record::Discarded { seq: 8 },
            Record::Marks { marks: vec![] },
        ]
    }

    #[test]
    fn every_record_reads_back() {
        let mut bytes = Vec::new();
        for record in all() {
            record.encode(&mut bytes);
        }
        let mut at = 0;
        for expected in all() {
            let (record, size) = decode(&bytes[at..]).expect("a whole record");
            assert_eq!(record, expected);
            at += size;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(decode(&bytes[at..]), Err(Torn::Short));
    }

    #[test]
    fn a_cut_or_flipped_record_is_torn() {
        let mut bytes = Vec::new();
        Record::Event {
            seq: 1,
            received_ms: 2,
            body: vec![b'x'; 100],
        }
        .encode(&mut bytes);
        assert_eq!(bytes.len(), Record::event_size(100));
        for cut in [3, 8, 50, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), Err(Torn::Short), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert_eq!(decode(&flipped), Err(Torn::BadChecksum));
        assert_eq!(payload(&flipped), None);
        assert!(payload(&bytes).is_some());
        assert_eq!(decode(&[0u8; 16]), Err(Torn::BadLength));
        assert_eq!(&bytes[Record::EVENT_BODY_OFFSET..], &[b'x'; 100][..]);
    }
}
