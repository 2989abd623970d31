package detector

// maxDepth is the deepest nesting of objects and arrays a message may have;
// deeper ones are rejected as too-deep. Entra records nest about six deep
// (envelope, record, properties, policies, controls); SPEC asks for at
// least 64.
const maxDepth = 64

// tooDeep reports whether msg nests objects and arrays deeper than
// maxDepth. It counts brackets outside strings in one pass, without
// recursion or allocation, so a nesting bomb costs what its length costs.
// On invalid JSON it may answer either way; the validator that runs after it
// rejects that, and never recurses deeper than this count.
func tooDeep(msg []byte) bool {
	depth := 0
	inString := false
	for i := 0; i < len(msg); i++ {
		switch b := msg[i]; {
		case inString:
			switch b {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > maxDepth {
				return true
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return false
}
