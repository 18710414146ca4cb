//! The original Python chat's key file, `chave.key`: a pickled
//! `cryptography.fernet.Fernet` object (`docs/PROTOCOL.md` section 4,
//! Pickled keys).
//!
//! [`read_fernet`] is a strict reader of exactly what Python writes for
//! `pickle.dump(Fernet(key), file, protocol=N)`, N from 0 to 5. It runs
//! nothing: it reads the opcodes into plain values and never calls or
//! imports anything. The only globals it accepts are the class
//! `cryptography.fernet.Fernet` and the pieces Python's own writer spells
//! a `Fernet` with: the AES class of its `_aes` attribute (recent
//! `cryptography`), and for protocols 0 to 2 `copyreg._reconstructor`,
//! `object` and `_codecs.encode` (which Python uses to spell bytes). Those
//! are only recognised, in the one place Python puts each; every other
//! global (`os.system`, another class) is refused. [`write_fernet`] writes
//! what Python 3.11 writes with protocol 4.

use fernchat_core::fernet::{KEY_LEN, Key};

/// The largest pickle read: a pickled `Fernet` is about 200 to 350 bytes.
pub const MAX_PICKLE: u64 = 4096;
/// Bytes of each half of a Fernet key.
const HALF: usize = KEY_LEN / 2;
/// Values at most in one value, nested ones included: a `Fernet` needs 10.
const MAX_NODES: usize = 64;

/// Why a file is not a pickled `Fernet`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    /// The bytes end before the pickle does.
    #[error("it ends before the pickle does (truncated?)")]
    Truncated,
    /// The file is too large to be a pickled key.
    #[error("it is over {MAX_PICKLE} bytes, too large for a pickled Fernet key")]
    TooLarge,
    /// A global other than those a pickled `Fernet` uses: running it could
    /// do anything, so it is not even looked up.
    #[error("it refers to {0}; only cryptography.fernet.Fernet is read, and nothing is run")]
    Global(String),
    /// An opcode a pickled `Fernet` does not use.
    #[error("opcode 0x{opcode:02x} at byte {at} is not one a pickled Fernet uses")]
    Opcode {
        /// The opcode.
        opcode: u8,
        /// Its offset in the file.
        at: usize,
    },
    /// A protocol Python does not write.
    #[error("pickle protocol {0} is not one Python writes")]
    Protocol(u8),
    /// The opcodes do not build a `Fernet` the way Python writes one.
    #[error("not a pickled cryptography.fernet.Fernet: {0}")]
    Shape(&'static str),
    /// A key half of the wrong length.
    #[error("its {name} is {len} bytes, not {HALF}")]
    KeyLength {
        /// `_signing_key` or `_encryption_key`.
        name: &'static str,
        /// Its length.
        len: usize,
    },
    /// An attribute a `Fernet` does not have.
    #[error("a Fernet has no attribute {0:?}")]
    Attribute(String),
}

/// A global a pickled `Fernet` is spelled with; nothing is ever called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Fernet,
    Aes,
    Reconstructor,
    Object,
    CodecsEncode,
}

impl Known {
    fn find(module: &str, name: &str) -> Result<Known, PickleError> {
        Ok(match (module, name) {
            ("cryptography.fernet", "Fernet") => Known::Fernet,
            ("cryptography.hazmat.primitives.ciphers.algorithms", "AES") => Known::Aes,
            ("copy_reg" | "copyreg", "_reconstructor") => Known::Reconstructor,
            ("__builtin__" | "builtins", "object") => Known::Object,
            ("_codecs", "encode") => Known::CodecsEncode,
            _ => return Err(PickleError::Global(format!("{module}.{name}"))),
        })
    }
}

/// A value on the reader's stack: data only.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Mark,
    None,
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Known),
    /// An instance of a known class, with the state BUILD gave it.
    Object(Known, Option<Box<Value>>),
}

impl Value {
    fn nodes(&self) -> usize {
        1 + match self {
            Value::Tuple(items) => items.iter().map(Value::nodes).sum(),
            Value::Dict(entries) => entries.iter().map(|(k, v)| k.nodes() + v.nodes()).sum(),
            Value::Object(_, Some(state)) => state.nodes(),
            _ => 0,
        }
    }
}

/// The bytes of a pickle, read from the front.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.at.checked_add(n).ok_or(PickleError::Truncated)?;
        let taken = self.bytes.get(self.at..end).ok_or(PickleError::Truncated)?;
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u32_le(&mut self) -> Result<usize, PickleError> {
        let bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| PickleError::Truncated)?;
        usize::try_from(u32::from_le_bytes(bytes)).map_err(|_| PickleError::Truncated)
    }

    /// A text line of protocol 0, without its line feed.
    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = self.bytes.get(self.at..).ok_or(PickleError::Truncated)?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated)?;
        let line = self.take(len)?;
        self.at += 1;
        Ok(line)
    }

    fn text_line(&mut self) -> Result<&'a str, PickleError> {
        std::str::from_utf8(self.line()?).map_err(|_| PickleError::Shape("a name is not UTF-8"))
    }
}

/// Reads the Fernet key pickled in `bytes`, running nothing.
pub fn read_fernet(bytes: &[u8]) -> Result<Key, PickleError> {
    if bytes.len() as u64 > MAX_PICKLE {
        return Err(PickleError::TooLarge);
    }
    let fernet = Reader::default().run(&mut Input { bytes, at: 0 })?;
    key_of(fernet)
}

/// The reader's state: the stack and the memo.
#[derive(Default)]
struct Reader {
    stack: Vec<Value>,
    memo: Vec<(usize, Value)>,
}

impl Reader {
    /// Reads opcodes up to STOP; gives the one value left.
    fn run(mut self, input: &mut Input<'_>) -> Result<Value, PickleError> {
        loop {
            let at = input.at;
            let opcode = input.byte()?;
            match opcode {
                0x80 => {
                    let version = input.byte()?;
                    if version > 5 {
                        return Err(PickleError::Protocol(version));
                    }
                    if at != 0 {
                        return Err(PickleError::Shape("a protocol mark past the start"));
                    }
                }
                // FRAME: a length hint, nothing to build.
                0x95 => {
                    input.take(8)?;
                }
                b'.' => {
                    return match (self.stack.pop(), self.stack.is_empty()) {
                        (Some(value), true) => Ok(value),
                        _ => Err(PickleError::Shape("more than one value at the end")),
                    };
                }
                b'(' => self.push(Value::Mark)?,
                b'N' => self.push(Value::None)?,
                b'c' => {
                    let module = input.text_line()?;
                    let name = input.text_line()?;
                    self.push(Value::Global(Known::find(module, name)?))?;
                }
                0x93 => {
                    let name = self.pop_str()?;
                    let module = self.pop_str()?;
                    self.push(Value::Global(Known::find(&module, &name)?))?;
                }
                0x8c => {
                    let len = usize::from(input.byte()?);
                    self.push_str(input.take(len)?)?;
                }
                b'X' => {
                    let len = input.u32_le()?;
                    self.push_str(input.take(len)?)?;
                }
                b'V' => {
                    let text = raw_unicode_escape(input.line()?)?;
                    self.push(Value::Str(text))?;
                }
                b'C' => {
                    let len = usize::from(input.byte()?);
                    self.push(Value::Bytes(input.take(len)?.to_vec()))?;
                }
                b'B' => {
                    let len = input.u32_le()?;
                    self.push(Value::Bytes(input.take(len)?.to_vec()))?;
                }
                0x94 => self.memoize(self.memo.len())?,
                b'q' => {
                    let slot = usize::from(input.byte()?);
                    self.memoize(slot)?;
                }
                b'r' => {
                    let slot = input.u32_le()?;
                    self.memoize(slot)?;
                }
                b'p' => {
                    let slot = decimal(input.line()?)?;
                    self.memoize(slot)?;
                }
                b'h' => {
                    let slot = usize::from(input.byte()?);
                    self.recall(slot)?;
                }
                b'j' => {
                    let slot = input.u32_le()?;
                    self.recall(slot)?;
                }
                b'g' => {
                    let slot = decimal(input.line()?)?;
                    self.recall(slot)?;
                }
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_to_mark()?;
                    self.push(Value::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let count = usize::from(opcode - 0x84);
                    let split = self
                        .stack
                        .len()
                        .checked_sub(count)
                        .ok_or(PickleError::Shape("a tuple of missing values"))?;
                    let items = self.stack.split_off(split);
                    if items.contains(&Value::Mark) {
                        return Err(PickleError::Shape("a tuple of missing values"));
                    }
                    self.push(Value::Tuple(items))?;
                }
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_to_mark()?;
                    self.push(Value::Dict(Vec::new()))?;
                    self.set_items(items)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let items = self.pop_to_mark()?;
                    self.set_items(items)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    self.push(new_object(class, args)?)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.push(reduce(callable, args)?)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.stack.last_mut() {
                        Some(Value::Object(_, slot @ None)) => *slot = Some(Box::new(state)),
                        _ => return Err(PickleError::Shape("state for something not an object")),
                    }
                    self.check_top()?;
                }
                _ => return Err(PickleError::Opcode { opcode, at }),
            }
        }
    }

    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        if value.nodes() > MAX_NODES || self.stack.len() >= MAX_NODES {
            return Err(PickleError::Shape("it nests too deep"));
        }
        self.stack.push(value);
        Ok(())
    }

    fn check_top(&self) -> Result<(), PickleError> {
        match self.stack.last() {
            Some(value) if value.nodes() > MAX_NODES => {
                Err(PickleError::Shape("it nests too deep"))
            }
            _ => Ok(()),
        }
    }

    fn push_str(&mut self, bytes: &[u8]) -> Result<(), PickleError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| PickleError::Shape("a string is not UTF-8"))?;
        self.push(Value::Str(text.to_owned()))
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(PickleError::Shape("a value is missing")),
            Some(value) => Ok(value),
        }
    }

    fn pop_str(&mut self) -> Result<String, PickleError> {
        match self.pop()? {
            Value::Str(text) => Ok(text),
            _ => Err(PickleError::Shape("a global's name is not a string")),
        }
    }

    fn pop_to_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|value| *value == Value::Mark)
            .ok_or(PickleError::Shape("a mark is missing"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    /// Adds key, value pairs to the dict on top of the stack.
    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(PickleError::Shape("a dict entry without a value"));
        }
        let Some(Value::Dict(entries)) = self.stack.last_mut() else {
            return Err(PickleError::Shape("items for something not a dict"));
        };
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            entries.retain(|(k, _)| *k != key);
            entries.push((key, value));
        }
        self.check_top()
    }

    fn memoize(&mut self, slot: usize) -> Result<(), PickleError> {
        let value = match self.stack.last() {
            Some(Value::Mark) | None => return Err(PickleError::Shape("nothing to remember")),
            Some(value) => value.clone(),
        };
        if self.memo.len() >= MAX_NODES {
            return Err(PickleError::Shape("it remembers too many values"));
        }
        self.memo.retain(|(s, _)| *s != slot);
        self.memo.push((slot, value));
        Ok(())
    }

    fn recall(&mut self, slot: usize) -> Result<(), PickleError> {
        let value = self
            .memo
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, value)| value.clone())
            .ok_or(PickleError::Shape("it recalls a value never remembered"))?;
        self.push(value)
    }
}

/// NEWOBJ, as Python writes a `Fernet` or its AES with protocols 2 to 5:
/// `cls.__new__(cls)` with no arguments. Nothing is called.
fn new_object(class: Value, args: Value) -> Result<Value, PickleError> {
    match (class, args) {
        (Value::Global(class @ (Known::Fernet | Known::Aes)), Value::Tuple(args))
            if args.is_empty() =>
        {
            Ok(Value::Object(class, None))
        }
        _ => Err(PickleError::Shape("an object of another kind")),
    }
}

/// REDUCE, only as Python spells a `Fernet` with protocols 0 to 2: an
/// object made by `copyreg._reconstructor(cls, object, None)`, or bytes
/// spelled `_codecs.encode(text, "latin1")`. Nothing is called.
fn reduce(callable: Value, args: Value) -> Result<Value, PickleError> {
    let Value::Tuple(args) = args else {
        return Err(PickleError::Shape("a call without an argument tuple"));
    };
    match (callable, args.as_slice()) {
        (
            Value::Global(Known::Reconstructor),
            [
                Value::Global(class @ (Known::Fernet | Known::Aes)),
                Value::Global(Known::Object),
                Value::None,
            ],
        ) => Ok(Value::Object(*class, None)),
        (Value::Global(Known::CodecsEncode), [Value::Str(text), Value::Str(codec)])
            if codec == "latin1" =>
        {
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect::<Option<Vec<u8>>>()
                .map(Value::Bytes)
                .ok_or(PickleError::Shape(
                    "bytes spelled with characters past U+00FF",
                ))
        }
        _ => Err(PickleError::Shape(
            "a call other than the ones Python writes for a Fernet",
        )),
    }
}

/// A protocol-0 memo slot: ASCII decimal digits.
fn decimal(line: &[u8]) -> Result<usize, PickleError> {
    std::str::from_utf8(line)
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or(PickleError::Shape("a memo slot is not a number"))
}

/// Protocol 0's strings: latin-1 bytes with `\uXXXX` and `\UXXXXXXXX`
/// escapes (Python's raw-unicode-escape).
fn raw_unicode_escape(line: &[u8]) -> Result<String, PickleError> {
    let mut text = String::new();
    let mut rest = line;
    while let Some((&byte, tail)) = rest.split_first() {
        let digits = match tail {
            [b'u', ..] if byte == b'\\' => 4,
            [b'U', ..] if byte == b'\\' => 8,
            _ => 0,
        };
        if digits == 0 {
            text.push(char::from(byte));
            rest = tail;
            continue;
        }
        let hex = tail
            .get(1..=digits)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32)
            .ok_or(PickleError::Shape("a bad \\u escape in a string"))?;
        text.push(hex);
        rest = &tail[1 + digits..];
    }
    Ok(text)
}

/// The key of a `Fernet` object's state, checked as Python's own
/// `Fernet` would hold it.
fn key_of(fernet: Value) -> Result<Key, PickleError> {
    let Value::Object(Known::Fernet, Some(state)) = fernet else {
        return Err(PickleError::Shape("the pickled object is not a Fernet"));
    };
    let Value::Dict(entries) = *state else {
        return Err(PickleError::Shape("a Fernet's state is not a dict"));
    };
    let mut signing = None;
    let mut encryption = None;
    let mut aes = None;
    for (name, value) in entries {
        let Value::Str(name) = name else {
            return Err(PickleError::Shape("an attribute name is not a string"));
        };
        match name.as_str() {
            "_signing_key" => signing = Some(half("_signing_key", value)?),
            "_encryption_key" => encryption = Some(half("_encryption_key", value)?),
            "_aes" => aes = Some(value),
            _ => return Err(PickleError::Attribute(name)),
        }
    }
    let (Some(signing), Some(encryption)) = (signing, encryption) else {
        return Err(PickleError::Shape(
            "a Fernet needs _signing_key and _encryption_key",
        ));
    };
    if let Some(aes) = aes {
        check_aes(aes, &encryption)?;
    }
    let mut bytes = [0u8; KEY_LEN];
    bytes[..HALF].copy_from_slice(&signing);
    bytes[HALF..].copy_from_slice(&encryption);
    Ok(Key::from_bytes(bytes))
}

/// One 16-byte half of the key.
fn half(name: &'static str, value: Value) -> Result<[u8; HALF], PickleError> {
    let Value::Bytes(bytes) = value else {
        return Err(PickleError::Shape("a key half is not bytes"));
    };
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| PickleError::KeyLength { name, len })
}

/// `_aes` (recent `cryptography`): an AES object whose only state is the
/// encryption key.
fn check_aes(aes: Value, encryption: &[u8; HALF]) -> Result<(), PickleError> {
    let Value::Object(Known::Aes, Some(state)) = aes else {
        return Err(PickleError::Shape("_aes is not an AES object"));
    };
    match *state {
        Value::Dict(entries) if entries.len() == 1 => match &entries[0] {
            (Value::Str(name), Value::Bytes(key)) if name == "key" && key == encryption => Ok(()),
            _ => Err(PickleError::Shape(
                "_aes holds another key than _encryption_key",
            )),
        },
        _ => Err(PickleError::Shape("_aes holds more than its key")),
    }
}

/// SHORT_BINUNICODE `text`, memoized.
fn short_str(body: &mut Vec<u8>, text: &str) {
    body.push(0x8c);
    body.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
    body.extend_from_slice(text.as_bytes());
    body.push(0x94);
}

/// A pickled `Fernet` holding `key`, byte for byte what Python 3.11 with
/// `cryptography` 50 writes for `pickle.dumps(Fernet(key), protocol=4)`.
/// Older `cryptography` loads it too (the `_aes` attribute is then unused).
pub fn write_fernet(key: &Key) -> Vec<u8> {
    let bytes = key.as_bytes();
    let (signing, encryption) = bytes.split_at(HALF);
    let mut body = Vec::new();
    short_str(&mut body, "cryptography.fernet");
    short_str(&mut body, "Fernet");
    // STACK_GLOBAL, memoized; () NEWOBJ, memoized; {} memoized; MARK.
    body.extend_from_slice(&[0x93, 0x94, b')', 0x81, 0x94, b'}', 0x94, b'(']);
    short_str(&mut body, "_signing_key");
    body.extend_from_slice(&[b'C', 16]);
    body.extend_from_slice(signing);
    body.push(0x94);
    short_str(&mut body, "_encryption_key");
    body.extend_from_slice(&[b'C', 16]);
    body.extend_from_slice(encryption);
    // Memo slot 8: the encryption key, recalled as the AES key.
    body.push(0x94);
    short_str(&mut body, "_aes");
    short_str(
        &mut body,
        "cryptography.hazmat.primitives.ciphers.algorithms",
    );
    short_str(&mut body, "AES");
    body.extend_from_slice(&[0x93, 0x94, b')', 0x81, 0x94, b'}', 0x94]);
    short_str(&mut body, "key");
    // BINGET 8, SETITEM, BUILD (the AES), SETITEMS, BUILD (the Fernet), STOP.
    body.extend_from_slice(&[b'h', 8, b's', b'b', b'u', b'b', b'.']);
    let mut pickle = vec![0x80, 4, 0x95];
    pickle.extend_from_slice(&(body.len() as u64).to_le_bytes());
    pickle.extend_from_slice(&body);
    pickle
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python 3.11 and cryptography 50:
    /// `pickle.dumps(Fernet(SPEC_KEY), protocol=4).hex()`.
    const PYTHON_PROTOCOL_4: &str = "800495c3000000000000008c1363727970746f6772617068792e6665726e6574948c064665726e65749493942981947d94288c0c5f7369676e696e675f6b6579944310730ff4c7af3d46923e8ed451ee813c87948c0f5f656e6372797074696f6e5f6b6579944310f790b0a226bc96a92de49b5e9c05e1ee948c045f616573948c3163727970746f6772617068792e68617a6d61742e7072696d6974697665732e636970686572732e616c676f726974686d73948c034145539493942981947d948c036b6579946808736275622e";
    const SPEC_KEY: &[u8] = b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn test_reads_and_writes_what_python_writes() {
        let python = unhex(PYTHON_PROTOCOL_4);
        let key = Key::parse(SPEC_KEY).unwrap();
        assert_eq!(read_fernet(&python).unwrap().encode(), key.encode());
        assert_eq!(write_fernet(&key), python);
    }

    #[test]
    fn test_refusals() {
        let python = unhex(PYTHON_PROTOCOL_4);
        for cut in [0, 1, 2, 11, 60, python.len() - 1] {
            assert_eq!(
                read_fernet(&python[..cut]).err(),
                Some(PickleError::Truncated),
                "cut {cut}"
            );
        }
        // posix.system, as `__reduce__` gives it.
        let evil = b"\x80\x04\x95\x27\0\0\0\0\0\0\0\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x0ctouch /tmp/x\x94\x85\x94R\x94.";
        assert_eq!(
            read_fernet(evil).err(),
            Some(PickleError::Global("posix.system".into()))
        );
        let mut short = python.clone();
        // `C\x10` of the signing key made `C\x0f`: 15 bytes, then junk.
        let at = python.windows(2).position(|w| w == b"C\x10").unwrap();
        short[at + 1] = 15;
        assert!(read_fernet(&short).is_err());
        assert_eq!(read_fernet(&[0u8; 5000]).err(), Some(PickleError::TooLarge));
        // Every cut is refused.
        for cut in 0..python.len() {
            assert!(read_fernet(&python[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn test_no_one_byte_change_panics_or_reads_another_shape() {
        let python = unhex(PYTHON_PROTOCOL_4);
        let halves: Vec<usize> = python
            .windows(2)
            .enumerate()
            .filter(|(_, w)| *w == b"C\x10")
            .map(|(at, _)| at + 2)
            .collect();
        for at in 0..python.len() {
            for value in 0..=u8::MAX {
                let mut changed = python.clone();
                changed[at] = value;
                if read_fernet(&changed).is_ok() {
                    // Only the key's own bytes, the protocol number (byte
                    // 1) or the frame's length hint (bytes 3 to 10) may
                    // change and still read.
                    let in_key = halves
                        .iter()
                        .any(|&start| (start..start + 16).contains(&at));
                    assert!(
                        in_key || [1, 3, 4, 5, 6, 7, 8, 9, 10].contains(&at) || changed == python,
                        "byte {at} = {value}"
                    );
                }
            }
        }
    }
}
