//! The Okta Expression Language subset that group rules use: a tokenizer, a recursive-descent
//! parser with SpEL's precedence, and an evaluator over one user and the groups they belong to.
//!
//! Supported: `user.<attribute>` (the Okta user profile, as Okta's classic EL names it) and
//! `user.getInternalProperty("status")`; string (single or double quotes), number, boolean and
//! `null` literals; `{a, b}` array literals; `==`, `!=`, `<`, `<=`, `>`, `>=`; `+`;
//! `AND`/`and`/`&&`, `OR`/`or`/`||`, `!`/`NOT`; parentheses; `c ? a : b`; the `String` and
//! `Arrays` functions in [`FUNCTIONS`] and the group functions `isMemberOfGroup`,
//! `isMemberOfAnyGroup`, `isMemberOfGroupName`, `isMemberOfGroupNameStartsWith`,
//! `isMemberOfGroupNameContains`. Group rules allow only String, Arrays, user and group
//! expressions (Okta's Expression Language reference, "Expressions in group rules"); anything
//! else is a parse error naming the function and its position.
//!
//! Must not know the org or HTTP: the caller gives a [`Subject`] (the user's body and groups).

use std::fmt;

use serde_json::Value as Json;

/// A parse error: what is wrong and where (a 0-based character offset, as SpEL reports).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub message: String,
    pub position: usize,
}

/// Why an expression could not be evaluated for one user (the rule then does not match).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(String);

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
}

impl Value {
    fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            Json::Object(_) => Value::String(json.to_string()),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "Boolean",
            Value::Number(_) => "Number",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
        }
    }

    fn text(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(Value::text).collect::<Vec<_>>().join(","),
        }
    }
}

/// The user an expression is evaluated for.
pub struct Subject<'a> {
    /// The user object (`profile`, `status`, `id`, ...).
    pub user: &'a Json,
    /// The groups the user belongs to: (id, name), the Everyone group included.
    pub groups: Vec<(&'a str, &'a str)>,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Array(Vec<Expr>),
    /// `user.<attribute>`: a profile attribute, and where it stands in the text.
    Attribute {
        name: String,
        position: usize,
    },
    /// `user.getInternalProperty("<name>")`: a top-level user field such as `status`.
    Internal(String),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Function, Vec<Expr>),
}

/// A supported function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    StartsWith,
    EndsWith,
    StringContains,
    ToLowerCase,
    ToUpperCase,
    Len,
    Append,
    Join,
    Substring,
    SubstringBefore,
    SubstringAfter,
    RemoveSpaces,
    ArraysContains,
    ArraysSize,
    ArraysIsEmpty,
    IsMemberOfGroup,
    IsMemberOfAnyGroup,
    IsMemberOfGroupName,
    IsMemberOfGroupNameStartsWith,
    IsMemberOfGroupNameContains,
}

/// Each supported function: its name in an expression, minimum and maximum argument counts
/// (`usize::MAX`: any number), and whether it returns a Boolean.
pub const FUNCTIONS: &[(&str, Function, usize, usize, bool)] = &[
    ("String.startsWith", Function::StartsWith, 2, 2, true),
    ("String.endsWith", Function::EndsWith, 2, 2, true),
    (
        "String.stringContains",
        Function::StringContains,
        2,
        2,
        true,
    ),
    ("String.toLowerCase", Function::ToLowerCase, 1, 1, false),
    ("String.toUpperCase", Function::ToUpperCase, 1, 1, false),
    ("String.len", Function::Len, 1, 1, false),
    ("String.append", Function::Append, 2, 2, false),
    ("String.join", Function::Join, 1, usize::MAX, false),
    ("String.substring", Function::Substring, 3, 3, false),
    (
        "String.substringBefore",
        Function::SubstringBefore,
        2,
        2,
        false,
    ),
    (
        "String.substringAfter",
        Function::SubstringAfter,
        2,
        2,
        false,
    ),
    ("String.removeSpaces", Function::RemoveSpaces, 1, 1, false),
    ("Arrays.contains", Function::ArraysContains, 2, 2, true),
    ("Arrays.size", Function::ArraysSize, 1, 1, false),
    ("Arrays.isEmpty", Function::ArraysIsEmpty, 1, 1, true),
    ("isMemberOfGroup", Function::IsMemberOfGroup, 1, 1, true),
    (
        "isMemberOfAnyGroup",
        Function::IsMemberOfAnyGroup,
        1,
        usize::MAX,
        true,
    ),
    (
        "isMemberOfGroupName",
        Function::IsMemberOfGroupName,
        1,
        1,
        true,
    ),
    (
        "isMemberOfGroupNameStartsWith",
        Function::IsMemberOfGroupNameStartsWith,
        1,
        1,
        true,
    ),
    (
        "isMemberOfGroupNameContains",
        Function::IsMemberOfGroupNameContains,
        1,
        1,
        true,
    ),
];

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = FUNCTIONS
            .iter()
            .find(|(_, function, ..)| function == self)
            .map_or("?", |(name, ..)| name);
        f.write_str(name)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number(f64),
    Op(&'static str),
    End,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let error = |message: String, position: usize| ParseError { message, position };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(error("Unterminated string literal".into(), start)),
                    Some('\\') => {
                        let escaped = chars
                            .get(i + 1)
                            .ok_or_else(|| error("Unterminated string literal".into(), start))?;
                        s.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            other => *other,
                        });
                        i += 2;
                    }
                    // SpEL doubles a quote to escape it: 'it''s'.
                    Some(q) if *q == c && chars.get(i + 1) == Some(&c) => {
                        s.push(c);
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            tokens.push((Token::Str(s), start));
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            let number = literal
                .parse::<f64>()
                .map_err(|_| error(format!("Invalid number `{literal}`"), start))?;
            tokens.push((Token::Number(number), start));
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push((Token::Ident(chars[start..i].iter().collect()), start));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(op) = op {
            tokens.push((Token::Op(op), start));
            i += 2;
            continue;
        }
        let op = match c {
            '<' => "<",
            '>' => ">",
            '!' => "!",
            '(' => "(",
            ')' => ")",
            '{' => "{",
            '}' => "}",
            ',' => ",",
            '.' => ".",
            '?' => "?",
            ':' => ":",
            '+' => "+",
            '-' => "-",
            '=' => {
                return Err(error(
                    "Assignment `=` is not allowed; use `==` to compare".into(),
                    start,
                ));
            }
            other => return Err(error(format!("Unexpected character `{other}`"), start)),
        };
        tokens.push((Token::Op(op), start));
        i += 1;
    }
    tokens.push((Token::End, chars.len()));
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)].0
    }

    fn position(&self) -> usize {
        self.tokens[self.at.min(self.tokens.len() - 1)].1
    }

    fn next(&mut self) -> (Token, usize) {
        let token = self.tokens[self.at.min(self.tokens.len() - 1)].clone();
        self.at += 1;
        token
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            position: self.position(),
        })
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Token::Op(o) if *o == op)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, op: &str) -> Result<(), ParseError> {
        if self.is_op(op) {
            self.at += 1;
            Ok(())
        } else {
            self.error(format!("Expected `{op}`, found {}", describe(self.peek())))
        }
    }

    fn ternary(&mut self) -> Result<Expr, ParseError> {
        let condition = self.or()?;
        if !self.is_op("?") {
            return Ok(condition);
        }
        self.at += 1;
        let then = self.ternary()?;
        self.expect(":")?;
        let otherwise = self.ternary()?;
        Ok(Expr::Ternary(
            Box::new(condition),
            Box::new(then),
            Box::new(otherwise),
        ))
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.is_op("||") || self.is_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.relational()?;
        while self.is_op("&&") || self.is_word("and") {
            self.at += 1;
            let right = self.relational()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn relational(&mut self) -> Result<Expr, ParseError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Token::Op("==") => BinaryOp::Eq,
            Token::Op("!=") => BinaryOp::Ne,
            Token::Op("<") => BinaryOp::Lt,
            Token::Op("<=") => BinaryOp::Le,
            Token::Op(">") => BinaryOp::Gt,
            Token::Op(">=") => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.additive()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while self.is_op("+") {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::Binary(BinaryOp::Add, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.is_op("!") || self.is_word("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.is_op("-") {
            self.at += 1;
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn arguments(&mut self, close: &str) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        if self.is_op(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.ternary()?);
            if self.is_op(",") {
                self.at += 1;
                continue;
            }
            self.expect(close)?;
            return Ok(items);
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let (token, position) = self.next();
        match token {
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Number(n) => Ok(Expr::Literal(Value::Number(n))),
            Token::Op("(") => {
                let inner = self.ternary()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Op("{") => Ok(Expr::Array(self.arguments("}")?)),
            Token::Ident(word) => self.path(word, position),
            other => Err(ParseError {
                message: format!("Unexpected {}", describe(&other)),
                position,
            }),
        }
    }

    /// A name, a dotted path or a call, starting with `first`.
    fn path(&mut self, first: String, position: usize) -> Result<Expr, ParseError> {
        match first.to_ascii_lowercase().as_str() {
            "true" => return Ok(Expr::Literal(Value::Bool(true))),
            "false" => return Ok(Expr::Literal(Value::Bool(false))),
            "null" => return Ok(Expr::Literal(Value::Null)),
            _ => {}
        }
        let mut parts = vec![first];
        while self.is_op(".") {
            self.at += 1;
            match self.next() {
                (Token::Ident(part), _) => parts.push(part),
                (other, at) => {
                    return Err(ParseError {
                        message: format!("Expected a property name, found {}", describe(&other)),
                        position: at,
                    });
                }
            }
        }
        let name = parts.join(".");
        if self.is_op("(") {
            self.at += 1;
            let args = self.arguments(")")?;
            if name == "user.getInternalProperty" {
                return match args.as_slice() {
                    [Expr::Literal(Value::String(field))] => Ok(Expr::Internal(field.clone())),
                    _ => Err(ParseError {
                        message: "user.getInternalProperty takes one string literal".into(),
                        position,
                    }),
                };
            }
            let Some((_, function, min, max, _)) = FUNCTIONS.iter().find(|(n, ..)| *n == name)
            else {
                return Err(ParseError {
                    message: format!("Unsupported function `{name}` in a group rule expression"),
                    position,
                });
            };
            if args.len() < *min || args.len() > *max {
                let wanted = match (*min, *max) {
                    (a, b) if a == b => format!("{a}"),
                    (a, usize::MAX) => format!("at least {a}"),
                    (a, b) => format!("{a} to {b}"),
                };
                return Err(ParseError {
                    message: format!(
                        "Function `{name}` takes {wanted} argument(s), not {}",
                        args.len()
                    ),
                    position,
                });
            }
            return Ok(Expr::Call(*function, args));
        }
        match parts.as_slice() {
            [root, attribute] if root == "user" => Ok(Expr::Attribute {
                name: attribute.clone(),
                position,
            }),
            [root] if root == "user" => Err(ParseError {
                message: "`user` needs an attribute, as in `user.department`".into(),
                position,
            }),
            [root, ..] if root == "user" => Err(ParseError {
                message: format!(
                    "Invalid property `{}`: reference a profile attribute as `user.<attribute>`",
                    parts[1..].join(".")
                ),
                position,
            }),
            _ => Err(ParseError {
                message: format!(
                    "Unknown reference `{name}`: group rules may reference only `user` attributes"
                ),
                position,
            }),
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(w) => format!("`{w}`"),
        Token::Str(s) => format!("string '{s}'"),
        Token::Number(n) => format!("number {n}"),
        Token::Op(o) => format!("`{o}`"),
        Token::End => "the end of the expression".into(),
    }
}

/// Parses a group rule expression; it must evaluate to a Boolean.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    if matches!(parser.peek(), Token::End) {
        return parser.error("The expression is empty");
    }
    let expr = parser.ternary()?;
    if !matches!(parser.peek(), Token::End) {
        return parser.error(format!(
            "Unexpected {} after a complete expression",
            describe(parser.peek())
        ));
    }
    if !may_be_boolean(&expr) {
        return Err(ParseError {
            message: "The expression must evaluate to a Boolean".into(),
            position: 0,
        });
    }
    Ok(expr)
}

/// Every profile attribute the expression reads, with its position.
pub fn attributes(expr: &Expr) -> Vec<(&str, usize)> {
    let mut found = Vec::new();
    walk(expr, |expr| {
        if let Expr::Attribute { name, position } = expr {
            found.push((name.as_str(), *position));
        }
    });
    found
}

/// Every top-level user field the expression reads (`user.getInternalProperty("status")`).
pub fn internals(expr: &Expr) -> Vec<&str> {
    let mut found = Vec::new();
    walk(expr, |expr| {
        if let Expr::Internal(name) = expr {
            found.push(name.as_str());
        }
    });
    found
}

/// Visits every node of `expr`, depth first, left to right.
fn walk<'e>(expr: &'e Expr, mut visit: impl FnMut(&'e Expr)) {
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        visit(expr);
        match expr {
            Expr::Attribute { .. } | Expr::Literal(_) | Expr::Internal(_) => {}
            Expr::Not(a) | Expr::Negate(a) => stack.push(a),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Binary(_, a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Expr::Ternary(a, b, c) => {
                stack.push(c);
                stack.push(b);
                stack.push(a);
            }
            Expr::Array(items) | Expr::Call(_, items) => stack.extend(items.iter().rev()),
        }
    }
}

/// False when the expression can only yield a non-Boolean (a string, a number, an array).
fn may_be_boolean(expr: &Expr) -> bool {
    match expr {
        Expr::Literal(value) => matches!(value, Value::Bool(_)),
        Expr::Array(_) | Expr::Negate(_) => false,
        Expr::Binary(BinaryOp::Add, ..) => false,
        Expr::Call(function, _) => FUNCTIONS
            .iter()
            .any(|(_, f, _, _, boolean)| f == function && *boolean),
        Expr::Ternary(_, a, b) => may_be_boolean(a) && may_be_boolean(b),
        Expr::Attribute { .. }
        | Expr::Internal(_)
        | Expr::Not(_)
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Binary(..) => true,
    }
}

/// True when the expression holds for `subject` (an evaluation error is no match).
pub fn matches(expr: &Expr, subject: &Subject) -> Result<bool, EvalError> {
    match eval(expr, subject)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        other => Err(EvalError(format!(
            "the expression gave a {}, not a Boolean",
            other.type_name()
        ))),
    }
}

fn boolean(expr: &Expr, subject: &Subject) -> Result<bool, EvalError> {
    match eval(expr, subject)? {
        Value::Bool(b) => Ok(b),
        // A missing attribute is null; Okta treats it as not matching.
        Value::Null => Ok(false),
        other => Err(EvalError(format!(
            "expected a Boolean, got a {}",
            other.type_name()
        ))),
    }
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        other => Some(other.text()),
    }
}

/// Evaluates an expression for one user.
pub fn eval(expr: &Expr, subject: &Subject) -> Result<Value, EvalError> {
    Ok(match expr {
        Expr::Literal(value) => value.clone(),
        Expr::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| eval(item, subject))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Attribute { name, .. } => subject
            .user
            .get("profile")
            .and_then(|p| p.get(name))
            .map_or(Value::Null, Value::from_json),
        Expr::Internal(name) => subject.user.get(name).map_or(Value::Null, Value::from_json),
        Expr::Not(inner) => Value::Bool(!boolean(inner, subject)?),
        Expr::Negate(inner) => match eval(inner, subject)? {
            Value::Number(n) => Value::Number(-n),
            other => return Err(EvalError(format!("cannot negate a {}", other.type_name()))),
        },
        Expr::Ternary(condition, then, otherwise) => {
            if boolean(condition, subject)? {
                eval(then, subject)?
            } else {
                eval(otherwise, subject)?
            }
        }
        Expr::And(a, b) => Value::Bool(boolean(a, subject)? && boolean(b, subject)?),
        Expr::Or(a, b) => Value::Bool(boolean(a, subject)? || boolean(b, subject)?),
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, subject)?, eval(b, subject)?);
            binary(*op, a, b)?
        }
        Expr::Call(function, args) => {
            let values: Vec<Value> = args
                .iter()
                .map(|arg| eval(arg, subject))
                .collect::<Result<_, _>>()?;
            call(*function, values, subject)?
        }
    })
}

fn binary(op: BinaryOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use std::cmp::Ordering;
    let ordering = || -> Option<Ordering> {
        match (&a, &b) {
            (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            // A number stored as text compares with a number literal as a number.
            (Value::String(x), Value::Number(y)) => x.trim().parse::<f64>().ok()?.partial_cmp(y),
            (Value::Number(x), Value::String(y)) => x.partial_cmp(&y.trim().parse::<f64>().ok()?),
            (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
            _ => None,
        }
    };
    Ok(match op {
        BinaryOp::Eq => Value::Bool(a == b || ordering() == Some(Ordering::Equal)),
        BinaryOp::Ne => Value::Bool(!(a == b || ordering() == Some(Ordering::Equal))),
        BinaryOp::Lt => Value::Bool(ordering() == Some(Ordering::Less)),
        BinaryOp::Le => Value::Bool(matches!(ordering(), Some(Ordering::Less | Ordering::Equal))),
        BinaryOp::Gt => Value::Bool(ordering() == Some(Ordering::Greater)),
        BinaryOp::Ge => Value::Bool(matches!(
            ordering(),
            Some(Ordering::Greater | Ordering::Equal)
        )),
        BinaryOp::Add => match (a, b) {
            (Value::Number(x), Value::Number(y)) => Value::Number(x + y),
            (x @ Value::String(_), y) | (x, y @ Value::String(_)) => {
                Value::String(format!("{}{}", x.text(), y.text()))
            }
            (x, y) => {
                return Err(EvalError(format!(
                    "cannot add a {} and a {}",
                    x.type_name(),
                    y.type_name()
                )));
            }
        },
    })
}

fn call(function: Function, args: Vec<Value>, subject: &Subject) -> Result<Value, EvalError> {
    let mut args = args.into_iter();
    let mut text = || args.next().and_then(string);
    Ok(match function {
        Function::StartsWith | Function::EndsWith | Function::StringContains => {
            let (Some(input), Some(search)) = (text(), text()) else {
                return Ok(Value::Bool(false));
            };
            Value::Bool(match function {
                Function::StartsWith => input.starts_with(&search),
                Function::EndsWith => input.ends_with(&search),
                _ => input.contains(&search),
            })
        }
        Function::ToLowerCase => text().map_or(Value::Null, |s| Value::String(s.to_lowercase())),
        Function::ToUpperCase => text().map_or(Value::Null, |s| Value::String(s.to_uppercase())),
        Function::Len => Value::Number(text().map_or(0, |s| s.chars().count()) as f64),
        Function::RemoveSpaces => text().map_or(Value::Null, |s| Value::String(s.replace(' ', ""))),
        Function::Append => {
            let (a, b) = (text().unwrap_or_default(), text().unwrap_or_default());
            Value::String(a + &b)
        }
        Function::Join => {
            let separator = text().unwrap_or_default();
            let parts: Vec<String> = args.filter_map(string).collect();
            Value::String(parts.join(&separator))
        }
        Function::SubstringBefore | Function::SubstringAfter => {
            let (Some(input), Some(search)) = (text(), text()) else {
                return Ok(Value::Null);
            };
            Value::String(match input.split_once(&search) {
                Some((before, _)) if function == Function::SubstringBefore => before.into(),
                Some((_, after)) => after.into(),
                None => String::new(),
            })
        }
        Function::Substring => {
            let input = text().unwrap_or_default();
            let index = |v: Option<Value>| match v {
                Some(Value::Number(n)) if n >= 0.0 => Ok(n as usize),
                other => Err(EvalError(format!(
                    "String.substring needs non-negative numbers, got {}",
                    other.map_or("nothing", |v| v.type_name())
                ))),
            };
            let (start, end) = (index(args.next())?, index(args.next())?);
            let chars: Vec<char> = input.chars().collect();
            if start > end || end > chars.len() {
                return Err(EvalError(format!(
                    "String.substring({start}, {end}) is out of range for a string of {}",
                    chars.len()
                )));
            }
            Value::String(chars[start..end].iter().collect())
        }
        Function::ArraysContains => {
            let (array, wanted) = (args.next(), args.next().unwrap_or(Value::Null));
            Value::Bool(match array {
                Some(Value::Array(items)) => items.contains(&wanted),
                Some(Value::Null) | None => false,
                // A single-valued attribute is an array of one.
                Some(single) => single == wanted,
            })
        }
        Function::ArraysSize | Function::ArraysIsEmpty => {
            let size = match args.next() {
                Some(Value::Array(items)) => items.len(),
                Some(Value::Null) | None => 0,
                Some(_) => 1,
            };
            if function == Function::ArraysSize {
                Value::Number(size as f64)
            } else {
                Value::Bool(size == 0)
            }
        }
        Function::IsMemberOfGroup | Function::IsMemberOfAnyGroup => {
            let wanted: Vec<String> = args
                .flat_map(|v| match v {
                    Value::Array(items) => items,
                    other => vec![other],
                })
                .filter_map(string)
                .collect();
            Value::Bool(
                subject
                    .groups
                    .iter()
                    .any(|(id, _)| wanted.iter().any(|w| w == id)),
            )
        }
        Function::IsMemberOfGroupName
        | Function::IsMemberOfGroupNameStartsWith
        | Function::IsMemberOfGroupNameContains => {
            let Some(wanted) = text() else {
                return Ok(Value::Bool(false));
            };
            Value::Bool(subject.groups.iter().any(|(_, name)| match function {
                Function::IsMemberOfGroupName => *name == wanted.as_str(),
                Function::IsMemberOfGroupNameStartsWith => name.starts_with(&wanted),
                _ => name.contains(&wanted),
            }))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subject(user: &Json) -> Subject<'_> {
        Subject {
            user,
            groups: vec![("00gEveryone", "Everyone"), ("00gSales", "Sales / EMEA")],
        }
    }

    fn holds(expression: &str) -> bool {
        let user = json!({
            "id": "00u1", "status": "ACTIVE",
            "profile": {"department": "Engineering", "firstName": "Andy", "salary": 1200000,
                        "isContractor": false, "login": "andy@example.com",
                        "tags": ["a", "b"], "costCenter": "42"}
        });
        let expr = parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        matches(&expr, &subject(&user)).unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    fn error(expression: &str) -> ParseError {
        match parse(expression) {
            Ok(expr) => panic!("{expression} parsed as {expr:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn comparisons_on_attributes() {
        assert!(holds("user.department==\"Engineering\""));
        assert!(holds("user.department == 'Engineering'"));
        assert!(!holds("user.department != \"Engineering\""));
        assert!(holds("user.salary >= 1000000"));
        assert!(holds("user.salary > 1000000 AND !user.isContractor"));
        assert!(!holds("user.salary < 1000000"));
        assert!(holds("user.salary <= 1200000"));
        assert!(holds("user.costCenter == 42"), "numbers stored as text");
        assert!(
            !holds("user.missing == \"x\""),
            "a missing attribute is null"
        );
        assert!(holds("user.missing == null"));
        assert!(holds("user.getInternalProperty(\"status\") == \"ACTIVE\""));
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_and() {
        // false AND false OR true = (false AND false) OR true = true
        assert!(holds(
            "user.firstName == 'x' and user.firstName == 'y' or true"
        ));
        // true OR false AND false = true OR (false AND false) = true
        assert!(holds("true || false && false"));
        assert!(!holds("(true || false) && false"));
        // !a && b = (!a) && b
        assert!(!holds("!true && true"));
        assert!(holds("NOT (true AND false)"));
        assert!(holds("user.department == 'Sales' ? false : true"));
        let parsed = parse("a == 1").map(|_| ());
        assert!(parsed.is_err(), "bare names are not user attributes");
    }

    #[test]
    fn string_functions() {
        assert!(holds("String.startsWith(user.firstName, \"An\")"));
        assert!(holds("String.endsWith(user.login, \"@example.com\")"));
        assert!(holds("String.stringContains(user.login, \"dy@ex\")"));
        assert!(!holds("String.stringContains(user.missing, \"x\")"));
        assert!(holds("String.toLowerCase(user.firstName) == \"andy\""));
        assert!(holds("String.toUpperCase(user.firstName) == \"ANDY\""));
        assert!(holds("String.len(user.firstName) == 4"));
        assert!(holds("String.len(user.missing) == 0"));
        assert!(holds("String.substring(user.firstName, 0, 2) == 'An'"));
        assert!(holds("String.substringBefore(user.login, '@') == 'andy'"));
        assert!(holds(
            "String.substringAfter(user.login, '@') == 'example.com'"
        ));
        assert!(holds("String.append(user.firstName, '!') == 'Andy!'"));
        assert!(holds("String.join('-', 'a', 'b') == 'a-b'"));
        assert!(holds("String.removeSpaces(' a b ') == 'ab'"));
        assert!(holds("user.firstName + ' ' + 'X' == 'Andy X'"));
    }

    #[test]
    fn array_and_group_functions() {
        assert!(holds("Arrays.contains(user.tags, \"a\")"));
        assert!(
            !holds("Arrays.contains(user.tags, \"A\")"),
            "exact and case-sensitive"
        );
        assert!(holds("Arrays.contains({10, 20}, 20)"));
        assert!(holds("Arrays.size(user.tags) == 2"));
        assert!(holds("Arrays.isEmpty(user.missing)"));
        assert!(holds("isMemberOfGroupName(\"Sales / EMEA\")"));
        assert!(holds("isMemberOfGroupName(\"Everyone\")"));
        assert!(!holds("isMemberOfGroupName(\"Sales\")"));
        assert!(holds("isMemberOfGroup(\"00gSales\")"));
        assert!(holds("isMemberOfAnyGroup(\"00gNope\", \"00gSales\")"));
        assert!(!holds("isMemberOfAnyGroup(\"00gNope\")"));
        assert!(holds("isMemberOfGroupNameStartsWith(\"Sales\")"));
        assert!(holds("isMemberOfGroupNameContains(\"EMEA\")"));
    }

    #[test]
    fn errors_name_the_problem_and_its_position() {
        let e = error("Time.now() == 'x'");
        assert_eq!(e.position, 0);
        assert!(e.message.contains("Unsupported function `Time.now`"), "{e}");
        let e = error("user.department == 'x' AND isMemberOfGroupNameRegex('/a.*')");
        assert_eq!(e.position, 27);
        assert!(e.message.contains("isMemberOfGroupNameRegex"), "{e}");
        let e = error("user.department = 'x'");
        assert_eq!((e.position, e.message.contains("==")), (16, true));
        let e = error("user.department == 'x' AND");
        assert_eq!(e.position, 26);
        assert!(e.message.contains("end of the expression"), "{e}");
        let e = error("(user.a == 'x'");
        assert_eq!(e.position, 14);
        let e = error("user.a == 'x");
        assert_eq!(e.position, 10);
        assert!(e.message.contains("Unterminated"), "{e}");
        let e = error("String.startsWith(user.a)");
        assert!(e.message.contains("takes 2 argument(s), not 1"), "{e}");
        let e = error("user.profile.department == 'x'");
        assert!(
            e.message.contains("Invalid property `profile.department`"),
            "{e}"
        );
        let e = error("user.firstName + 'x'");
        assert!(e.message.contains("Boolean"), "{e}");
        assert!(error("").message.contains("empty"));
        let e = error("user.a == 'x' user.b");
        assert_eq!(e.position, 14);
    }

    #[test]
    fn attributes_are_listed_with_their_positions() {
        let expr = parse("user.a == 'x' AND (String.startsWith(user.b, 'y') OR !user.c)");
        let Ok(expr) = expr else { panic!("{expr:?}") };
        assert_eq!(attributes(&expr), [("a", 0), ("b", 37), ("c", 54)]);
    }

    #[test]
    fn non_boolean_values_in_boolean_places_do_not_match() {
        let user = json!({"profile": {"firstName": "Andy"}});
        let expr = parse("user.firstName").map_err(|e| e.to_string());
        let Ok(expr) = expr else { panic!("{expr:?}") };
        assert!(matches(&expr, &subject(&user)).is_err());
    }

    proptest::proptest! {
        /// Parsing never panics, and every error points inside the text (or just past it).
        #[test]
        fn parse_is_total(text in ".{0,40}") {
            if let Err(error) = parse(&text) {
                proptest::prop_assert!(error.position <= text.chars().count());
            }
        }
    }
}
