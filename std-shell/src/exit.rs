//! How a command fails: one line for the user and an exit code.

/// A failed command: the line to print and the process's exit code.
#[derive(Debug)]
pub struct Exit {
    /// Exit status: 2 for bad input or setup, 1 for a failure at run time.
    pub code: i32,
    /// One line saying what went wrong and, where it helps, what to do.
    pub message: String,
}

impl Exit {
    /// Bad input or setup (a missing key file, a bad address...): exit 2.
    pub fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
        }
    }

    /// A failure while running (a token that does not verify, a lost
    /// server...): exit 1.
    pub fn failure(message: impl Into<String>) -> Exit {
        Exit {
            code: 1,
            message: message.into(),
        }
    }
}
