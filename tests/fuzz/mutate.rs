//! Inputs as proptest values: arbitrary bytes, or a valid seed changed by a list of mutations (byte flips,
//! truncation, splicing, dictionary tokens, non-UTF-8, huge numbers, deep nesting, and for JSON seeds edits of the
//! parsed value), so that proptest's shrinking minimizes a failing input to its fewest, smallest changes.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

/// What a target's inputs are made from.
pub struct Material {
    /// Valid (or nearly valid) inputs to start from.
    pub seeds: Vec<Vec<u8>>,
    /// Tokens worth inserting: the format's keywords and the seeds' own names and values.
    pub dict: Vec<Vec<u8>>,
    /// Whether the seeds are JSON documents, so value-level edits apply.
    pub json: bool,
}

/// Numbers at the edges of the types the loaders use.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "0.5",
    "-0.0",
    "1e308",
    "1e999",
    "-1e999",
    "255",
    "256",
    "65535",
    "65536",
    "2147483646",
    "2147483647",
    "2147483648",
    "4294967294",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999999999999999999",
    "1.7976931348623157e308",
    "4.9e-324",
];

/// Byte sequences that are not UTF-8, or are UTF-8 that byte-indexing code trips on.
pub const AWKWARD: &[&[u8]] = &[
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\x00",
    "é".as_bytes(),
    "ü€😀".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{feff}".as_bytes(),
    "\r\n".as_bytes(),
    b"\\u0000",
    b"\\ud800",
    b"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9",
];

/// One change to the bytes.
#[derive(Clone, Debug)]
pub enum ByteOp {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    InsertRandom(Index, Vec<u8>),
    InsertToken(Index, Index),
    ReplaceToken(Index, Index),
    InsertAwkward(Index, Index),
    ReplaceNumber(Index, Index),
    Delete(Index, u16),
    Truncate(Index),
    Duplicate(Index, u16, Index),
    Splice(Index, Index, u16, Index),
    Nest(Index, Index, u16),
}

/// One change to the parsed JSON value, at the `node`th value in pre-order.
#[derive(Clone, Debug)]
pub enum JsonOp {
    Number(Index, Index),
    Text(Index, Index),
    Awkward(Index, Index, Index),
    Remove(Index),
    Duplicate(Index),
    Null(Index),
    TypeSwap(Index, u8),
    Nest(Index, u16),
    LongText(Index, u16),
    AddMember(Index, Index, Index),
}

#[derive(Clone, Debug)]
pub enum Input {
    Raw(Vec<u8>),
    Mutated {
        seed: Index,
        json: Vec<JsonOp>,
        bytes: Vec<ByteOp>,
    },
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    let i = || any::<Index>();
    prop_oneof![
        3 => (i(), any::<u8>()).prop_map(|(a, b)| ByteOp::FlipBit(a, b)),
        2 => (i(), any::<u8>()).prop_map(|(a, b)| ByteOp::SetByte(a, b)),
        2 => (i(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(a, b)| ByteOp::InsertRandom(a, b)),
        4 => (i(), i()).prop_map(|(a, b)| ByteOp::InsertToken(a, b)),
        5 => (i(), i()).prop_map(|(a, b)| ByteOp::ReplaceToken(a, b)),
        3 => (i(), i()).prop_map(|(a, b)| ByteOp::InsertAwkward(a, b)),
        4 => (i(), i()).prop_map(|(a, b)| ByteOp::ReplaceNumber(a, b)),
        3 => (i(), 1..64u16).prop_map(|(a, b)| ByteOp::Delete(a, b)),
        2 => i().prop_map(ByteOp::Truncate),
        2 => (i(), 1..256u16, i()).prop_map(|(a, b, c)| ByteOp::Duplicate(a, b, c)),
        2 => (i(), i(), 1..256u16, i()).prop_map(|(a, b, c, d)| ByteOp::Splice(a, b, c, d)),
        1 => (i(), i(), 1..3000u16).prop_map(|(a, b, c)| ByteOp::Nest(a, b, c)),
    ]
}

fn json_op() -> impl Strategy<Value = JsonOp> {
    let i = || any::<Index>();
    prop_oneof![
        4 => (i(), i()).prop_map(|(a, b)| JsonOp::Number(a, b)),
        4 => (i(), i()).prop_map(|(a, b)| JsonOp::Text(a, b)),
        3 => (i(), i(), i()).prop_map(|(a, b, c)| JsonOp::Awkward(a, b, c)),
        2 => i().prop_map(JsonOp::Remove),
        2 => i().prop_map(JsonOp::Duplicate),
        1 => i().prop_map(JsonOp::Null),
        2 => (i(), any::<u8>()).prop_map(|(a, b)| JsonOp::TypeSwap(a, b)),
        1 => (i(), 1..300u16).prop_map(|(a, b)| JsonOp::Nest(a, b)),
        1 => (i(), 1..5000u16).prop_map(|(a, b)| JsonOp::LongText(a, b)),
        2 => (i(), i(), i()).prop_map(|(a, b, c)| JsonOp::AddMember(a, b, c)),
    ]
}

/// Arbitrary bytes one time in ten; otherwise a seed with up to four value edits (JSON) and up to six byte edits,
/// none at all a third of the time so that deep, well-formed inputs stay common.
pub fn input(json: bool) -> impl Strategy<Value = Input> {
    let json_ops = if json { 0..4usize } else { 0..1usize };
    let mutated = (
        any::<Index>(),
        prop::collection::vec(json_op(), json_ops),
        prop_oneof![1 => Just(vec![]), 2 => prop::collection::vec(byte_op(), 1..6)],
    )
        .prop_map(|(seed, json, bytes)| Input::Mutated { seed, json, bytes });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Input::Raw),
        9 => mutated,
    ]
}

impl Material {
    /// The bytes an input stands for.
    pub fn build(&self, input: &Input) -> Vec<u8> {
        match input {
            Input::Raw(bytes) => bytes.clone(),
            Input::Mutated { seed, json, bytes } => {
                let mut out = self.seeds[seed.index(self.seeds.len())].clone();
                if self.json && !json.is_empty() {
                    if let Ok(mut value) = serde_json::from_slice::<Value>(&out) {
                        for op in json {
                            self.apply_json(&mut value, op);
                        }
                        out = serde_json::to_vec_pretty(&value).unwrap_or(out);
                    }
                }
                for op in bytes {
                    self.apply_bytes(&mut out, op);
                }
                out
            }
        }
    }

    fn token(&self, i: &Index) -> &[u8] {
        &self.dict[i.index(self.dict.len())]
    }

    fn apply_bytes(&self, out: &mut Vec<u8>, op: &ByteOp) {
        let at = |i: &Index, out: &Vec<u8>| i.index(out.len() + 1);
        match op {
            ByteOp::FlipBit(i, bit) => {
                if !out.is_empty() {
                    let p = i.index(out.len());
                    out[p] ^= 1 << (bit % 8);
                }
            }
            ByteOp::SetByte(i, b) => {
                if !out.is_empty() {
                    let p = i.index(out.len());
                    out[p] = *b;
                }
            }
            ByteOp::InsertRandom(i, bytes) => {
                let p = at(i, out);
                out.splice(p..p, bytes.iter().copied());
            }
            ByteOp::InsertToken(i, t) => {
                let p = at(i, out);
                let token = self.token(t).to_vec();
                out.splice(p..p, token);
            }
            ByteOp::ReplaceToken(i, t) => {
                let (start, end) = token_at(out, at(i, out));
                let token = self.token(t).to_vec();
                out.splice(start..end, token);
            }
            ByteOp::InsertAwkward(i, a) => {
                let p = at(i, out);
                out.splice(p..p, AWKWARD[a.index(AWKWARD.len())].iter().copied());
            }
            ByteOp::ReplaceNumber(i, n) => {
                let number = NUMBERS[n.index(NUMBERS.len())].as_bytes();
                match number_at(out, at(i, out)) {
                    Some((start, end)) => {
                        out.splice(start..end, number.iter().copied());
                    }
                    None => {
                        let p = at(i, out);
                        out.splice(p..p, number.iter().copied());
                    }
                }
            }
            ByteOp::Delete(i, n) => {
                let p = at(i, out).min(out.len());
                let end = (p + *n as usize).min(out.len());
                out.drain(p..end);
            }
            ByteOp::Truncate(i) => {
                let p = at(i, out);
                out.truncate(p);
            }
            ByteOp::Duplicate(i, n, to) => {
                let p = at(i, out).min(out.len());
                let end = (p + *n as usize).min(out.len());
                let chunk = out[p..end].to_vec();
                let to = at(to, out);
                out.splice(to..to, chunk);
            }
            ByteOp::Splice(s, from, n, to) => {
                let other = &self.seeds[s.index(self.seeds.len())];
                let p = from.index(other.len() + 1).min(other.len());
                let end = (p + *n as usize).min(other.len());
                let to = at(to, out);
                out.splice(to..to, other[p..end].iter().copied());
            }
            ByteOp::Nest(i, kind, depth) => {
                const PAIRS: &[(&str, &str)] = &[
                    ("[", "]"),
                    ("{\"a\":", "}"),
                    ("(", ")"),
                    ("{", "}"),
                    ("[[", "]]"),
                    ("\"${", "}\""),
                    ("x = {\n", "}\n"),
                    ("b {\n", "}\n"),
                    ("-", ""),
                    ("!", ""),
                ];
                let (open, close) = PAIRS[kind.index(PAIRS.len())];
                let p = at(i, out);
                let (start, end) = token_at(out, p);
                let inner = out[start..end].to_vec();
                let depth = *depth as usize;
                let mut nested = open.repeat(depth).into_bytes();
                nested.extend_from_slice(&inner);
                nested.extend_from_slice(close.repeat(depth).as_bytes());
                out.splice(start..end, nested);
            }
        }
    }

    fn apply_json(&self, value: &mut Value, op: &JsonOp) {
        let node = match op {
            JsonOp::Number(n, _)
            | JsonOp::Text(n, _)
            | JsonOp::Awkward(n, _, _)
            | JsonOp::Remove(n)
            | JsonOp::Duplicate(n)
            | JsonOp::Null(n)
            | JsonOp::TypeSwap(n, _)
            | JsonOp::Nest(n, _)
            | JsonOp::LongText(n, _)
            | JsonOp::AddMember(n, _, _) => n,
        };
        let count = count_nodes(value);
        let target = node.index(count);
        if matches!(op, JsonOp::Remove(_) | JsonOp::Duplicate(_)) {
            // Acts on the node's place in its parent (the root has none).
            edit_parent(value, target, &mut |parent, key| match (op, parent) {
                (JsonOp::Remove(_), Value::Object(m)) => {
                    if let Some(k) = key.as_str_key() {
                        m.shift_remove(&k);
                    }
                }
                (JsonOp::Remove(_), Value::Array(a)) => {
                    if let Some(i) = key.as_index() {
                        a.remove(i);
                    }
                }
                (JsonOp::Duplicate(_), Value::Array(a)) => {
                    if let Some(i) = key.as_index() {
                        let v = a[i].clone();
                        a.insert(i, v);
                    }
                }
                (JsonOp::Duplicate(_), Value::Object(m)) => {
                    if let Some(k) = key.as_str_key() {
                        let v = m[&k].clone();
                        m.insert(format!("{k}_"), v);
                    }
                }
                _ => {}
            });
            return;
        }
        let Some(slot) = nth_node(value, target) else {
            return;
        };
        match op {
            JsonOp::Number(_, n) => {
                *slot = serde_json::from_str(NUMBERS[n.index(NUMBERS.len())])
                    .unwrap_or_else(|_| Value::String(NUMBERS[n.index(NUMBERS.len())].into()));
            }
            JsonOp::Text(_, t) => {
                *slot = Value::String(String::from_utf8_lossy(self.token(t)).into_owned());
            }
            JsonOp::Awkward(_, a, at) => {
                let text = match &*slot {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let awkward = String::from_utf8_lossy(AWKWARD[a.index(AWKWARD.len())]).into_owned();
                let mut p = at.index(text.len() + 1).min(text.len());
                while !text.is_char_boundary(p) {
                    p -= 1;
                }
                *slot = Value::String(format!("{}{awkward}{}", &text[..p], &text[p..]));
            }
            JsonOp::Null(_) => *slot = Value::Null,
            JsonOp::TypeSwap(_, k) => {
                let old = std::mem::take(slot);
                *slot = match k % 6 {
                    0 => Value::Array(vec![old]),
                    1 => Value::String(old.to_string()),
                    2 => Value::Bool(old.as_bool().is_none()),
                    3 => Value::Object(Map::from_iter([("value".to_string(), old)])),
                    4 => Value::Array(vec![]),
                    _ => Value::Object(Map::new()),
                };
            }
            JsonOp::Nest(_, depth) => {
                let mut v = std::mem::take(slot);
                for _ in 0..*depth {
                    v = Value::Array(vec![v]);
                }
                *slot = v;
            }
            JsonOp::LongText(_, n) => {
                let unit = match &*slot {
                    Value::String(s) if !s.is_empty() => s.clone(),
                    _ => "é".to_string(),
                };
                *slot = Value::String(
                    unit.repeat(*n as usize)
                        .chars()
                        .take(*n as usize * 4)
                        .collect(),
                );
            }
            JsonOp::AddMember(_, k, v) => {
                if let Value::Object(m) = slot {
                    let key = String::from_utf8_lossy(self.token(k))
                        .trim_matches('"')
                        .to_string();
                    let value = serde_json::from_slice(self.token(v)).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(self.token(v)).into())
                    });
                    m.insert(key, value);
                }
            }
            JsonOp::Remove(_) | JsonOp::Duplicate(_) => unreachable!(),
        }
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th value in pre-order (0 is the root).
fn nth_node(v: &mut Value, mut n: usize) -> Option<&mut Value> {
    fn walk<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().find_map(|c| walk(c, n)),
            Value::Object(m) => m.values_mut().find_map(|c| walk(c, n)),
            _ => None,
        }
    }
    walk(v, &mut n)
}

/// Where a child sits in its parent.
enum Key {
    Member(String),
    Item(usize),
}

impl Key {
    fn as_str_key(&self) -> Option<String> {
        match self {
            Key::Member(k) => Some(k.clone()),
            Key::Item(_) => None,
        }
    }
    fn as_index(&self) -> Option<usize> {
        match self {
            Key::Item(i) => Some(*i),
            Key::Member(_) => None,
        }
    }
}

/// The path (member names and item indexes) from the root to the `n`th value in pre-order.
fn path_to(v: &Value, n: usize) -> Option<Vec<Key>> {
    fn walk(v: &Value, n: &mut usize, path: &mut Vec<Key>) -> bool {
        if *n == 0 {
            return true;
        }
        *n -= 1;
        match v {
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    path.push(Key::Item(i));
                    if walk(c, n, path) {
                        return true;
                    }
                    path.pop();
                }
            }
            Value::Object(m) => {
                for (k, c) in m {
                    path.push(Key::Member(k.clone()));
                    if walk(c, n, path) {
                        return true;
                    }
                    path.pop();
                }
            }
            _ => {}
        }
        false
    }
    let mut path = Vec::new();
    let mut n = n;
    walk(v, &mut n, &mut path).then_some(path)
}

/// Calls `f` with the parent of the `n`th value in pre-order and the value's key there (the root has no parent).
fn edit_parent(v: &mut Value, n: usize, f: &mut dyn FnMut(&mut Value, Key)) {
    let Some(mut path) = path_to(v, n) else {
        return;
    };
    let Some(key) = path.pop() else {
        return;
    };
    let mut parent = v;
    for step in &path {
        parent = match (parent, step) {
            (Value::Array(a), Key::Item(i)) => &mut a[*i],
            (Value::Object(m), Key::Member(k)) => m.get_mut(k).expect("path just walked"),
            _ => return,
        };
    }
    f(parent, key);
}

/// The token around byte `p`: a quoted string, a run of word characters, or the single byte there.
fn token_at(bytes: &[u8], p: usize) -> (usize, usize) {
    let p = p.min(bytes.len());
    if p == bytes.len() {
        return (p, p);
    }
    let word =
        |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b >= 0x80;
    if word(bytes[p]) {
        let start = (0..p)
            .rev()
            .take_while(|&i| word(bytes[i]))
            .last()
            .unwrap_or(p);
        let end = (p..bytes.len())
            .find(|&i| !word(bytes[i]))
            .unwrap_or(bytes.len());
        return (start, end);
    }
    if bytes[p] == b'"' {
        if let Some(close) =
            (p + 1..bytes.len()).find(|&i| bytes[i] == b'"' && bytes[i - 1] != b'\\')
        {
            return (p, close + 1);
        }
    }
    (p, p + 1)
}

/// The digits (with sign, fraction, exponent) at or after byte `p`, within a short distance.
fn number_at(bytes: &[u8], p: usize) -> Option<(usize, usize)> {
    let start = (p..bytes.len().min(p + 200)).find(|&i| bytes[i].is_ascii_digit())?;
    let start = if start > 0 && bytes[start - 1] == b'-' {
        start - 1
    } else {
        start
    };
    let numeric = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    let end = (start + 1..bytes.len())
        .find(|&i| !numeric(bytes[i]))
        .unwrap_or(bytes.len());
    Some((start, end))
}

/// Every quoted string and word in the seeds, plus the format's own tokens: the dictionary.
pub fn dictionary(seeds: &[Vec<u8>], extra: &[&str]) -> Vec<Vec<u8>> {
    let mut dict: std::collections::BTreeSet<Vec<u8>> =
        extra.iter().map(|t| t.as_bytes().to_vec()).collect();
    for seed in seeds {
        let mut p = 0;
        while p < seed.len() {
            let (start, end) = token_at(seed, p);
            if end - start > 1 && end - start < 100 {
                dict.insert(seed[start..end].to_vec());
            }
            p = end.max(p + 1);
        }
    }
    dict.extend(NUMBERS.iter().map(|n| n.as_bytes().to_vec()));
    dict.into_iter().collect()
}
