//! The command line QEMU passes (`-append`): words split at spaces, with
//! double quotes around a word that holds spaces. QEMU collapses runs of
//! spaces, and the first word is the image's path.

use fernchat_core::fernet::Key;

/// The words of a command line, in order.
#[derive(Clone)]
pub struct Args<'a> {
    rest: &'a str,
}

impl<'a> Args<'a> {
    /// The words of `line`, after the image's path.
    pub fn new(line: &'a str) -> Self {
        let mut args = Args { rest: line };
        args.next();
        args
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest.trim_start_matches([' ', '\0']);
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let (word, after) = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => rest.split_once(' ').unwrap_or((rest, "")),
        };
        self.rest = after;
        Some(word.trim_end_matches('\0'))
    }
}

/// Why the command line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// An option that is not known.
    Unknown(&'a str),
    /// An option without its value, or with a value that does not parse.
    BadValue(&'a str),
    /// A required option is missing.
    Missing(&'static str),
}

impl core::fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // `write_str`, not `{}`: see `crate::semihosting::Console::line`.
            ArgError::Unknown(word) => {
                f.write_str("unknown option ")?;
                f.write_str(word)
            }
            ArgError::BadValue(option) => {
                f.write_str(option)?;
                f.write_str(" needs a valid value")
            }
            ArgError::Missing(option) => {
                f.write_str(option)?;
                f.write_str(" is required")
            }
        }
    }
}

/// The value after `option`, parsed.
pub fn value<'a, T: core::str::FromStr>(
    args: &mut Args<'a>,
    option: &'a str,
) -> Result<T, ArgError<'a>> {
    args.next()
        .and_then(|word| word.parse().ok())
        .ok_or(ArgError::BadValue(option))
}

/// The Fernet key after `option` (44 characters of base64url).
pub fn key<'a>(args: &mut Args<'a>, option: &'a str) -> Result<Key, ArgError<'a>> {
    args.next()
        .and_then(|word| Key::parse(word.as_bytes()).ok())
        .ok_or(ArgError::BadValue(option))
}
