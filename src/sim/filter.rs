//! Okta's SCIM-like `filter` and `search` expressions (Okta API reference, "Filter" and
//! "Operators"; the `listUsers` and `listGroups` parameter descriptions of Okta's spec): a
//! tokenizer, a recursive-descent parser (`or` below `and` below `not`, parentheses), the
//! rules of each place an expression is accepted ([`Dialect`]), and matching against one object.
//!
//! Must not know HTTP or the org: callers turn a [`FilterError`] into Okta's error body.

use std::cmp::Ordering;

use chrono::DateTime;
use serde_json::Value;

/// Where an expression is used: each place accepts its own properties and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `GET /api/v1/users?filter=`: `status`, `lastUpdated`, `id`, `profile.login`,
    /// `profile.email`, `profile.firstName`, `profile.lastName`; `eq` only (and `gt`, `ge`,
    /// `lt`, `le` on `lastUpdated`); `and`/`or`, no `not`. Values are case-sensitive.
    UserFilter,
    /// `GET /api/v1/users?search=`: any profile attribute, `id`, `status`, `created`,
    /// `activated`, `statusChanged`, `lastUpdated`, `type.id`; `eq`, `sw`, comparisons, `pr`,
    /// and `co` on `profile.firstName/lastName/email/login` only; no `ne`. Values are
    /// case-insensitive.
    UserSearch,
    /// `GET /api/v1/groups?filter=`: `id`, `type`, `lastUpdated`, `lastMembershipUpdated`.
    GroupFilter,
    /// `GET /api/v1/groups?search=`: any profile attribute, `id`, `created`,
    /// `lastMembershipUpdated`, `lastUpdated`, `type`, `source.id`; `co` on `profile.name` and
    /// `profile.description` only; no `ne`.
    GroupSearch,
    /// `GET /api/v1/logs?filter=`: every operator, `not`, any property but `published`.
    SystemLog,
    /// Any other `filter` parameter (e.g. principal rate limits): every operator and property.
    Generic,
}

/// An expression Okta would refuse: what is wrong and where (0-based character offset).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    pub message: String,
    pub position: usize,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sw,
    Co,
    Ew,
    Pr,
}

impl Op {
    fn from_word(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "ew" => Op::Ew,
            "pr" => Op::Pr,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Sw => "sw",
            Op::Co => "co",
            Op::Ew => "ew",
            Op::Pr => "pr",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// A literal on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare {
        path: String,
        op: Op,
        value: Literal,
    },
}

/// A parsed, checked expression, ready to match objects.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
    case_insensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Number(f64),
    Open,
    Close,
    End,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            tokens.push((if c == '(' { Token::Open } else { Token::Close }, start));
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(FilterError {
                            message: "Unterminated string".into(),
                            position: start,
                        });
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let escaped = chars.get(i + 1).ok_or(FilterError {
                            message: "Unterminated string".into(),
                            position: start,
                        })?;
                        s.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            other => *other,
                        });
                        i += 2;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            tokens.push((Token::Str(s), start));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            let number = literal.parse::<f64>().map_err(|_| FilterError {
                message: format!("Invalid number `{literal}`"),
                position: start,
            })?;
            tokens.push((Token::Number(number), start));
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$' | '.' | ':'))
            {
                i += 1;
            }
            tokens.push((Token::Word(chars[start..i].iter().collect()), start));
        } else {
            return Err(FilterError {
                message: format!("Unexpected character `{c}`"),
                position: start,
            });
        }
    }
    tokens.push((Token::End, chars.len()));
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    dialect: Dialect,
}

impl Parser {
    fn peek(&self) -> &(Token, usize) {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> (Token, usize) {
        let token = self.peek().clone();
        self.at += 1;
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().0, Token::Word(w) if w.eq_ignore_ascii_case(word))
    }

    fn fail<T>(&self, message: impl Into<String>, position: usize) -> Result<T, FilterError> {
        Err(FilterError {
            message: message.into(),
            position,
        })
    }

    fn or(&mut self) -> Result<Node, FilterError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.at += 1;
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.at += 1;
            left = Node::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, FilterError> {
        let position = self.peek().1;
        if self.is_word("not") {
            if self.dialect != Dialect::SystemLog && self.dialect != Dialect::Generic {
                return self.fail("The `not` operator isn't supported here", position);
            }
            self.at += 1;
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        if self.peek().0 == Token::Open {
            self.at += 1;
            let inner = self.or()?;
            let (token, at) = self.next();
            if token != Token::Close {
                return self.fail(format!("Expected `)`, found {}", describe(&token)), at);
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, FilterError> {
        let (token, path_at) = self.next();
        let Token::Word(path) = token else {
            return self.fail(
                format!("Expected a property name, found {}", describe(&token)),
                path_at,
            );
        };
        let (token, op_at) = self.next();
        let op = match &token {
            Token::Word(word) => Op::from_word(word),
            _ => None,
        };
        let Some(op) = op else {
            return self.fail(
                format!(
                    "Expected an operator (eq, ne, gt, ge, lt, le, sw, co, ew, pr) after `{path}`, found {}",
                    describe(&token)
                ),
                op_at,
            );
        };
        check(self.dialect, &path, path_at, op, op_at)?;
        if op == Op::Pr {
            return Ok(Node::Compare {
                path,
                op,
                value: Literal::Null,
            });
        }
        let (token, value_at) = self.next();
        let value = match token {
            Token::Str(s) => Literal::String(s),
            Token::Number(n) => Literal::Number(n),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Literal::Null,
            other => {
                return self.fail(
                    format!(
                        "Expected a quoted string, a number, true, false or null after `{path} {}`, found {}",
                        op.name(),
                        describe(&other)
                    ),
                    value_at,
                );
            }
        };
        Ok(Node::Compare { path, op, value })
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("`{w}`"),
        Token::Str(s) => format!("\"{s}\""),
        Token::Number(n) => format!("{n}"),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::End => "the end of the expression".into(),
    }
}

/// Refuses a property or an operator the dialect does not accept.
fn check(
    dialect: Dialect,
    path: &str,
    path_at: usize,
    op: Op,
    op_at: usize,
) -> Result<(), FilterError> {
    let property = |ok: bool| -> Result<(), FilterError> {
        if ok {
            Ok(())
        } else {
            Err(FilterError {
                message: format!("The property `{path}` cannot be used here"),
                position: path_at,
            })
        }
    };
    let operator = |ok: bool, why: &str| -> Result<(), FilterError> {
        if ok {
            Ok(())
        } else {
            Err(FilterError {
                message: format!("The operator `{}` cannot be used {why}", op.name()),
                position: op_at,
            })
        }
    };
    let profile = path.starts_with("profile.") && path.len() > "profile.".len();
    match dialect {
        Dialect::UserFilter => {
            property(matches!(
                path,
                "status"
                    | "lastUpdated"
                    | "id"
                    | "profile.login"
                    | "profile.email"
                    | "profile.firstName"
                    | "profile.lastName"
            ))?;
            operator(
                op == Op::Eq || (path == "lastUpdated" && op.is_ordering()),
                &format!(
                    "on `{path}` in a user filter (only `eq`, and gt/ge/lt/le on lastUpdated)"
                ),
            )
        }
        Dialect::GroupFilter => {
            property(matches!(
                path,
                "id" | "type" | "lastUpdated" | "lastMembershipUpdated"
            ))?;
            let dated = matches!(path, "lastUpdated" | "lastMembershipUpdated");
            operator(
                op == Op::Eq || (dated && op.is_ordering()),
                &format!("on `{path}` in a group filter"),
            )
        }
        Dialect::UserSearch => {
            property(
                profile
                    || matches!(
                        path,
                        "id" | "status"
                            | "created"
                            | "activated"
                            | "statusChanged"
                            | "lastUpdated"
                            | "type.id"
                    ),
            )?;
            operator(op != Op::Ne, "in a user search (use `lt … or … gt`)")?;
            operator(op != Op::Ew, "in a user search")?;
            operator(
                op != Op::Co
                    || matches!(
                        path,
                        "profile.firstName"
                            | "profile.lastName"
                            | "profile.email"
                            | "profile.login"
                    ),
                &format!("on `{path}` (only profile.firstName, lastName, email and login)"),
            )
        }
        Dialect::GroupSearch => {
            property(
                profile
                    || matches!(
                        path,
                        "id" | "created"
                            | "lastMembershipUpdated"
                            | "lastUpdated"
                            | "type"
                            | "source.id"
                    ),
            )?;
            operator(op != Op::Ne, "in a group search")?;
            operator(op != Op::Ew, "in a group search")?;
            operator(
                op != Op::Co || matches!(path, "profile.name" | "profile.description"),
                &format!("on `{path}` (only profile.name and profile.description)"),
            )
        }
        Dialect::SystemLog => property(path != "published"),
        Dialect::Generic => Ok(()),
    }
}

/// Parses and checks an expression for `dialect`.
pub fn parse(text: &str, dialect: Dialect) -> Result<Filter, FilterError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        dialect,
    };
    if parser.peek().0 == Token::End {
        return parser.fail("The expression is empty", 0);
    }
    let root = parser.or()?;
    let (token, at) = parser.peek().clone();
    if token != Token::End {
        return parser.fail(
            format!(
                "Expected `and`, `or` or the end, found {}",
                describe(&token)
            ),
            at,
        );
    }
    Ok(Filter {
        root,
        case_insensitive: matches!(dialect, Dialect::UserSearch | Dialect::GroupSearch),
    })
}

impl Filter {
    /// True when `object` matches.
    pub fn matches(&self, object: &Value) -> bool {
        self.node(&self.root, object)
    }

    fn node(&self, node: &Node, object: &Value) -> bool {
        match node {
            Node::And(a, b) => self.node(a, object) && self.node(b, object),
            Node::Or(a, b) => self.node(a, object) || self.node(b, object),
            Node::Not(inner) => !self.node(inner, object),
            Node::Compare { path, op, value } => {
                let mut actuals = Vec::new();
                select(object, &path.split('.').collect::<Vec<_>>(), &mut actuals);
                match op {
                    Op::Pr => actuals.iter().any(|v| present(v)),
                    Op::Ne => !actuals.iter().any(|a| self.compare(a, Op::Eq, value)),
                    Op::Eq if *value == Literal::Null => actuals.iter().all(|a| a.is_null()),
                    op => actuals.iter().any(|a| self.compare(a, *op, value)),
                }
            }
        }
    }

    fn compare(&self, actual: &Value, op: Op, wanted: &Literal) -> bool {
        let fold = |s: &str| {
            if self.case_insensitive {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        match (actual, wanted) {
            (Value::String(a), Literal::String(w)) => {
                let (a, w) = (fold(a), fold(w));
                match op {
                    Op::Eq => a == w,
                    Op::Sw => a.starts_with(&w),
                    Op::Co => a.contains(&w),
                    Op::Ew => a.ends_with(&w),
                    _ => ordered(op, order_text(&a, &w)),
                }
            }
            (Value::Number(a), Literal::Number(w)) => {
                let ordering = a.as_f64().and_then(|a| a.partial_cmp(w));
                match op {
                    Op::Eq => ordering == Some(Ordering::Equal),
                    _ => ordering.is_some_and(|o| ordered(op, o)),
                }
            }
            (Value::Bool(a), Literal::Bool(w)) => op == Op::Eq && a == w,
            _ => false,
        }
    }
}

/// Dates compare as instants when both sides are RFC 3339 times; other text by characters.
fn order_text(a: &str, b: &str) -> Ordering {
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

fn ordered(op: Op, ordering: Ordering) -> bool {
    match op {
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        _ => false,
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// The values at a dotted path; arrays on the way (and at the end) give one value per element,
/// so `target.id` looks into every target, as SCIM filters do.
fn select<'v>(value: &'v Value, path: &[&str], out: &mut Vec<&'v Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                select(item, path, out);
            }
        }
        _ => match path.split_first() {
            None => out.push(value),
            Some((first, rest)) => {
                if let Some(child) = value.get(first) {
                    select(child, rest, out);
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "00u1", "status": "ACTIVE", "lastUpdated": "2024-03-02T10:00:00.000Z",
            "type": {"id": "oty1"},
            "profile": {"login": "bob@x.example", "firstName": "Bob", "department": "Engineering",
                        "nickName": "", "costCenter": 42, "badges": ["gold", "blue"]}
        })
    }

    fn hits(text: &str, dialect: Dialect) -> bool {
        parse(text, dialect)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .matches(&user())
    }

    fn refused(text: &str, dialect: Dialect) -> FilterError {
        match parse(text, dialect) {
            Ok(filter) => panic!("{text} was accepted: {filter:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn precedence_and_parentheses() {
        use Dialect::Generic as G;
        // and binds tighter: true or (false and false)
        assert!(hits(r#"status eq "ACTIVE" or id eq "x" and id eq "y""#, G));
        assert!(!hits(
            r#"(status eq "ACTIVE" or id eq "x") and id eq "y""#,
            G
        ));
        assert!(hits(r#"not (id eq "x") and status eq "ACTIVE""#, G));
        assert!(hits(r#"((id eq "00u1"))"#, G));
    }

    #[test]
    fn operators() {
        use Dialect::Generic as G;
        assert!(hits(r#"lastUpdated gt "2024-03-01T00:00:00.000Z""#, G));
        assert!(!hits(
            r#"lastUpdated lt "2024-03-02T11:00:00+01:00" or id eq "z""#,
            G
        ));
        assert!(hits(r#"lastUpdated ge "2024-03-02T10:00:00Z""#, G));
        assert!(hits(r#"lastUpdated le "2024-03-02T10:00:00.000Z""#, G));
        assert!(hits(r#"profile.login sw "bob@""#, G));
        assert!(hits(r#"profile.login ew ".example""#, G));
        assert!(hits(r#"profile.login co "@x.""#, G));
        assert!(hits(r#"status ne "STAGED""#, G));
        assert!(!hits(r#"status ne "ACTIVE""#, G));
        assert!(hits("profile.department pr", G));
        assert!(
            !hits("profile.nickName pr", G),
            "an empty string is not present"
        );
        assert!(!hits("profile.missing pr", G));
        assert!(hits("profile.costCenter eq 42", G));
        assert!(hits("profile.costCenter gt 41.5", G));
        assert!(
            hits(r#"profile.badges eq "blue""#, G),
            "any element of an array"
        );
        assert!(hits(r#"type.id eq "oty1""#, G));
        assert!(hits(r#"profile.login eq "bob@\x.example""#, G), "escapes");
    }

    #[test]
    fn search_values_are_case_insensitive_filters_are_not() {
        assert!(hits(
            r#"profile.department eq "engineering""#,
            Dialect::UserSearch
        ));
        refused(r#"STATUS eq "ACTIVE""#, Dialect::UserFilter); // property names keep their case
        assert!(!hits(r#"status eq "active""#, Dialect::UserFilter));
        assert!(
            hits(r#"status EQ "ACTIVE""#, Dialect::UserFilter),
            "operators ignore case"
        );
    }

    #[test]
    fn each_dialect_refuses_what_okta_refuses() {
        let e = refused(r#"profile.department eq "x""#, Dialect::UserFilter);
        assert_eq!(e.position, 0);
        assert!(
            e.message.contains("`profile.department` cannot be used"),
            "{e}"
        );
        let e = refused(r#"status sw "A""#, Dialect::UserFilter);
        assert_eq!(e.position, 7);
        let e = refused(r#"status ne "A""#, Dialect::UserSearch);
        assert!(e.message.contains("`ne`"), "{e}");
        let e = refused(r#"profile.department co "x""#, Dialect::UserSearch);
        assert!(e.message.contains("`co`"), "{e}");
        assert!(parse(r#"profile.email co "x""#, Dialect::UserSearch).is_ok());
        refused(r#"not (status eq "A")"#, Dialect::UserFilter);
        refused(r#"profile.name eq "x""#, Dialect::GroupFilter);
        refused(r#"profile.name like "x""#, Dialect::GroupSearch);
        assert!(parse(r#"profile.name co "x""#, Dialect::GroupSearch).is_ok());
        refused(r#"profile.description ew "x""#, Dialect::GroupSearch);
        refused(r#"published gt "2024-01-01T00:00:00Z""#, Dialect::SystemLog);
        assert!(
            parse(
                r#"lastUpdated gt "2024-01-01T00:00:00Z""#,
                Dialect::UserFilter
            )
            .is_ok()
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = refused(r#"(status eq "A""#, Dialect::Generic);
        assert_eq!(e.position, 14);
        let e = refused(r#"status eq "A"#, Dialect::Generic);
        assert_eq!(
            (e.position, e.message.as_str()),
            (10, "Unterminated string")
        );
        let e = refused("status eq ACTIVE", Dialect::Generic);
        assert_eq!(e.position, 10);
        let e = refused(r#"status eq "A" and"#, Dialect::Generic);
        assert_eq!(e.position, 17);
        let e = refused(r#"status eq "A" status"#, Dialect::Generic);
        assert_eq!(e.position, 14);
        assert_eq!(refused("", Dialect::Generic).position, 0);
        assert_eq!(refused(r#"status = "A""#, Dialect::Generic).position, 7);
    }

    proptest::proptest! {
        /// Parsing never panics and errors point inside the text (or just past it).
        #[test]
        fn parse_is_total(text in r#"[a-z. ()"=]{0,40}"#) {
            if let Err(error) = parse(&text, Dialect::Generic) {
                proptest::prop_assert!(error.position <= text.chars().count());
            }
        }
    }
}
