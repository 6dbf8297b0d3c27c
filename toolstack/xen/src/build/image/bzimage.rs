//! bzImage (x86 boot protocol, `Documentation/arch/x86/boot.rst`): finds the compressed
//! ELF payload that the PV/PVH builder loads instead of the real-mode setup code.

use super::ImageError;
use super::decompress::{Compression, decompress};

/// Offset of `setup_sects`.
const SETUP_SECTS: usize = 0x1f1;
/// Offset of the "HdrS" header magic.
const HEADER: usize = 0x202;
/// Offset of the boot protocol version.
const VERSION: usize = 0x206;
/// Offset of `payload_offset` (protocol 2.08+).
const PAYLOAD_OFFSET: usize = 0x248;
/// Offset of `payload_length`.
const PAYLOAD_LENGTH: usize = 0x24c;

/// Whether `b` is a bzImage (has the "HdrS" setup header).
pub fn is_bzimage(b: &[u8]) -> bool {
    b.get(HEADER..HEADER + 4) == Some(b"HdrS")
}

/// Extracts and decompresses the payload of a bzImage; returns it with its compression.
pub fn payload(b: &[u8], what: &str) -> Result<(Vec<u8>, Compression), ImageError> {
    let bad = |why: String| ImageError::BadBzImage {
        what: what.to_owned(),
        why,
    };
    let u16_at = |o: usize| b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]]));
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
    };
    let version = u16_at(VERSION).ok_or_else(|| bad("truncated setup header".into()))?;
    if version < 0x208 {
        return Err(bad(format!(
            "boot protocol {}.{:02} has no payload fields (2.08 or later needed: Linux 2.6.26+)",
            version >> 8,
            version & 0xff
        )));
    }
    let sects = match b[SETUP_SECTS] {
        0 => 4,
        n => usize::from(n),
    };
    let off = u32_at(PAYLOAD_OFFSET).ok_or_else(|| bad("truncated setup header".into()))? as usize;
    let len = u32_at(PAYLOAD_LENGTH).ok_or_else(|| bad("truncated setup header".into()))? as usize;
    let start = (sects + 1) * 512 + off;
    let data = b.get(start..start.saturating_add(len)).ok_or_else(|| {
        bad(format!(
            "payload at {start:#x}+{len:#x} lies beyond the file ({:#x} bytes)",
            b.len()
        ))
    })?;
    let c = Compression::detect(data).ok_or_else(|| {
        bad(format!(
            "payload compression not recognised (first bytes {:02x?}); rxl reads gzip, xz, zstd, \
             lz4, bzip2 and lzma (lzo is not supported: rebuild with another CONFIG_KERNEL_*)",
            &data[..data.len().min(6)]
        ))
    })?;
    Ok((decompress(c, data)?, c))
}

/// Builds a minimal bzImage around `payload` (tests of the loaders).
#[cfg(test)]
pub(crate) fn test_image(payload: &[u8]) -> Vec<u8> {
    let sects = 2u8;
    let mut b = vec![0u8; (usize::from(sects) + 1) * 512];
    b[SETUP_SECTS] = sects;
    b[HEADER..HEADER + 4].copy_from_slice(b"HdrS");
    b[VERSION..VERSION + 2].copy_from_slice(&0x20fu16.to_le_bytes());
    b[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&0x10u32.to_le_bytes());
    b[PAYLOAD_LENGTH..PAYLOAD_LENGTH + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(&[0u8; 0x10]);
    b.extend_from_slice(payload);
    b.extend_from_slice(&[0u8; 64]);
    b
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_payload_is_found_and_unpacked() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"\x7fELF inner").expect("gzip");
        let img = test_image(&e.finish().expect("gzip"));
        assert!(is_bzimage(&img));
        let (p, c) = payload(&img, "vmlinuz").expect("payload");
        assert_eq!(c, Compression::Gzip);
        assert_eq!(p, b"\x7fELF inner");
    }

    #[test]
    fn unknown_compression_is_named() {
        let img = test_image(b"\x89LZO\0junk");
        let e = payload(&img, "vmlinuz").expect_err("lzo");
        assert!(e.to_string().contains("lzo"), "{e}");
    }

    #[test]
    fn old_protocol_is_refused() {
        let mut img = test_image(b"x");
        img[VERSION..VERSION + 2].copy_from_slice(&0x204u16.to_le_bytes());
        assert!(
            payload(&img, "k")
                .expect_err("old")
                .to_string()
                .contains("2.08")
        );
    }
}
