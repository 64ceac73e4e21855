//! Python literals (`{"fast": 10}`, `["flat", "long"]`) read without running any tenant
//! code: the declarations `PARAMS`, `INDICATORS` and `STATES` must be literals, so `qf` can
//! learn a strategy's parameters and indicators in its own process safely.

/// A literal value with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String, usize),
    Int(i64, usize),
    Float(f64, usize),
    Bool(bool, usize),
    None(usize),
    List(Vec<Lit>, usize),
    Dict(Vec<(Lit, Lit)>, usize),
}

impl Lit {
    /// Byte offset of the literal in the source.
    pub fn offset(&self) -> usize {
        match self {
            Lit::Str(_, o)
            | Lit::Int(_, o)
            | Lit::Float(_, o)
            | Lit::Bool(_, o)
            | Lit::None(o)
            | Lit::List(_, o)
            | Lit::Dict(_, o) => *o,
        }
    }

    /// The value as a number, if it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Lit::Int(i, _) => Some(*i as f64),
            Lit::Float(x, _) => Some(*x),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Lit::Str(..) => "a string",
            Lit::Int(..) => "an integer",
            Lit::Float(..) => "a float",
            Lit::Bool(..) => "a boolean",
            Lit::None(_) => "None",
            Lit::List(..) => "a list",
            Lit::Dict(..) => "a dict",
        }
    }
}

const MAX_DEPTH: usize = 8;

/// Parses one literal starting at byte `pos` of `src`; returns it and the offset after it.
/// Errors carry the byte offset of the problem.
pub fn parse(src: &str, pos: usize) -> Result<(Lit, usize), (usize, String)> {
    let mut p = P {
        s: src.as_bytes(),
        src,
        i: pos,
        depth: 0,
    };
    let v = p.value()?;
    Ok((v, p.i))
}

struct P<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
}

impl P<'_> {
    /// Skips spaces, newlines inside brackets, comments and line continuations.
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'\\' if self.s.get(self.i + 1) == Some(&b'\n') => self.i += 2,
                b'#' => {
                    while self.s.get(self.i).is_some_and(|&c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, (usize, String)> {
        Err((self.i, msg.into()))
    }

    fn value(&mut self) -> Result<Lit, (usize, String)> {
        self.ws();
        let at = self.i;
        let Some(&c) = self.s.get(self.i) else {
            return self.err("expected a value");
        };
        match c {
            b'{' | b'[' | b'(' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.err(format!("nested deeper than {MAX_DEPTH} levels"));
                }
                let v = if c == b'{' {
                    self.dict(at)
                } else {
                    self.list(at, c)
                };
                self.depth -= 1;
                v
            }
            b'"' | b'\'' => self.string().map(|s| Lit::Str(s, at)),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(at),
            _ => {
                let word: String = self.src[self.i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let v = match word.as_str() {
                    "True" => Lit::Bool(true, at),
                    "False" => Lit::Bool(false, at),
                    "None" => Lit::None(at),
                    "" => {
                        return self.err("expected a literal value (number, string, list or dict)");
                    }
                    _ => {
                        return self.err(format!(
                            "`{word}` is not a literal: declarations are read without running your code, so write the value itself"
                        ));
                    }
                };
                self.i += word.len();
                Ok(v)
            }
        }
    }

    fn seq_end(&mut self, close: u8) -> Result<bool, (usize, String)> {
        self.ws();
        match self.s.get(self.i) {
            Some(&c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            Some(b',') => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&close) {
                    self.i += 1;
                    return Ok(true);
                }
                Ok(false)
            }
            _ => self.err(format!("expected `,` or `{}`", close as char)),
        }
    }

    fn list(&mut self, at: usize, open: u8) -> Result<Lit, (usize, String)> {
        let close = if open == b'[' { b']' } else { b')' };
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&close) {
            self.i += 1;
            return Ok(Lit::List(items, at));
        }
        loop {
            items.push(self.value()?);
            if self.seq_end(close)? {
                return Ok(Lit::List(items, at));
            }
        }
    }

    fn dict(&mut self, at: usize) -> Result<Lit, (usize, String)> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Lit::Dict(items, at));
        }
        loop {
            let k = self.value()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return self.err("expected `:` after a dict key");
            }
            self.i += 1;
            let v = self.value()?;
            items.push((k, v));
            if self.seq_end(b'}')? {
                return Ok(Lit::Dict(items, at));
            }
        }
    }

    fn string(&mut self) -> Result<String, (usize, String)> {
        let q = self.s[self.i];
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.src[self.i..].chars().next() else {
                return self.err("unterminated string");
            };
            self.i += c.len_utf8();
            match c {
                '\n' => return self.err("unterminated string"),
                '\\' => {
                    let Some(e) = self.src[self.i..].chars().next() else {
                        return self.err("unterminated string");
                    };
                    self.i += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
                c if c as u32 == u32::from(q) => return Ok(out),
                c => out.push(c),
            }
        }
    }

    fn number(&mut self, at: usize) -> Result<Lit, (usize, String)> {
        let text: String = self.src[self.i..]
            .chars()
            .enumerate()
            .take_while(|(k, c)| {
                c.is_ascii_digit()
                    || matches!(c, '.' | '_' | 'e' | 'E')
                    || (*k == 0 && matches!(c, '-' | '+'))
            })
            .map(|(_, c)| c)
            .collect();
        // An exponent sign: `1e-3`.
        let mut len = text.len();
        let mut text = text;
        if text.ends_with(['e', 'E']) && matches!(self.s.get(self.i + len), Some(b'-' | b'+')) {
            let rest: String = self.src[self.i + len + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            text.push(self.s[self.i + len] as char);
            text.push_str(&rest);
            len = text.len();
        }
        let clean = text.replace('_', "");
        let v = if let Ok(i) = clean.parse::<i64>() {
            Lit::Int(i, at)
        } else if let Ok(x) = clean.parse::<f64>() {
            Lit::Float(x, at)
        } else {
            return self.err(format!("`{text}` is not a number"));
        };
        self.i += len;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declarations() {
        let src = "{\"fast\": 10,  # comment\n 'slow': {'default': 3.5e1, 'min': -2},\n 'ok': [True, None, (1, 2),],}";
        let (v, end) = parse(src, 0).unwrap();
        assert_eq!(end, src.len());
        let Lit::Dict(items, 0) = v else { panic!() };
        assert_eq!(items[0].0, Lit::Str("fast".into(), 1));
        assert_eq!(items[0].1, Lit::Int(10, 9));
        let Lit::Dict(inner, _) = &items[1].1 else {
            panic!()
        };
        assert_eq!(inner[0].1.number(), Some(35.0));
        assert_eq!(inner[1].1.number(), Some(-2.0));
    }

    #[test]
    fn refuses_code_and_depth() {
        assert!(
            parse("{'a': foo()}", 0)
                .unwrap_err()
                .1
                .contains("`foo` is not a literal")
        );
        assert!(
            parse(&"[".repeat(100), 0)
                .unwrap_err()
                .1
                .contains("nested deeper")
        );
        assert!(parse("{'a' 1}", 0).unwrap_err().1.contains("expected `:`"));
        assert!(parse("'abc", 0).unwrap_err().1.contains("unterminated"));
        assert!(parse("{'a': 1", 0).is_err());
    }
}
