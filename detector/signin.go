package detector

import "time"

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
