//! The small infix grammar of batch preprocessing steps — `petal_length * 2 + 1`,
//! `if(x > 3, "big", "small")`, `is_missing(age)` — parsed into PMML `Apply` trees, which the
//! PMML engine compiles like any model's transformations: a step's expression is never given an
//! evaluator of its own.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/" | "%") unary)*
//! unary   := "-" unary | atom
//! atom    := number | "string" | field | `quoted field` | name "(" args ")" | "(" expr ")"
//! ```
//!
//! Errors say where (the column) and what was expected. Text and nesting are bounded.

use std::fmt::Write;

/// The longest expression, and the deepest nesting, a step may have.
pub const MAX_LEN: usize = 2_000;
const MAX_DEPTH: usize = 64;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Text(String),
    Field(String),
    /// A PMML built-in function and its arguments.
    Apply(&'static str, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{expr:?} at column {column}: {what}")]
pub struct ExprError {
    pub expr: String,
    /// 1-based, in characters.
    pub column: usize,
    pub what: String,
}

/// Functions by the name a step writes, with PMML's name and how many arguments they take.
const FUNCTIONS: &[(&str, &str, usize, usize)] = &[
    ("if", "if", 2, 3),
    ("is_missing", "isMissing", 1, 1),
    ("is_not_missing", "isNotMissing", 1, 1),
    ("min", "min", 1, 16),
    ("max", "max", 1, 16),
    ("abs", "abs", 1, 1),
    ("ln", "ln", 1, 1),
    ("log10", "log10", 1, 1),
    ("exp", "exp", 1, 1),
    ("sqrt", "sqrt", 1, 1),
    ("pow", "pow", 2, 2),
    ("floor", "floor", 1, 1),
    ("ceil", "ceil", 1, 1),
    ("round", "round", 1, 1),
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Text(String),
    Name(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let fail = |column: usize, what: String| ExprError {
            expr: crate::domain::clip(text, 80).into_owned(),
            column,
            what,
        };
        if text.chars().count() > MAX_LEN {
            return Err(fail(
                MAX_LEN + 1,
                format!("an expression is at most {MAX_LEN} characters"),
            ));
        }
        let tokens = lex(text).map_err(|(c, w)| fail(c, w))?;
        let mut p = Parser {
            tokens,
            at: 0,
            end: text.chars().count() + 1,
        };
        let expr = p.or(0).map_err(|(c, w)| fail(c, w))?;
        if let Some((t, c)) = p.tokens.get(p.at) {
            return Err(fail(
                *c,
                format!("expected an operator or the end, found {}", shown(t)),
            ));
        }
        Ok(expr)
    }

    /// The fields the expression reads, in order of first use.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Field(f) = e
                && !out.contains(&f.as_str())
            {
                out.push(f);
            }
        });
        out
    }

    fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Expr)) {
        visit(self);
        if let Expr::Apply(_, args) = self {
            for a in args {
                a.walk(visit);
            }
        }
    }

    /// The same expression reading other fields: a chain renames each column to the PMML
    /// field that holds it at the step's place.
    pub fn map_fields(&mut self, rename: &mut impl FnMut(&str) -> String) {
        match self {
            Expr::Field(f) => *f = rename(f),
            Expr::Apply(_, args) => args.iter_mut().for_each(|a| a.map_fields(rename)),
            Expr::Number(_) | Expr::Text(_) => {}
        }
    }

    /// Whether the value is a boolean, a string or a number, as far as the expression itself
    /// tells: `if` takes its branch's kind, a field the kind `field` gives it.
    pub fn kind(&self, field: &impl Fn(&str) -> Option<ValueKind>) -> Option<ValueKind> {
        match self {
            Expr::Number(_) => Some(ValueKind::Number),
            Expr::Text(_) => Some(ValueKind::Text),
            Expr::Field(f) => field(f),
            Expr::Apply("if", args) => args.get(1).and_then(|a| a.kind(field)),
            Expr::Apply(
                "isMissing" | "isNotMissing" | "and" | "or" | "not" | "equal" | "notEqual"
                | "lessThan" | "lessOrEqual" | "greaterThan" | "greaterOrEqual",
                _,
            ) => Some(ValueKind::Boolean),
            Expr::Apply(..) => Some(ValueKind::Number),
        }
    }

    /// The expression as PMML (`<Apply function="+">…</Apply>`), for a `DerivedField`.
    pub fn to_pmml(&self) -> String {
        let mut out = String::new();
        self.write_pmml(&mut out);
        out
    }

    fn write_pmml(&self, out: &mut String) {
        match self {
            Expr::Number(n) => {
                let _ = write!(out, "<Constant dataType=\"double\">{n}</Constant>");
            }
            Expr::Text(t) => {
                let _ = write!(
                    out,
                    "<Constant dataType=\"string\">{}</Constant>",
                    escape(t)
                );
            }
            Expr::Field(f) => {
                let _ = write!(out, "<FieldRef field=\"{}\"/>", escape(f));
            }
            Expr::Apply(function, args) => {
                let _ = write!(out, "<Apply function=\"{}\">", escape(function));
                for a in args {
                    a.write_pmml(out);
                }
                out.push_str("</Apply>");
            }
        }
    }
}

/// The three kinds of value an expression computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Number,
    Text,
    Boolean,
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn shown(t: &Token) -> String {
    match t {
        Token::Number(n) => format!("the number {n}"),
        Token::Text(s) => format!("the text {s:?}"),
        Token::Name(n) => format!("`{n}`"),
        Token::Op(o) => format!("`{o}`"),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Comma => "`,`".into(),
    }
}

/// Tokens with their 1-based columns.
fn lex(text: &str) -> Result<Vec<(Token, usize)>, (usize, String)> {
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
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            _ => None,
        };
        if let Some(op) = op {
            out.push((Token::Op(op), column));
            i += 2;
            continue;
        }
        let token = match c {
            '+' => Token::Op("+"),
            '-' => Token::Op("-"),
            '*' => Token::Op("*"),
            '/' => Token::Op("/"),
            '%' => Token::Op("%"),
            '<' => Token::Op("<"),
            '>' => Token::Op(">"),
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '"' | '`' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|x| *x == c)
                    .ok_or((column, format!("this {c} is never closed")))?;
                let inner: String = chars[i + 1..i + 1 + close].iter().collect();
                i += close + 2;
                out.push((
                    if c == '"' {
                        Token::Text(inner)
                    } else {
                        Token::Name(inner)
                    },
                    column,
                ));
                continue;
            }
            c if c.is_ascii_digit() || c == '.' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|x| x.is_ascii_digit() || **x == '.' || **x == 'e' || **x == 'E')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                let n = word
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or((column, format!("{word:?} is not a number")))?;
                i += len;
                out.push((Token::Number(n), column));
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|x| x.is_alphanumeric() || **x == '_' || **x == '.')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                i += len;
                out.push((Token::Name(word), column));
                continue;
            }
            '=' => return Err((column, "write == to compare".into())),
            other => return Err((column, format!("{other:?} has no meaning here"))),
        };
        out.push((token, column));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    /// The column just past the text, for "ended too soon".
    end: usize,
}

type Parsed = Result<Expr, (usize, String)>;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(_, c)| *c)
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == w)
    }

    fn deeper(&self, depth: usize) -> Result<usize, (usize, String)> {
        if depth >= MAX_DEPTH {
            return Err((self.column(), format!("nested more than {MAX_DEPTH} deep")));
        }
        Ok(depth + 1)
    }

    fn or(&mut self, depth: usize) -> Parsed {
        let depth = self.deeper(depth)?;
        let mut left = self.and(depth)?;
        while self.word("or") {
            self.at += 1;
            left = Expr::Apply("or", vec![left, self.and(depth)?]);
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Parsed {
        let mut left = self.not(depth)?;
        while self.word("and") {
            self.at += 1;
            left = Expr::Apply("and", vec![left, self.not(depth)?]);
        }
        Ok(left)
    }

    fn not(&mut self, depth: usize) -> Parsed {
        if self.word("not") {
            self.at += 1;
            let depth = self.deeper(depth)?;
            return Ok(Expr::Apply("not", vec![self.not(depth)?]));
        }
        self.compare(depth)
    }

    fn compare(&mut self, depth: usize) -> Parsed {
        let left = self.sum(depth)?;
        let function = match self.peek() {
            Some(Token::Op("==")) => "equal",
            Some(Token::Op("!=")) => "notEqual",
            Some(Token::Op("<")) => "lessThan",
            Some(Token::Op("<=")) => "lessOrEqual",
            Some(Token::Op(">")) => "greaterThan",
            Some(Token::Op(">=")) => "greaterOrEqual",
            _ => return Ok(left),
        };
        self.at += 1;
        Ok(Expr::Apply(function, vec![left, self.sum(depth)?]))
    }

    fn sum(&mut self, depth: usize) -> Parsed {
        let mut left = self.product(depth)?;
        while let Some(Token::Op(op @ ("+" | "-"))) = self.peek() {
            let op = *op;
            self.at += 1;
            left = Expr::Apply(op, vec![left, self.product(depth)?]);
        }
        Ok(left)
    }

    fn product(&mut self, depth: usize) -> Parsed {
        let mut left = self.unary(depth)?;
        while let Some(Token::Op(op @ ("*" | "/" | "%"))) = self.peek() {
            let function = if *op == "%" { "modulo" } else { op };
            self.at += 1;
            left = Expr::Apply(function, vec![left, self.unary(depth)?]);
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Parsed {
        if let Some(Token::Op("-")) = self.peek() {
            self.at += 1;
            let depth = self.deeper(depth)?;
            return Ok(match self.unary(depth)? {
                Expr::Number(n) => Expr::Number(-n),
                e => Expr::Apply("*", vec![Expr::Number(-1.0), e]),
            });
        }
        self.atom(depth)
    }

    fn atom(&mut self, depth: usize) -> Parsed {
        let column = self.column();
        let Some((token, _)) = self.tokens.get(self.at).cloned() else {
            return Err((
                self.end,
                "the expression ends where a value was expected".into(),
            ));
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Number(n)),
            Token::Text(t) => Ok(Expr::Text(t)),
            Token::Open => {
                let depth = self.deeper(depth)?;
                let inner = self.or(depth)?;
                self.expect_close()?;
                Ok(inner)
            }
            Token::Name(name) if self.peek() == Some(&Token::Open) => {
                self.call(&name, column, depth)
            }
            Token::Name(name) => Ok(Expr::Field(name)),
            other => Err((column, format!("expected a value, found {}", shown(&other)))),
        }
    }

    fn call(&mut self, name: &str, column: usize, depth: usize) -> Parsed {
        let Some((_, function, least, most)) = FUNCTIONS.iter().find(|f| f.0 == name) else {
            let known: Vec<&str> = FUNCTIONS.iter().map(|f| f.0).collect();
            return Err((
                column,
                format!(
                    "{name}() is not a function: use one of {}",
                    known.join(", ")
                ),
            ));
        };
        self.at += 1; // (
        let depth = self.deeper(depth)?;
        let mut args = Vec::new();
        if self.peek() != Some(&Token::Close) {
            loop {
                args.push(self.or(depth)?);
                if self.peek() == Some(&Token::Comma) {
                    self.at += 1;
                    continue;
                }
                break;
            }
        }
        self.expect_close()?;
        if args.len() < *least || args.len() > *most {
            let wants = if least == most {
                format!("{least}")
            } else {
                format!("{least} to {most}")
            };
            return Err((
                column,
                format!("{name}() takes {wants} arguments, not {}", args.len()),
            ));
        }
        Ok(Expr::Apply(function, args))
    }

    fn expect_close(&mut self) -> Result<(), (usize, String)> {
        match self.peek() {
            Some(Token::Close) => {
                self.at += 1;
                Ok(())
            }
            Some(t) => Err((self.column(), format!("expected `)`, found {}", shown(t)))),
            None => Err((self.end, "a `(` is never closed".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pmml(text: &str) -> String {
        Expr::parse(text).unwrap().to_pmml()
    }

    #[test]
    fn the_grammar_reads_as_people_write() {
        assert_eq!(
            pmml("petal_length * 2 + 1"),
            "<Apply function=\"+\"><Apply function=\"*\"><FieldRef field=\"petal_length\"/>\
             <Constant dataType=\"double\">2</Constant></Apply>\
             <Constant dataType=\"double\">1</Constant></Apply>"
        );
        assert_eq!(
            pmml(r#"if(x > 3, "big", "small")"#),
            "<Apply function=\"if\"><Apply function=\"greaterThan\"><FieldRef field=\"x\"/>\
             <Constant dataType=\"double\">3</Constant></Apply>\
             <Constant dataType=\"string\">big</Constant>\
             <Constant dataType=\"string\">small</Constant></Apply>"
        );
        assert_eq!(
            pmml("is_missing(age) or not age >= 18"),
            "<Apply function=\"or\"><Apply function=\"isMissing\"><FieldRef field=\"age\"/></Apply>\
             <Apply function=\"not\"><Apply function=\"greaterOrEqual\"><FieldRef field=\"age\"/>\
             <Constant dataType=\"double\">18</Constant></Apply></Apply></Apply>"
        );
        // Left to right within a level; parentheses and unary minus.
        assert_eq!(
            Expr::parse("10 - 2 - 3").unwrap(),
            Expr::Apply(
                "-",
                vec![
                    Expr::Apply("-", vec![Expr::Number(10.0), Expr::Number(2.0)]),
                    Expr::Number(3.0)
                ]
            )
        );
        assert_eq!(
            Expr::parse("-(a % 2)").unwrap().to_pmml(),
            "<Apply function=\"*\"><Constant dataType=\"double\">-1</Constant>\
             <Apply function=\"modulo\"><FieldRef field=\"a\"/>\
             <Constant dataType=\"double\">2</Constant></Apply></Apply>"
        );
        let e = Expr::parse("`sepal length (cm)` / max(a, b, a)").unwrap();
        assert_eq!(e.fields(), ["sepal length (cm)", "a", "b"]);
        assert_eq!(
            pmml(r#""<&>""#),
            "<Constant dataType=\"string\">&lt;&amp;&gt;</Constant>"
        );
    }

    /// What the grammar writes is what the PMML engine runs: `if(x > 3, x * 2, -x) + 1` as a
    /// derived field behind a regression that passes it through.
    #[test]
    fn the_engine_runs_what_the_grammar_writes() {
        use crate::runtime::{Predictor, Value};
        let apply = pmml("if(x > 3, x * 2, -x) + 1");
        let doc = format!(
            r#"<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary><DataField name="x" optype="continuous" dataType="double"/>
<DataField name="y" optype="continuous" dataType="double"/></DataDictionary>
<TransformationDictionary><DerivedField name="d" optype="continuous" dataType="double">{apply}</DerivedField></TransformationDictionary>
<RegressionModel functionName="regression"><MiningSchema><MiningField name="x"/>
<MiningField name="y" usageType="target"/></MiningSchema>
<RegressionTable intercept="0"><NumericPredictor name="d" coefficient="1"/></RegressionTable>
</RegressionModel></PMML>"#
        );
        let model = crate::runtime::pmml::PmmlModel::parse(&doc).unwrap();
        let out = model.predict(&[vec![Value::Number(4.0)], vec![Value::Number(2.0)]]);
        let y = |i: usize| match &out[i].as_ref().unwrap()[0] {
            Value::Number(n) => *n,
            other => panic!("{other:?}"),
        };
        assert_eq!((y(0), y(1)), (9.0, -1.0));
    }

    #[test]
    fn mistakes_say_where_and_what() {
        for (bad, column, says) in [
            ("a +", 4, "ends where a value was expected"),
            ("(a + 1", 7, "never closed"),
            ("a = 1", 3, "write =="),
            ("foo(a)", 1, "not a function"),
            ("if(a)", 1, "takes 2 to 3 arguments"),
            ("a b", 3, "expected an operator"),
            ("\"open", 1, "never closed"),
            ("1e999", 1, "not a number"),
            ("a $ b", 3, "no meaning"),
        ] {
            let e = Expr::parse(bad).unwrap_err();
            assert!(e.what.contains(says) && e.column == column, "{bad:?}: {e}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep).unwrap_err().what.contains("nested"));
        let long = "a+".repeat(MAX_LEN) + "a";
        assert!(Expr::parse(&long).unwrap_err().what.contains("at most"));
    }
}
