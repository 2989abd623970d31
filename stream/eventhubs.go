package stream

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// EventHubsKafkaPort is the port of the Event Hubs Kafka endpoint.
const EventHubsKafkaPort = "9093"

// EventHubsNamespace is what ropcwatch needs from an Event Hubs connection
// string: the namespace host and, for an entity-level (per event hub)
// connection string, the event hub name.
type EventHubsNamespace struct {
	Host       string // e.g. "contoso.servicebus.windows.net"
	EntityPath string // the event hub (topic), empty for a namespace-level string
}

// Broker returns the Kafka bootstrap address, Host:9093.
func (n EventHubsNamespace) Broker() string { return net.JoinHostPort(n.Host, EventHubsKafkaPort) }

// ParseEventHubsConnectionString parses
// "Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=...]".
// Keys are case-insensitive, spaces around parts are ignored, and the
// credential (SharedAccessKey or SharedAccessSignature) must be present.
// Errors never quote the input: it holds the key.
func ParseEventHubsConnectionString(s string) (EventHubsNamespace, error) {
	const what = "event hubs connection string"
	if strings.TrimSpace(s) == "" {
		return EventHubsNamespace{}, fmt.Errorf("%s: empty", what)
	}
	var endpoint, keyName, key, sas, entity string
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=") // keys are base64: split at the first '=' only
		if !ok {
			return EventHubsNamespace{}, fmt.Errorf("%s: a part has no '=' (want Key=Value pairs separated by ';')", what)
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "endpoint":
			endpoint = v
		case "sharedaccesskeyname":
			keyName = v
		case "sharedaccesskey":
			key = v
		case "sharedaccesssignature":
			sas = v
		case "entitypath":
			entity = v
		}
	}
	if endpoint == "" {
		return EventHubsNamespace{}, fmt.Errorf("%s: missing Endpoint", what)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// url errors quote the input; the endpoint is not secret but keep
		// the message free of the string anyway.
		return EventHubsNamespace{}, fmt.Errorf("%s: Endpoint is not a URL", what)
	}
	if u.Scheme != "sb" {
		return EventHubsNamespace{}, fmt.Errorf("%s: Endpoint scheme is %q, want sb://", what, u.Scheme)
	}
	if u.Hostname() == "" {
		return EventHubsNamespace{}, fmt.Errorf("%s: Endpoint has no host", what)
	}
	if sas == "" && (keyName == "" || key == "") {
		return EventHubsNamespace{}, errors.New(what + ": missing SharedAccessKeyName and SharedAccessKey (or SharedAccessSignature)")
	}
	return EventHubsNamespace{Host: u.Hostname(), EntityPath: entity}, nil
}

// isEventHubsHost reports whether host (with or without port) is an Event
// Hubs namespace in any Azure cloud.
func isEventHubsHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, suffix := range []string{
		".servicebus.windows.net", ".servicebus.chinacloudapi.cn",
		".servicebus.usgovcloudapi.net", ".servicebus.cloudapi.de",
	} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}
