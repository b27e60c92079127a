//! A strict JSON lexer for the fast path (see `fast`): cursor, strings, numbers and skipping.

use std::borrow::Cow;

/// Bytes that end a run of plain string content: `"`, `\` and the control characters JSON
/// forbids inside strings.
static STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;

/// Marks (high bit of the byte) the [`STOP`] bytes of an 8-byte word. Bits above the lowest mark
/// may be false positives; the lowest one is exact.
#[inline]
fn stop_mask(word: u64) -> u64 {
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let q = word ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = word ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & (ONES << 7)
}

/// Index of the first [`STOP`] byte at or after `i`.
#[inline]
fn find_stop(bytes: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word: [u8; 8] = chunk.try_into().ok()?;
        let mask = stop_mask(u64::from_le_bytes(word));
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if STOP[b as usize] {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Deeper values are left to serde_json (whose own limit is 128).
const MAX_DEPTH: u32 = 32;

pub(super) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    #[inline]
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips whitespace and returns the next byte, not consuming it.
    #[inline]
    pub(super) fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Skips whitespace and consumes `byte` if it comes next.
    #[inline]
    pub(super) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// True when only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// After a member or element: `Some(true)` for `,`, `Some(false)` for `close`.
    #[inline]
    pub(super) fn next_or_close(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Some(true)
            }
            b if b == close => {
                self.pos += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Consumes `null` if it comes next.
    pub(super) fn null(&mut self) -> bool {
        if self.peek() == Some(b'n') && self.bytes()[self.pos..].starts_with(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    /// A string literal, checked: returns the span of its content (between the quotes) and
    /// whether it holds escapes. Escapes must be valid, `\u` surrogates paired.
    #[inline]
    fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let bytes = self.bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i = find_stop(bytes, i)?;
            match bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Some((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    i = escape(bytes, i, &mut |_| {})?;
                }
                _ => return None,
            }
        }
    }

    /// An object key without escapes, as bytes (a key with escapes is `None`: left to serde_json,
    /// as no writer of this stream escapes its keys).
    #[inline]
    pub(super) fn key(&mut self) -> Option<&'a [u8]> {
        let (start, end, escaped) = self.string_span()?;
        if escaped || !self.eat(b':') {
            return None;
        }
        Some(&self.bytes()[start..end])
    }

    /// A string literal's value, borrowed when it has no escapes.
    #[inline]
    pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
        let (start, end, escaped) = self.string_span()?;
        let raw = &self.text[start..end];
        if !escaped {
            return Some(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        unescape_into(raw, &mut out)?;
        Some(Cow::Owned(out))
    }

    /// A string literal's value (its UTF-8 bytes), written to `out` at `*len`, checked and
    /// unescaped in one pass; `*len` moves past it. `out` is a work buffer: only `out[..*len]`
    /// means anything, the rest is room to write whole words into (it grows as needed and is
    /// never shrunk, so it is zero-filled only once).
    #[inline]
    pub(super) fn string_into(&mut self, out: &mut Vec<u8>, len: &mut usize) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        let bytes = self.bytes();
        let mut i = self.pos + 1;
        let mut j = *len;
        loop {
            if out.len() < j + 16 {
                let grown = (out.len() * 2).max(j + 16).max(4096);
                out.resize(grown, 0);
            }
            if let Some(chunk) = bytes.get(i..i + 8) {
                // Copy the whole word, then keep what precedes the first stop byte (if any).
                let word: [u8; 8] = chunk.try_into().ok()?;
                out[j..j + 8].copy_from_slice(&word);
                let mask = stop_mask(u64::from_le_bytes(word));
                if mask == 0 {
                    i += 8;
                    j += 8;
                    continue;
                }
                let n = (mask.trailing_zeros() / 8) as usize;
                i += n;
                j += n;
            } else {
                let b = *bytes.get(i)?;
                if !STOP[b as usize] {
                    out[j] = b;
                    i += 1;
                    j += 1;
                    continue;
                }
            }
            match bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    *len = j;
                    return Some(());
                }
                b'\\' => match bytes.get(i + 1) {
                    // The escapes a JSON text inside a JSON string is full of.
                    Some(&b @ (b'"' | b'\\' | b'/')) => {
                        out[j] = b;
                        i += 2;
                        j += 1;
                    }
                    _ => {
                        let mut utf8 = [0u8; 4];
                        let mut n = 0;
                        i = escape(bytes, i, &mut |c| n = c.encode_utf8(&mut utf8).len())?;
                        out[j..j + n].copy_from_slice(&utf8[..n]);
                        j += n;
                    }
                },
                _ => return None,
            }
        }
    }

    /// A non-negative integer without fraction or exponent that surely fits a u64.
    #[inline]
    pub(super) fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        let mut n: u64 = 0;
        while let Some(&b) = bytes.get(i) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            // Wrapping: more than 19 digits are rejected below, whatever `n` became.
            n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
            i += 1;
        }
        let digits = i - start;
        // 19 digits always fit; longer numbers are left to serde_json.
        if digits == 0 || digits > 19 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        if matches!(bytes.get(i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.pos = i;
        Some(n)
    }

    /// An integer without fraction or exponent that surely fits an i64 (not `-0`).
    #[inline]
    pub(super) fn i64(&mut self) -> Option<i64> {
        let negative = self.eat(b'-');
        if negative && !self.bytes().get(self.pos).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let start = self.pos;
        let n = self.u64()?;
        if self.pos - start > 18 {
            return None;
        }
        let n = n as i64;
        match (negative, n) {
            (true, 0) => None,
            (true, n) => Some(-n),
            (false, n) => Some(n),
        }
    }

    /// Skips any JSON value, checking it (strictly: what this accepts, serde_json accepts).
    pub(super) fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => {
                self.string_span()?;
            }
            b'{' => {
                self.pos += 1;
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.string_span()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    self.skip_value(depth + 1)?;
                    if !self.next_or_close(b'}')? {
                        break;
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if !self.next_or_close(b']')? {
                        break;
                    }
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.bytes()[self.pos..].starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let mut i = self.pos;
        let digits = |i: &mut usize| {
            let start = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - start
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return None,
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return None;
            }
        }
        self.pos = i;
        Some(())
    }
}

/// Reads the escape at `bytes[i]` (a backslash), hands its character to `emit` and returns the
/// index after it. `None` for an invalid escape or a `\u` surrogate that is not part of a pair.
#[inline(never)]
fn escape(bytes: &[u8], i: usize, emit: &mut dyn FnMut(char)) -> Option<usize> {
    let c = match *bytes.get(i + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex4(bytes, i + 2)?;
            return match unit {
                0xD800..=0xDBFF => {
                    if bytes.get(i + 6) != Some(&b'\\') || bytes.get(i + 7) != Some(&b'u') {
                        return None;
                    }
                    let low = hex4(bytes, i + 8)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    emit(char::from_u32(code)?);
                    Some(i + 12)
                }
                0xDC00..=0xDFFF => None,
                unit => {
                    emit(char::from_u32(u32::from(unit))?);
                    Some(i + 6)
                }
            };
        }
        _ => return None,
    };
    emit(c);
    Some(i + 2)
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    let mut n = 0u16;
    for &d in digits {
        n = n * 16 + (d as char).to_digit(16)? as u16;
    }
    Some(n)
}

/// Appends the value of string content `raw` (the text between the quotes, already checked).
pub(super) fn unescape_into(raw: &str, out: &mut String) -> Option<()> {
    let bytes = raw.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(raw.get(run..i)?);
        i = escape(bytes, i, &mut |c| out.push(c))?;
        run = i;
    }
    out.push_str(raw.get(run..)?);
    Some(())
}
