//! JSON as TF Serving speaks it: `NaN`, `Infinity` and `-Infinity` are accepted as bare tokens
//! and written back the same way, whole-number floats keep their `.0`, parsing stops after the
//! first value (rapidjson's `kParseStopWhenDoneFlag`), and parse errors carry rapidjson's
//! wording and offset. serde_json refuses the non-finite tokens, hence this small parser.

use std::fmt::Write;

use crate::runtime::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number, and whether it was written as an integer (no fraction or exponent).
    Num(f64, bool),
    Str(String),
    Arr(Vec<Json>),
    /// Members in document order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The type name TF Serving's messages use.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "Null",
            Json::Bool(_) => "Bool",
            Json::Num(..) => "Number",
            Json::Str(_) => "String",
            Json::Arr(_) => "Array",
            Json::Obj(_) => "Object",
        }
    }

    /// The value as TF Serving quotes it in messages: rapidjson's `PrettyWriter` layout (one
    /// member or element per line, four-space indents, `"key": value`), at most `limit` bytes
    /// (TF Serving truncates at 256).
    pub fn debug_string(&self, limit: usize) -> String {
        let mut s = String::new();
        write_pretty(&mut s, self, 0, limit);
        if s.len() > limit {
            let mut end = limit;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    }
}

/// Why a document was not parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not JSON; the message reads like rapidjson's.
    Syntax(String),
    /// The document holds more values than the budget allowed; parsing stopped at `offset`.
    TooManyValues { offset: usize },
}

/// Parses the first JSON value of `text`; the error reads like rapidjson's.
pub fn parse(text: &[u8]) -> Result<Json, String> {
    parse_bounded(text, usize::MAX).map_err(|e| match e {
        ParseError::Syntax(m) => m,
        ParseError::TooManyValues { offset } => format!("too many values at offset {offset}"),
    })
}

/// [`parse`], stopping as soon as the document holds more than `max_values` values (scalars,
/// lists and objects each count one), so the memory a request can make us spend on its
/// parse is bounded by what its service could use, not by what it sends.
pub fn parse_bounded(text: &[u8], max_values: usize) -> Result<Json, ParseError> {
    if text.is_empty() {
        return Err(ParseError::Syntax(
            "JSON Parse error: The document is empty".into(),
        ));
    }
    let mut p = Parser {
        b: text,
        i: 0,
        left: max_values,
    };
    p.ws();
    if p.i == p.b.len() {
        return Err(ParseError::Syntax(format!(
            "JSON Parse error: The document is empty. at offset: {}",
            p.i
        )));
    }
    p.value(0).map_err(|(msg, at)| {
        if msg == OVER_BUDGET {
            ParseError::TooManyValues { offset: at }
        } else {
            ParseError::Syntax(format!("JSON Parse error: {msg} at offset: {at}"))
        }
    })
}

const OVER_BUDGET: &str = "over budget";

/// Nesting beyond this is refused rather than recursed into.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    /// Values still allowed.
    left: usize,
}

type Res<T> = Result<T, (&'static str, usize)>;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, word: &str, value: Json) -> Res<Json> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(("Invalid value.", self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Res<Json> {
        if depth > MAX_DEPTH {
            return Err(("Nesting is too deep.", self.i));
        }
        if self.left == 0 {
            return Err((OVER_BUDGET, self.i));
        }
        self.left -= 1;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'N') => self.literal("NaN", Json::Num(f64::NAN, false)),
            Some(b'I') => self.literal("Infinity", Json::Num(f64::INFINITY, false)),
            Some(b'-') if self.b[self.i..].starts_with(b"-Infinity") => {
                self.literal("-Infinity", Json::Num(f64::NEG_INFINITY, false))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(("Invalid value.", self.i)),
        }
    }

    fn object(&mut self, depth: usize) -> Res<Json> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Json::Obj(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(("Missing a name for object member.", self.i));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(("Missing a colon after a name of object member.", self.i));
            }
            self.i += 1;
            self.ws();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                _ => return Err(("Missing a comma or '}' after an object member.", self.i)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Res<Json> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Json::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                _ => return Err(("Missing a comma or ']' after an array element.", self.i)),
            }
        }
    }

    fn string(&mut self) -> Res<String> {
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(("Missing a closing quotation mark in string.", start));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let esc = self
                        .peek()
                        .ok_or(("Invalid escape character in string.", self.i))?;
                    self.i += 1;
                    match esc {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                if !self.b[self.i..].starts_with(b"\\u") {
                                    return Err((
                                        "The surrogate pair in string is invalid.",
                                        self.i,
                                    ));
                                }
                                self.i += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err((
                                        "The surrogate pair in string is invalid.",
                                        self.i,
                                    ));
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            let ch = char::from_u32(code)
                                .ok_or(("The surrogate pair in string is invalid.", self.i))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(("Invalid escape character in string.", self.i - 1)),
                    }
                }
                c if c < 0x20 => return Err(("Invalid character in string.", self.i - 1)),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| ("Invalid encoding in string.", start))
    }

    fn hex4(&mut self) -> Res<u32> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or(("Incorrect hex digit after \\u escape in string.", self.i))?;
        let text = std::str::from_utf8(digits)
            .map_err(|_| ("Incorrect hex digit after \\u escape in string.", self.i))?;
        let code = u32::from_str_radix(text, 16)
            .map_err(|_| ("Incorrect hex digit after \\u escape in string.", self.i))?;
        self.i += 4;
        Ok(code)
    }

    fn number(&mut self) -> Res<Json> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i - s
        };
        if digits(self) == 0 {
            return Err(("Invalid value.", start));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if digits(self) == 0 {
                return Err(("Miss fraction part in number.", self.i));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(("Miss exponent in number.", self.i));
            }
        }
        let text =
            std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ("Invalid value.", start))?;
        let n: f64 = text.parse().map_err(|_| ("Invalid value.", start))?;
        if n.is_infinite() {
            // Infinity is written as the token, never as digits (rapidjson refuses 1e999 so).
            return Err(("Number too big to be stored in double.", start));
        }
        Ok(Json::Num(n, integer))
    }
}

/// Appends `v` as compact JSON.
pub fn write_json(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n, true) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15 => {
            let _ = write!(out, "{}", *n as i64);
        }
        Json::Num(n, _) => write_float(out, *n),
        Json::Str(s) => write_str(out, s),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Json::Obj(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// Writes `v` pretty-printed, stopping soon after `out` passes `limit` bytes: a message quotes
/// the start of a value, and a 16 MiB body must not be copied to quote its first 256 bytes.
fn write_pretty(out: &mut String, v: &Json, depth: usize, limit: usize) {
    if out.len() > limit {
        return;
    }
    type Items<'a> = Box<dyn Iterator<Item = (Option<&'a str>, &'a Json)> + 'a>;
    let (open, close, items): (char, char, Items) = match v {
        Json::Arr(items) if !items.is_empty() => {
            ('[', ']', Box::new(items.iter().map(|i| (None, i))))
        }
        Json::Obj(members) if !members.is_empty() => (
            '{',
            '}',
            Box::new(members.iter().map(|(k, i)| (Some(k.as_str()), i))),
        ),
        Json::Str(text) if text.len() > limit => {
            let mut end = limit;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return write_str(out, &text[..end]);
        }
        scalar_or_empty => return write_json(out, scalar_or_empty),
    };
    let indent = |out: &mut String, d: usize| out.extend(std::iter::repeat_n(' ', 4 * d));
    out.push(open);
    for (n, (key, item)) in items.enumerate() {
        if out.len() > limit {
            return;
        }
        out.push_str(if n > 0 { ",\n" } else { "\n" });
        indent(out, depth + 1);
        if let Some(k) = key {
            write_str(out, k);
            out.push_str(": ");
        }
        write_pretty(out, item, depth + 1, limit);
    }
    out.push('\n');
    indent(out, depth);
    out.push(close);
}

/// A float as TF Serving writes it: shortest round-trip digits, `.0` on whole numbers, and the
/// bare tokens `NaN`, `Infinity`, `-Infinity`.
pub fn write_float(out: &mut String, n: f64) {
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Debug keeps `.0` on whole numbers and switches to exponents for very large or
        // small magnitudes, both valid JSON.
        let _ = write!(out, "{n:?}");
    }
}

pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A model's output value as JSON.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Missing => out.push_str("null"),
        Value::Number(n) => write_float(out, *n),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::String(s) => write_str(out, s),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Json) -> String {
        let mut s = String::new();
        write_json(&mut s, v);
        s
    }

    #[test]
    fn non_finite_tokens_round_trip() {
        let v = parse(br#"{"a": [NaN, Infinity, -Infinity, -1.5e3, 2, 4.0]}"#).unwrap();
        assert_eq!(text(&v), r#"{"a":[NaN,Infinity,-Infinity,-1500.0,2,4.0]}"#);
    }

    #[test]
    fn whole_floats_keep_their_point() {
        let mut s = String::new();
        write_value(&mut s, &Value::Number(4.0));
        write_value(&mut s, &Value::Number(0.1));
        write_value(&mut s, &Value::Number(1e-7));
        assert_eq!(s, "4.00.11e-7");
    }

    #[test]
    fn numbers_beyond_double_are_refused_not_infinite() {
        assert_eq!(
            parse(b"[1, 1e999]").unwrap_err(),
            "JSON Parse error: Number too big to be stored in double. at offset: 4"
        );
        let long = format!("[{}]", "9".repeat(100_000));
        assert!(parse(long.as_bytes()).unwrap_err().contains("too big"));
        assert!(parse(b"[Infinity, 1e308]").is_ok());
    }

    #[test]
    fn errors_read_like_rapidjson() {
        assert_eq!(
            parse(b"").unwrap_err(),
            "JSON Parse error: The document is empty"
        );
        assert_eq!(
            parse(b"  \n").unwrap_err(),
            "JSON Parse error: The document is empty. at offset: 3"
        );
        assert_eq!(
            parse(b"{\"a\": x}").unwrap_err(),
            "JSON Parse error: Invalid value. at offset: 6"
        );
        assert_eq!(
            parse(b"[1.]").unwrap_err(),
            "JSON Parse error: Miss fraction part in number. at offset: 3"
        );
        assert!(parse(b"{\"a\" 1}").unwrap_err().contains("Missing a colon"));
        assert!(parse(b"\"abc").unwrap_err().contains("closing quotation"));
    }

    #[test]
    fn stops_after_the_first_value_and_bounds_nesting() {
        assert_eq!(parse(b"{} trailing").unwrap(), Json::Obj(vec![]));
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("too deep"));
    }

    #[test]
    fn strings_unescape_and_escape() {
        let v = parse(br#""a\"b\\c\n\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(v, Json::Str("a\"b\\c\n\u{e9}\u{1f600}".into()));
        assert_eq!(text(&v), "\"a\\\"b\\\\c\\n\u{e9}\u{1f600}\"");
    }
}
