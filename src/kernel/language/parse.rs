//! Recursive-descent parser of the kernel language:
//!
//! ```text
//! expr    := product ('+' product)*
//! product := factor ('*' factor)*
//! factor  := call | '(' expr ')'
//! call    := name ['(' [item (',' item)*] ')']        a bare name reads every column
//! item    := column | name '=' init ['~' prior] | name '~' prior
//! column  := name | quoted | integer
//! init    := values | 'fixed' '(' values ')'
//! values  := number | '[' number (',' number)* ']'
//! prior   := name '(' [number (',' number)*] ')'
//! ```
//!
//! Columns come before keyword arguments.

use super::lex::{tokens, Token};
use super::syntax::{Arg, Call, Column, Expr, PriorCall};
use super::ExprError;

/// Parses `text` into an [`Expr`].
///
/// # Errors
/// [`ExprError`] with the 1-based character column of the first token that does not fit, what
/// was expected there and what was found.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
        depth: 0,
    };
    let expr = parser.expr()?;
    parser.expect_end()?;
    Ok(expr)
}

/// The deepest nesting of brackets accepted: far beyond any kernel a user writes, and shallow
/// enough that the recursive descent cannot exhaust the stack on hostile text.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    /// Brackets open at the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }

    fn column(&self) -> usize {
        self.tokens[self.at].1
    }

    fn advance(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    /// The next token's value under `take`, consuming the token only when `take` accepts it.
    fn take<T>(&mut self, take: impl FnOnce(&Token) -> Option<T>) -> Option<T> {
        let value = take(self.peek());
        if value.is_some() {
            self.advance();
        }
        value
    }

    fn error(&self, expected: &str) -> ExprError {
        ExprError::new(self.column(), expected, self.peek().describe())
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: char) -> bool {
        let found = *self.peek() == Token::Punct(c);
        if found {
            self.advance();
        }
        found
    }

    fn expect(&mut self, c: char, expected: &str) -> Result<(), ExprError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn expect_end(&self) -> Result<(), ExprError> {
        match self.peek() {
            Token::End => Ok(()),
            _ => Err(self.error("'+', '*' or the end of the expression")),
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut parts = vec![self.product()?];
        while self.eat('+') {
            parts.push(self.product()?);
        }
        Ok(flatten(parts, true))
    }

    fn product(&mut self) -> Result<Expr, ExprError> {
        let mut parts = vec![self.factor()?];
        while self.eat('*') {
            parts.push(self.factor()?);
        }
        Ok(flatten(parts, false))
    }

    fn factor(&mut self) -> Result<Expr, ExprError> {
        if self.depth == MAX_DEPTH && *self.peek() == Token::Punct('(') {
            return Err(self.error("at most 64 nested brackets: a kernel name"));
        }
        if self.eat('(') {
            self.depth += 1;
            let inner = self.expr()?;
            self.expect(')', "')' closing the bracket, '+' or '*'")?;
            self.depth -= 1;
            return Ok(inner);
        }
        let position = self.column();
        match self.take(ident) {
            Some(name) => self.call(name, position).map(Expr::Call),
            None => Err(self.error("a kernel name such as se, periodic or linear, or '('")),
        }
    }

    fn call(&mut self, name: String, position: usize) -> Result<Call, ExprError> {
        let mut call = Call {
            name,
            columns: Vec::new(),
            args: Vec::new(),
            position,
        };
        if !self.eat('(') || self.eat(')') {
            return Ok(call);
        }
        loop {
            self.item(&mut call)?;
            if self.eat(')') {
                return Ok(call);
            }
            self.expect(',', "',' or ')' closing the kernel's arguments")?;
        }
    }

    /// One column or keyword argument of `call`.
    fn item(&mut self, call: &mut Call) -> Result<(), ExprError> {
        let position = self.column();
        let keyword = matches!(self.tokens[self.at + 1].0, Token::Punct('=' | '~'));
        if keyword {
            if let Some(name) = self.take(ident) {
                let arg = self.arg(name, position)?;
                call.args.push(arg);
                return Ok(());
            }
        } else if call.args.is_empty() {
            if let Some(column) = self.take(column) {
                call.columns.push(column);
                return Ok(());
            }
        }
        Err(self.error(if call.args.is_empty() {
            "a column (a header name, a quoted name or a 0-based index) or name=value"
        } else {
            "name=value or name ~ prior (columns come before keyword arguments)"
        }))
    }

    fn arg(&mut self, name: String, position: usize) -> Result<Arg, ExprError> {
        let mut arg = Arg {
            name,
            value: None,
            fixed: false,
            prior: None,
            position,
        };
        if self.eat('=') {
            arg.fixed = self
                .take(|t| (*t == Token::Ident("fixed".into())).then_some(()))
                .is_some();
            if arg.fixed {
                self.expect('(', "'(' after fixed")?;
            }
            arg.value = Some(self.values()?);
            if arg.fixed {
                self.expect(')', "')' closing fixed(…)")?;
            }
        }
        if self.eat('~') {
            arg.prior = Some(self.prior()?);
        }
        Ok(arg)
    }

    fn values(&mut self) -> Result<Vec<f64>, ExprError> {
        if !self.eat('[') {
            return Ok(vec![self.number()?]);
        }
        let mut values = vec![self.number()?];
        while self.eat(',') {
            values.push(self.number()?);
        }
        self.expect(']', "',' or ']' closing the list")?;
        Ok(values)
    }

    fn number(&mut self) -> Result<f64, ExprError> {
        match self.take(|t| match t {
            Token::Number(v, _) => Some(*v),
            _ => None,
        }) {
            Some(v) => Ok(v),
            None => Err(self.error("a number")),
        }
    }

    fn prior(&mut self) -> Result<PriorCall, ExprError> {
        let Some(family) = self.take(ident) else {
            return Err(self.error("a prior such as lognormal(0, 1), gamma(2, 1) or halfnormal(1)"));
        };
        self.expect('(', "'(' and the prior's arguments")?;
        let mut args = Vec::new();
        if !self.eat(')') {
            args.push(self.number()?);
            while self.eat(',') {
                args.push(self.number()?);
            }
            self.expect(')', "',' or ')' closing the prior's arguments")?;
        }
        Ok(PriorCall { family, args })
    }
}

/// One part as itself; several as a sum or product, splicing nested ones of the same kind.
fn flatten(mut parts: Vec<Expr>, is_sum: bool) -> Expr {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    let mut flat = Vec::new();
    for part in parts {
        match (part, is_sum) {
            (Expr::Sum(inner), true) | (Expr::Product(inner), false) => flat.extend(inner),
            (other, _) => flat.push(other),
        }
    }
    if is_sum {
        Expr::Sum(flat)
    } else {
        Expr::Product(flat)
    }
}

fn ident(token: &Token) -> Option<String> {
    match token {
        Token::Ident(name) => Some(name.clone()),
        _ => None,
    }
}

/// A column: a name, a quoted name or a non-negative integer index.
fn column(token: &Token) -> Option<Column> {
    match token {
        Token::Ident(name) | Token::Quoted(name) => Some(Column::Name(name.clone())),
        Token::Number(v, text) if text.chars().all(|c| c.is_ascii_digit()) && *v < 1e15 => {
            Some(Column::Index(*v as usize))
        }
        _ => None,
    }
}
