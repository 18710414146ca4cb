//! PEM file errors in words: `rustls-pki-types` shows the section names it
//! stumbled on as arrays of bytes.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::{Error, PemObject};
use std::path::Path;

/// Every certificate in the PEM file at `path` (perhaps none), or what is
/// wrong with the file, for a person.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| describe(&e))
}

/// What is wrong with a PEM file, for a person.
pub fn describe(error: &Error) -> String {
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "a PEM section ({}) has no END line",
            String::from_utf8_lossy(end_marker).trim()
        ),
        Error::IllegalSectionStart { line } => format!(
            "a bad PEM BEGIN line: {}",
            String::from_utf8_lossy(line).trim()
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_section_without_its_end_is_named_in_words() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        let error = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .expect_err("no END line");
        assert_eq!(
            describe(&error),
            "a PEM section (CERTIFICATE) has no END line"
        );
    }
}
