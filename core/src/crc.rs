//! CRC-32 (IEEE 802.3 / ISO-HDLC: reflected, polynomial `0xEDB88320`, initial and final XOR
//! `0xFFFFFFFF`), the checksum over a blob's payload, computed by the `crc` crate.
//!
//! `crc` rather than `crc32fast`: its default implementation keeps one 256-entry table
//! (1 KiB, built at compile time), where `crc32fast` without `std` uses slice-by-16 tables
//! (16 KiB) that would sit in every firmware's flash for a check run once at load.
//!
//! ```
//! assert_eq!(sumi_core::blob::crc32(b"123456789"), 0xCBF4_3926);
//! ```

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    CRC32.checksum(data)
}
