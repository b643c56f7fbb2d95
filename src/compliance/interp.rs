//! Evaluates an [`Expr`] over JSON: the values, the built-in functions (`size`, `startsWith`,
//! `days_since`, `iso_minutes`, `cidr_prefix`, …), CEL's error rules for `&&`/`||` and the
//! macros, and a [`Host`] for what only the tree knows (`tree.<kind>`, `app_policy`, …).
//!
//! Semantics that keep absent data from passing: reading a field that is not there is an
//! error naming the path (`has(a.b)` tests for it); a comparison of different types is an error;
//! `all` over an empty list is true, so rules that mean "at least one" say `size(x) > 0 &&`.
//! Pure: no IO, no clock (`now` is given).

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::expr::{BinOp, Expr, MacroKind, Node};

/// A value during evaluation. Objects and arrays of the tree are borrowed, never copied.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An object or array of the tree (or of a rule's parameters).
    Json(&'a Value),
    /// A list built during evaluation (`filter`, `map`, `[a, b]`, a helper's answer).
    List(Rc<Vec<Val<'a>>>),
    /// The `tree` variable: `tree.<kind>` lists every resource of a kind.
    Tree,
}

impl<'a> Val<'a> {
    /// A JSON value as a `Val`: scalars become scalars, objects and arrays stay borrowed.
    pub fn from_json(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Val::Json(value),
        }
    }

    pub fn list(items: Vec<Val<'a>>) -> Val<'a> {
        Val::List(Rc::new(items))
    }

    /// The type's name in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "double",
            Val::Str(_) => "string",
            Val::Json(Value::Object(_)) => "object",
            Val::Json(_) | Val::List(_) => "list",
            Val::Tree => "tree",
        }
    }

    /// The value as JSON (for evidence and messages).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Json(v) => (*v).clone(),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Tree => Value::String("tree".into()),
        }
    }

    /// The elements of a list, or `None` when this is not one.
    pub fn elements(&self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Json(Value::Array(items)) => Some(items.iter().map(Val::from_json).collect()),
            Val::List(items) => Some(items.as_ref().clone()),
            _ => None,
        }
    }

    /// Text for a message hole: strings bare, everything else as JSON.
    pub fn display(&self) -> String {
        match self {
            Val::Str(s) => s.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(x) => x.to_string(),
            other => other.to_json().to_string(),
        }
    }
}

/// An evaluation error: what went wrong, and where in the expression text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub at: usize,
    pub message: String,
}

fn fail<T>(expr: &Expr, message: String) -> Result<T, EvalError> {
    Err(EvalError {
        at: expr.at,
        message,
    })
}

/// What only the tree knows: the lists behind `tree.<kind>` and the Okta helpers.
pub trait Host<'a> {
    /// Every resource of `kind`, or `None` when `kind` is not a kind.
    fn kind_list(&self, kind: &str) -> Option<Val<'a>>;
    /// Calls a helper; `None` when there is no helper of that name.
    fn call(&self, name: &str, args: &[Val<'a>]) -> Option<Result<Val<'a>, String>>;
}

/// A host with no tree (parameters and literals only).
pub struct NoHost;

impl<'a> Host<'a> for NoHost {
    fn kind_list(&self, _kind: &str) -> Option<Val<'a>> {
        None
    }
    fn call(&self, _name: &str, _args: &[Val<'a>]) -> Option<Result<Val<'a>, String>> {
        None
    }
}

/// A named value, or a `let` evaluated the first time it is read.
enum Binding<'a, 'e> {
    Value(Val<'a>),
    Lazy {
        body: &'e Expr,
        done: OnceCell<Result<Val<'a>, EvalError>>,
        /// Set while the body is being evaluated: a `let` that reaches itself is an error,
        /// never a stack overflow (`rule` also refuses cycles when a rule loads).
        busy: Cell<bool>,
    },
}

/// The names in scope: the rule's variables and `let`s, then macro variables on top.
pub struct Env<'a, 'e> {
    bindings: Vec<(&'e str, Binding<'a, 'e>)>,
    pub now: DateTime<Utc>,
    host: &'e dyn Host<'a>,
}

impl<'a, 'e> Env<'a, 'e> {
    pub fn new(now: DateTime<Utc>, host: &'e dyn Host<'a>) -> Self {
        Env {
            bindings: Vec::new(),
            now,
            host,
        }
    }

    pub fn bind(&mut self, name: &'e str, value: Val<'a>) {
        self.bindings.push((name, Binding::Value(value)));
    }

    /// Binds `name` to `expr`, evaluated (once) when first read.
    pub fn bind_lazy(&mut self, name: &'e str, expr: &'e Expr) {
        self.bindings.push((
            name,
            Binding::Lazy {
                body: expr,
                done: OnceCell::new(),
                busy: Cell::new(false),
            },
        ));
    }

    /// Evaluates an expression in this scope.
    pub fn eval(&self, expr: &Expr) -> Result<Val<'a>, EvalError> {
        View { env: self }.eval(expr)
    }

    /// Evaluates a condition: its value must be a bool.
    pub fn eval_bool(&self, expr: &Expr) -> Result<bool, EvalError> {
        match self.eval(expr)? {
            Val::Bool(b) => Ok(b),
            other => fail(
                expr,
                format!(
                    "must be true or false, but is {} `{}`",
                    other.type_name(),
                    other.display()
                ),
            ),
        }
    }
}

/// An environment with macro variables on a private stack, so a macro's variable never leaks
/// into a `let` evaluated inside it.
struct View<'v, 'a, 'e> {
    env: &'v Env<'a, 'e>,
}

impl<'a> View<'_, 'a, '_> {
    fn eval(&self, expr: &Expr) -> Result<Val<'a>, EvalError> {
        let mut locals: Vec<(&str, Val<'a>)> = Vec::new();
        self.eval_with(expr, &mut locals)
    }

    fn lookup(
        &self,
        name: &str,
        locals: &[(&str, Val<'a>)],
        expr: &Expr,
    ) -> Result<Val<'a>, EvalError> {
        if let Some((_, value)) = locals.iter().rev().find(|(n, _)| *n == name) {
            return Ok(value.clone());
        }
        let bindings = &self.env.bindings;
        if let Some(position) = bindings.iter().rposition(|(n, _)| *n == name) {
            return match &bindings[position].1 {
                Binding::Value(value) => Ok(value.clone()),
                Binding::Lazy { body, done, busy } => {
                    if let Some(done) = done.get() {
                        return done.clone();
                    }
                    if busy.replace(true) {
                        return fail(expr, format!("`{name}` refers to itself"));
                    }
                    let result = View { env: self.env }.eval(body);
                    busy.set(false);
                    let _ = done.set(result.clone());
                    result
                }
            };
        }
        match name {
            "tree" => Ok(Val::Tree),
            "now" => Ok(Val::Str(Cow::Owned(
                self.env
                    .now
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ))),
            _ => fail(expr, format!("unknown name `{name}`")),
        }
    }

    fn eval_with<'n>(
        &self,
        expr: &'n Expr,
        locals: &mut Vec<(&'n str, Val<'a>)>,
    ) -> Result<Val<'a>, EvalError> {
        match &expr.node {
            Node::Null => Ok(Val::Null),
            Node::Bool(b) => Ok(Val::Bool(*b)),
            Node::Int(i) => Ok(Val::Int(*i)),
            Node::Float(x) => Ok(Val::Float(*x)),
            Node::Str(s) => Ok(Val::Str(Cow::Owned(s.clone()))),
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval_with(item, locals)?);
                }
                Ok(Val::list(out))
            }
            Node::Ident(name) => self.lookup(name, locals, expr),
            Node::Member(target, name) => {
                let value = self.eval_with(target, locals)?;
                member(&value, name, target, expr, self.env.host)
            }
            Node::Index(target, index) => {
                let value = self.eval_with(target, locals)?;
                let index = self.eval_with(index, locals)?;
                self.index(&value, &index, target, expr)
            }
            Node::Has(inner) => Ok(Val::Bool(self.has(inner, locals))),
            Node::Not(inner) => match self.eval_with(inner, locals)? {
                Val::Bool(b) => Ok(Val::Bool(!b)),
                other => fail(expr, format!("`!` needs a bool, got {}", other.type_name())),
            },
            Node::Neg(inner) => match self.eval_with(inner, locals)? {
                Val::Int(i) => Ok(Val::Int(-i)),
                Val::Float(x) => Ok(Val::Float(-x)),
                other => fail(
                    expr,
                    format!("`-` needs a number, got {}", other.type_name()),
                ),
            },
            Node::And(a, b) => {
                // CEL: false wins over an error on either side.
                let left = self.bool_of(a, locals);
                if let Ok(false) = left {
                    return Ok(Val::Bool(false));
                }
                let right = self.bool_of(b, locals);
                match (left, right) {
                    (_, Ok(false)) => Ok(Val::Bool(false)),
                    (Ok(true), Ok(true)) => Ok(Val::Bool(true)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    (Ok(false), _) => Ok(Val::Bool(false)),
                }
            }
            Node::Or(a, b) => {
                let left = self.bool_of(a, locals);
                if let Ok(true) = left {
                    return Ok(Val::Bool(true));
                }
                let right = self.bool_of(b, locals);
                match (left, right) {
                    (_, Ok(true)) => Ok(Val::Bool(true)),
                    (Ok(false), Ok(false)) => Ok(Val::Bool(false)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    (Ok(true), _) => Ok(Val::Bool(true)),
                }
            }
            Node::Cond(c, a, b) => {
                if self.bool_of(c, locals)? {
                    self.eval_with(a, locals)
                } else {
                    self.eval_with(b, locals)
                }
            }
            Node::Binary(op, a, b) => {
                let left = self.eval_with(a, locals)?;
                let right = self.eval_with(b, locals)?;
                binary(*op, &left, &right, expr)
            }
            Node::Macro {
                kind,
                target,
                var,
                body,
            } => {
                let value = self.eval_with(target, locals)?;
                let items = match &value {
                    Val::Json(Value::Object(map)) => map
                        .keys()
                        .map(|k| Val::Str(Cow::Borrowed(k.as_str())))
                        .collect(),
                    other => match other.elements() {
                        Some(items) => items,
                        None => {
                            return fail(
                                target,
                                format!(
                                    "`{}` needs a list, but `{target}` is {}",
                                    kind.name(),
                                    other.type_name()
                                ),
                            );
                        }
                    },
                };
                self.comprehension(*kind, items, var, body, locals)
            }
            Node::Call { name, target, args } => {
                let mut values = Vec::with_capacity(args.len() + 1);
                if let Some(target) = target {
                    values.push(self.eval_with(target, locals)?);
                }
                for arg in args {
                    values.push(self.eval_with(arg, locals)?);
                }
                let method = target.is_some();
                match builtin(name, method, &values, self.env.now) {
                    Some(result) => {
                        result.or_else(|message| fail(expr, format!("{name}: {message}")))
                    }
                    None => match self.env.host.call(name, &values) {
                        Some(result) => {
                            result.or_else(|message| fail(expr, format!("{name}: {message}")))
                        }
                        None => fail(expr, format!("unknown function `{name}`")),
                    },
                }
            }
        }
    }

    fn bool_of<'n>(
        &self,
        expr: &'n Expr,
        locals: &mut Vec<(&'n str, Val<'a>)>,
    ) -> Result<bool, EvalError> {
        match self.eval_with(expr, locals)? {
            Val::Bool(b) => Ok(b),
            other => fail(
                expr,
                format!(
                    "`{expr}` must be true or false, but is {} `{}`",
                    other.type_name(),
                    other.display()
                ),
            ),
        }
    }

    fn comprehension<'n>(
        &self,
        kind: MacroKind,
        items: Vec<Val<'a>>,
        var: &'n str,
        body: &'n Expr,
        locals: &mut Vec<(&'n str, Val<'a>)>,
    ) -> Result<Val<'a>, EvalError> {
        let mut first_error = None;
        let mut count = 0usize;
        let mut out = Vec::new();
        for item in items {
            locals.push((var, item.clone()));
            let result = match kind {
                MacroKind::Map => self.eval_with(body, locals).map(|v| {
                    out.push(v);
                    true
                }),
                _ => self.bool_of(body, locals),
            };
            locals.pop();
            match (kind, result) {
                (MacroKind::All, Ok(false)) => return Ok(Val::Bool(false)),
                (MacroKind::Exists, Ok(true)) => return Ok(Val::Bool(true)),
                (MacroKind::ExistsOne, Ok(true)) => count += 1,
                (MacroKind::Filter, Ok(true)) => out.push(item),
                (MacroKind::Filter | MacroKind::Map | MacroKind::ExistsOne, Err(e)) => {
                    return Err(e);
                }
                (_, Err(e)) => {
                    first_error.get_or_insert(e);
                }
                _ => {}
            }
        }
        // CEL: `all` is false on any false even past an error; true only with no error.
        if let Some(error) = first_error {
            return Err(error);
        }
        Ok(match kind {
            MacroKind::All => Val::Bool(true),
            MacroKind::Exists => Val::Bool(false),
            MacroKind::ExistsOne => Val::Bool(count == 1),
            MacroKind::Filter | MacroKind::Map => Val::list(out),
        })
    }

    fn index(
        &self,
        value: &Val<'a>,
        index: &Val<'a>,
        target: &Expr,
        expr: &Expr,
    ) -> Result<Val<'a>, EvalError> {
        match (value, index) {
            (_, Val::Str(key)) => member(value, key, target, expr, self.env.host),
            (Val::Json(Value::Array(items)), Val::Int(i)) => {
                let found = usize::try_from(*i).ok().and_then(|i| items.get(i));
                match found {
                    Some(item) => Ok(Val::from_json(item)),
                    None => fail(
                        expr,
                        format!("`{target}` has no element {i} (it has {})", items.len()),
                    ),
                }
            }
            (Val::List(items), Val::Int(i)) => {
                let found = usize::try_from(*i).ok().and_then(|i| items.get(i));
                match found {
                    Some(item) => Ok(item.clone()),
                    None => fail(
                        expr,
                        format!("`{target}` has no element {i} (it has {})", items.len()),
                    ),
                }
            }
            _ => fail(
                expr,
                format!(
                    "cannot index {} `{target}` with {}",
                    value.type_name(),
                    index.type_name()
                ),
            ),
        }
    }

    /// `has(a.b.c)`: every step of the chain evaluates and the last member exists.
    fn has<'n>(&self, expr: &'n Expr, locals: &mut Vec<(&'n str, Val<'a>)>) -> bool {
        let Node::Member(target, name) = &expr.node else {
            return self.eval_with(expr, locals).is_ok();
        };
        let parent = match &target.node {
            Node::Member(..) => {
                if !self.has(target, locals) {
                    return false;
                }
                self.eval_with(target, locals)
            }
            _ => self.eval_with(target, locals),
        };
        match parent {
            Ok(Val::Json(Value::Object(map))) => map.contains_key(name.as_str()),
            Ok(Val::Tree) => self.env.host.kind_list(name).is_some(),
            _ => false,
        }
    }
}

/// `value.name`.
fn member<'a>(
    value: &Val<'a>,
    name: &str,
    target: &Expr,
    expr: &Expr,
    host: &dyn Host<'a>,
) -> Result<Val<'a>, EvalError> {
    match value {
        Val::Json(Value::Object(map)) => match map.get(name) {
            Some(found) => Ok(Val::from_json(found)),
            None => fail(expr, format!("`{target}` has no field `{name}`")),
        },
        Val::Tree => host
            .kind_list(name)
            .map_or_else(|| fail(expr, format!("`{name}` is not a kind")), Ok),
        other => fail(
            expr,
            format!(
                "`{target}` is {} `{}`, so it has no field `{name}`",
                other.type_name(),
                other.display()
            ),
        ),
    }
}

/// Two values compare equal: numbers across int and double, JSON and built lists element by
/// element.
pub fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => number(a) == number(b),
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Json(Value::Object(x)), Val::Json(Value::Object(y))) => x == y,
        _ => match (a.elements(), b.elements()) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| equal(p, q)),
            _ => false,
        },
    }
}

fn number(value: &Val<'_>) -> Option<f64> {
    match value {
        Val::Int(i) => Some(*i as f64),
        Val::Float(x) => Some(*x),
        _ => None,
    }
}

fn binary<'a>(
    op: BinOp,
    left: &Val<'a>,
    right: &Val<'a>,
    expr: &Expr,
) -> Result<Val<'a>, EvalError> {
    let mismatch = || {
        fail(
            expr,
            format!(
                "`{}` cannot take {} `{}` and {} `{}`",
                op.symbol(),
                left.type_name(),
                left.display(),
                right.type_name(),
                right.display()
            ),
        )
    };
    match op {
        BinOp::Eq => Ok(Val::Bool(equal(left, right))),
        BinOp::Ne => Ok(Val::Bool(!equal(left, right))),
        BinOp::In => match right {
            Val::Json(Value::Object(map)) => match left {
                Val::Str(key) => Ok(Val::Bool(map.contains_key(key.as_ref()))),
                _ => mismatch(),
            },
            other => match other.elements() {
                Some(items) => Ok(Val::Bool(items.iter().any(|item| equal(left, item)))),
                None => mismatch(),
            },
        },
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ordering = match (left, right) {
                (Val::Str(a), Val::Str(b)) => a.as_ref().partial_cmp(b.as_ref()),
                _ => match (number(left), number(right)) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => return mismatch(),
                },
            };
            let Some(ordering) = ordering else {
                return mismatch();
            };
            Ok(Val::Bool(match op {
                BinOp::Lt => ordering.is_lt(),
                BinOp::Le => ordering.is_le(),
                BinOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        BinOp::Add => match (left, right) {
            (Val::Int(a), Val::Int(b)) => a.checked_add(*b).map(Val::Int).map_or_else(mismatch, Ok),
            (Val::Str(a), Val::Str(b)) => Ok(Val::Str(Cow::Owned(format!("{a}{b}")))),
            _ => match (
                number(left),
                number(right),
                left.elements(),
                right.elements(),
            ) {
                (Some(a), Some(b), _, _) => Ok(Val::Float(a + b)),
                (_, _, Some(mut a), Some(b)) => {
                    a.extend(b);
                    Ok(Val::list(a))
                }
                _ => mismatch(),
            },
        },
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (left, right) {
            (Val::Int(a), Val::Int(b)) => {
                let result = match op {
                    BinOp::Sub => a.checked_sub(*b),
                    BinOp::Mul => a.checked_mul(*b),
                    BinOp::Div => a.checked_div(*b),
                    _ => a.checked_rem(*b),
                };
                match result {
                    Some(value) => Ok(Val::Int(value)),
                    None => fail(
                        expr,
                        format!("`{}` overflows or divides by zero", op.symbol()),
                    ),
                }
            }
            _ => match (number(left), number(right)) {
                (Some(a), Some(b)) => Ok(Val::Float(match op {
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    _ => a % b,
                })),
                _ => mismatch(),
            },
        },
    }
}

/// The built-in functions: `(name, method?, arity)`. `rule` checks calls against these and the
/// host's helpers when a rule loads.
pub const BUILTINS: &[(&str, bool, usize)] = &[
    ("size", false, 1),
    ("size", true, 0),
    ("string", false, 1),
    ("int", false, 1),
    ("startsWith", true, 1),
    ("endsWith", true, 1),
    ("contains", true, 1),
    ("lower", true, 0),
    ("days_since", false, 1),
    ("hours_since", false, 1),
    ("iso_minutes", false, 1),
    ("cidr_prefix", false, 1),
];

/// Calls a built-in; `None` when `name` is not one. `values` holds the target first for methods.
fn builtin<'a>(
    name: &str,
    method: bool,
    values: &[Val<'a>],
    now: DateTime<Utc>,
) -> Option<Result<Val<'a>, String>> {
    if !BUILTINS.iter().any(|(n, m, _)| *n == name && *m == method) {
        return None;
    }
    let text = |v: &Val<'a>| -> Result<String, String> {
        match v {
            Val::Str(s) => Ok(s.to_string()),
            other => Err(format!(
                "needs a string, got {} `{}`",
                other.type_name(),
                other.display()
            )),
        }
    };
    Some((|| -> Result<Val<'a>, String> {
        let first = values.first().ok_or("needs an argument")?;
        match name {
            "size" => match first {
                Val::Str(s) => Ok(Val::Int(s.chars().count() as i64)),
                Val::Json(Value::Object(map)) => Ok(Val::Int(map.len() as i64)),
                other => other
                    .elements()
                    .map(|items| Val::Int(items.len() as i64))
                    .ok_or_else(|| {
                        format!("needs a list, string or object, got {}", other.type_name())
                    }),
            },
            "string" => Ok(Val::Str(Cow::Owned(first.display()))),
            "int" => match first {
                Val::Int(i) => Ok(Val::Int(*i)),
                Val::Float(x) if x.is_finite() => Ok(Val::Int(x.trunc() as i64)),
                Val::Str(s) => s
                    .trim()
                    .parse()
                    .map(Val::Int)
                    .map_err(|_| format!("`{s}` is not an integer")),
                other => Err(format!("cannot make an int of {}", other.type_name())),
            },
            "startsWith" | "endsWith" | "contains" => {
                let subject = text(first)?;
                let needle = text(values.get(1).ok_or("needs an argument")?)?;
                Ok(Val::Bool(match name {
                    "startsWith" => subject.starts_with(&needle),
                    "endsWith" => subject.ends_with(&needle),
                    _ => subject.contains(&needle),
                }))
            }
            "lower" => Ok(Val::Str(Cow::Owned(text(first)?.to_lowercase()))),
            "days_since" | "hours_since" => {
                let stamp = text(first)?;
                let time = DateTime::parse_from_rfc3339(&stamp)
                    .map_err(|_| format!("`{stamp}` is not an RFC 3339 time"))?;
                let elapsed = now.signed_duration_since(time.with_timezone(&Utc));
                Ok(Val::Int(if name == "days_since" {
                    elapsed.num_days()
                } else {
                    elapsed.num_hours()
                }))
            }
            "iso_minutes" => iso_minutes(&text(first)?).map(Val::Int),
            "cidr_prefix" => cidr_prefix(&text(first)?).map(|p| Val::Int(i64::from(p))),
            _ => Err("not implemented".into()),
        }
    })())
}

/// An ISO 8601 duration (`PT12H`, `P1D`, `PT30M`, `P2W`) in whole minutes. Years and months
/// have no fixed length and are refused.
pub fn iso_minutes(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not an ISO 8601 duration such as PT12H or P1D");
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(bad());
    }
    let mut seconds: i64 = 0;
    let mut parts = 0;
    let mut in_time = false;
    let mut number = String::new();
    for ch in rest.chars() {
        if ch == 'T' {
            if in_time || !number.is_empty() {
                return Err(bad());
            }
            in_time = true;
            continue;
        }
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let value: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match (in_time, ch) {
            (false, 'W') => 7 * 86_400,
            (false, 'D') => 86_400,
            (true, 'H') => 3_600,
            (true, 'M') => 60,
            (true, 'S') => 1,
            (false, 'Y' | 'M') => {
                return Err(format!(
                    "`{text}`: years and months have no fixed length in minutes"
                ));
            }
            _ => return Err(bad()),
        };
        parts += 1;
        seconds = value
            .checked_mul(unit)
            .and_then(|s| s.checked_add(seconds))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || parts == 0 {
        return Err(bad());
    }
    Ok(seconds / 60)
}

/// The prefix length of `a.b.c.d/n` (or an IPv6 CIDR), 32/128 for one address, and for a
/// range `a-b` the longest prefix covering both ends.
pub fn cidr_prefix(text: &str) -> Result<u8, String> {
    use std::net::IpAddr;
    let text = text.trim();
    let bad = || format!("`{text}` is not an IP address, CIDR or range");
    if let Some((address, prefix)) = text.split_once('/') {
        let address: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| bad())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        return if prefix <= max {
            Ok(prefix)
        } else {
            Err(bad())
        };
    }
    if let Some((low, high)) = text.split_once('-') {
        let low: IpAddr = low.trim().parse().map_err(|_| bad())?;
        let high: IpAddr = high.trim().parse().map_err(|_| bad())?;
        return match (low, high) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                Ok((u32::from(a) ^ u32::from(b)).leading_zeros() as u8)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                Ok((u128::from(a) ^ u128::from(b)).leading_zeros() as u8)
            }
            _ => Err(bad()),
        };
    }
    match text.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(_) => Ok(32),
        IpAddr::V6(_) => Ok(128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::expr::parse;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-31T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn eval(source: &str, resource: &Value) -> Result<Value, String> {
        let expr = parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let host = NoHost;
        let mut env = Env::new(now(), &host);
        env.bind("resource", Val::from_json(resource));
        env.eval(&expr).map(|v| v.to_json()).map_err(|e| e.message)
    }

    #[test]
    fn reads_fields_and_compares() {
        let r = json!({"a": {"n": 10, "x": 2.5, "s": "https://x", "l": ["p", "q"], "e": []}});
        for (source, expect) in [
            ("resource.a.n >= 10 && resource.a.n <= 10", json!(true)),
            ("resource.a.n == 10.0", json!(true)),
            ("resource.a.x * 2 == 5", json!(true)),
            ("'q' in resource.a.l", json!(true)),
            ("'n' in resource.a", json!(true)),
            ("size(resource.a.l) + resource.a.l.size()", json!(4)),
            ("resource.a.s.startsWith('https://')", json!(true)),
            ("resource.a.l.map(v, v + '!')", json!(["p!", "q!"])),
            ("resource.a.l.filter(v, v != 'p')", json!(["q"])),
            ("resource.a.l.exists_one(v, v == 'p')", json!(true)),
            ("resource.a.e.all(v, false)", json!(true)),
            ("resource.a.e.exists(v, true)", json!(false)),
            ("resource.a.l[1]", json!("q")),
            ("resource['a']['n']", json!(10)),
            (
                "has(resource.a.n) && !has(resource.a.zz) && !has(resource.b.c.d)",
                json!(true),
            ),
            ("resource.a.n > 5 ? 'big' : 'small'", json!("big")),
            ("string(resource.a.n) + ' attempts'", json!("10 attempts")),
            ("[1, 2] + [3]", json!([1, 2, 3])),
            ("resource.a.l == ['p', 'q']", json!(true)),
            ("now", json!("2026-01-31T12:00:00Z")),
            ("days_since('2026-01-01T12:00:00.000Z')", json!(30)),
            ("hours_since('2026-01-31T00:00:00Z')", json!(12)),
        ] {
            assert_eq!(eval(source, &r), Ok(expect), "{source}");
        }
    }

    #[test]
    fn absent_fields_and_type_mismatches_are_errors_naming_the_path() {
        let r = json!({"settings": {"password": {}}, "n": "10"});
        let error = eval("resource.settings.password.lockout.maxAttempts >= 1", &r).unwrap_err();
        assert_eq!(error, "`resource.settings.password` has no field `lockout`");
        let error = eval("resource.n >= 1", &r).unwrap_err();
        assert!(
            error.contains("`>=` cannot take string `10` and int `1`"),
            "{error}"
        );
        assert!(
            eval("resource.n.x", &r)
                .unwrap_err()
                .contains("is string `10`")
        );
        assert!(
            eval("nothing", &r)
                .unwrap_err()
                .contains("unknown name `nothing`")
        );
        assert!(
            eval("resource.settings.all(x, x)", &r)
                .unwrap_err()
                .contains("must be true or false")
        );
    }

    #[test]
    fn false_absorbs_errors_and_all_is_not_vacuously_safe_from_them() {
        let r = json!({"l": [{"a": 1}, {}], "e": []});
        assert_eq!(eval("false && resource.zz", &r), Ok(json!(false)));
        assert_eq!(eval("resource.zz && false", &r), Ok(json!(false)));
        assert_eq!(eval("resource.zz || true", &r), Ok(json!(true)));
        assert!(eval("resource.zz || false", &r).is_err());
        // One element lacks `a`: `all` cannot be true, but a false elsewhere decides it.
        assert!(eval("resource.l.all(x, x.a == 1)", &r).is_err());
        assert_eq!(eval("resource.l.all(x, x.a == 2)", &r), Ok(json!(false)));
        assert_eq!(eval("resource.l.exists(x, x.a == 1)", &r), Ok(json!(true)));
        // The guard idiom for "at least one".
        assert_eq!(
            eval("size(resource.e) > 0 && resource.e.all(x, x)", &r),
            Ok(json!(false))
        );
    }

    #[test]
    fn lets_are_lazy_and_never_loop() {
        let r = json!({"n": 3});
        let host = NoHost;
        let first = parse("resource.n * 2").unwrap();
        let second = parse("double + 1").unwrap();
        let broken = parse("resource.missing").unwrap();
        let mut env = Env::new(now(), &host);
        env.bind("resource", Val::from_json(&r));
        env.bind_lazy("plus", &second);
        env.bind_lazy("double", &first);
        env.bind_lazy("unused", &broken);
        assert_eq!(
            env.eval(&parse("plus").unwrap()).unwrap().to_json(),
            json!(7)
        );
        let selfish = parse("me + 1").unwrap();
        let mut env = Env::new(now(), &host);
        env.bind_lazy("me", &selfish);
        let error = env.eval(&parse("me").unwrap()).unwrap_err();
        assert!(error.message.contains("refers to itself"), "{error}");
    }

    #[test]
    fn durations_and_prefixes() {
        assert_eq!(iso_minutes("PT12H"), Ok(720));
        assert_eq!(iso_minutes("PT43800H"), Ok(2_628_000));
        assert_eq!(iso_minutes("P1DT30M"), Ok(1470));
        assert_eq!(iso_minutes("P2W"), Ok(20_160));
        assert!(iso_minutes("P1M").unwrap_err().contains("months"));
        assert!(iso_minutes("12H").is_err());
        assert!(iso_minutes("PT").is_err());
        assert_eq!(cidr_prefix("0.0.0.0/0"), Ok(0));
        assert_eq!(cidr_prefix("10.0.0.0/8"), Ok(8));
        assert_eq!(cidr_prefix("192.168.1.10"), Ok(32));
        assert_eq!(cidr_prefix("10.0.0.0-10.0.255.255"), Ok(16));
        assert_eq!(cidr_prefix("2001:db8::/32"), Ok(32));
        assert!(cidr_prefix("10.0.0.0/33").is_err());
        assert!(cidr_prefix("nope").is_err());
    }
}
