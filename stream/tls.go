package stream

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSConfig configures TLS to the brokers. With only Enabled set, the system
// roots verify the broker certificates.
type TLSConfig struct {
	Enabled bool
	// CAFile is a PEM bundle of CAs to trust instead of the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key, for
	// brokers that require mutual TLS; set both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name verified in broker certificates; empty
	// means each broker's own host name.
	ServerName string
}

// build returns the *tls.Config for c, or nil when TLS is off. ServerName is
// left empty unless set: franz-go then verifies each broker against its own
// host, which is right for multi-broker clusters.
func (c TLSConfig) build() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS.CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS.CAFile: %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS.CertFile %s / TLS.KeyFile %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
