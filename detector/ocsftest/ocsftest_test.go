package ocsftest

import (
	"strings"
	"testing"
)

// finding is the smallest valid Detection Finding with the given activity,
// type_uid, metadata profiles and further attributes (each a JSON member).
func finding(activity, typeUID, profiles string, more ...string) string {
	members := append([]string{
		`"activity_id":` + activity, `"category_uid":2`, `"class_uid":2004`, `"type_uid":` + typeUID,
		`"severity_id":4`, `"time":1777629600000`, `"finding_info":{"uid":"a1"}`,
		`"metadata":{"version":"1.8.0","product":{"name":"ropcwatch"}` + profiles + `}`,
	}, more...)
	return "{" + strings.Join(members, ",") + "}"
}

const (
	host        = `,"profiles":["host"]`
	actor       = `"actor":{"user":{"name":"alice@contoso.com"}}`
	evidence    = `"evidences":[{"src_endpoint":{"ip":"203.0.113.10"}},{"src_endpoint":{"ip":"198.51.100.7"}}]`
	actorObs    = `"observables":[{"name":"actor.user.name","type_id":4,"value":"alice@contoso.com"}]`
	evidenceObs = `"observables":[{"name":"evidences.src_endpoint.ip","type_id":2,"value":"198.51.100.7"}]`
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  string // in the error; "" means valid
	}{
		{"the smallest finding is valid", finding("1", "200401", ""), ""},
		{"actor with the host profile is valid", finding("2", "200402", host, actor, actorObs), ""},
		{"an observable may point into an array", finding("1", "200401", "", evidence, evidenceObs), ""},
		{"actor needs the host profile", finding("1", "200401", "", actor), `/actor is added by the "host" profile`},
		{"type_uid must follow activity_id", finding("3", "200401", ""), "/type_uid"},
		{"an unknown attribute is refused", finding("1", "200401", "", `"revision":2`), "revision"},
		{"a src_endpoint.ip must be an address", finding("1", "200401", "", `"evidences":[{"src_endpoint":{"ip":"not-an-ip"}}]`), "/evidences/0/src_endpoint/ip"},
		{"an observable must name where its value is", finding("1", "200401", host, actorObs), `"actor.user.name" holds no value`},
		{"an observable's value must be there", finding("1", "200401", "", evidence, strings.Replace(evidenceObs, "198.51.100.7", "192.0.2.1", 1)), `holds no value "192.0.2.1"`},
		{"an event is one JSON object", finding("1", "200401", "") + "{}", "decode event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.event))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate = nil, want an error naming %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate: %v\nwant an error naming %q", err, tt.want)
			}
		})
	}
}
