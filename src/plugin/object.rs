//! Whether a file is a whole object file: the header of a shared library (ELF, Mach-O or PE)
//! and the bounds of everything it points to within the file.
//!
//! The dynamic linker maps a library's segments straight from the file; a part that lies past
//! the end of a truncated or half-copied file is a page that faults with SIGBUS when touched,
//! which kills the process that loaded it. Checking that every table, segment and section ends
//! within the file turns that crash into a refusal. This is our own small reader of the few
//! header fields that say where things are, not a general object-file parser. Only the
//! format of the platform is accepted; the other two are checked all the same (and unit
//! tested here), so a library built for another system gets a precise answer.

/// Why a file is not a whole library of this platform, in words for a person.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Incomplete {
    /// Shorter than any header, or cut inside a table or segment.
    #[error(
        "the file is truncated: its {what} ends at byte {end}, but the file has {size} bytes (a copy that has not finished, or was cut short)"
    )]
    Truncated {
        /// The part that does not fit (`section headers`, `segment 3`...).
        what: String,
        /// Where it ends.
        end: u64,
        /// The file's size.
        size: u64,
    },
    /// Not an object file at all.
    #[error("not a loadable library: it does not start with an ELF, Mach-O or PE header")]
    NotObject,
    /// An object file of another platform.
    #[error("a {found} file, but this switchboard loads {expected} libraries")]
    OtherPlatform {
        /// What it is.
        found: &'static str,
        /// What this platform loads.
        expected: &'static str,
    },
    /// A header whose fields make no sense (sizes too small, counts overflowing).
    #[error("its {0} header is malformed")]
    Malformed(&'static str),
}

/// The object-file format this platform's loader reads.
pub const PLATFORM_FORMAT: &str = if cfg!(target_os = "macos") {
    "Mach-O"
} else if cfg!(windows) {
    "PE"
} else {
    "ELF"
};

/// Check that `bytes` (a whole file) is a complete shared library of this platform.
pub fn check(bytes: &[u8]) -> Result<(), Incomplete> {
    let format = format_of(bytes).ok_or(Incomplete::NotObject)?;
    match format {
        "ELF" => check_elf(bytes)?,
        "Mach-O" => check_macho(bytes)?,
        _ => check_pe(bytes)?,
    }
    if format == PLATFORM_FORMAT {
        Ok(())
    } else {
        Err(Incomplete::OtherPlatform {
            found: format,
            expected: PLATFORM_FORMAT,
        })
    }
}

fn format_of(bytes: &[u8]) -> Option<&'static str> {
    let magic = bytes.get(..4)?;
    match magic {
        b"\x7fELF" => Some("ELF"),
        [0xfe, 0xed, 0xfa, 0xce | 0xcf]
        | [0xce | 0xcf, 0xfa, 0xed, 0xfe]
        | [0xca, 0xfe, 0xba, 0xbe]
        | [0xbe, 0xba, 0xfe, 0xca] => Some("Mach-O"),
        [b'M', b'Z', ..] => Some("PE"),
        _ => None,
    }
}

/// Little- or big-endian reads at offsets, each a truncation when past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn take<const N: usize>(&self, at: u64, what: &str) -> Result<[u8; N], Incomplete> {
        let end = at
            .checked_add(N as u64)
            .ok_or(Incomplete::Malformed("file"))?;
        self.within(end, what)?;
        let start = at as usize;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[start..start + N]);
        if self.big_endian {
            out.reverse();
        }
        Ok(out)
    }

    fn u16(&self, at: u64, what: &str) -> Result<u64, Incomplete> {
        Ok(u64::from(u16::from_le_bytes(self.take(at, what)?)))
    }

    fn u32(&self, at: u64, what: &str) -> Result<u64, Incomplete> {
        Ok(u64::from(u32::from_le_bytes(self.take(at, what)?)))
    }

    fn u64(&self, at: u64, what: &str) -> Result<u64, Incomplete> {
        Ok(u64::from_le_bytes(self.take(at, what)?))
    }

    /// A word of the file's class: 4 bytes in a 32-bit file, 8 in a 64-bit one.
    fn word(&self, wide: bool, at: u64, what: &str) -> Result<u64, Incomplete> {
        if wide {
            self.u64(at, what)
        } else {
            self.u32(at, what)
        }
    }

    /// `end` (an offset one past a part named `what`) lies within the file.
    fn within(&self, end: u64, what: &str) -> Result<(), Incomplete> {
        if end <= self.size() {
            Ok(())
        } else {
            Err(Incomplete::Truncated {
                what: what.to_string(),
                end,
                size: self.size(),
            })
        }
    }

    /// The table of `count` entries of `entry` bytes at `offset` lies within the file.
    fn table(&self, offset: u64, count: u64, entry: u64, what: &str) -> Result<(), Incomplete> {
        let end = count
            .checked_mul(entry)
            .and_then(|len| len.checked_add(offset))
            .ok_or(Incomplete::Malformed("table"))?;
        self.within(end, what)
    }

    fn range(&self, offset: u64, len: u64, what: &str) -> Result<(), Incomplete> {
        let end = offset
            .checked_add(len)
            .ok_or(Incomplete::Malformed("range"))?;
        self.within(end, what)
    }
}

/// ELF: the header, the program headers and every segment's file bytes, the section headers
/// and every section with bytes in the file.
fn check_elf(bytes: &[u8]) -> Result<(), Incomplete> {
    const PT_NULL: u64 = 0;
    const SHT_NOBITS: u64 = 8;
    let wide = match bytes.get(4) {
        Some(1) => false,
        Some(2) => true,
        Some(_) => return Err(Incomplete::Malformed("ELF")),
        None => return Err(truncated("ELF header", 16, bytes)),
    };
    let big_endian = match bytes.get(5) {
        Some(1) => false,
        Some(2) => true,
        Some(_) => return Err(Incomplete::Malformed("ELF")),
        None => return Err(truncated("ELF header", 16, bytes)),
    };
    let r = Reader { bytes, big_endian };
    let header_size = if wide { 64 } else { 52 };
    r.within(header_size, "ELF header")?;
    let (phoff, shoff, rest) = if wide {
        (0x20, 0x28, 0x34)
    } else {
        (0x1c, 0x20, 0x28)
    };
    let phoff = r.word(wide, phoff, "ELF header")?;
    let shoff = r.word(wide, shoff, "ELF header")?;
    let phentsize = r.u16(rest + 0x2, "ELF header")?;
    let phnum = r.u16(rest + 0x4, "ELF header")?;
    let shentsize = r.u16(rest + 0x6, "ELF header")?;
    let mut shnum = r.u16(rest + 0x8, "ELF header")?;

    let (ph_min, sh_min) = if wide { (56, 64) } else { (32, 40) };
    if phnum > 0 {
        if phentsize < ph_min {
            return Err(Incomplete::Malformed("ELF program"));
        }
        r.table(phoff, phnum, phentsize, "program header table")?;
        for index in 0..phnum {
            let ph = phoff + index * phentsize;
            let kind = r.u32(ph, "program header table")?;
            let (offset, filesz) = if wide {
                (r.u64(ph + 0x8, "")?, r.u64(ph + 0x20, "")?)
            } else {
                (r.u32(ph + 0x4, "")?, r.u32(ph + 0x10, "")?)
            };
            if kind != PT_NULL && filesz > 0 {
                r.range(offset, filesz, &format!("segment {index}"))?;
            }
        }
    }
    if shoff != 0 {
        if shentsize < sh_min {
            return Err(Incomplete::Malformed("ELF section"));
        }
        // With 0xff00 sections or more, the count is in the first section header's size.
        r.table(shoff, 1, shentsize, "section header table")?;
        if shnum == 0 {
            shnum = r.word(wide, shoff + if wide { 0x20 } else { 0x14 }, "")?;
        }
        r.table(shoff, shnum, shentsize, "section header table")?;
        for index in 0..shnum {
            let sh = shoff + index * shentsize;
            let kind = r.u32(sh + 0x4, "")?;
            let (offset, size) = if wide {
                (r.u64(sh + 0x18, "")?, r.u64(sh + 0x20, "")?)
            } else {
                (r.u32(sh + 0x10, "")?, r.u32(sh + 0x14, "")?)
            };
            if kind != SHT_NOBITS && index > 0 && size > 0 {
                r.range(offset, size, &format!("section {index}"))?;
            }
        }
    }
    Ok(())
}

/// Mach-O: a universal file's slices each within the file, and in each (thin) image the
/// header, the load commands and every segment's file bytes.
fn check_macho(bytes: &[u8]) -> Result<(), Incomplete> {
    let magic = Reader {
        bytes,
        big_endian: true,
    }
    .u32(0, "Mach-O header")?;
    if magic == 0xcafe_babe || magic == 0xbeba_feca {
        let r = Reader {
            bytes,
            big_endian: magic == 0xcafe_babe,
        };
        let count = r.u32(4, "universal header")?;
        r.table(8, count, 20, "universal header")?;
        for index in 0..count {
            let entry = 8 + index * 20;
            let offset = r.u32(entry + 8, "")?;
            let size = r.u32(entry + 12, "")?;
            let what = format!("architecture {index}");
            r.range(offset, size, &what)?;
            check_thin_macho(&bytes[offset as usize..(offset + size) as usize])?;
        }
        return Ok(());
    }
    check_thin_macho(bytes)
}

fn check_thin_macho(bytes: &[u8]) -> Result<(), Incomplete> {
    const LC_SEGMENT: u64 = 0x1;
    const LC_SEGMENT_64: u64 = 0x19;
    let first = bytes
        .get(..4)
        .ok_or(truncated("Mach-O header", 28, bytes))?;
    let (wide, big_endian) = match first {
        [0xfe, 0xed, 0xfa, 0xce] => (false, true),
        [0xfe, 0xed, 0xfa, 0xcf] => (true, true),
        [0xce, 0xfa, 0xed, 0xfe] => (false, false),
        [0xcf, 0xfa, 0xed, 0xfe] => (true, false),
        _ => return Err(Incomplete::Malformed("Mach-O")),
    };
    let r = Reader { bytes, big_endian };
    let header_size = if wide { 32 } else { 28 };
    r.within(header_size, "Mach-O header")?;
    let ncmds = r.u32(16, "")?;
    let sizeofcmds = r.u32(20, "")?;
    r.range(header_size, sizeofcmds, "load commands")?;
    let end_of_commands = header_size + sizeofcmds;
    let mut at = header_size;
    for index in 0..ncmds {
        let cmd = r.u32(at, "load commands")?;
        let cmdsize = r.u32(at + 4, "load commands")?;
        if cmdsize < 8 || at + cmdsize > end_of_commands {
            return Err(Incomplete::Malformed("Mach-O load command"));
        }
        let segment = match cmd {
            LC_SEGMENT_64 if cmdsize >= 72 => Some((r.u64(at + 40, "")?, r.u64(at + 48, "")?)),
            LC_SEGMENT if cmdsize >= 56 => Some((r.u32(at + 32, "")?, r.u32(at + 36, "")?)),
            _ => None,
        };
        if let Some((fileoff, filesize)) = segment
            && filesize > 0
        {
            r.range(fileoff, filesize, &format!("segment {index}"))?;
        }
        at += cmdsize;
    }
    Ok(())
}

/// PE: the DOS stub's pointer, the PE and COFF headers, the optional header and the section
/// table, and every section's raw data.
fn check_pe(bytes: &[u8]) -> Result<(), Incomplete> {
    let r = Reader {
        bytes,
        big_endian: false,
    };
    let pe = r.u32(0x3c, "DOS header")?;
    if r.take::<4>(pe, "PE header")? != *b"PE\0\0" {
        return Err(Incomplete::Malformed("PE"));
    }
    let coff = pe + 4;
    r.within(coff + 20, "COFF header")?;
    let sections = r.u16(coff + 2, "")?;
    let optional = r.u16(coff + 16, "")?;
    let table = coff + 20 + optional;
    r.range(coff + 20, optional, "optional header")?;
    r.table(table, sections, 40, "section table")?;
    for index in 0..sections {
        let section = table + index * 40;
        let raw_size = r.u32(section + 16, "")?;
        let raw_at = r.u32(section + 20, "")?;
        if raw_size > 0 {
            r.range(raw_at, raw_size, &format!("section {}", index + 1))?;
        }
    }
    Ok(())
}

fn truncated(what: &str, end: u64, bytes: &[u8]) -> Incomplete {
    Incomplete::Truncated {
        what: what.to_string(),
        end,
        size: bytes.len() as u64,
    }
}

/// A minimal 64-bit little-endian ELF: header, one PT_LOAD over `segment` bytes at 0x100,
/// and a section table of two entries (the null one and one PROGBITS over the segment).
#[cfg(test)]
pub(crate) fn elf64(segment: u64) -> Vec<u8> {
    let mut b = vec![0u8; 0x100 + segment as usize];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    let phoff = 0x40u64;
    b[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
    b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    b[0x3c..0x3e].copy_from_slice(&2u16.to_le_bytes());
    // PT_LOAD at 0x100, `segment` bytes.
    b[0x40..0x44].copy_from_slice(&1u32.to_le_bytes());
    b[0x48..0x50].copy_from_slice(&0x100u64.to_le_bytes());
    b[0x60..0x68].copy_from_slice(&segment.to_le_bytes());
    // Section headers after the segment.
    let shoff = b.len() as u64;
    b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    let mut sections = vec![0u8; 128];
    sections[64 + 4..64 + 8].copy_from_slice(&1u32.to_le_bytes());
    sections[64 + 0x18..64 + 0x20].copy_from_slice(&0x100u64.to_le_bytes());
    sections[64 + 0x20..64 + 0x28].copy_from_slice(&segment.to_le_bytes());
    b.extend_from_slice(&sections);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_format(result: Result<(), Incomplete>, format: &str) -> Result<(), Incomplete> {
        match result {
            Err(Incomplete::OtherPlatform { found, .. }) if found == format => Ok(()),
            Ok(()) if PLATFORM_FORMAT == format => Ok(()),
            other => other,
        }
    }

    #[test]
    fn a_whole_elf_passes_and_every_cut_is_truncated() {
        let whole = elf64(0x200);
        assert_eq!(with_format(check(&whole), "ELF"), Ok(()));
        for cut in [whole.len() - 1, 0x300, 0x200, 0x78, 0x40, 10] {
            let result = check(&whole[..cut]);
            assert!(
                matches!(result, Err(Incomplete::Truncated { .. })),
                "cut at {cut}: {result:?}"
            );
        }
        // Trailing bytes after everything are harmless.
        let mut longer = whole.clone();
        longer.extend_from_slice(b"more");
        assert_eq!(with_format(check(&longer), "ELF"), Ok(()));
    }

    #[test]
    fn an_elf_segment_past_the_end_is_named() {
        let mut b = elf64(0x200);
        // The segment claims more bytes than the file has, the section table still fits.
        b[0x60..0x68].copy_from_slice(&0x10_0000u64.to_le_bytes());
        let err = check(&b).unwrap_err();
        assert!(err.to_string().contains("segment 0 ends at byte"), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn overflowing_counts_are_malformed_not_a_panic() {
        let mut b = elf64(0x10);
        b[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check(&b).is_err());
        let mut b = elf64(0x10);
        b[0x36..0x38].copy_from_slice(&8u16.to_le_bytes());
        assert_eq!(check(&b), Err(Incomplete::Malformed("ELF program")));
    }

    #[test]
    fn other_files_are_not_objects() {
        assert_eq!(check(b""), Err(Incomplete::NotObject));
        assert_eq!(check(b"this is not a library"), Err(Incomplete::NotObject));
    }

    fn macho64(segment: u64) -> Vec<u8> {
        // Header (32 bytes) and one LC_SEGMENT_64 (72 bytes) whose bytes follow.
        let mut b = vec![0u8; 32 + 72];
        b[..4].copy_from_slice(&[0xcf, 0xfa, 0xed, 0xfe]);
        b[16..20].copy_from_slice(&1u32.to_le_bytes());
        b[20..24].copy_from_slice(&72u32.to_le_bytes());
        b[32..36].copy_from_slice(&0x19u32.to_le_bytes());
        b[36..40].copy_from_slice(&72u32.to_le_bytes());
        b[32 + 40..32 + 48].copy_from_slice(&104u64.to_le_bytes());
        b[32 + 48..32 + 56].copy_from_slice(&segment.to_le_bytes());
        b.resize(104 + segment as usize, 0);
        b
    }

    #[test]
    fn mach_o_segments_are_bounded() {
        let whole = macho64(0x100);
        assert_eq!(with_format(check(&whole), "Mach-O"), Ok(()));
        let err = check(&whole[..whole.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("segment 0"), "{err}");
        assert!(matches!(
            check(&whole[..40]),
            Err(Incomplete::Truncated { .. })
        ));
    }

    fn pe(section: u32) -> Vec<u8> {
        // DOS header pointing at 0x40, PE signature, COFF header with one section and no
        // optional header, one section header, then its raw data at 0x200.
        let mut b = vec![0u8; 0x200];
        b[..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
        let table = 0x44 + 20;
        b[table + 16..table + 20].copy_from_slice(&section.to_le_bytes());
        b[table + 20..table + 24].copy_from_slice(&0x200u32.to_le_bytes());
        b.resize(0x200 + section as usize, 0);
        b
    }

    #[test]
    fn pe_sections_are_bounded() {
        let whole = pe(0x80);
        assert_eq!(with_format(check(&whole), "PE"), Ok(()));
        let err = check(&whole[..whole.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("section 1"), "{err}");
        assert!(matches!(
            check(&whole[..0x42]),
            Err(Incomplete::Truncated { .. })
        ));
    }
}
