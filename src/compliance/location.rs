//! Where a JSON pointer's value starts in a file's text: the line and column SARIF points at.
//!
//! Files are canonical (pretty JSON, two-space indent, sorted keys), but this walks any JSON
//! text, token by token, so it never depends on indentation. Columns count UTF-16 code units,
//! SARIF's default `columnKind`. A pointer that names an absent field (a defaulted or missing
//! one) resolves to its nearest existing parent, so a result always lands somewhere true.
//!
//! Pure: text in, position out.

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The position of the value at `pointer` (RFC 6901) in `text`, or of the nearest existing
/// parent when the pointer goes past what the text holds (or the text breaks off); `None` when
/// `pointer` is not a JSON pointer.
pub fn locate(text: &str, pointer: &str) -> Option<Position> {
    let tokens: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scanner.skip_space();
    let mut found = scanner.at;
    for token in &tokens {
        match scanner.enter(token)? {
            Some(start) => found = start,
            None => break,
        }
    }
    Some(position(text, found))
}

fn position(text: &str, offset: usize) -> Position {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].encode_utf16().count() + 1;
    Position { line, column }
}

struct Scanner<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// At the value under the cursor (an object or array), moves to the child named `token`
    /// and returns where its value starts; `Ok(None)` (as `Some(None)`) when there is no such
    /// child, leaving the cursor where it was.
    fn enter(&mut self, token: &str) -> Option<Option<usize>> {
        let start = self.at;
        let found = match self.peek()? {
            b'{' => self.enter_object(token),
            b'[' => self.enter_array(token),
            _ => None,
        };
        if found.is_none() {
            self.at = start;
        }
        Some(found)
    }

    fn enter_object(&mut self, token: &str) -> Option<usize> {
        self.at += 1;
        loop {
            self.skip_space();
            if self.peek()? == b'}' {
                return None;
            }
            let key = self.string()?;
            self.expect(b':')?;
            self.skip_space();
            if key == token {
                return Some(self.at);
            }
            self.skip_value()?;
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                _ => return None,
            }
        }
    }

    fn enter_array(&mut self, token: &str) -> Option<usize> {
        let index: usize = token.parse().ok()?;
        self.at += 1;
        let mut current = 0;
        loop {
            self.skip_space();
            if self.peek()? == b']' {
                return None;
            }
            if current == index {
                return Some(self.at);
            }
            self.skip_value()?;
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                _ => return None,
            }
            current += 1;
        }
    }

    /// A string at the cursor, unescaped.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.skip_string()?;
        serde_json::from_slice(&self.bytes[start..self.at]).ok()
    }

    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.at += 1;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                _ => self.at += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        self.skip_space();
        match self.peek()? {
            b'"' => self.skip_string(),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                loop {
                    self.skip_space();
                    if self.peek()? == close {
                        self.at += 1;
                        return Some(());
                    }
                    if open == b'{' {
                        self.skip_string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value()?;
                    self.skip_space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        c if c == close => {}
                        _ => return None,
                    }
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.at += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(value: &serde_json::Value) -> String {
        let mut text = serde_json::to_string_pretty(value).unwrap();
        text.push('\n');
        text
    }

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn a_field_points_at_its_value() {
        let text = canonical(&json!({
            "name": "Default Policy",
            "settings": {"password": {"complexity": {"minLength": 8}, "lockout": {"maxAttempts": 0}}},
            "type": "PASSWORD"
        }));
        // {
        //   "name": "Default Policy",
        //   "settings": {
        //     "password": {
        //       "complexity": {
        //         "minLength": 8
        //       },
        //       "lockout": {
        //         "maxAttempts": 0
        assert_eq!(locate(&text, ""), at(1, 1));
        assert_eq!(locate(&text, "/name"), at(2, 11));
        assert_eq!(
            locate(&text, "/settings/password/complexity/minLength"),
            at(6, 22)
        );
        assert_eq!(
            locate(&text, "/settings/password/lockout/maxAttempts"),
            at(9, 24)
        );
        assert_eq!(locate(&text, "/type"), at(13, 11));
    }

    #[test]
    fn array_members_and_escaped_keys() {
        let text = canonical(&json!([
            {"type": "USER_ADMIN"},
            {"a/b": {"c~d": true}, "type": "SUPER_ADMIN"}
        ]));
        assert_eq!(locate(&text, "/0/type"), at(3, 13));
        assert_eq!(locate(&text, "/1/type"), at(9, 13));
        assert_eq!(locate(&text, "/1/a~1b/c~0d"), at(7, 14));
    }

    #[test]
    fn an_absent_field_points_at_its_nearest_parent() {
        let text = canonical(&json!({"settings": {"lockout": {}}, "z": 1}));
        assert_eq!(locate(&text, "/settings/lockout/maxAttempts"), at(3, 16));
        assert_eq!(locate(&text, "/nothing/here"), at(1, 1));
        assert_eq!(locate(&text, "/z/deeper"), at(5, 8));
    }

    #[test]
    fn keys_sharing_a_prefix_and_strings_with_quotes_do_not_confuse_it() {
        let text = canonical(&json!({
            "a": "say \"b\": {",
            "b": [1, {"bb": 2}],
            "bb": "x"
        }));
        assert_eq!(locate(&text, "/bb"), at(9, 9));
        assert_eq!(locate(&text, "/b/1/bb"), at(6, 13));
    }

    #[test]
    fn columns_count_utf16_code_units() {
        let text = "{\"é😀\": \"x\", \"k\": 1}";
        // `{"é😀": "x", "k": ` is 18 UTF-16 units before the 1 (the emoji counts two).
        assert_eq!(locate(text, "/k"), at(1, 19));
    }

    #[test]
    fn a_bad_pointer_is_none_and_broken_text_stops_at_the_last_good_parent() {
        assert_eq!(locate("{\"a\": 1}", "a"), None);
        assert_eq!(locate("{\"a\": {\"b\" 1}}", "/a/b"), at(1, 7));
    }
}
