package detector

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// kqlTokenKind says what a kqlToken is.
type kqlTokenKind uint8

const (
	kqlWord   kqlTokenKind = iota + 1 // identifier, keyword or number, e.g. where, 1h
	kqlString                         // string literal; text is its decoded value
	kqlPunct                          // any other single character, e.g. | ( ~
)

// kqlToken is one token of KQL text. Whitespace and // comments are not
// tokens, so two queries that differ only in layout have equal tokens.
type kqlToken struct {
	kind kqlTokenKind
	text string
	line int // 1-based line in the text
}

// String renders t for error messages and comparisons: strings quoted, so that
// "ropc", 'ropc' and @"ropc" render alike.
func (t kqlToken) String() string {
	if t.kind == kqlString {
		return fmt.Sprintf("%q", t.text)
	}
	return t.text
}

// lexKQL splits KQL text into tokens, decoding string literals: "..." and
// '...' with backslash escapes (\\ \" \' \t \n \r), verbatim @"..." and @'...'
// (a doubled quote stands for one), each optionally prefixed by h or H
// (obfuscated literals), and ```...``` multi-line literals. Only multi-line
// literals may span lines.
func lexKQL(src string) ([]kqlToken, error) {
	var toks []kqlToken
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case isStringStart(src[i:]):
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			toks = append(toks, kqlToken{kind: kqlString, text: s, line: line})
			line += strings.Count(src[i:i+n], "\n")
			i += n
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			toks = append(toks, kqlToken{kind: kqlWord, text: src[i:j], line: line})
			i = j
		default:
			_, n := utf8.DecodeRuneInString(src[i:])
			toks = append(toks, kqlToken{kind: kqlPunct, text: src[i : i+n], line: line})
			i += n
		}
	}
	return toks, nil
}

// isWordByte reports whether c may appear in a KQL identifier or number
// (the dot keeps timespans such as 1.5h whole).
func isWordByte(c byte) bool {
	return c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isStringStart reports whether s begins with a string literal.
func isStringStart(s string) bool {
	if strings.HasPrefix(s, "```") {
		return true
	}
	if len(s) > 0 && (s[0] == 'h' || s[0] == 'H') {
		s = s[1:]
	}
	if len(s) > 0 && s[0] == '@' {
		s = s[1:]
	}
	return len(s) > 0 && (s[0] == '"' || s[0] == '\'')
}

// lexString decodes the string literal at the start of s and returns its value
// and its length in s.
func lexString(s string) (string, int, error) {
	if strings.HasPrefix(s, "```") {
		end := strings.Index(s[3:], "```")
		if end < 0 {
			return "", 0, errors.New("unterminated ``` string literal")
		}
		return s[3 : 3+end], 3 + end + 3, nil
	}
	i := 0
	if s[i] == 'h' || s[i] == 'H' {
		i++
	}
	verbatim := s[i] == '@'
	if verbatim {
		i++
	}
	quote := s[i]
	i++
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			return "", 0, errors.New("newline in string literal (use \\n, or a ``` literal)")
		case c == quote && verbatim && i+1 < len(s) && s[i+1] == quote:
			b.WriteByte(quote)
			i += 2
		case c == quote:
			return b.String(), i + 1, nil
		case c == '\\' && !verbatim:
			if i+1 >= len(s) {
				return "", 0, errors.New("unterminated string literal")
			}
			e, ok := kqlEscape(s[i+1])
			if !ok {
				return "", 0, fmt.Errorf("unknown escape \\%c in string literal", s[i+1])
			}
			b.WriteByte(e)
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, errors.New("unterminated string literal")
}

// kqlEscape returns the byte that the escape sequence \c stands for.
func kqlEscape(c byte) (byte, bool) {
	switch c {
	case '\\', '"', '\'':
		return c, true
	case 't':
		return '\t', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	}
	return 0, false
}

// parseKQLStringList parses a KQL list of string literals such as
// ["a", 'b', @"c\d"]: brackets, literals separated by commas, no trailing
// comma, whitespace and // comments anywhere.
func parseKQLStringList(src string) ([]string, error) {
	toks, err := lexKQL(src)
	if err != nil {
		return nil, err
	}
	list, rest, err := parseStringListTokens(toks)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("line %d: unexpected %s after the list", rest[0].line, rest[0])
	}
	return list, nil
}

// parseStringListTokens parses a bracketed list of string literals at the
// start of toks and returns the strings and the tokens after the list.
func parseStringListTokens(toks []kqlToken) ([]string, []kqlToken, error) {
	if len(toks) == 0 || !toks[0].is(kqlPunct, "[") {
		return nil, nil, unexpected(toks, "[")
	}
	toks = toks[1:]
	list := []string{}
	if len(toks) > 0 && toks[0].is(kqlPunct, "]") {
		return list, toks[1:], nil
	}
	for {
		if len(toks) == 0 || toks[0].kind != kqlString {
			if len(toks) > 0 && toks[0].is(kqlPunct, "]") && len(list) > 0 {
				return nil, nil, fmt.Errorf("line %d: trailing comma before ] (KQL does not allow one)", toks[0].line)
			}
			return nil, nil, unexpected(toks, "a string literal")
		}
		list = append(list, toks[0].text)
		toks = toks[1:]
		switch {
		case len(toks) > 0 && toks[0].is(kqlPunct, ","):
			toks = toks[1:]
		case len(toks) > 0 && toks[0].is(kqlPunct, "]"):
			return list, toks[1:], nil
		default:
			return nil, nil, unexpected(toks, ", or ]")
		}
	}
}

// is reports whether t is of kind k with text s.
func (t kqlToken) is(k kqlTokenKind, s string) bool { return t.kind == k && t.text == s }

// unexpected describes the first of toks, or the end of the text, where want
// was expected.
func unexpected(toks []kqlToken, want string) error {
	if len(toks) == 0 {
		return fmt.Errorf("unexpected end of query, want %s", want)
	}
	return fmt.Errorf("line %d: unexpected %s, want %s", toks[0].line, toks[0], want)
}

// kqlLet is one leading `let Name = dynamic([...]);` statement of a query.
type kqlLet struct {
	name   string
	values []string
	line   int
}

// parseLetLists parses the let statements that open a query, each of which
// must bind a dynamic list of string literals, and returns them in order with
// the tokens of the query expression that follows them.
func parseLetLists(query string) ([]kqlLet, []kqlToken, error) {
	toks, err := lexKQL(query)
	if err != nil {
		return nil, nil, err
	}
	var lets []kqlLet
	for len(toks) > 0 && toks[0].is(kqlWord, "let") {
		line := toks[0].line
		if len(toks) < 2 || toks[1].kind != kqlWord {
			return nil, nil, unexpected(toks[1:], "a name after let")
		}
		name := toks[1].text
		toks = toks[2:]
		for _, want := range []string{"=", "dynamic", "("} {
			if len(toks) == 0 || toks[0].text != want || toks[0].kind == kqlString {
				return nil, nil, fmt.Errorf("let %s: %w", name, unexpected(toks, want+" (only let NAME = dynamic([...]); is understood)"))
			}
			toks = toks[1:]
		}
		values, rest, err := parseStringListTokens(toks)
		if err != nil {
			return nil, nil, fmt.Errorf("let %s: %w", name, err)
		}
		toks = rest
		for _, want := range []string{")", ";"} {
			if len(toks) == 0 || !toks[0].is(kqlPunct, want) {
				return nil, nil, fmt.Errorf("let %s: %w", name, unexpected(toks, want))
			}
			toks = toks[1:]
		}
		lets = append(lets, kqlLet{name: name, values: values, line: line})
	}
	return lets, toks, nil
}
