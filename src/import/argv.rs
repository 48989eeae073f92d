//! Splitting a keepalived command string (`notify_master "/bin/x 'a b' c"`,
//! `script "..."`) into an argv, the way keepalived does before it calls
//! `execve`: unquoted spaces separate arguments, `'...'` and `"..."` group,
//! a backslash outside single quotes escapes the next character. No shell is
//! involved; a command that needs one is refused with the reason.

/// Why a command string could not become an argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ArgvError {
    /// Nothing but spaces.
    Empty,
    /// A quote is not closed.
    UnterminatedQuote,
    /// Shell syntax (pipe, `;`, redirection, `$`, backquote...) outside quotes.
    NeedsShell(char),
}

impl std::fmt::Display for ArgvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgvError::Empty => write!(f, "the command is empty"),
            ArgvError::UnterminatedQuote => write!(f, "a quote in the command is not closed"),
            ArgvError::NeedsShell(c) => write!(
                f,
                "the command needs a shell ('{c}' outside quotes); vrrpd runs programs without a shell: put the command in a script and give its path"
            ),
        }
    }
}

/// Characters that only mean something to a shell.
const SHELL_CHARS: &[char] = &['|', '&', ';', '<', '>', '`', '$', '(', ')', '*', '?', '~'];

/// Split a command string into arguments.
pub(super) fn split(command: &str) -> Result<Vec<String>, ArgvError> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if started {
                    args.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => cur.push(q),
                        None => return Err(ArgvError::UnterminatedQuote),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err(ArgvError::UnterminatedQuote),
                        },
                        Some(q) => cur.push(q),
                        None => return Err(ArgvError::UnterminatedQuote),
                    }
                }
            }
            '\\' => {
                started = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if SHELL_CHARS.contains(&c) => return Err(ArgvError::NeedsShell(c)),
            c => {
                started = true;
                cur.push(c);
            }
        }
    }
    if started {
        args.push(cur);
    }
    if args.is_empty() {
        return Err(ArgvError::Empty);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_keepalived() {
        assert_eq!(
            split("/usr/local/bin/notify master VI_1").unwrap(),
            ["/usr/local/bin/notify", "master", "VI_1"]
        );
        assert_eq!(
            split("  /bin/x 'a b'  \"c \\\" d\" e\\ f ''").unwrap(),
            ["/bin/x", "a b", "c \" d", "e f", ""]
        );
    }

    #[test]
    fn refuses_shell_syntax_and_bad_quotes() {
        assert_eq!(
            split("/bin/check | grep ok"),
            Err(ArgvError::NeedsShell('|'))
        );
        assert_eq!(split("/bin/a; /bin/b"), Err(ArgvError::NeedsShell(';')));
        assert_eq!(
            split("</dev/tcp/127.0.0.1/80"),
            Err(ArgvError::NeedsShell('<'))
        );
        assert_eq!(split("/bin/a > /tmp/x"), Err(ArgvError::NeedsShell('>')));
        assert_eq!(split("/bin/echo $HOME"), Err(ArgvError::NeedsShell('$')));
        // Quoted, the same characters are plain arguments.
        assert_eq!(split("/bin/echo '|;$'").unwrap(), ["/bin/echo", "|;$"]);
        assert_eq!(split("/bin/x 'open"), Err(ArgvError::UnterminatedQuote));
        assert_eq!(split("   "), Err(ArgvError::Empty));
    }
}
