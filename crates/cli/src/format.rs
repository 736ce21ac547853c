//! kcat-style output format strings (`cat --format '%k: %s\n'`).
//!
//! `%t` topic, `%p` partition, `%o` offset, `%T` timestamp (ms), `%k` key, `%s` value,
//! `%K` / `%S` key / value length (-1 when null), `%h` headers (`k=v,k=v`), `%%` a percent
//! sign; `\n`, `\t`, `\r` and `\\` are escapes. Keys and values are written as raw bytes,
//! as kcat does; a null key or value writes nothing.

use anyhow::{bail, Result};
use kafkit::store::ConsumerRecord;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Timestamp,
    Key,
    Value,
    KeyLength,
    ValueLength,
    Headers,
}

/// A parsed format string.
#[derive(Debug, Clone)]
pub struct Format(Vec<Token>);

impl std::str::FromStr for Format {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut tokens = Vec::new();
        let mut text = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                '%' => match chars.next() {
                    Some('t') => Token::Topic,
                    Some('p') => Token::Partition,
                    Some('o') => Token::Offset,
                    Some('T') => Token::Timestamp,
                    Some('k') => Token::Key,
                    Some('s') => Token::Value,
                    Some('K') => Token::KeyLength,
                    Some('S') => Token::ValueLength,
                    Some('h') => Token::Headers,
                    Some('%') => {
                        text.push(b'%');
                        continue;
                    }
                    Some(other) => bail!(
                        "--format '{s}': unknown %{other} (known: %t %p %o %T %k %s %K %S %h %%)"
                    ),
                    None => bail!("--format '{s}': a lone % at the end"),
                },
                '\\' => {
                    let escaped = match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some(other) => bail!("--format '{s}': unknown escape \\{other}"),
                        None => bail!("--format '{s}': a lone \\ at the end"),
                    };
                    text.extend_from_slice(escaped.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                c => {
                    text.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
            };
            if !text.is_empty() {
                tokens.push(Token::Text(std::mem::take(&mut text)));
            }
            tokens.push(token);
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text));
        }
        Ok(Format(tokens))
    }
}

impl Format {
    /// Appends `r` as this format says to `out`.
    pub fn write(&self, r: &ConsumerRecord, out: &mut Vec<u8>) {
        use std::io::Write;
        let len = |b: &Option<bytes::Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
        for t in &self.0 {
            // Writing to a Vec cannot fail.
            let _ = match t {
                Token::Text(b) => out.write_all(b),
                Token::Topic => out.write_all(r.topic.as_bytes()),
                Token::Partition => write!(out, "{}", r.partition),
                Token::Offset => write!(out, "{}", r.offset),
                Token::Timestamp => write!(out, "{}", r.timestamp),
                Token::Key => out.write_all(r.key.as_deref().unwrap_or_default()),
                Token::Value => out.write_all(r.value.as_deref().unwrap_or_default()),
                Token::KeyLength => write!(out, "{}", len(&r.key)),
                Token::ValueLength => write!(out, "{}", len(&r.value)),
                Token::Headers => {
                    for (i, h) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(&h.key);
                        out.push(b'=');
                        out.extend_from_slice(h.value.as_deref().unwrap_or_default());
                    }
                    Ok(())
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafkit::record::Header;

    #[test]
    fn writes_like_kcat() {
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 1,
            offset: 42,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            headers: vec![Header::new("a", Some("1")), Header::new("b", None::<Bytes>)],
        };
        let f: Format = r"%t/%p@%o %T [%k|%s] %K %S %h 100%%\n".parse().unwrap();
        let mut out = Vec::new();
        f.write(&r, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "t/1@42 1700000000000 [k|] 1 -1 a=1,b= 100%\n"
        );
        assert!("%x"
            .parse::<Format>()
            .unwrap_err()
            .to_string()
            .contains("unknown %x"));
        assert!("50%".parse::<Format>().is_err());
    }
}
