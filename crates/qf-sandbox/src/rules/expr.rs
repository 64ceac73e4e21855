//! The syntax of guards and actions: text to an untyped tree with spans.
//!
//! ```text
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | primary
//! primary := number | "true" | "false" | name | name "(" [or ("," or)*] ")" | "(" or ")"
//! ```
//!
//! Nesting (parentheses, calls, `not`, unary minus) and the height of the tree are both
//! limited to [`MAX_NESTING`], so neither this parser nor any later pass over the tree can
//! run out of stack, whatever the input.

use std::ops::Range;

use super::MAX_NESTING;

/// An expression and the byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Range<usize>,
    /// Levels below and including this node.
    pub height: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Number(f64),
    Bool(bool),
    Name(String),
    Call {
        name: String,
        name_span: Range<usize>,
        args: Vec<Expr>,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary {
        op: BinOp,
        op_at: usize,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

/// A syntax error at byte `at` of the expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub at: usize,
    pub message: String,
    pub help: Option<String>,
}

fn err<T>(at: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        at,
        message: message.into(),
        help: None,
    })
}

fn err_help<T>(at: usize, message: impl Into<String>, help: &str) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        at,
        message: message.into(),
        help: Some(help.into()),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Num(f64),
    Ident(&'a str),
    LParen,
    RParen,
    Comma,
    Op(BinOp),
    End,
}

struct Token<'a> {
    tok: Tok<'a>,
    span: Range<usize>,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn lex(text: &str) -> Result<Vec<Token<'_>>, SyntaxError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let two = |s: &[u8]| b[i..].starts_with(s);
        let (tok, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'+' => (Tok::Op(BinOp::Add), 1),
            b'-' => (Tok::Op(BinOp::Sub), 1),
            b'*' => (Tok::Op(BinOp::Mul), 1),
            b'/' => (Tok::Op(BinOp::Div), 1),
            b'<' if two(b"<=") => (Tok::Op(BinOp::Le), 2),
            b'<' => (Tok::Op(BinOp::Lt), 1),
            b'>' if two(b">=") => (Tok::Op(BinOp::Ge), 2),
            b'>' => (Tok::Op(BinOp::Gt), 1),
            b'=' if two(b"==") => (Tok::Op(BinOp::Eq), 2),
            b'!' if two(b"!=") => (Tok::Op(BinOp::Ne), 2),
            b'=' => return err_help(i, "`=` is not a comparison", "write `==` to compare"),
            b'&' => return err_help(i, "unexpected `&`", "write `and`"),
            b'|' => return err_help(i, "unexpected `|`", "write `or`"),
            b'!' => return err_help(i, "unexpected `!`", "write `not`"),
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                let len = number_len(&b[i..]);
                let s = &text[i..i + len];
                if b.get(i + len).copied().is_some_and(is_ident_char) {
                    return err(
                        i + len,
                        format!("unexpected character after the number `{s}`"),
                    );
                }
                match s.parse::<f64>() {
                    Ok(x) if x.is_finite() => (Tok::Num(x), len),
                    _ => return err(i, format!("number `{s}` is too large")),
                }
            }
            c if is_ident_start(c) => {
                let len = b[i..].iter().take_while(|&&c| is_ident_char(c)).count();
                (Tok::Ident(&text[i..i + len]), len)
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return err(i, format!("unexpected character `{}`", ch.escape_default()));
            }
        };
        i += len;
        out.push(Token {
            tok,
            span: start..i,
        });
    }
    out.push(Token {
        tok: Tok::End,
        span: b.len()..b.len(),
    });
    Ok(out)
}

/// Length of `[0-9]*(\.[0-9]+)?([eE][-+]?[0-9]+)?` at the start of `b`.
fn number_len(b: &[u8]) -> usize {
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut n = digits(0);
    if b.get(n) == Some(&b'.') && b.get(n + 1).is_some_and(u8::is_ascii_digit) {
        n += 1 + digits(n + 1);
    }
    if matches!(b.get(n), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(n + 1), Some(b'+' | b'-')));
        let d = digits(n + 1 + sign);
        if d > 0 {
            n += 1 + sign + d;
        }
    }
    n
}

/// Parses one expression.
pub(crate) fn parse(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = lex(text)?;
    let mut p = ExprParser {
        tokens,
        pos: 0,
        depth: 0,
    };
    if matches!(p.peek(), Tok::End) {
        return err(0, "empty expression");
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::RParen => err(p.at(), "unmatched `)`"),
        _ => err_help(
            p.at(),
            "expected an operator or the end of the expression",
            "combine conditions with `and` / `or`; write `*` to multiply",
        ),
    }
}

struct ExprParser<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

fn too_deep<T>(at: usize) -> Result<T, SyntaxError> {
    err_help(
        at,
        format!("expression is nested more than {MAX_NESTING} levels deep"),
        "split it: compute parts into vars with `set(...)`, or simplify",
    )
}

impl<'a> ExprParser<'a> {
    fn peek(&self) -> &Tok<'a> {
        // The token list always ends with `End`, and `pos` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn at(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].span.start
    }

    fn span(&self) -> Range<usize> {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
            .span
            .clone()
    }

    fn bump(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return too_deep(self.at());
        }
        Ok(())
    }

    fn binary(&self, op: BinOp, op_at: usize, lhs: Expr, rhs: Expr) -> Result<Expr, SyntaxError> {
        let height = lhs.height.max(rhs.height) + 1;
        if height > MAX_NESTING {
            return too_deep(op_at);
        }
        Ok(Expr {
            span: lhs.span.start..rhs.span.end,
            height,
            kind: ExprKind::Binary {
                op,
                op_at,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if *w == word)
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.and()?;
        while self.keyword("or") {
            let at = self.at();
            self.bump();
            let rhs = self.and()?;
            lhs = self.binary(BinOp::Or, at, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.not()?;
        while self.keyword("and") {
            let at = self.at();
            self.bump();
            let rhs = self.not()?;
            lhs = self.binary(BinOp::And, at, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if !self.keyword("not") {
            return self.compare();
        }
        let start = self.at();
        self.enter()?;
        self.bump();
        let inner = self.not()?;
        self.depth -= 1;
        self.unary(start, inner, ExprKind::Not)
    }

    fn unary(
        &self,
        start: usize,
        inner: Expr,
        make: fn(Box<Expr>) -> ExprKind,
    ) -> Result<Expr, SyntaxError> {
        if inner.height + 1 > MAX_NESTING {
            return too_deep(start);
        }
        Ok(Expr {
            span: start..inner.span.end,
            height: inner.height + 1,
            kind: make(Box::new(inner)),
        })
    }

    fn compare(&mut self) -> Result<Expr, SyntaxError> {
        let lhs = self.sum()?;
        let Tok::Op(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne)) =
            *self.peek()
        else {
            return Ok(lhs);
        };
        let at = self.at();
        self.bump();
        let rhs = self.sum()?;
        if let Tok::Op(BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne) =
            self.peek()
        {
            return err_help(
                self.at(),
                "comparisons cannot be chained",
                "write `a < b and b < c`",
            );
        }
        self.binary(op, at, lhs, rhs)
    }

    fn sum(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.product()?;
        while let Tok::Op(op @ (BinOp::Add | BinOp::Sub)) = *self.peek() {
            let at = self.at();
            self.bump();
            let rhs = self.product()?;
            lhs = self.binary(op, at, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn product(&mut self) -> Result<Expr, SyntaxError> {
        let mut lhs = self.negation()?;
        while let Tok::Op(op @ (BinOp::Mul | BinOp::Div)) = *self.peek() {
            let at = self.at();
            self.bump();
            let rhs = self.negation()?;
            lhs = self.binary(op, at, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn negation(&mut self) -> Result<Expr, SyntaxError> {
        if !matches!(self.peek(), Tok::Op(BinOp::Sub)) {
            return self.primary();
        }
        let start = self.at();
        self.enter()?;
        self.bump();
        let inner = self.negation()?;
        self.depth -= 1;
        self.unary(start, inner, ExprKind::Neg)
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let span = self.span();
        let leaf = |kind| Expr {
            kind,
            span: span.clone(),
            height: 1,
        };
        match *self.peek() {
            Tok::Num(x) => {
                self.bump();
                Ok(leaf(ExprKind::Number(x)))
            }
            Tok::Ident(w @ ("and" | "or" | "not")) => {
                err(span.start, format!("expected a value before `{w}`"))
            }
            Tok::Ident("true") => {
                self.bump();
                Ok(leaf(ExprKind::Bool(true)))
            }
            Tok::Ident("false") => {
                self.bump();
                Ok(leaf(ExprKind::Bool(false)))
            }
            Tok::Ident(name) => {
                self.bump();
                if *self.peek() != Tok::LParen {
                    return Ok(leaf(ExprKind::Name(name.to_string())));
                }
                self.call(name, span)
            }
            Tok::LParen => {
                self.enter()?;
                self.bump();
                let mut inner = self.or()?;
                if *self.peek() != Tok::RParen {
                    return err_help(self.at(), "expected `)`", "close the `(` opened earlier");
                }
                let end = self.span().end;
                self.bump();
                self.depth -= 1;
                inner.span = span.start..end;
                Ok(inner)
            }
            Tok::RParen => err(span.start, "expected a value, found `)`"),
            Tok::Comma => err(span.start, "expected a value, found `,`"),
            Tok::Op(op) => err(
                span.start,
                format!("expected a value, found `{}`", op.symbol()),
            ),
            Tok::End => err(span.start, "expression ends too early: expected a value"),
        }
    }

    fn call(&mut self, name: &str, name_span: Range<usize>) -> Result<Expr, SyntaxError> {
        self.enter()?;
        self.bump(); // (
        let mut args = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
        } else {
            loop {
                args.push(self.or()?);
                match self.peek() {
                    Tok::Comma => self.bump(),
                    Tok::RParen => {
                        self.bump();
                        break;
                    }
                    _ => {
                        return err_help(
                            self.at(),
                            format!("expected `,` or `)` in the call to `{name}`"),
                            "separate arguments with commas",
                        );
                    }
                }
            }
        }
        self.depth -= 1;
        let end = self.tokens[self.pos - 1].span.end;
        let height = args.iter().map(|a| a.height).max().unwrap_or(0) + 1;
        if height > MAX_NESTING {
            return too_deep(name_span.start);
        }
        Ok(Expr {
            span: name_span.start..end,
            height,
            kind: ExprKind::Call {
                name: name.to_string(),
                name_span,
                args,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(x) => format!("{x}"),
            ExprKind::Bool(b) => format!("{b}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Call { name, args, .. } => format!(
                "{name}({})",
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Neg(x) => format!("(-{})", show(x)),
            ExprKind::Not(x) => format!("(not {})", show(x)),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                format!("({} {} {})", show(lhs), op.symbol(), show(rhs))
            }
        }
    }

    #[test]
    fn precedence() {
        let cases = [
            ("1 + 2 * 3", "(1 + (2 * 3))"),
            ("1 - 2 - 3", "((1 - 2) - 3)"),
            ("-a * b", "((-a) * b)"),
            ("not a > b and c or d", "(((not (a > b)) and c) or d)"),
            ("f(x, (1 + 2) / 3)", "f(x, ((1 + 2) / 3))"),
            ("1.5e3 >= .5", "(1500 >= 0.5)"),
        ];
        for (text, want) in cases {
            assert_eq!(show(&parse(text).unwrap()), want, "{text}");
        }
    }

    #[test]
    fn errors_point_at_the_token() {
        let cases = [
            ("a = b", 2, "`=` is not a comparison"),
            ("a < b < c", 6, "cannot be chained"),
            ("(a + b", 6, "expected `)`"),
            ("a b", 2, "expected an operator"),
            ("f(a b)", 4, "expected `,` or `)`"),
            ("a + ", 4, "ends too early"),
            ("10x", 2, "after the number"),
            ("", 0, "empty expression"),
            ("1e999", 0, "too large"),
            ("a $ b", 2, "unexpected character `$`"),
        ];
        for (text, at, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e:?}");
            assert!(e.message.contains(want), "{text}: {}", e.message);
        }
    }

    #[test]
    fn nesting_is_limited_without_overflowing() {
        for text in [
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}1", "-".repeat(100_000)),
            format!("{}true", "not ".repeat(100_000)),
            format!("1{}", " + 1".repeat(100_000)),
            format!("{}1{}", "abs(".repeat(100_000), ")".repeat(100_000)),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.message.contains("nested more than 64"), "{}", e.message);
        }
        let ok = format!("{}1{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(&ok).is_ok());
    }
}
