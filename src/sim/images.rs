//! Image tokens of chat requests.
//!
//! Rule (Qwen2-VL style, 28-pixel patches by default): an image of
//! `width x height` pixels costs `ceil(width / p) * ceil(height / p)` prompt
//! tokens, `p` = `image_patch_px`. Dimensions are read from the header of a
//! base64 `data:` URL (PNG: the IHDR chunk; JPEG: the first SOF marker),
//! decoding only the base64 groups that hold the bytes looked at. A URL that
//! is not a `data:` URL (the simulator fetches nothing) costs 0 tokens; a
//! `data:` URL whose header cannot be read is a 400 error.
//!
//! The image's tokens enter the prompt as pseudo token ids derived from a
//! hash of the URL, so the prefix cache treats a repeated image as cached.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Random access into base64 text without decoding all of it.
struct B64<'a> {
    s: &'a [u8],
}

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

impl B64<'_> {
    /// Decoded byte `i`, if present.
    fn byte(&self, i: usize) -> Option<u8> {
        let g = i / 3 * 4;
        let quad = self.s.get(g..(g + 4).min(self.s.len()))?;
        let mut v = 0u32;
        let mut n = 0;
        for &c in quad {
            if c == b'=' {
                break;
            }
            v = (v << 6) | sextet(c)?;
            n += 1;
        }
        let have = match n {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => 0,
        };
        if i % 3 >= have {
            return None;
        }
        v <<= 6 * (4 - n);
        Some((v >> (16 - 8 * (i % 3))) as u8)
    }

    fn be16(&self, i: usize) -> Option<u32> {
        Some((self.byte(i)? as u32) << 8 | self.byte(i + 1)? as u32)
    }

    fn be32(&self, i: usize) -> Option<u32> {
        Some(self.be16(i)? << 16 | self.be16(i + 2)?)
    }
}

/// Width and height of the PNG or JPEG image in base64 `b`.
fn dimensions(b: &B64<'_>) -> Option<(u32, u32)> {
    const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    if (0..8).all(|i| b.byte(i) == Some(PNG[i])) {
        return Some((b.be32(16)?, b.be32(20)?));
    }
    if b.byte(0)? != 0xFF || b.byte(1)? != 0xD8 {
        return None;
    }
    let mut p = 2;
    loop {
        if b.byte(p)? != 0xFF {
            return None;
        }
        while b.byte(p + 1)? == 0xFF {
            p += 1;
        }
        let m = b.byte(p + 1)?;
        if m == 0x01 || (0xD0..=0xD8).contains(&m) {
            p += 2;
            continue;
        }
        if m == 0xD9 || m == 0xDA {
            return None;
        }
        let len = b.be16(p + 2)? as usize;
        let sof = (0xC0..=0xCF).contains(&m) && ![0xC4, 0xC8, 0xCC].contains(&m);
        if sof {
            let h = b.be16(p + 5)?;
            let w = b.be16(p + 7)?;
            return Some((w, h));
        }
        p += 2 + len;
    }
}

/// Pseudo token ids of the image at `url` (empty for a non-`data:` URL),
/// or a message saying why its header cannot be read.
pub(crate) fn image_ids(url: &str, patch_px: usize) -> Result<Vec<u32>, String> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(Vec::new());
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return Err("image data URL has no `,`".into());
    };
    if !meta.ends_with(";base64") {
        return Err("image data URL must be base64-encoded".into());
    }
    let (w, h) = dimensions(&B64 { s: data.as_bytes() })
        .ok_or("cannot read the image size (expected a PNG or JPEG data URL)")?;
    let p = patch_px.max(1) as u64;
    let n = (w as u64).div_ceil(p) * (h as u64).div_ceil(p);
    if n > 1 << 24 {
        return Err(format!("image of {w}x{h} pixels is too large"));
    }
    let mut hs = DefaultHasher::new();
    url.hash(&mut hs);
    let base = hs.finish() as u32;
    Ok((0..n as u32)
        .map(|i| 0x8000_0000 | base.wrapping_add(i))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in bytes.chunks(3) {
            let v = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for k in 0..4 {
                if k <= c.len() {
                    s.push(T[(v >> (18 - 6 * k) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    #[test]
    fn png_and_jpeg_sizes() {
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        png.extend(b"IHDR");
        png.extend(300u32.to_be_bytes());
        png.extend(57u32.to_be_bytes());
        png.extend([8, 6, 0, 0, 0]);
        let url = format!("data:image/png;base64,{}", b64(&png));
        assert_eq!(image_ids(&url, 28).unwrap().len(), 11 * 3);
        // JPEG: SOI, APP0 of 16 bytes, SOF0 with height 100, width 56.
        let mut jpg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        jpg.extend([0; 14]);
        jpg.extend([0xFF, 0xC0, 0, 17, 8, 0, 100, 0, 56, 3]);
        let url = format!("data:image/jpeg;base64,{}", b64(&jpg));
        assert_eq!(image_ids(&url, 28).unwrap().len(), 2 * 4);
        assert!(image_ids("https://x/y.png", 28).unwrap().is_empty());
        assert!(image_ids("data:image/png;base64,AAAA", 28).is_err());
    }
}
