//! Server-sent events framing: bytes in, complete `data` payloads out.
//!
//! Handles `\n`, `\r\n` and bare `\r` line ends (the SSE specification's
//! three), also when a `\r\n` is split across reads; `:` comment and
//! keep-alive lines; `event:`/`id:`/`retry:` fields (ignored); multi-line
//! `data:` (joined with `\n`); `data:` with or without a space; and events
//! split across reads. A line that arrives in many small reads costs time
//! linear in its length: the bytes already searched are never searched again.

/// Incremental SSE framer. Reuses its buffers across events.
#[derive(Debug, Default)]
pub struct SseFramer {
    buf: Vec<u8>,
    /// Start of the unparsed part of `buf`.
    pos: usize,
    /// Where the search for the next line end resumes (`buf[pos..scan]`
    /// holds none).
    scan: usize,
    /// The last line ended with `\r`: a `\n` that follows it is the same
    /// line end.
    after_cr: bool,
    data: Vec<u8>,
    has_data: bool,
}

impl SseFramer {
    /// Feed bytes; call `on_event` with each complete event's data payload.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.buf.extend_from_slice(bytes);
        loop {
            if self.after_cr && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.after_cr = false;
                self.scan = self.scan.max(self.pos);
            }
            let from = self.scan.max(self.pos);
            let Some(i) = memchr::memchr2(b'\n', b'\r', &self.buf[from..]) else {
                self.scan = self.buf.len();
                break;
            };
            let end = from + i;
            self.after_cr = self.buf[end] == b'\r';
            let line = &self.buf[self.pos..end];
            if line.is_empty() {
                if self.has_data {
                    on_event(&self.data)?;
                    self.data.clear();
                    self.has_data = false;
                }
            } else if let Some(rest) = line.strip_prefix(b"data:") {
                let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(rest);
                self.has_data = true;
            }
            // Comments (`:`), `event:`, `id:`, `retry:` and unknown fields are ignored.
            self.pos = end + 1;
            self.scan = self.pos;
        }
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            (self.pos, self.scan) = (0, 0);
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
        Ok(())
    }

    /// The body ended: an event without its blank line is still delivered.
    /// Returns true when bytes of an unterminated line were left over.
    pub fn finish<E>(
        &mut self,
        mut on_event: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<bool, E> {
        let leftover = self.pos < self.buf.len();
        if leftover {
            // Treat the last line as complete.
            self.feed(b"\n", &mut on_event)?;
        }
        if self.has_data {
            on_event(&self.data)?;
            self.data.clear();
            self.has_data = false;
        }
        Ok(leftover)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: &[&[u8]]) -> Vec<String> {
        let mut f = SseFramer::default();
        let mut out = Vec::new();
        for p in pieces {
            f.feed::<()>(p, |d| {
                out.push(String::from_utf8_lossy(d).into_owned());
                Ok(())
            })
            .unwrap();
        }
        f.finish::<()>(|d| {
            out.push(String::from_utf8_lossy(d).into_owned());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn lf_and_crlf() {
        assert_eq!(events(&[b"data: a\n\ndata: b\r\n\r\n"]), vec!["a", "b"]);
    }

    #[test]
    fn comments_fields_and_no_space() {
        let e = events(&[b": keep-alive\n\nevent: message\nid: 3\nretry: 10\ndata:x\n\n"]);
        assert_eq!(e, vec!["x"]);
    }

    #[test]
    fn multi_line_data() {
        assert_eq!(
            events(&[b"data: {\"a\":\ndata: 1}\n\n"]),
            vec!["{\"a\":\n1}"]
        );
    }

    #[test]
    fn split_across_reads_byte_by_byte() {
        let s = "data: h\u{e9}llo\r\n\r\ndata: [DONE]\n\n".as_bytes();
        let pieces: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(events(&pieces), vec!["h\u{e9}llo", "[DONE]"]);
    }

    #[test]
    fn unterminated_last_event_delivered() {
        assert_eq!(events(&[b"data: a\n\ndata: b"]), vec!["a", "b"]);
    }

    #[test]
    fn bare_cr_ends_a_line_and_a_split_crlf_is_one_line_end() {
        assert_eq!(events(&[b"data: a\r\rdata: b\r\r"]), vec!["a", "b"]);
        // `\r` at the end of one read, `\n` at the start of the next: one
        // line end, not an empty line (which would end the event early).
        assert_eq!(
            events(&[b"data: x\r", b"\ndata: y\r", b"\n\r", b"\n"]),
            vec!["x\ny"]
        );
        assert_eq!(
            events(&[b"data: a\r\n\r\n", b"data: b\n\n"]),
            vec!["a", "b"]
        );
    }

    #[test]
    fn a_long_line_in_small_reads_resumes_its_search() {
        // A 1 MB event one byte at a time: after every read the search's
        // resume point is the end of what arrived, so no byte is searched
        // twice (the speed itself: `scripts/framer.sh`).
        let body = format!("data: {}\n\n", "x".repeat(1 << 20));
        let mut f = SseFramer::default();
        let mut got = Vec::new();
        for b in body.as_bytes().chunks(1) {
            f.feed::<()>(b, |d| {
                got.push(d.len());
                Ok(())
            })
            .unwrap();
            assert_eq!(f.scan, f.buf.len());
        }
        assert_eq!(got, vec![1 << 20]);
    }
}
