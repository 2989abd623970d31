package detector

import (
	"fmt"
	"time"

	"github.com/tidwall/gjson"
)

// Categories and table names that the rule evaluates (SPEC section 1).
const (
	diagnosticCategory = "NonInteractiveUserSignInLogs"
	exportType         = "AADNonInteractiveUserSignInLogs"
)

// Timestamps outside [minTime, maxTime) are absurd for a sign-in and are
// rejected as bad-time rather than opening windows centuries away.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// field indexes the keys the decoder reads, top level and in properties.
type field uint8

const (
	// diagnostic-settings record, top level
	fTime field = iota
	fCategory
	fResultType
	fCallerIP
	fLocation
	fProperties
	// workspace export row
	fType
	fTimeGenerated
	fAuthProtocol
	fResultTypeX
	fAppName
	fUPN
	fIPAddress
	fLocationX
	fID
	// inside properties
	pCreated
	pAuthProtocol
	pStatus
	pAppName
	pUPN
	pIPAddress
	pLocation
	pID
	numFields
)

var fieldNames = [numFields]string{
	"time", "category", "resultType", "callerIpAddress", "location", "properties",
	"Type", "TimeGenerated", "AuthenticationProtocol", "ResultType", "AppDisplayName",
	"UserPrincipalName", "IPAddress", "Location", "Id",
	"createdDateTime", "authenticationProtocol", "status", "appDisplayName",
	"userPrincipalName", "ipAddress", "location", "id",
}

func topField(key string) (field, bool) {
	for f := fTime; f <= fID; f++ {
		if fieldNames[f] == key {
			return f, true
		}
	}
	return 0, false
}

func propField(key string) (field, bool) {
	for f := pCreated; f < numFields; f++ {
		if fieldNames[f] == key {
			return f, true
		}
	}
	return 0, false
}

// recordFields holds the raw values of the keys the decoder reads.
type recordFields [numFields]gjson.Result

// collect fills fs from the keys of obj that match, rejecting duplicates of
// a key the rule reads: which one KQL would see is undefined, so it is an
// error rather than a guess.
func (fs *recordFields) collect(obj gjson.Result, lookup func(string) (field, bool)) *Reject {
	var rej *Reject
	obj.ForEach(func(key, value gjson.Result) bool {
		f, ok := lookup(key.Str)
		if !ok {
			return true
		}
		if fs[f].Exists() {
			rej = duplicateKey(key.Str)
			return false
		}
		fs[f] = value
		return true
	})
	return rej
}

// decodeRecord reads the rule's columns from one record (a JSON object known
// to be valid). It reports the record's category (or Type) and whether the
// rule evaluates it; a record of another category is skipped, not rejected.
func decodeRecord(rec gjson.Result, s *SignIn) (category string, evaluate bool, rej *Reject) {
	if !rec.IsObject() {
		return "", false, &Reject{Reason: ReasonNotObject, Detail: "a record must be a JSON object"}
	}
	var fs recordFields
	if rej := fs.collect(rec, topField); rej != nil {
		return "", false, rej
	}
	if fs[fProperties].Exists() || fs[fCategory].Exists() {
		return decodeDiagnostic(&fs, s)
	}
	return decodeExport(&fs, s)
}

// decodeDiagnostic maps a diagnostic-settings record (SPEC section 1).
func decodeDiagnostic(fs *recordFields, s *SignIn) (string, bool, *Reject) {
	category, rej := column(fs[fCategory], "category")
	if rej != nil {
		return "", false, rej
	}
	if category != diagnosticCategory {
		return category, false, nil
	}
	props := fs[fProperties]
	switch props.Type {
	case gjson.Null:
	case gjson.JSON:
		if !props.IsObject() {
			return category, false, wrongType("properties", "array")
		}
		if rej := fs.collect(props, propField); rej != nil {
			return category, false, rej
		}
	default:
		return category, false, wrongType("properties", typeName(props))
	}
	if s.TimeGenerated, rej = eventTime(fs[fTime], fs[pCreated]); rej != nil {
		return category, false, rej
	}
	if s.AuthenticationProtocol, rej = column(fs[pAuthProtocol], "AuthenticationProtocol"); rej != nil {
		return category, false, rej
	}
	if s.ResultType, rej = resultType(fs[fResultType]); rej != nil {
		return category, false, rej
	}
	if fs[fResultType].Type == gjson.Null {
		if s.ResultType, rej = errorCode(fs[pStatus]); rej != nil {
			return category, false, rej
		}
	}
	if s.AppDisplayName, rej = column(fs[pAppName], "AppDisplayName"); rej != nil {
		return category, false, rej
	}
	if s.UserPrincipalName, rej = column(fs[pUPN], "UserPrincipalName"); rej != nil {
		return category, false, rej
	}
	if s.IPAddress, rej = firstColumn(fs[pIPAddress], fs[fCallerIP], "IPAddress"); rej != nil {
		return category, false, rej
	}
	if s.Location, rej = column(fs[fLocation], "Location"); rej != nil {
		return category, false, rej
	}
	if fs[fLocation].Type == gjson.Null {
		if s.Location, rej = countryOrRegion(fs[pLocation]); rej != nil {
			return category, false, rej
		}
	}
	if s.Id, rej = column(fs[pID], "Id"); rej != nil {
		return category, false, rej
	}
	return category, true, nil
}

// decodeExport maps a workspace data export row; a row without Type is
// accepted as the table's.
func decodeExport(fs *recordFields, s *SignIn) (string, bool, *Reject) {
	typ, rej := column(fs[fType], "Type")
	if rej != nil {
		return "", false, rej
	}
	if typ != "" && typ != exportType {
		return typ, false, nil
	}
	if typ == "" {
		typ = exportType
	}
	if s.TimeGenerated, rej = eventTime(fs[fTimeGenerated], gjson.Result{}); rej != nil {
		return typ, false, rej
	}
	if s.AuthenticationProtocol, rej = column(fs[fAuthProtocol], "AuthenticationProtocol"); rej != nil {
		return typ, false, rej
	}
	if s.ResultType, rej = resultType(fs[fResultTypeX]); rej != nil {
		return typ, false, rej
	}
	if s.AppDisplayName, rej = column(fs[fAppName], "AppDisplayName"); rej != nil {
		return typ, false, rej
	}
	if s.UserPrincipalName, rej = column(fs[fUPN], "UserPrincipalName"); rej != nil {
		return typ, false, rej
	}
	if s.IPAddress, rej = column(fs[fIPAddress], "IPAddress"); rej != nil {
		return typ, false, rej
	}
	if s.Location, rej = column(fs[fLocationX], "Location"); rej != nil {
		return typ, false, rej
	}
	if s.Id, rej = column(fs[fID], "Id"); rej != nil {
		return typ, false, rej
	}
	return typ, true, nil
}

// column reads a string column: missing or null is "", as in KQL.
func column(v gjson.Result, name string) (string, *Reject) {
	switch v.Type {
	case gjson.Null:
		return "", nil
	case gjson.String:
		return v.Str, nil
	}
	return "", wrongType(name, typeName(v))
}

// firstColumn reads primary, else fallback when primary is missing or
// null: a primary of "" is the value "" (SPEC section 1).
func firstColumn(primary, fallback gjson.Result, name string) (string, *Reject) {
	if primary.Type == gjson.Null {
		return column(fallback, name)
	}
	return column(primary, name)
}

// resultType reads ResultType: a string as is, a JSON number as its literal
// text (0 is "0"; 0.0 stays "0.0" and does not match).
func resultType(v gjson.Result) (string, *Reject) {
	if v.Type == gjson.Number {
		return v.Raw, nil
	}
	return column(v, "ResultType")
}

// errorCode reads properties.status.errorCode.
func errorCode(status gjson.Result) (string, *Reject) {
	code, rej := member(status, "status", "errorCode")
	if rej != nil {
		return "", rej
	}
	return resultType(code)
}

// countryOrRegion reads properties.location.countryOrRegion.
func countryOrRegion(location gjson.Result) (string, *Reject) {
	country, rej := member(location, "location", "countryOrRegion")
	if rej != nil {
		return "", rej
	}
	return column(country, "Location")
}

// member returns the value of key in obj, a missing or null object having
// none; a key that appears twice is rejected, as collect does.
func member(obj gjson.Result, name, key string) (gjson.Result, *Reject) {
	switch {
	case obj.Type == gjson.Null:
		return gjson.Result{}, nil
	case !obj.IsObject():
		return gjson.Result{}, &Reject{Reason: ReasonWrongType + name, Detail: fmt.Sprintf("%s is a JSON %s, want an object", name, typeName(obj))}
	}
	var v gjson.Result
	var rej *Reject
	obj.ForEach(func(k, value gjson.Result) bool {
		if k.Str != key {
			return true
		}
		if v.Exists() {
			rej = duplicateKey(key)
			return false
		}
		v = value
		return true
	})
	return v, rej
}

// eventTime parses TimeGenerated from primary, else fallback.
func eventTime(primary, fallback gjson.Result) (time.Time, *Reject) {
	if primary.Type == gjson.Null && fallback.Type == gjson.Null {
		return time.Time{}, &Reject{Reason: ReasonMissingField + "TimeGenerated", Detail: "no time or createdDateTime"}
	}
	s, rej := firstColumn(primary, fallback, "TimeGenerated")
	if rej != nil {
		return time.Time{}, rej
	}
	t, ok := parseTime(s)
	if !ok {
		return time.Time{}, &Reject{Reason: ReasonBadTime, Detail: fmt.Sprintf("TimeGenerated %.40q is not RFC 3339", s)}
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, &Reject{Reason: ReasonBadTime, Detail: fmt.Sprintf("TimeGenerated %s is outside [%d, %d)", s, minTime.Year(), maxTime.Year())}
	}
	return t, nil
}

func typeName(v gjson.Result) string {
	switch v.Type {
	case gjson.False, gjson.True:
		return "boolean"
	case gjson.Number:
		return "number"
	case gjson.String:
		return "string"
	case gjson.JSON:
		if v.IsArray() {
			return "array"
		}
		return "object"
	}
	return "null"
}
