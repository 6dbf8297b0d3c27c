//! The compressors Linux uses for a bzImage payload (`CONFIG_KERNEL_*`), recognised by magic.
//!
//! Each decoder stops at the end of its first stream: the kernel build appends the
//! uncompressed size (4 bytes) after the stream, which must not be taken for more data.

use std::io::Read;

use super::ImageError;

/// A payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// lz4, legacy frame format (`02 21 4c 18`), as the kernel's `lz4 -l` writes it.
    Lz4,
    /// bzip2 (`BZh`).
    Bzip2,
    /// legacy lzma "alone" format (`5d 00 00`).
    Lzma,
}

impl Compression {
    /// Recognises a payload by its first bytes.
    pub fn detect(b: &[u8]) -> Option<Self> {
        if b.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Self::Xz)
        } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if b.starts_with(&[0x02, 0x21, 0x4c, 0x18]) {
            Some(Self::Lz4)
        } else if b.starts_with(b"BZh") {
            Some(Self::Bzip2)
        } else if b.starts_with(&[0x5d, 0, 0]) {
            Some(Self::Lzma)
        } else {
            None
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Lz4 => "lz4",
            Self::Bzip2 => "bzip2",
            Self::Lzma => "lzma",
        }
    }
}

/// Upper bound on a decompressed kernel: refuses decompression bombs.
pub const MAX_OUTPUT: u64 = 512 << 20;

fn read_all(mut r: impl Read, c: Compression) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    (&mut r)
        .take(MAX_OUTPUT + 1)
        .read_to_end(&mut out)
        .map_err(|e| ImageError::Decompress {
            format: c.name(),
            why: e.to_string(),
        })?;
    if out.len() as u64 > MAX_OUTPUT {
        return Err(ImageError::Decompress {
            format: c.name(),
            why: format!("output exceeds {} MiB", MAX_OUTPUT >> 20),
        });
    }
    Ok(out)
}

/// Decompresses `data` as `c`.
pub fn decompress(c: Compression, data: &[u8]) -> Result<Vec<u8>, ImageError> {
    let err = |why: String| ImageError::Decompress {
        format: c.name(),
        why,
    };
    match c {
        Compression::Gzip => read_all(flate2::read::GzDecoder::new(data), c),
        Compression::Xz => {
            let s = xz2::stream::Stream::new_stream_decoder(u64::MAX, 0)
                .map_err(|e| err(e.to_string()))?;
            liblzma(s, data).map_err(err)
        }
        Compression::Lzma => {
            let s =
                xz2::stream::Stream::new_lzma_decoder(u64::MAX).map_err(|e| err(e.to_string()))?;
            liblzma(s, data).map_err(err)
        }
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::new(data).map_err(|e| err(e.to_string()))?;
            read_all(d.single_frame(), c)
        }
        Compression::Bzip2 => read_all(bzip2::read::BzDecoder::new(data), c),
        Compression::Lz4 => lz4_legacy(data).map_err(err),
    }
}

/// Runs a liblzma decoder to the end of its first stream (xz2's `Read` adapters reject the
/// kernel's appended size as trailing garbage).
fn liblzma(mut s: xz2::stream::Stream, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(4).max(1 << 16));
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let (in_before, out_before) = (s.total_in(), s.total_out());
        let rest = &data[(in_before as usize).min(data.len())..];
        let status = s
            .process_vec(rest, &mut out, xz2::stream::Action::Run)
            .map_err(|e| e.to_string())?;
        if status == xz2::stream::Status::StreamEnd {
            return Ok(out);
        }
        if out.len() as u64 > MAX_OUTPUT {
            return Err(format!("output exceeds {} MiB", MAX_OUTPUT >> 20));
        }
        if s.total_in() == in_before && s.total_out() == out_before && out.len() < out.capacity() {
            return Err("the stream is truncated".into());
        }
    }
}

/// The lz4 legacy format: magic, then blocks of `u32 compressed size` + raw lz4 block, each
/// decoding to at most 8 MiB. It has no end marker: the stream ends at the end of the data,
/// at a size that does not fit (the kernel's appended length), or at another magic.
fn lz4_legacy(data: &[u8]) -> Result<Vec<u8>, String> {
    const MAGIC: u32 = 0x184c_2102;
    const BLOCK_MAX: usize = 8 << 20;
    let mut o = 4;
    let mut out = Vec::new();
    while o + 4 <= data.len() {
        let size = u32::from_le_bytes(data[o..o + 4].try_into().expect("4 bytes")) as usize;
        if size == MAGIC as usize || o + 4 + size > data.len() {
            break;
        }
        let block = &data[o + 4..o + 4 + size];
        let start = out.len();
        out.resize(start + BLOCK_MAX, 0);
        let n = lz4_flex::block::decompress_into(block, &mut out[start..])
            .map_err(|e| format!("block at offset {o}: {e}"))?;
        out.truncate(start + n);
        if out.len() as u64 > MAX_OUTPUT {
            return Err(format!("output exceeds {} MiB", MAX_OUTPUT >> 20));
        }
        o += 4 + size;
    }
    if out.is_empty() {
        return Err("no lz4 block".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn sample() -> Vec<u8> {
        // Compressible but not trivial: an ELF-like header, text and a counter.
        let mut v = b"\x7fELF sample kernel ".to_vec();
        for i in 0..50_000u32 {
            v.extend_from_slice(&(i.wrapping_mul(2_654_435_761) % 251).to_le_bytes()[..1]);
            v.extend_from_slice(b"abc");
        }
        v
    }

    /// The kernel build appends the uncompressed size after the stream.
    fn with_size(mut z: Vec<u8>, n: usize) -> Vec<u8> {
        z.extend_from_slice(&(n as u32).to_le_bytes());
        z
    }

    fn roundtrip(c: Compression, z: Vec<u8>, want: &[u8]) {
        let z = with_size(z, want.len());
        assert_eq!(Compression::detect(&z), Some(c));
        let got = decompress(c, &z).unwrap_or_else(|e| panic!("{}: {e}", c.name()));
        assert_eq!(got, want, "{}", c.name());
    }

    #[test]
    fn gzip() {
        let d = sample();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&d).expect("gzip");
        roundtrip(Compression::Gzip, e.finish().expect("gzip"), &d);
    }

    #[test]
    fn xz() {
        let d = sample();
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&d).expect("xz");
        roundtrip(Compression::Xz, e.finish().expect("xz"), &d);
    }

    #[test]
    fn lzma() {
        let d = sample();
        let opts = xz2::stream::LzmaOptions::new_preset(6).expect("preset");
        let s = xz2::stream::Stream::new_lzma_encoder(&opts).expect("encoder");
        let mut e = xz2::write::XzEncoder::new_stream(Vec::new(), s);
        e.write_all(&d).expect("lzma");
        roundtrip(Compression::Lzma, e.finish().expect("lzma"), &d);
    }

    #[test]
    fn zstd() {
        let d = sample();
        roundtrip(
            Compression::Zstd,
            zstd::encode_all(&d[..], 19).expect("zstd"),
            &d,
        );
    }

    #[test]
    fn bzip2() {
        let d = sample();
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        e.write_all(&d).expect("bzip2");
        roundtrip(Compression::Bzip2, e.finish().expect("bzip2"), &d);
    }

    #[test]
    fn lz4_legacy_with_several_blocks() {
        // Two blocks, as `lz4 -l` writes data larger than one block.
        let d = sample();
        let (a, b) = d.split_at(d.len() / 3);
        let mut z = 0x184c_2102u32.to_le_bytes().to_vec();
        for part in [a, b] {
            let blk = lz4_flex::block::compress(part);
            z.extend_from_slice(&(blk.len() as u32).to_le_bytes());
            z.extend_from_slice(&blk);
        }
        roundtrip(Compression::Lz4, z, &d);
    }

    #[test]
    fn corrupt_data_is_an_error_not_a_panic() {
        let d = sample();
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(&d).expect("xz");
        let mut z = e.finish().expect("xz");
        let mid = z.len() / 2;
        z[mid] ^= 0xff;
        assert!(matches!(
            decompress(Compression::Xz, &z),
            Err(ImageError::Decompress { .. })
        ));
        assert_eq!(Compression::detect(b"MZ\x90\0"), None);
    }
}
