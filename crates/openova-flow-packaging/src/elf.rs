//! Static-binary check: an ELF executable is static when it has no `PT_INTERP`
//! program header (no dynamic loader is asked for at exec time).

use thiserror::Error;

/// Why a file could not be read as a 64-bit little-endian ELF.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not an ELF file (bad magic)")]
    NotElf,
    #[error("not a 64-bit little-endian ELF (only x86_64/aarch64 Linux binaries are packaged)")]
    Unsupported,
    #[error("truncated ELF: {0}")]
    Truncated(&'static str),
}

const PT_INTERP: u32 = 3;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

/// The program interpreter an ELF file requests (`/lib64/ld-linux-x86-64.so.2`
/// for a glibc binary), or `None` for a static binary.
pub fn interpreter(bytes: &[u8]) -> Result<Option<String>, ElfError> {
    if bytes.get(0..4) != Some(b"\x7fELF") {
        return Err(ElfError::NotElf);
    }
    // EI_CLASS = 2 (64-bit), EI_DATA = 1 (little-endian).
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err(ElfError::Unsupported);
    }
    let phoff = u64_at(bytes, 0x20).ok_or(ElfError::Truncated("header"))?;
    let phentsize = u16_at(bytes, 0x36).ok_or(ElfError::Truncated("header"))?;
    let phnum = u16_at(bytes, 0x38).ok_or(ElfError::Truncated("header"))?;
    let phoff = usize::try_from(phoff).map_err(|_| ElfError::Truncated("program headers"))?;
    for i in 0..usize::from(phnum) {
        let ph = phoff + i * usize::from(phentsize);
        let p_type = u32_at(bytes, ph).ok_or(ElfError::Truncated("program headers"))?;
        if p_type != PT_INTERP {
            continue;
        }
        let off = u64_at(bytes, ph + 8).ok_or(ElfError::Truncated("program headers"))?;
        let size = u64_at(bytes, ph + 32).ok_or(ElfError::Truncated("program headers"))?;
        let (off, size) = (
            usize::try_from(off).map_err(|_| ElfError::Truncated("interpreter"))?,
            usize::try_from(size).map_err(|_| ElfError::Truncated("interpreter"))?,
        );
        let raw = bytes
            .get(off..off.saturating_add(size))
            .ok_or(ElfError::Truncated("interpreter"))?;
        let path = raw.split(|&c| c == 0).next().unwrap_or_default();
        return Ok(Some(String::from_utf8_lossy(path).into_owned()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 image with the given program header types; a PT_INTERP
    /// header points at `interp`.
    fn elf(types: &[u32], interp: &str) -> Vec<u8> {
        let phoff = 64usize;
        let phentsize = 56usize;
        let data_off = phoff + types.len() * phentsize;
        let mut b = vec![0u8; data_off];
        b[0..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x20..0x28].copy_from_slice(&(phoff as u64).to_le_bytes());
        b[0x36..0x38].copy_from_slice(&(phentsize as u16).to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for (i, t) in types.iter().enumerate() {
            let ph = phoff + i * phentsize;
            b[ph..ph + 4].copy_from_slice(&t.to_le_bytes());
            b[ph + 8..ph + 16].copy_from_slice(&(data_off as u64).to_le_bytes());
            b[ph + 32..ph + 40].copy_from_slice(&((interp.len() + 1) as u64).to_le_bytes());
        }
        b.extend_from_slice(interp.as_bytes());
        b.push(0);
        b
    }

    #[test]
    fn dynamic_binary_names_its_loader() {
        let b = elf(&[6, 3, 1], "/lib64/ld-linux-x86-64.so.2");
        assert_eq!(
            interpreter(&b),
            Ok(Some("/lib64/ld-linux-x86-64.so.2".to_owned()))
        );
    }

    #[test]
    fn static_binary_has_none() {
        assert_eq!(interpreter(&elf(&[6, 1, 1], "")), Ok(None));
        assert_eq!(interpreter(&elf(&[], "")), Ok(None));
    }

    #[test]
    fn rejects_non_elf_and_32_bit() {
        assert_eq!(interpreter(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        let mut b = elf(&[1], "");
        b[4] = 1;
        assert_eq!(interpreter(&b), Err(ElfError::Unsupported));
    }

    #[test]
    fn truncated_headers_are_errors_not_panics() {
        let b = elf(&[3], "/lib/ld.so");
        for cut in [10, 0x3a, 70, b.len() - 3] {
            assert!(interpreter(&b[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_the_running_test_binary() {
        // This test binary is an ELF on Linux; it must parse (static or not).
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(exe).unwrap();
        assert!(interpreter(&bytes).is_ok());
    }
}
