//! HTML escaping of text that came from users or data (symbols, names, paths).

use std::fmt;

/// Escapes `text` for use in HTML element content and in double- or single-quoted
/// attribute values: `&`, `<`, `>`, `"` and `'` become character references.
///
/// ```
/// assert_eq!(qf_report::escape("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
/// ```
pub fn escape(text: &str) -> String {
    Escaped(text).to_string()
}

/// Displays its text HTML-escaped, so it can be written with `write!` without a temporary.
pub(crate) struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            let replacement = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            // The special characters are ASCII, so `i` is always on a char boundary.
            f.write_str(&text[start..i])?;
            f.write_str(replacement)?;
            start = i + 1;
        }
        f.write_str(&text[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_and_quotes_are_neutralised() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape(r#"" onmouseover="x" '"#),
            "&quot; onmouseover=&quot;x&quot; &#39;"
        );
        assert_eq!(escape("AT&T"), "AT&amp;T");
    }

    #[test]
    fn plain_and_non_ascii_text_is_unchanged() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("BTC-USD"), "BTC-USD");
        assert_eq!(escape("Zürich € 株式 <"), "Zürich € 株式 &lt;");
    }
}
