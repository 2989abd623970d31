package detector

import "fmt"

// Reject says why a message or record could not be evaluated. Reason is a
// short stable code (SPEC section 7: the dlq-reason header); Detail is for a
// human and never holds a record's payload.
type Reject struct {
	Reason string
	Detail string
}

func (r *Reject) Error() string { return r.Reason + ": " + r.Detail }

// Reject reasons. Wrong types and missing fields carry the KQL column name
// after the colon, e.g. "wrong-type:ResultType".
const (
	ReasonInvalidJSON  = "invalid-json"
	ReasonInvalidUTF8  = "invalid-utf8"
	ReasonNotObject    = "not-an-object"
	ReasonTooLarge     = "too-large"
	ReasonWrongType    = "wrong-type:"
	ReasonMissingField = "missing-field:"
	ReasonDuplicateKey = "duplicate-key:"
	ReasonTooDeep      = "too-deep"
	ReasonBadTime      = "bad-time"
	ReasonTooLate      = "too-late"
)

func wrongType(column, got string) *Reject {
	return &Reject{Reason: ReasonWrongType + column, Detail: fmt.Sprintf("%s is a JSON %s, want a string", column, got)}
}

// duplicateKey rejects a key that appears twice in one object: which value
// KQL would see is undefined, so it is an error rather than a guess.
func duplicateKey(key string) *Reject {
	return &Reject{Reason: ReasonDuplicateKey + key, Detail: fmt.Sprintf("key %q appears twice in one object", key)}
}
