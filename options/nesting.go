package options

import (
	"fmt"
	"strings"
)

// Nesting. goja's parser and compiler recurse once per level of nesting, on the Go stack, and a
// Go stack overflow kills the process (it is not a panic that can be recovered): a script of
// 500,000 "[" took the process down at load. So before parsing, Load bounds how deeply a script
// can nest, in two independent ways:
//
//   - checkNesting lexes the source (strings, template text and comments skipped) and refuses
//     brackets ( [ { and template ${ nested deeper than maxNesting, and runs of more than
//     maxNesting prefix operators (! ~ + - new typeof void delete await yield ...), naming the
//     line. This is exact for every valid script.
//   - Because goja's parser keeps going after a syntax error (and may then read a template, a
//     regular expression or a division differently from any lexer), checkNesting also counts,
//     on the raw bytes and whatever they mean, every character and word that can start a level
//     of recursion in the parser or the compiler. That count bounds the depth of any parse,
//     valid or not: at most maxNestingUnits (measured: 8,192 nested brackets use about 64 MiB
//     of stack and 0.1 s; 16,384 chained "+" compile in 1.3 s). Colons are counted apart: goja
//     reports each duplicate label against every enclosing one, so n nested labels make n²/2
//     error values (16,384 "a:" used more than 1.5 GiB).

const (
	maxNesting      = 256
	maxNestingUnits = 8192
	maxColons       = 1024
)

// nestingWords are the words that nest without any punctuation (a new new new x, a in a in a).
var nestingWords = map[string]bool{"new": true, "typeof": true, "void": true, "delete": true,
	"await": true, "yield": true, "in": true, "instanceof": true}

// prefixWords may precede an operand as prefix operators (a run of them recurses).
var prefixWords = map[string]bool{"new": true, "typeof": true, "void": true, "delete": true, "await": true, "yield": true}

// regexWords are the keywords after which a "/" starts a regular expression, not a division.
var regexWords = map[string]bool{"return": true, "typeof": true, "instanceof": true, "in": true, "of": true,
	"new": true, "delete": true, "void": true, "throw": true, "case": true, "do": true, "else": true,
	"yield": true, "await": true}

func nestingErr(src string, off int, msg string) *ScriptError {
	line, col := position(src, off)
	return &ScriptError{Kind: ErrInvalidScript, Line: line, Column: col, Message: msg}
}

// checkNesting refuses a source that could make goja's parser or compiler recurse too deeply.
func checkNesting(src string) *ScriptError {
	// 1. The lexed depth (the precise message for a valid script).
	if se := lexNesting(src); se != nil {
		return se
	}
	// 2. The raw count, independent of any reading of the source.
	units, colons := 0, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '(', '[', '{', '!', '~', '+', '-', '*', '/', '%', '&', '|', '^', '<', '>', '=', '?', '.', '`':
			units++
		case ':':
			colons++
			if colons > maxColons {
				return nestingErr(src, i, fmt.Sprintf("script has more than %d colons", maxColons))
			}
		default:
			if isIdentByte(c) && (i == 0 || !isIdentByte(src[i-1])) {
				j := i
				for j < len(src) && isIdentByte(src[j]) {
					j++
				}
				if nestingWords[src[i:j]] {
					units++
				}
				i = j - 1
			}
		}
		if units > maxNestingUnits {
			return nestingErr(src, i, fmt.Sprintf("script has more than %d operators and brackets", maxNestingUnits))
		}
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c == '\\' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lexNesting follows brackets and template substitutions; see checkNesting.
func lexNesting(src string) *ScriptError {
	const (
		prevNone  = iota // start, operator, opening bracket: a "/" here starts a regular expression
		prevValue        // identifier, number, string, closing bracket: a "/" here divides
	)
	var stack []byte // '(' '[' '{' or '$' (template substitution)
	prev := prevNone
	prefixRun := 0
	tooDeep := func(i int) *ScriptError {
		return nestingErr(src, i, fmt.Sprintf("nested more than %d levels deep", maxNesting))
	}
	i := 0
	// template scans template text from i (after a backtick or a closing "}" of ${...}) to the
	// closing backtick or the next "${"; it reports whether it stopped at "${".
	template := func() bool {
		for i < len(src) {
			switch src[i] {
			case '\\':
				i += 2
				continue
			case '`':
				i++
				return false
			case '$':
				if i+1 < len(src) && src[i+1] == '{' {
					i += 2
					return true
				}
			}
			i++
		}
		return false
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '\v' || c == '\f':
			i++
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil // unterminated: a syntax error, and nothing after it to nest
			}
			i += 2 + end + 2
			continue
		case c == '/' && prev == prevNone:
			// A regular-expression literal (refused after parsing): skip it.
			i++
			inClass := false
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				ch := src[i]
				i++
				if ch == '\\' {
					i++
				} else if ch == '[' {
					inClass = true
				} else if ch == ']' {
					inClass = false
				} else if ch == '/' && !inClass {
					break
				}
			}
			prev, prefixRun = prevValue, 0
			continue
		case c == '\'' || c == '"':
			i++
			for i < len(src) && src[i] != c && src[i] != '\n' && src[i] != '\r' {
				if src[i] == '\\' {
					i++
				}
				i++
			}
			i++
			prev, prefixRun = prevValue, 0
			continue
		case c == '`':
			i++
			if template() {
				stack = append(stack, '$')
				if len(stack) > maxNesting {
					return tooDeep(i)
				}
				prev, prefixRun = prevNone, 0
			} else {
				prev, prefixRun = prevValue, 0
			}
			continue
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
			if len(stack) > maxNesting {
				return tooDeep(i)
			}
			prev, prefixRun = prevNone, 0
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 {
				return nil // unbalanced: a syntax error; the raw count bounds the rest
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top == '$' {
				i++
				if template() {
					stack = append(stack, '$')
					prev = prevNone
				} else {
					prev = prevValue
				}
				prefixRun = 0
				continue
			}
			prev, prefixRun = prevValue, 0
			if c == '}' {
				prev = prevNone // most often the end of a block: a statement may follow
			}
		case c == '!' || c == '~' || c == '+' || c == '-' || c == '.':
			// Prefix operators (and spread); a binary + or - after a value ends no run.
			if prev == prevNone || c == '!' || c == '~' {
				prefixRun++
				if prefixRun > maxNesting {
					return nestingErr(src, i, fmt.Sprintf("more than %d prefix operators in a row", maxNesting))
				}
			} else {
				prefixRun = 1
			}
			if c == '.' && prev == prevValue && i+1 < len(src) && src[i+1] != '.' {
				prefixRun = 0 // member access
			} else {
				prev = prevNone
			}
		case isIdentByte(c) || c == '#':
			j := i
			for j < len(src) && (isIdentByte(src[j]) || src[j] == '#') {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j > len(src) {
				j = len(src)
			}
			word := src[i:j]
			i = j
			if c >= '0' && c <= '9' {
				prev, prefixRun = prevValue, 0 // a number (its "." and exponent are consumed as operators: harmless)
				continue
			}
			if prefixWords[word] {
				prefixRun++
				if prefixRun > maxNesting {
					return nestingErr(src, i, fmt.Sprintf("more than %d prefix operators in a row", maxNesting))
				}
			} else {
				prefixRun = 0
			}
			if regexWords[word] {
				prev = prevNone
			} else {
				prev = prevValue
			}
			// Non-ASCII whitespace reads as part of a word here; that only matters for the
			// regular-expression guess, and the raw count bounds any misreading.
			continue
		default:
			prev, prefixRun = prevNone, 0
		}
		i++
	}
	return nil
}
