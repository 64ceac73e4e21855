use thiserror::Error;

/// Errors from parsing or constructing core values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// A decimal number could not be parsed.
    #[error("`{text}` is not a decimal number{why}")]
    InvalidDecimal { text: String, why: &'static str },
    /// A decimal number has more fractional digits than the type can hold exactly.
    #[error("`{text}` has more than {max} decimal places")]
    TooPrecise { text: String, max: u8 },
    /// A value is outside the range the type can represent.
    #[error("`{text}` is out of range")]
    OutOfRange { text: String },
    /// A timestamp could not be parsed.
    #[error("`{text}` is not a timestamp: {why}")]
    InvalidTimestamp { text: String, why: &'static str },
    /// A precision above [`crate::MAX_PRECISION`].
    #[error("precision {0} is above the maximum of 9 decimal places")]
    InvalidPrecision(u8),
}
