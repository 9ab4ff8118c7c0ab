package options

import "strings"

// Locating an option in the source. The name to look for can be the script's own choice (an
// unknown option), as long as the script: a search whose cost grows with the product of the
// name's and the source's length ran 75 s for a 250 KB script. So the search is linear in the
// source and the name (Knuth–Morris–Pratt), runs outside the time limit safely, and names longer
// than maxLocateName are not searched at all (no option is that long). See docs/option-script.md.

// maxLocateName is the longest name locateOption searches for.
const maxLocateName = 128

// locateOption is the position of the first occurrence of the option's name as a key in the
// source: the name, not preceded by an identifier character, optionally quoted, followed by
// optional blanks and ":", "=" or "(". An approximation: the script may compute the value
// elsewhere.
func locateOption(src string, fe *fieldErr) (line, col int) {
	key := fe.path
	key = strings.TrimPrefix(key, "resolve().")
	key = strings.TrimPrefix(key, "mapUserToCard().")
	if i := strings.IndexAny(key, ".["); i >= 0 {
		key = key[:i]
	}
	if fe.name != "" {
		key = fe.name
	}
	if key == "" || key == "mapUserToCard()" || len(key) > maxLocateName {
		return 0, 0
	}
	if off := findKey(src, key); off >= 0 {
		return position(src, off)
	}
	return 0, 0
}

// findKey returns the byte offset of the first occurrence of key in src that looks like a
// property key (see locateOption), or -1. It takes O(len(src) + len(key)) time.
func findKey(src, key string) int {
	// next[i] is the index of the first byte at or after i that is not a blank.
	next := make([]int32, len(src)+1)
	next[len(src)] = int32(len(src))
	for i := len(src) - 1; i >= 0; i-- {
		if c := src[i]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			next[i] = next[i+1]
		} else {
			next[i] = int32(i)
		}
	}
	looksLikeKey := func(start int) bool {
		if start > 0 {
			p := src[start-1]
			if p == '"' || p == '\'' {
				if start > 1 && isWordByte(src[start-2]) {
					return false
				}
			} else if isWordByte(p) {
				return false
			}
		}
		j := start + len(key)
		if j < len(src) && (src[j] == '"' || src[j] == '\'') {
			j++
		}
		j = int(next[j])
		return j < len(src) && (src[j] == ':' || src[j] == '=' || src[j] == '(')
	}
	// Knuth–Morris–Pratt: every occurrence, overlapping ones included, in linear time.
	fail := make([]int, len(key))
	for i, k := 1, 0; i < len(key); i++ {
		for k > 0 && key[i] != key[k] {
			k = fail[k-1]
		}
		if key[i] == key[k] {
			k++
		}
		fail[i] = k
	}
	for i, k := 0, 0; i < len(src); i++ {
		for k > 0 && src[i] != key[k] {
			k = fail[k-1]
		}
		if src[i] == key[k] {
			k++
		}
		if k == len(key) {
			if start := i - len(key) + 1; looksLikeKey(start) {
				return start
			}
			k = fail[k-1]
		}
	}
	return -1
}

// isWordByte reports whether c can be part of an identifier (\w or $, and any non-ASCII byte).
func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
