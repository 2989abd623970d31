package detector

import "time"

// Row is one result row of the rule's summarize: exactly the KQL columns
// UserPrincipalName, Count, IPs, Countries, Apps, FirstSeen, LastSeen and
// IPAddress, in that order when marshalled.
type Row struct {
	UserPrincipalName string    `json:"UserPrincipalName"`
	Count             int       `json:"Count"`
	IPs               []string  `json:"IPs"`
	Countries         []string  `json:"Countries"`
	Apps              []string  `json:"Apps"`
	FirstSeen         time.Time `json:"FirstSeen"`
	LastSeen          time.Time `json:"LastSeen"`
	IPAddress         string    `json:"IPAddress"`
}
