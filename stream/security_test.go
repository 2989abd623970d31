package stream_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ropcwatch/ropcwatch/stream"
	"github.com/ropcwatch/ropcwatch/stream/kafkatest"
)

// reachable reports whether cfg can create a topic and produce to it.
func reachable(t *testing.T, cfg stream.KafkaConfig) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	topic := "security-probe"
	if err := stream.EnsureTopics(ctx, cfg, map[string]int32{topic: 1}); err != nil {
		return err
	}
	p, err := stream.NewProducer(stream.ProducerConfig{Kafka: cfg})
	if err != nil {
		return err
	}
	defer p.Close()
	return p.ProduceSync(ctx, stream.Record{Topic: topic, Value: []byte("x")})
}

func TestSASLAgainstKfake(t *testing.T) {
	tgt := kafkatest.Fake(t,
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pw-256-"+testSecret),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pw-512-"+testSecret),
		kfake.Superuser("PLAIN", "plain", "pw-plain-"+testSecret),
	)
	tests := []struct {
		name, mechanism, user, password string
		wantOK                          bool
	}{
		{"SCRAM-SHA-256 with the right password", "SCRAM-SHA-256", "scram256", "pw-256-" + testSecret, true},
		{"SCRAM-SHA-512 with the right password", "SCRAM-SHA-512", "scram512", "pw-512-" + testSecret, true},
		{"PLAIN with the right password", "PLAIN", "plain", "pw-plain-" + testSecret, true},
		{"SCRAM-SHA-256 with a wrong password", "SCRAM-SHA-256", "scram256", "wrong-" + testSecret, false},
		{"PLAIN with a wrong password", "PLAIN", "plain", "wrong-" + testSecret, false},
		{"no SASL at all", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tgt.Config
			if tt.mechanism != "" {
				cfg.SASL = stream.SASLConfig{Mechanism: tt.mechanism, User: tt.user, Password: secret(tt.password)}
			}
			err := reachable(t, cfg)
			if tt.wantOK != (err == nil) {
				t.Fatalf("err = %v, want success %v", err, tt.wantOK)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
}

func TestRealBrokerSCRAM(t *testing.T) {
	tgt := kafkatest.SCRAMTarget(t)
	if err := reachable(t, tgt.Config); err != nil {
		t.Fatalf("SCRAM: %v", err)
	}
	wrong := tgt.Config
	wrong.SASL.Password = secret("wrong-" + testSecret)
	err := reachable(t, wrong)
	if err == nil || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("wrong password: err = %v, want an error without the password", err)
	}
}

func TestRealBrokerTLS(t *testing.T) {
	tgt := kafkatest.TLSTarget(t)
	if err := reachable(t, tgt.Config); err != nil {
		t.Fatalf("TLS: %v", err)
	}
}

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	dir                           string
	caFile                        string
	clientCertFile, clientKeyFile string
	serverTLS                     tls.Certificate
	caPool                        *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ropcwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := leaf(2, x509.ExtKeyUsageServerAuth)
	clientDER, clientKey := leaf(3, x509.ExtKeyUsageClientAuth)
	p := testPKI{dir: dir, caPool: pool,
		caFile:         writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER),
		clientCertFile: writePEM(t, dir, "client.pem", "CERTIFICATE", clientDER),
		clientKeyFile:  writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", ecKeyDER(t, clientKey)),
	}
	p.serverTLS = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKeyDER(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMutualTLSAgainstKfake(t *testing.T) {
	pki := newTestPKI(t)
	tgt := kafkatest.Fake(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{pki.serverTLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.caPool,
		MinVersion:   tls.VersionTLS12,
	}))
	tests := []struct {
		name   string
		tls    stream.TLSConfig
		wantOK bool
	}{
		{"CA file and client certificate, server name from the broker host", stream.TLSConfig{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile}, true},
		{"an explicit server name in the certificate", stream.TLSConfig{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, ServerName: "localhost"}, true},
		{"a wrong server name is refused", stream.TLSConfig{Enabled: true, CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile, ServerName: "kafka.example"}, false},
		{"no client certificate is refused by the broker", stream.TLSConfig{Enabled: true, CAFile: pki.caFile}, false},
		{"system roots do not trust the test CA", stream.TLSConfig{Enabled: true, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFile}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tgt.Config
			cfg.TLS = tt.tls
			if err := reachable(t, cfg); tt.wantOK != (err == nil) {
				t.Fatalf("err = %v, want success %v", err, tt.wantOK)
			}
		})
	}
}

func TestTLSFilesAreCheckedWhenBuildingOptions(t *testing.T) {
	pki := newTestPKI(t)
	notPEM := filepath.Join(pki.dir, "not-a-cert.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(pki.dir, "missing.pem")
	tests := []struct {
		name    string
		tls     stream.TLSConfig
		wantErr string // names the file; "" means no error
	}{
		{"CA file with a certificate", stream.TLSConfig{Enabled: true, CAFile: pki.caFile}, ""},
		{"CA file without PEM names the file", stream.TLSConfig{Enabled: true, CAFile: notPEM}, notPEM},
		{"missing CA file names the file", stream.TLSConfig{Enabled: true, CAFile: missing}, missing},
		{"key that is not a key names the files", stream.TLSConfig{Enabled: true, CertFile: pki.clientCertFile, KeyFile: notPEM}, notPEM},
		{"certificate and key that do not match", stream.TLSConfig{Enabled: true, CertFile: pki.caFile, KeyFile: pki.clientKeyFile}, pki.caFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stream.KafkaConfig{Brokers: []string{"127.0.0.1:9093"}, TLS: tt.tls}.ClientOptions()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ClientOptions: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to name %s", err, tt.wantErr)
			}
		})
	}
}
