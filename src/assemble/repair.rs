//! Partial JSON, as the AI SDK reads a tool call's input while it streams.

use super::*;

/// The AI SDK's `parsePartialJson(...).value`: the text parsed as JSON, else the text repaired by
/// [`repair_json`] and parsed, else `None` (the SDK's `undefined`: the tool part then has no input).
pub fn parse_partial_json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&repair_json(text)).ok())
}

/// Contexts of the repair scanner; one stack entry per open construct.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Ctx {
    /// Before the top-level value.
    Root,
    /// After the top-level value started; everything else is ignored.
    Done,
    ObjStart,
    ObjKey,
    ObjAfterKey,
    ObjBeforeValue,
    ObjAfterValue,
    ObjAfterComma,
    ArrStart,
    ArrAfterValue,
    ArrAfterComma,
    Str,
    StrEscape,
    /// Inside `\uXXXX`: digits seen so far and their value.
    StrUnicode(u8, u16),
    Number,
    Literal,
}

/// Turn a JSON prefix into a complete JSON text, the way the AI SDK's `fixJson` does: cut the text
/// after the last character that ends something well-formed (a closed string or container, a digit,
/// a literal prefix, a string character), then close whatever is still open — strings with `"`,
/// objects with `}`, arrays with `]`, `tru` with `e`. A dangling key or a `,` is dropped with what
/// follows it, so `{"a":1,"b` becomes `{"a":1}`.
///
/// One deliberate difference: a string cut between the two `\u` escapes of a surrogate pair is cut
/// before the pair, because a lone surrogate is not valid JSON for serde (JavaScript accepts it).
pub fn repair_json(input: &str) -> String {
    let mut stack = vec![Ctx::Root];
    // Byte offset just past the last character that may end the repaired text.
    let mut cut = 0usize;
    let mut literal_start = 0usize;

    // A value begins at `i` with `c`: the enclosing context becomes `after`, and the value's own
    // context is pushed. Anything that cannot start a value is ignored, as in the SDK.
    fn value_start(stack: &mut Vec<Ctx>, cut: &mut usize, lit: &mut usize, c: char, i: usize, end: usize, after: Ctx) {
        let inner = match c {
            '"' => Ctx::Str,
            'f' | 't' | 'n' => {
                *lit = i;
                Ctx::Literal
            }
            '-' | '0'..='9' => Ctx::Number,
            '{' => Ctx::ObjStart,
            '[' => Ctx::ArrStart,
            _ => return,
        };
        if c != '-' {
            *cut = end;
        }
        stack.pop();
        stack.push(after);
        stack.push(inner);
    }
    // After a complete value inside a container: `,` awaits the next member, the closer ends it.
    fn after_value(stack: &mut Vec<Ctx>, cut: &mut usize, c: char, end: usize) {
        match (stack.last(), c) {
            (Some(Ctx::ObjAfterValue), ',') => *stack.last_mut().unwrap() = Ctx::ObjAfterComma,
            (Some(Ctx::ArrAfterValue), ',') => *stack.last_mut().unwrap() = Ctx::ArrAfterComma,
            (Some(Ctx::ObjAfterValue), '}') | (Some(Ctx::ArrAfterValue), ']') => {
                *cut = end;
                stack.pop();
            }
            _ => {}
        }
    }

    for (i, c) in input.char_indices() {
        let end = i + c.len_utf8();
        let Some(&top) = stack.last() else { break };
        match top {
            Ctx::Root => value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::Done),
            Ctx::Done => {}
            Ctx::ObjStart => match c {
                '"' => *stack.last_mut().unwrap() = Ctx::ObjKey,
                '}' => {
                    cut = end;
                    stack.pop();
                }
                _ => {}
            },
            Ctx::ObjAfterComma => {
                if c == '"' {
                    *stack.last_mut().unwrap() = Ctx::ObjKey;
                }
            }
            // Like the SDK, a key ends at the next quote, escaped or not: keys are cut away anyway
            // unless their value started.
            Ctx::ObjKey => {
                if c == '"' {
                    *stack.last_mut().unwrap() = Ctx::ObjAfterKey;
                }
            }
            Ctx::ObjAfterKey => {
                if c == ':' {
                    *stack.last_mut().unwrap() = Ctx::ObjBeforeValue;
                }
            }
            Ctx::ObjBeforeValue => value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::ObjAfterValue),
            Ctx::ObjAfterValue => after_value(&mut stack, &mut cut, c, end),
            Ctx::ArrStart if c == ']' => {
                cut = end;
                stack.pop();
            }
            Ctx::ArrStart | Ctx::ArrAfterComma => {
                value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::ArrAfterValue)
            }
            Ctx::ArrAfterValue => match c {
                ',' | ']' => after_value(&mut stack, &mut cut, c, end),
                // The SDK lets anything after an array element extend the cut (whitespace is the
                // only thing that can legally appear there).
                _ => cut = end,
            },
            Ctx::Str => match c {
                '"' => {
                    stack.pop();
                    cut = end;
                }
                '\\' => stack.push(Ctx::StrEscape),
                _ => cut = end,
            },
            Ctx::StrEscape => {
                stack.pop();
                if c == 'u' {
                    stack.push(Ctx::StrUnicode(0, 0));
                } else {
                    cut = end;
                }
            }
            Ctx::StrUnicode(n, v) => {
                if let Some(d) = c.to_digit(16) {
                    let v = (v << 4) | d as u16;
                    if n + 1 == 4 {
                        stack.pop();
                        if !(0xD800..0xDC00).contains(&v) {
                            cut = end;
                        }
                    } else {
                        *stack.last_mut().unwrap() = Ctx::StrUnicode(n + 1, v);
                    }
                }
            }
            Ctx::Number => match c {
                '0'..='9' => cut = end,
                'e' | 'E' | '-' | '.' => {}
                ',' | '}' | ']' => {
                    stack.pop();
                    // `,` may end an object member or an array element; a closer only its own kind
                    // (after_value ignores a mismatched one).
                    after_value(&mut stack, &mut cut, c, end);
                }
                // Anything else ends the number and is itself skipped.
                _ => {
                    stack.pop();
                }
            },
            Ctx::Literal => {
                let partial = &input[literal_start..end];
                if ["false", "true", "null"].iter().any(|l| l.starts_with(partial)) {
                    cut = end;
                } else {
                    stack.pop();
                    after_value(&mut stack, &mut cut, c, end);
                }
            }
        }
    }

    let mut out = String::with_capacity(cut + stack.len());
    out.push_str(&input[..cut]);
    for ctx in stack.iter().rev() {
        match ctx {
            Ctx::Str => out.push('"'),
            Ctx::ObjStart
            | Ctx::ObjKey
            | Ctx::ObjAfterKey
            | Ctx::ObjBeforeValue
            | Ctx::ObjAfterValue
            | Ctx::ObjAfterComma => out.push('}'),
            Ctx::ArrStart | Ctx::ArrAfterValue | Ctx::ArrAfterComma => out.push(']'),
            Ctx::Literal => {
                let partial = &input[literal_start..];
                if let Some(l) = ["true", "false", "null"].iter().find(|l| l.starts_with(partial)) {
                    out.push_str(&l[partial.len()..]);
                }
            }
            Ctx::Root | Ctx::Done | Ctx::StrEscape | Ctx::StrUnicode(..) | Ctx::Number => {}
        }
    }
    out
}
