//! What can go wrong with a token, kept apart from what a caller can get
//! wrong (a buffer too small).

/// Why a token was refused: something wrong with the token itself. To a
/// peer every variant is the same "invalid token"; the variant is kept for
/// local counters and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not canonical padded base64url, wrong version, or impossible length.
    Malformed,
    /// No key's HMAC matches (a forgery, a corruption or another key).
    BadMac,
    /// The MAC matched but the PKCS#7 padding did not.
    BadPadding,
    /// Timestamp more than [`super::MAX_CLOCK_SKEW`] seconds ahead of now.
    FromTheFuture,
    /// Timestamp older than the TTL allows.
    Expired,
}

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed token",
            TokenError::BadMac => "bad MAC (forged, corrupted or another key)",
            TokenError::BadPadding => "bad padding",
            TokenError::FromTheFuture => "timestamp too far in the future",
            TokenError::Expired => "expired",
        })
    }
}

impl core::error::Error for TokenError {}

/// The caller's output buffer cannot hold the result: a mistake of the
/// caller's, never of the token's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// Bytes the buffer needed.
    pub needed: usize,
}

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "output buffer too small ({} bytes needed)", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

/// Why decryption gave no plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// The token is invalid.
    Token(TokenError),
    /// The caller's buffer is too small to decode this token into.
    Buffer(BufferTooSmall),
}

impl From<TokenError> for DecryptError {
    fn from(error: TokenError) -> Self {
        DecryptError::Token(error)
    }
}

impl core::fmt::Display for DecryptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecryptError::Token(e) => e.fmt(f),
            DecryptError::Buffer(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for DecryptError {}
