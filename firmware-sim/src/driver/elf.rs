//! Sizes and symbols of the firmware ELF, read with the `object` crate (no binutils needed).

use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind};

/// Memory the firmware image occupies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    /// Vector table (Cortex-M) and machine code (`.text`).
    pub code: u64,
    /// Read-only data in flash (`.rodata`, RISC-V `.srodata`: the model blob, tables, strings).
    pub rodata: u64,
    /// Initial values of `.data`, stored in flash and copied to RAM at reset.
    pub data_init: u64,
    /// Statically allocated RAM: `.data` + `.bss` + `.uninit` (RISC-V: with `.sdata`/`.sbss`;
    /// includes the arena).
    pub static_ram: u64,
}

impl Sizes {
    /// Total flash: code + read-only data + `.data` initialisers.
    pub fn flash(&self) -> u64 {
        self.code + self.rodata + self.data_init
    }
}

/// Reads the allocated sections' sizes and the address of `symbol` (Thumb bit cleared), if
/// the firmware has it. Sections at or above `ram_origin` are RAM, the others flash (every
/// board's flash lies below its RAM).
pub fn inspect(path: &Path, symbol: &str, ram_origin: u64) -> Result<(Sizes, Option<u64>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read firmware {}", path.display()))?;
    let file = object::File::parse(&*bytes)
        .with_context(|| format!("{} is not an ELF file", path.display()))?;
    let mut sizes = Sizes::default();
    for section in file.sections() {
        let alloc = match section.flags() {
            SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
            _ => false,
        };
        if !alloc || section.size() == 0 {
            continue;
        }
        if section.address() >= ram_origin {
            sizes.static_ram += section.size();
            if section.kind() != SectionKind::UninitializedData {
                sizes.data_init += section.size();
            }
        } else if section.kind() == SectionKind::Text || section.name() == Ok(".vector_table") {
            sizes.code += section.size();
        } else {
            sizes.rodata += section.size();
        }
    }
    let mark = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .map(|s| s.address() & !1);
    Ok((sizes, mark))
}
