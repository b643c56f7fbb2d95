//! The rules' expression language: a subset of CEL (Common Expression Language), parsed by hand
//! into an [`Expr`] tree. `interp` evaluates it; `lint` walks it to check the JSON paths it reads.
//!
//! ```text
//! expr    = cond
//! cond    = or ("?" cond ":" cond)?
//! or      = and ("||" and)*
//! and     = rel ("&&" rel)*
//! rel     = add (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") add)?
//! add     = mul (("+" | "-") mul)*
//! mul     = unary (("*" | "/" | "%") unary)*
//! unary   = ("!" | "-")* postfix
//! postfix = primary ("." IDENT | "." IDENT "(" args ")" | "[" expr "]")*
//! primary = INT | FLOAT | STRING | "true" | "false" | "null" | "[" args "]" | "(" expr ")"
//!         | IDENT | IDENT "(" args ")"
//! ```
//!
//! Macros (`list.all(x, p)`, `exists`, `exists_one`, `filter`, `map`) and `has(a.b)` are
//! recognised here, so their variable is a name, never an expression. Pure syntax: which
//! functions exist and what a name means is checked by `rule` when a rule loads.

use std::fmt;

/// One node, with the byte offset in the expression text where it starts (for messages).
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub node: Node,
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Expr>),
    Ident(String),
    /// `a.b`
    Member(Box<Expr>, String),
    /// `a[i]`, `a["key"]`
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `f(args)` (no target) or `target.f(args)`.
    Call {
        name: String,
        target: Option<Box<Expr>>,
        args: Vec<Expr>,
    },
    /// `target.all(var, body)` and the other comprehensions.
    Macro {
        kind: MacroKind,
        target: Box<Expr>,
        var: String,
        body: Box<Expr>,
    },
    /// `has(a.b)`: true when the whole member chain exists.
    Has(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroKind {
    All,
    Exists,
    ExistsOne,
    Filter,
    Map,
}

impl MacroKind {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "all" => MacroKind::All,
            "exists" => MacroKind::Exists,
            "exists_one" => MacroKind::ExistsOne,
            "filter" => MacroKind::Filter,
            "map" => MacroKind::Map,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            MacroKind::All => "all",
            MacroKind::Exists => "exists",
            MacroKind::ExistsOne => "exists_one",
            MacroKind::Filter => "filter",
            MacroKind::Map => "map",
        }
    }
}

/// A syntax error at a byte offset of the expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub at: usize,
    pub message: String,
}

impl Expr {
    /// Calls `visit` on this node and every node below it.
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match &self.node {
            Node::List(items) => items.iter().for_each(|e| e.walk(visit)),
            Node::Member(target, _) | Node::Not(target) | Node::Neg(target) | Node::Has(target) => {
                target.walk(visit)
            }
            Node::Index(a, b) | Node::Binary(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            Node::Cond(c, a, b) => {
                c.walk(visit);
                a.walk(visit);
                b.walk(visit);
            }
            Node::Call { target, args, .. } => {
                if let Some(target) = target {
                    target.walk(visit);
                }
                args.iter().for_each(|e| e.walk(visit));
            }
            Node::Macro { target, body, .. } => {
                target.walk(visit);
                body.walk(visit);
            }
            Node::Null | Node::Bool(_) | Node::Int(_) | Node::Float(_) | Node::Str(_) => {}
            Node::Ident(_) => {}
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Node::Null => f.write_str("null"),
            Node::Bool(b) => write!(f, "{b}"),
            Node::Int(i) => write!(f, "{i}"),
            Node::Float(x) => write!(f, "{x:?}"),
            Node::Str(s) => write!(f, "{s:?}"),
            Node::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Node::Ident(name) => f.write_str(name),
            Node::Member(target, name) => write!(f, "{target}.{name}"),
            Node::Index(target, index) => write!(f, "{target}[{index}]"),
            Node::Not(e) => write!(f, "!{e}"),
            Node::Neg(e) => write!(f, "-{e}"),
            Node::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Node::And(a, b) => write!(f, "({a} && {b})"),
            Node::Or(a, b) => write!(f, "({a} || {b})"),
            Node::Cond(c, a, b) => write!(f, "({c} ? {a} : {b})"),
            Node::Call { name, target, args } => {
                if let Some(target) = target {
                    write!(f, "{target}.")?;
                }
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Node::Macro {
                kind,
                target,
                var,
                body,
            } => write!(f, "{target}.{}({var}, {body})", kind.name()),
            Node::Has(e) => write!(f, "has({e})"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Punct(&'static str),
    End,
}

const PUNCTUATION: &[&str] = &[
    "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", ".", ",", "?", ":", "!", "-", "+", "*",
    "/", "%", "<", ">",
];

fn lex(text: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            // A comment runs to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c.is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let float = i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit();
            if float {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let value = text[start..i].parse().map_err(|_| SyntaxError {
                    at: start,
                    message: format!("`{}` is not a number", &text[start..i]),
                })?;
                tokens.push((Token::Float(value), start));
            } else {
                let value = text[start..i].parse().map_err(|_| SyntaxError {
                    at: start,
                    message: format!("`{}` is too large a number", &text[start..i]),
                })?;
                tokens.push((Token::Int(value), start));
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push((Token::Ident(text[start..i].to_string()), start));
            continue;
        }
        if c == b'"' || c == b'\'' {
            let (value, end) = lex_string(text, start)?;
            tokens.push((Token::Str(value), start));
            i = end;
            continue;
        }
        let Some(punct) = PUNCTUATION.iter().find(|p| text[i..].starts_with(**p)) else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(SyntaxError {
                at: start,
                message: format!("unexpected character `{ch}`"),
            });
        };
        tokens.push((Token::Punct(punct), start));
        i += punct.len();
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

/// A quoted string starting at `start`; returns its value and the offset after it.
fn lex_string(text: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let quote = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((offset, ch)) = chars.next() {
        if ch == quote {
            return Ok((out, start + 1 + offset + 1));
        }
        if ch == '\\' {
            let Some((_, escaped)) = chars.next() else {
                break;
            };
            out.push(match escaped {
                'n' => '\n',
                't' => '\t',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                other => {
                    return Err(SyntaxError {
                        at: start + 1 + offset,
                        message: format!("unknown escape `\\{other}`"),
                    });
                }
            });
            continue;
        }
        out.push(ch);
    }
    Err(SyntaxError {
        at: start,
        message: "a string without its closing quote".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, next: 0 };
    let expr = parser.cond()?;
    match parser.peek() {
        Token::End => Ok(expr),
        other => Err(parser.error(format!("unexpected {} after the expression", show(other)))),
    }
}

/// The parts of a message template: text, and `{{ expr }}` holes.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Text(String),
    Hole(Expr),
}

/// Parses a message template with `{{ expr }}` holes. Offsets in errors are in `text`.
pub fn parse_template(text: &str) -> Result<Vec<Part>, SyntaxError> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let inner_start = open + 2;
        let Some(close) = rest[inner_start..].find("}}") else {
            return Err(SyntaxError {
                at: offset + open,
                message: "`{{` without its `}}`".into(),
            });
        };
        let inner = &rest[inner_start..inner_start + close];
        let expr = parse(inner).map_err(|e| SyntaxError {
            at: offset + inner_start + e.at,
            message: e.message,
        })?;
        parts.push(Part::Hole(shift(expr, offset + inner_start)));
        let consumed = inner_start + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// Moves every offset of an expression by `by` (a hole's offsets into its template's).
fn shift(mut expr: Expr, by: usize) -> Expr {
    fn visit(expr: &mut Expr, by: usize) {
        expr.at += by;
        match &mut expr.node {
            Node::List(items) => items.iter_mut().for_each(|e| visit(e, by)),
            Node::Member(t, _) | Node::Not(t) | Node::Neg(t) | Node::Has(t) => visit(t, by),
            Node::Index(a, b) | Node::Binary(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
                visit(a, by);
                visit(b, by);
            }
            Node::Cond(c, a, b) => {
                visit(c, by);
                visit(a, by);
                visit(b, by);
            }
            Node::Call { target, args, .. } => {
                if let Some(t) = target {
                    visit(t, by);
                }
                args.iter_mut().for_each(|e| visit(e, by));
            }
            Node::Macro { target, body, .. } => {
                visit(target, by);
                visit(body, by);
            }
            _ => {}
        }
    }
    visit(&mut expr, by);
    expr
}

fn show(token: &Token) -> String {
    match token {
        Token::Int(i) => format!("number `{i}`"),
        Token::Float(x) => format!("number `{x}`"),
        Token::Str(s) => format!("string {s:?}"),
        Token::Ident(name) => format!("`{name}`"),
        Token::Punct(p) => format!("`{p}`"),
        Token::End => "the end".into(),
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
}

/// How deep expressions may nest: a bound on the recursion of parser and evaluator.
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.next.min(self.tokens.len() - 1)].0
    }

    fn at(&self) -> usize {
        self.tokens[self.next.min(self.tokens.len() - 1)].1
    }

    fn bump(&mut self) -> (Token, usize) {
        let token = self.tokens[self.next.min(self.tokens.len() - 1)].clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            at: self.at(),
            message,
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        if matches!(self.peek(), Token::Punct(p) if *p == punct) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), SyntaxError> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{punct}`, found {}", show(self.peek()))))
        }
    }

    fn depth_check(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn cond(&mut self) -> Result<Expr, SyntaxError> {
        self.cond_at(0)
    }

    fn cond_at(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        self.depth_check(depth)?;
        let condition = self.or(depth)?;
        if !self.eat("?") {
            return Ok(condition);
        }
        let then = self.cond_at(depth + 1)?;
        self.expect(":")?;
        let otherwise = self.cond_at(depth + 1)?;
        let at = condition.at;
        Ok(Expr {
            node: Node::Cond(Box::new(condition), Box::new(then), Box::new(otherwise)),
            at,
        })
    }

    fn or(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut left = self.and(depth)?;
        while self.eat("||") {
            let right = self.and(depth)?;
            let at = left.at;
            left = Expr {
                node: Node::Or(Box::new(left), Box::new(right)),
                at,
            };
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut left = self.relation(depth)?;
        while self.eat("&&") {
            let right = self.relation(depth)?;
            let at = left.at;
            left = Expr {
                node: Node::And(Box::new(left), Box::new(right)),
                at,
            };
        }
        Ok(left)
    }

    fn relation(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let left = self.additive(depth)?;
        let op = match self.peek() {
            Token::Punct("==") => BinOp::Eq,
            Token::Punct("!=") => BinOp::Ne,
            Token::Punct("<") => BinOp::Lt,
            Token::Punct("<=") => BinOp::Le,
            Token::Punct(">") => BinOp::Gt,
            Token::Punct(">=") => BinOp::Ge,
            Token::Ident(word) if word == "in" => BinOp::In,
            _ => return Ok(left),
        };
        self.bump();
        let right = self.additive(depth)?;
        if let Token::Punct("==" | "!=" | "<" | "<=" | ">" | ">=") = self.peek() {
            return Err(self.error(
                "comparisons do not chain: write `a <= b && b <= c`, with parentheses if needed"
                    .into(),
            ));
        }
        let at = left.at;
        Ok(Expr {
            node: Node::Binary(op, Box::new(left), Box::new(right)),
            at,
        })
    }

    fn additive(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut left = self.multiplicative(depth)?;
        loop {
            let op = match self.peek() {
                Token::Punct("+") => BinOp::Add,
                Token::Punct("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.multiplicative(depth)?;
            let at = left.at;
            left = Expr {
                node: Node::Binary(op, Box::new(left), Box::new(right)),
                at,
            };
        }
    }

    fn multiplicative(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = match self.peek() {
                Token::Punct("*") => BinOp::Mul,
                Token::Punct("/") => BinOp::Div,
                Token::Punct("%") => BinOp::Rem,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary(depth)?;
            let at = left.at;
            left = Expr {
                node: Node::Binary(op, Box::new(left), Box::new(right)),
                at,
            };
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        self.depth_check(depth)?;
        let at = self.at();
        if self.eat("!") {
            let inner = self.unary(depth + 1)?;
            return Ok(Expr {
                node: Node::Not(Box::new(inner)),
                at,
            });
        }
        if self.eat("-") {
            let inner = self.unary(depth + 1)?;
            return Ok(Expr {
                node: match inner.node {
                    Node::Int(i) => Node::Int(-i),
                    Node::Float(x) => Node::Float(-x),
                    other => Node::Neg(Box::new(Expr {
                        node: other,
                        at: inner.at,
                    })),
                },
                at,
            });
        }
        self.postfix(depth)
    }

    fn postfix(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let mut expr = self.primary(depth)?;
        loop {
            if self.eat(".") {
                let at = self.at();
                let name = match self.bump() {
                    (Token::Ident(name), _) => name,
                    (other, _) => {
                        return Err(SyntaxError {
                            at,
                            message: format!(
                                "expected a field name after `.`, found {}",
                                show(&other)
                            ),
                        });
                    }
                };
                if self.eat("(") {
                    let args = self.args(")", depth)?;
                    expr = self.method(expr, name, args, at)?;
                } else {
                    let start = expr.at;
                    expr = Expr {
                        node: Node::Member(Box::new(expr), name),
                        at: start,
                    };
                }
            } else if self.eat("[") {
                let index = self.cond_at(depth + 1)?;
                self.expect("]")?;
                let start = expr.at;
                expr = Expr {
                    node: Node::Index(Box::new(expr), Box::new(index)),
                    at: start,
                };
            } else {
                return Ok(expr);
            }
        }
    }

    /// `target.name(args)`: a macro when `name` is one, else a method call.
    fn method(
        &mut self,
        target: Expr,
        name: String,
        mut args: Vec<Expr>,
        at: usize,
    ) -> Result<Expr, SyntaxError> {
        let start = target.at;
        if let Some(kind) = MacroKind::from_name(&name) {
            if args.len() != 2 {
                return Err(SyntaxError {
                    at,
                    message: format!(
                        "`{name}` takes a variable and an expression: `{name}(x, ...)`"
                    ),
                });
            }
            let body = args.pop().map(Box::new);
            let var = match args.pop().map(|e| e.node) {
                Some(Node::Ident(var)) => var,
                _ => {
                    return Err(SyntaxError {
                        at,
                        message: format!("the first argument of `{name}` must be a variable name"),
                    });
                }
            };
            let Some(body) = body else {
                return Err(SyntaxError {
                    at,
                    message: format!("`{name}` needs an expression"),
                });
            };
            return Ok(Expr {
                node: Node::Macro {
                    kind,
                    target: Box::new(target),
                    var,
                    body,
                },
                at: start,
            });
        }
        Ok(Expr {
            node: Node::Call {
                name,
                target: Some(Box::new(target)),
                args,
            },
            at: start,
        })
    }

    fn args(&mut self, close: &str, depth: usize) -> Result<Vec<Expr>, SyntaxError> {
        let mut args = Vec::new();
        if self.eat(close) {
            return Ok(args);
        }
        loop {
            args.push(self.cond_at(depth + 1)?);
            if self.eat(close) {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, SyntaxError> {
        let (token, at) = self.bump();
        let node = match token {
            Token::Int(i) => Node::Int(i),
            Token::Float(x) => Node::Float(x),
            Token::Str(s) => Node::Str(s),
            Token::Punct("(") => {
                let inner = self.cond_at(depth + 1)?;
                self.expect(")")?;
                return Ok(inner);
            }
            Token::Punct("[") => Node::List(self.args("]", depth)?),
            Token::Ident(name) => match name.as_str() {
                "true" => Node::Bool(true),
                "false" => Node::Bool(false),
                "null" => Node::Null,
                "in" => {
                    return Err(SyntaxError {
                        at,
                        message: "`in` needs a value on its left".into(),
                    });
                }
                _ if self.eat("(") => {
                    let mut args = self.args(")", depth)?;
                    if name == "has" {
                        if args.len() != 1 || !matches!(args[0].node, Node::Member(..)) {
                            return Err(SyntaxError {
                                at,
                                message: "`has` takes one field: `has(a.b)`".into(),
                            });
                        }
                        Node::Has(Box::new(args.remove(0)))
                    } else {
                        Node::Call {
                            name,
                            target: None,
                            args,
                        }
                    }
                }
                _ => Node::Ident(name),
            },
            other => {
                return Err(SyntaxError {
                    at,
                    message: format!("expected a value, found {}", show(&other)),
                });
            }
        };
        Ok(Expr { node, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(source: &str) -> String {
        parse(source)
            .unwrap_or_else(|e| panic!("{source}: {e} at {}", e.at))
            .to_string()
    }

    #[test]
    fn precedence_follows_cel() {
        assert_eq!(text("a || b && c"), "(a || (b && c))");
        assert_eq!(text("!a && b"), "(!a && b)");
        assert_eq!(text("1 + 2 * 3 >= 7"), "((1 + (2 * 3)) >= 7)");
        assert_eq!(text("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
        assert_eq!(text("x in [1, 2] && y"), "((x in [1, 2]) && y)");
        assert_eq!(text("-3 < -x"), "(-3 < -x)");
    }

    #[test]
    fn members_calls_indexes_and_macros() {
        assert_eq!(
            text("resource.settings.password.lockout.maxAttempts"),
            "resource.settings.password.lockout.maxAttempts"
        );
        assert_eq!(text("a.b[0][\"c\"]"), "a.b[0][\"c\"]");
        assert_eq!(
            text("s.startsWith('https://')"),
            "s.startsWith(\"https://\")"
        );
        assert_eq!(text("size(x) > 0"), "(size(x) > 0)");
        assert_eq!(
            text("xs.all(x, x.status == 'ACTIVE')"),
            "xs.all(x, (x.status == \"ACTIVE\"))"
        );
        assert_eq!(text("has(a.b.c)"), "has(a.b.c)");
        let parsed = parse("xs.exists_one(x, x)").unwrap();
        assert!(matches!(
            parsed.node,
            Node::Macro {
                kind: MacroKind::ExistsOne,
                ..
            }
        ));
    }

    #[test]
    fn comments_and_newlines_are_space() {
        assert_eq!(text("a # why\n && b"), "(a && b)");
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        for (source, at, message) in [
            ("a &&", 4, "expected a value, found the end"),
            ("a == b == c", 7, "comparisons do not chain"),
            ("xs.all(1, x)", 3, "must be a variable name"),
            ("has(x)", 0, "`has` takes one field"),
            ("'open", 0, "closing quote"),
            ("a @ b", 2, "unexpected character `@`"),
            ("a b", 2, "unexpected `b` after the expression"),
            ("f(a,", 4, "expected a value"),
        ] {
            let error = parse(source).unwrap_err();
            assert_eq!(error.at, at, "{source}: {error}");
            assert!(error.message.contains(message), "{source}: {error}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
        let nots = format!("{}true", "!".repeat(200));
        assert!(parse(&nots).unwrap_err().message.contains("nested deeper"));
    }

    #[test]
    fn templates_have_text_and_holes_with_offsets_in_the_template() {
        let parts = parse_template("Policy '{{resource.name}}' allows {{ n }}.").unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0], Part::Text("Policy '".into()));
        let Part::Hole(hole) = &parts[1] else {
            panic!("a hole")
        };
        assert_eq!(hole.at, 10);
        assert_eq!(hole.to_string(), "resource.name");
        let error = parse_template("x {{ a && }}").unwrap_err();
        assert_eq!(error.at, 10, "{error}");
        assert!(parse_template("x {{ a").is_err());
    }
}
