//! Tokens of the kernel language, each with its 1-based character column.

use super::ExprError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    /// A name: a letter or `_`, then letters, digits, `_` or `.`.
    Ident(String),
    /// A number as written (sign included), with its value.
    Number(f64, String),
    /// A double-quoted name, without the quotes (`\"` and `\\` escaped).
    Quoted(String),
    /// One of `+ * ( ) , = ~ [ ]`.
    Punct(char),
    /// The end of the text.
    End,
}

impl Token {
    /// How an error message shows this token.
    pub(super) fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("{name:?}"),
            Token::Number(_, text) => format!("number {text}"),
            Token::Quoted(name) => format!("quoted name {name:?}"),
            Token::Punct(c) => format!("'{c}'"),
            Token::End => "the end of the expression".to_string(),
        }
    }
}

/// The tokens of `text`, each with its 1-based character column, ending with [`Token::End`].
///
/// # Errors
/// [`ExprError`] at the first character that starts no token, or an unterminated quote.
pub(super) fn tokens(text: &str) -> Result<Vec<(Token, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (token, next) = if "+*(),=~[]".contains(c) {
            (Token::Punct(c), i + 1)
        } else if c.is_alphabetic() || c == '_' {
            ident(&chars, i)
        } else if c.is_ascii_digit() || c == '-' || c == '.' {
            number(&chars, i)?
        } else if c == '"' {
            quoted(&chars, i)?
        } else {
            return Err(ExprError::new(
                column,
                "a kernel name, column, number or one of + * ( ) , = ~ [ ]",
                format!("'{c}'"),
            ));
        };
        out.push((token, column));
        i = next;
    }
    out.push((Token::End, chars.len() + 1));
    Ok(out)
}

fn ident(chars: &[char], start: usize) -> (Token, usize) {
    let end = scan(chars, start + 1, |c| {
        c.is_alphanumeric() || c == '_' || c == '.'
    });
    (Token::Ident(chars[start..end].iter().collect()), end)
}

/// A decimal number with optional sign, fraction and exponent (`-1.5e-3`).
fn number(chars: &[char], start: usize) -> Result<(Token, usize), ExprError> {
    let mut end = scan(chars, start + 1, |c| c.is_ascii_digit() || c == '.');
    if end < chars.len() && (chars[end] == 'e' || chars[end] == 'E') {
        let sign = usize::from(matches!(chars.get(end + 1), Some('+' | '-')));
        end = scan(chars, end + 1 + sign, |c| c.is_ascii_digit());
    }
    let text: String = chars[start..end].iter().collect();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((Token::Number(v, text.clone()), end)),
        _ => Err(ExprError::new(
            start + 1,
            "a finite number such as 1, -0.5 or 2e-3",
            format!("{text:?}"),
        )),
    }
}

fn quoted(chars: &[char], start: usize) -> Result<(Token, usize), ExprError> {
    let mut name = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((Token::Quoted(name), i + 1)),
            '\\' if i + 1 < chars.len() => {
                name.push(chars[i + 1]);
                i += 2;
            }
            c => {
                name.push(c);
                i += 1;
            }
        }
    }
    Err(ExprError::new(
        start + 1,
        "a closing '\"' for this quoted name",
        "the end of the expression".to_string(),
    ))
}

/// The first index ≥ `from` whose character fails `keep` (or the length).
fn scan(chars: &[char], from: usize, keep: impl Fn(char) -> bool) -> usize {
    (from..chars.len())
        .find(|&i| !keep(chars[i]))
        .unwrap_or(chars.len())
}
