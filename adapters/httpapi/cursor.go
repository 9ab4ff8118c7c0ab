package httpapi

import (
	"encoding/base64"
	"encoding/binary"
)

// EncodeCursor encodes a store cursor as the listing's opaque, URL-safe nextCursor.
func EncodeCursor(after int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(after))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DecodeCursor decodes a cursor made by [EncodeCursor]; ok is false for anything else.
func DecodeCursor(s string) (after int64, ok bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(8) {
		return 0, false
	}
	var b [8]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(s))
	if err != nil || n != 8 {
		return 0, false
	}
	v := int64(binary.BigEndian.Uint64(b[:]))
	return v, v > 0
}
