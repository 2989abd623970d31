package stream_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/ropcwatch/ropcwatch/stream"
)

func TestParseEventHubsConnectionString(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ==" // base64 with '=' padding, like a real key
	tests := []struct {
		name    string
		in      string
		want    stream.EventHubsNamespace
		wantErr string
	}{
		{"namespace-level string", "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + key,
			stream.EventHubsNamespace{Host: "contoso.servicebus.windows.net"}, ""},
		{"entity path names the event hub", "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=" + key + ";EntityPath=insights-logs-noninteractiveusersigninlogs",
			stream.EventHubsNamespace{Host: "contoso.servicebus.windows.net", EntityPath: "insights-logs-noninteractiveusersigninlogs"}, ""},
		{"spaces and a trailing semicolon are ignored", "  Endpoint = sb://contoso.servicebus.windows.net/ ; SharedAccessKeyName = listen ; SharedAccessKey = " + key + " ; ",
			stream.EventHubsNamespace{Host: "contoso.servicebus.windows.net"}, ""},
		{"keys are case-insensitive", "endpoint=sb://contoso.servicebus.chinacloudapi.cn/;sharedaccesskeyname=l;sharedaccesskey=" + key,
			stream.EventHubsNamespace{Host: "contoso.servicebus.chinacloudapi.cn"}, ""},
		{"a shared access signature is a credential too", "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=x&sig=" + key,
			stream.EventHubsNamespace{Host: "contoso.servicebus.windows.net"}, ""},
		{"missing Endpoint", "SharedAccessKeyName=l;SharedAccessKey=" + key, stream.EventHubsNamespace{}, "missing Endpoint"},
		{"wrong scheme", "Endpoint=https://contoso.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=" + key, stream.EventHubsNamespace{}, `scheme is "https"`},
		{"no host", "Endpoint=sb:///;SharedAccessKeyName=l;SharedAccessKey=" + key, stream.EventHubsNamespace{}, "no host"},
		{"missing key", "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=l", stream.EventHubsNamespace{}, "missing SharedAccessKeyName and SharedAccessKey"},
		{"not key=value", "Endpoint=sb://contoso.servicebus.windows.net/;" + key[:10], stream.EventHubsNamespace{}, "has no '='"},
		{"empty", " ", stream.EventHubsNamespace{}, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stream.ParseEventHubsConnectionString(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), key[:10]) {
					t.Errorf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEventHubsConnectionStringConfiguresTheKafkaEndpoint(t *testing.T) {
	conn := "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=" + testSecret
	opts, err := stream.KafkaConfig{EventHubsConnectionString: secret(conn)}.ClientOptions()
	if err != nil {
		t.Fatalf("ClientOptions: %v", err)
	}
	cl, err := kgo.NewClient(opts...) // does not dial until used
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	if got := cl.OptValue(kgo.SeedBrokers).([]string); len(got) != 1 || got[0] != "contoso.servicebus.windows.net:9093" {
		t.Errorf("seed brokers %v, want [contoso.servicebus.windows.net:9093]", got)
	}
	if tc, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config); tc == nil || tc.MinVersion != tls.VersionTLS12 || tc.RootCAs != nil {
		t.Errorf("TLS config %+v, want TLS 1.2+ with system roots", tc)
	}
	ms, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	if len(ms) != 1 || ms[0].Name() != "PLAIN" {
		t.Fatalf("SASL mechanisms %v, want PLAIN", ms)
	}
	_, msg, err := ms[0].Authenticate(t.Context(), "contoso.servicebus.windows.net:9093")
	if err != nil {
		t.Fatal(err)
	}
	// PLAIN's message is authzid NUL user NUL password.
	if want := "\x00$ConnectionString\x00" + conn; string(msg) != want {
		t.Errorf("PLAIN message does not carry user $ConnectionString and the connection string as password")
	}
}
