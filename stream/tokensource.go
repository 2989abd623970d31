package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// TokenSource supplies OAUTHBEARER access tokens. Token is called for every
// SASL authentication (each new broker connection and each re-authentication),
// so implementations should cache and refresh on their own.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// FileTokenSource returns a TokenSource that re-reads the token from path on
// every call, trimming surrounding whitespace. It suits a sidecar that keeps a
// fresh token in a shared volume, and tests.
func FileTokenSource(path string) TokenSource { return fileTokenSource{path: path} }

type fileTokenSource struct{ path string }

func (f fileTokenSource) Token(context.Context) (string, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("read oauth token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("read oauth token: file %s is empty", f.path)
	}
	return tok, nil
}

// AzureTokenSource returns a TokenSource for an Event Hubs namespace that
// gets Entra ID tokens from azidentity's DefaultAzureCredential (workload
// identity, managed identity, environment, Azure CLI, in that library's
// order) for scope "https://<namespaceHost>/.default". namespaceHost is the
// namespace's host name, e.g. "contoso.servicebus.windows.net"; a ":9093"
// port suffix is ignored. The credential caches tokens and refreshes them
// before they expire.
func AzureTokenSource(namespaceHost string) (TokenSource, error) {
	host := namespaceHost
	if h, _, err := net.SplitHostPort(namespaceHost); err == nil {
		host = h
	}
	if host == "" || strings.ContainsAny(namespaceHost, "/; ") || strings.Contains(host, ":") {
		return nil, fmt.Errorf("azure token source: namespace host %q is not a host name", namespaceHost)
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure token source: create default credential: %w", err)
	}
	return &azureTokenSource{cred: cred, scope: "https://" + host + "/.default"}, nil
}

type azureTokenSource struct {
	cred  azcore.TokenCredential
	scope string
}

func (a *azureTokenSource) Token(ctx context.Context) (string, error) {
	tok, err := a.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{a.scope}})
	if err != nil {
		return "", fmt.Errorf("get entra token for %s: %w", a.scope, err)
	}
	if tok.Token == "" {
		return "", errors.New("get entra token for " + a.scope + ": empty token")
	}
	return tok.Token, nil
}

// String keeps %v of a KafkaConfig short and free of credential internals.
func (a *azureTokenSource) String() string { return "AzureTokenSource(" + a.scope + ")" }
