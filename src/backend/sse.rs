//! Server-sent events framing: bytes in, complete `data` payloads out.
//!
//! Handles `\n` and `\r\n` line ends, `:` comment and keep-alive lines,
//! `event:`/`id:`/`retry:` fields (ignored), multi-line `data:` (joined with
//! `\n`), `data:` with or without a space, and events split across reads.

/// Incremental SSE framer. Reuses its buffers across events.
#[derive(Debug, Default)]
pub struct SseFramer {
    buf: Vec<u8>,
    /// Start of the unparsed part of `buf`.
    pos: usize,
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
        while let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
            let end = self.pos + nl;
            let mut line = &self.buf[self.pos..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
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
        }
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
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
}
