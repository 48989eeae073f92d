//! A small reader for keepalived's configuration syntax: lines of words,
//! `{ ... }` blocks, `!` and `#` comments, `"` and `'` quoted strings.
//!
//! keepalived's own reader is line based: a statement is the words of one line,
//! and `{` / `}` open and close blocks wherever they appear outside quotes.
//! A `{` alone on the line after a keyword opens that keyword's block. Quoted
//! strings follow keepalived's rules: `"` or `'` quote, quoted parts join the
//! unquoted text next to them (`ab"c d"` is one word `abc d`), and a backslash
//! escapes the next character inside quotes.

use super::ImportError;

/// Deepest block nesting accepted. keepalived's deepest real block is about
/// four levels (virtual_server / real_server / checker / ...); this bound keeps
/// recursion over the tree small on hostile input.
const MAX_DEPTH: usize = 32;

/// One word of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    /// The text with quotes removed and escapes applied.
    pub text: String,
    /// Whether any part of the word was quoted.
    pub quoted: bool,
}

/// One statement: the words of a line, and the block that follows it if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stmt {
    /// 1-based line of the statement's first word (or of its `{`).
    pub line: usize,
    /// The words; the first is the keyword. Empty only for an anonymous `{ }`.
    pub words: Vec<Word>,
    /// The statements inside `{ ... }`, when the statement opens a block.
    pub block: Option<Vec<Stmt>>,
}

impl Stmt {
    /// The keyword (first word), or "" for an anonymous block.
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The words after the keyword.
    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }
}

/// A token of one line.
enum Tok {
    Word(Word),
    Open,
    Close,
}

/// Split one line into tokens. `Err(())` for an unterminated quote.
fn tokenize_line(line: &str) -> Result<Vec<Tok>, ()> {
    let mut toks = Vec::new();
    let mut chars = line.chars().peekable();
    // The word being built: text, quoted, and whether it has started.
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    let flush = |toks: &mut Vec<Tok>, cur: &mut String, quoted: &mut bool, started: &mut bool| {
        if *started {
            toks.push(Tok::Word(Word {
                text: std::mem::take(cur),
                quoted: *quoted,
            }));
        }
        *quoted = false;
        *started = false;
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => flush(&mut toks, &mut cur, &mut quoted, &mut started),
            // keepalived expands `${NAME}` and `${_ENV NAME}` before it looks
            // for blocks: the braces (and a space inside) belong to the word.
            '$' if chars.peek() == Some(&'{') => {
                started = true;
                cur.push(c);
                for q in chars.by_ref() {
                    cur.push(q);
                    if q == '}' {
                        break;
                    }
                }
            }
            '{' | '}' => {
                flush(&mut toks, &mut cur, &mut quoted, &mut started);
                toks.push(if c == '{' { Tok::Open } else { Tok::Close });
            }
            // A comment starts where a word could start and runs to the end of the line.
            '#' | '!' if !started => break,
            '"' | '\'' => {
                started = true;
                quoted = true;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    if q == '\\' {
                        match chars.next() {
                            Some(e) => cur.push(unescape(e, &mut chars)),
                            None => break,
                        }
                    } else {
                        cur.push(q);
                    }
                }
                if !closed {
                    return Err(());
                }
            }
            c => {
                started = true;
                cur.push(c);
            }
        }
    }
    flush(&mut toks, &mut cur, &mut quoted, &mut started);
    Ok(toks)
}

/// The character for `\e` inside a quoted string (keepalived follows the
/// shell's `$'...'` escapes); `\xHH` and octal `\nnn` read further digits.
fn unescape(e: char, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match e {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'E' | 'e' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        'x' => {
            let mut v = 0u32;
            let mut n = 0;
            while n < 2 {
                match rest.peek().and_then(|c| c.to_digit(16)) {
                    Some(d) => {
                        v = v * 16 + d;
                        rest.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                'x'
            } else {
                char::from_u32(v).unwrap_or('?')
            }
        }
        '0'..='7' => {
            let mut v = e.to_digit(8).unwrap_or(0);
            let mut n = 1;
            while n < 3 {
                match rest.peek().and_then(|c| c.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        rest.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            char::from_u32(v).unwrap_or('?')
        }
        other => other,
    }
}

/// A block being read: its header statement and the statements so far.
struct Open {
    header: Stmt,
    children: Vec<Stmt>,
}

/// Read the whole file into a tree of statements.
pub(super) fn parse(text: &str, file: &str) -> Result<Vec<Stmt>, ImportError> {
    let mut root: Vec<Stmt> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let toks = tokenize_line(line).map_err(|()| ImportError::UnterminatedQuote {
            file: file.to_string(),
            line: lineno,
        })?;
        let mut words: Vec<Word> = Vec::new();
        for tok in toks {
            match tok {
                Tok::Word(w) => words.push(w),
                Tok::Open => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(ImportError::TooDeep {
                            file: file.to_string(),
                            line: lineno,
                            max: MAX_DEPTH,
                        });
                    }
                    let level = match stack.last_mut() {
                        Some(open) => &mut open.children,
                        None => &mut root,
                    };
                    let header = if words.is_empty() {
                        // `{` on its own line opens the block of the statement above it.
                        match level.last() {
                            Some(prev) if prev.block.is_none() && !prev.words.is_empty() => {
                                level.pop().unwrap_or_else(|| Stmt {
                                    line: lineno,
                                    words: Vec::new(),
                                    block: None,
                                })
                            }
                            _ => Stmt {
                                line: lineno,
                                words: Vec::new(),
                                block: None,
                            },
                        }
                    } else {
                        Stmt {
                            line: lineno,
                            words: std::mem::take(&mut words),
                            block: None,
                        }
                    };
                    stack.push(Open {
                        header,
                        children: Vec::new(),
                    });
                }
                Tok::Close => {
                    let Some(mut open) = stack.pop() else {
                        return Err(ImportError::UnexpectedClose {
                            file: file.to_string(),
                            line: lineno,
                        });
                    };
                    if !words.is_empty() {
                        open.children.push(Stmt {
                            line: lineno,
                            words: std::mem::take(&mut words),
                            block: None,
                        });
                    }
                    let mut stmt = open.header;
                    stmt.block = Some(open.children);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(stmt),
                        None => root.push(stmt),
                    }
                }
            }
        }
        if !words.is_empty() {
            let stmt = Stmt {
                line: lineno,
                words,
                block: None,
            };
            match stack.last_mut() {
                Some(open) => open.children.push(stmt),
                None => root.push(stmt),
            }
        }
    }
    if let Some(open) = stack.pop() {
        // Report the innermost block left open: that is usually the one missing its `}`.
        return Err(ImportError::UnclosedBlock {
            file: file.to_string(),
            line: open.header.line,
            keyword: open.header.keyword().to_string(),
        });
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &Stmt) -> Vec<&str> {
        s.words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn blocks_comments_and_lines() {
        let src = "! comment\nvrrp_instance VI_1 {  # trailing\n  state MASTER\n  virtual_ipaddress {\n    10.0.0.1/24 dev eth0\n  }\n}\n";
        let tree = parse(src, "k.conf").unwrap();
        assert_eq!(tree.len(), 1);
        let inst = &tree[0];
        assert_eq!(texts(inst), ["vrrp_instance", "VI_1"]);
        assert_eq!(inst.line, 2);
        let block = inst.block.as_ref().unwrap();
        assert_eq!(texts(&block[0]), ["state", "MASTER"]);
        assert_eq!(block[0].line, 3);
        assert_eq!(block[1].keyword(), "virtual_ipaddress");
        let vips = block[1].block.as_ref().unwrap();
        assert_eq!(texts(&vips[0]), ["10.0.0.1/24", "dev", "eth0"]);
        assert_eq!(vips[0].line, 5);
    }

    #[test]
    fn brace_on_next_line_and_one_line_blocks() {
        let src = "vrrp_sync_group G\n{\n group { VI_1 VI_2 }\n}\n";
        let tree = parse(src, "k").unwrap();
        assert_eq!(tree.len(), 1);
        assert_eq!(texts(&tree[0]), ["vrrp_sync_group", "G"]);
        let group = &tree[0].block.as_ref().unwrap()[0];
        assert_eq!(group.keyword(), "group");
        assert_eq!(texts(&group.block.as_ref().unwrap()[0]), ["VI_1", "VI_2"]);
    }

    #[test]
    fn quotes_join_and_escape() {
        let tree = parse(
            "script \"/bin/check 'a b'\" user\nx ab\"c d\"e\ny \"q\\\"x\\x41\\101\"\nz 'it''s'\n",
            "k",
        )
        .unwrap();
        assert_eq!(texts(&tree[0]), ["script", "/bin/check 'a b'", "user"]);
        assert!(tree[0].words[1].quoted);
        assert!(!tree[0].words[2].quoted);
        assert_eq!(texts(&tree[1]), ["x", "abc de"]);
        assert_eq!(texts(&tree[2]), ["y", "q\"xAA"]);
        assert_eq!(texts(&tree[3]), ["z", "its"]);
    }

    #[test]
    fn substitution_braces_stay_in_the_word() {
        let tree = parse(
            "auth_hmac {\n key 1 file:${_ENV CREDENTIALS_DIRECTORY}/k1\n x ${A}b\n}\n",
            "k",
        )
        .unwrap();
        let b = tree[0].block.as_ref().unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(
            texts(&b[0]),
            ["key", "1", "file:${_ENV CREDENTIALS_DIRECTORY}/k1"]
        );
        assert!(b[0].block.is_none());
        assert_eq!(texts(&b[1]), ["x", "${A}b"]);
    }

    #[test]
    fn hash_inside_word_or_quotes_is_not_a_comment() {
        let tree = parse("auth_pass ab#cd \"#x\" # gone\n", "k").unwrap();
        assert_eq!(texts(&tree[0]), ["auth_pass", "ab#cd", "#x"]);
    }

    #[test]
    fn errors_carry_lines() {
        let e = parse("a {\n b {\n }\n", "k.conf").unwrap_err();
        assert_eq!(
            e,
            ImportError::UnclosedBlock {
                file: "k.conf".into(),
                line: 1,
                keyword: "a".into()
            }
        );
        let e = parse("a\n}\n", "k.conf").unwrap_err();
        assert_eq!(
            e,
            ImportError::UnexpectedClose {
                file: "k.conf".into(),
                line: 2
            }
        );
        let e = parse("x\nauth_pass \"abc\n", "k.conf").unwrap_err();
        assert_eq!(
            e,
            ImportError::UnterminatedQuote {
                file: "k.conf".into(),
                line: 2
            }
        );
        assert!(e.to_string().starts_with("k.conf:2: "));
        let deep = "{".repeat(100);
        assert!(matches!(
            parse(&deep, "k"),
            Err(ImportError::TooDeep { line: 1, .. })
        ));
    }
}
