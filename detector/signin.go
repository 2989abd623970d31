package detector

import (
	"strings"
	"time"
)

// SignIn holds the KQL columns of one AADNonInteractiveUserSignInLogs row that
// the rule reads. Missing or null JSON fields are the empty string, as KQL
// strings are never null.
type SignIn struct {
	TimeGenerated          time.Time
	AuthenticationProtocol string
	ResultType             string
	AppDisplayName         string
	UserPrincipalName      string
	IPAddress              string
	Location               string
	Id                     string
}

// clone returns s with its strings copied into one allocation, so that s no
// longer keeps the message it was decoded from alive.
func (s SignIn) clone() SignIn {
	var b strings.Builder
	b.Grow(len(s.AuthenticationProtocol) + len(s.ResultType) + len(s.AppDisplayName) +
		len(s.UserPrincipalName) + len(s.IPAddress) + len(s.Location) + len(s.Id))
	field := func(v string) string {
		start := b.Len()
		b.WriteString(v)
		return b.String()[start:]
	}
	s.AuthenticationProtocol = field(s.AuthenticationProtocol)
	s.ResultType = field(s.ResultType)
	s.AppDisplayName = field(s.AppDisplayName)
	s.UserPrincipalName = field(s.UserPrincipalName)
	s.IPAddress = field(s.IPAddress)
	s.Location = field(s.Location)
	s.Id = field(s.Id)
	return s
}
