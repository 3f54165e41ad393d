//! Reading rows out of a provider's file, whatever its format and encoding: CSV/TSV with a
//! sniffed delimiter, XLSX (streamed), XLS, in UTF-8, UTF-16 or Windows-1251. The reader
//! only hands out rows of text cells; what the cells mean is decided in `layout`.
//!
//! The parts: the limits and what a read yields ([`kinds`]), recognising a file's format,
//! encoding and delimiter ([`detect`]), reading text files line by line within the limits
//! ([`text`]), and workbooks, checked against bombs before they are opened ([`workbook`]).

mod detect;
mod kinds;
mod text;
mod workbook;

pub use detect::*;
pub use kinds::*;
pub use text::*;
pub use workbook::*;

#[cfg(test)]
mod tests;
