package httpapi

// MaxIDLength bounds a user or card id in a path, query or body.
const MaxIDLength = 128

// validID reports whether s is a plausible id: 1..MaxIDLength characters among letters, digits
// and - _ . ~ : @ + (enough for UUIDs, ULIDs, directory ids and email-like user ids).
func validID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == '~', c == ':', c == '@', c == '+':
		default:
			return false
		}
	}
	return true
}

func checkID(name, s string) error {
	if s == "" {
		return errorf(CodeBadRequest, "%s is required", name)
	}
	if !validID(s) {
		return errorf(CodeBadRequest, "%s must be 1 to %d letters, digits or - _ . ~ : @ +", name, MaxIDLength)
	}
	return nil
}
