//! Synthetic images for the multimodal static benchmark: deterministic from
//! a seed, encoded as PNG or JPEG, sent as `data:` URLs.
//!
//! Each image is a smooth pattern (sums of sine waves whose frequencies and
//! phases come from the seed) with a little seeded noise, so that it
//! compresses like a photograph rather than like flat colour or pure noise,
//! and no two requests carry the same image (a server's image cache cannot
//! serve them).

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Image encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl std::str::FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(ImageFormat::Png),
            "jpeg" | "jpg" => Ok(ImageFormat::Jpeg),
            other => Err(format!("`{other}`: expected png or jpeg")),
        }
    }
}

impl ImageFormat {
    /// The MIME type of the data URL.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }
}

/// Errors making an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Width or height is zero or too large.
    #[error("--image-size {0}x{1}: each side must be between 1 and 8192 pixels")]
    BadSize(u32, u32),
    /// The encoder failed.
    #[error("image encoding failed: {0}")]
    Encode(String),
}

/// RGB pixels of image `index`, `width` x `height`, from `seed`.
fn pixels(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let f: [f32; 6] = std::array::from_fn(|_| rng.random_range(0.005f32..0.05));
    let ph: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0f32..std::f32::consts::TAU));
    let mut out = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let (xf, yf) = (x as f32, y as f32);
            for c in 0..3 {
                let v = (xf * f[c] + ph[c]).sin() + (yf * f[c + 3] - ph[c]).cos();
                let noise: f32 = rng.random_range(-6.0..6.0);
                out.push((127.5 + 60.0 * v + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

/// Encode a seeded image; returns the encoded bytes.
pub fn encode_image(
    width: u32,
    height: u32,
    format: ImageFormat,
    seed: u64,
) -> Result<Vec<u8>, ImageError> {
    if width == 0 || height == 0 || width > 8192 || height > 8192 {
        return Err(ImageError::BadSize(width, height));
    }
    let rgb = pixels(width, height, seed);
    let mut buf = Vec::new();
    match format {
        ImageFormat::Png => {
            let mut enc = png::Encoder::new(&mut buf, width, height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc
                .write_header()
                .map_err(|e| ImageError::Encode(e.to_string()))?;
            w.write_image_data(&rgb)
                .map_err(|e| ImageError::Encode(e.to_string()))?;
            w.finish().map_err(|e| ImageError::Encode(e.to_string()))?;
        }
        ImageFormat::Jpeg => {
            let enc = jpeg_encoder::Encoder::new(&mut buf, 85);
            enc.encode(
                &rgb,
                width as u16,
                height as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(|e| ImageError::Encode(e.to_string()))?;
        }
    }
    Ok(buf)
}

/// A seeded image as a `data:` URL, and its encoded size in bytes.
pub fn image_data_url(
    width: u32,
    height: u32,
    format: ImageFormat,
    seed: u64,
) -> Result<(String, usize), ImageError> {
    let bytes = encode_image(width, height, format, seed)?;
    let mut url = format!("data:{};base64,", format.mime());
    base64::engine::general_purpose::STANDARD.encode_string(&bytes, &mut url);
    Ok((url, bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_carries_the_size_and_seeds_differ() {
        let a = encode_image(64, 32, ImageFormat::Png, 1).unwrap();
        assert_eq!(&a[1..4], b"PNG");
        assert_eq!(u32::from_be_bytes(a[16..20].try_into().unwrap()), 64);
        assert_eq!(u32::from_be_bytes(a[20..24].try_into().unwrap()), 32);
        assert_eq!(a, encode_image(64, 32, ImageFormat::Png, 1).unwrap());
        assert_ne!(a, encode_image(64, 32, ImageFormat::Png, 2).unwrap());
    }

    #[test]
    fn jpeg_and_data_url() {
        let j = encode_image(40, 40, ImageFormat::Jpeg, 3).unwrap();
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        let (url, n) = image_data_url(40, 40, ImageFormat::Jpeg, 3).unwrap();
        assert!(url.starts_with("data:image/jpeg;base64,/9j/"));
        assert_eq!(n, j.len());
        assert!(encode_image(0, 4, ImageFormat::Png, 0).is_err());
    }
}
