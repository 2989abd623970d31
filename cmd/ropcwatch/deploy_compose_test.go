package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	composetypes "github.com/compose-spec/compose-go/v2/types"
)

func TestDeployCompose(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	project, err := loader.LoadWithContext(context.Background(), composetypes.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []composetypes.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: composetypes.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("ropcwatch", true)
		o.SkipInterpolation = false
	})
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"kafka", "topics", "generate", "replay", "ropcwatch", "alerts"} {
		if _, ok := project.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	svc, ok := project.Services["ropcwatch"]
	if !ok {
		t.FailNow()
	}
	if svc.Build == nil || svc.Build.Dockerfile != "deploy/Dockerfile" || filepath.Clean(svc.Build.Context) != root {
		t.Errorf("build %+v, want context . and dockerfile deploy/Dockerfile", svc.Build)
	}
	if repo, _, _ := strings.Cut(svc.Image, ":"); repo != "ropcwatch" {
		t.Errorf("image %q, want ropcwatch", svc.Image)
	}
	f := parseRunArgs(t, svc.Command)
	checkRunRequired(t, f)
	checkNoLiteralSecrets(t, svc.Command)
	if *f.kafka.brokers != "kafka:9092" {
		t.Errorf("--brokers %q, want kafka:9092", *f.kafka.brokers)
	}
	if *f.logFormat != "text" {
		t.Errorf("--log-format %q, want text", *f.logFormat)
	}
	if d := svc.DependsOn["topics"]; d.Condition != composetypes.ServiceConditionCompletedSuccessfully {
		t.Errorf("ropcwatch depends on topics with %q, want %s", d.Condition, composetypes.ServiceConditionCompletedSuccessfully)
	}
	if d := project.Services["topics"].DependsOn["kafka"]; d.Condition != composetypes.ServiceConditionHealthy {
		t.Errorf("topics depends on kafka with %q, want %s", d.Condition, composetypes.ServiceConditionHealthy)
	}
	if hc := project.Services["kafka"].HealthCheck; hc == nil || !slices.ContainsFunc(hc.Test, func(s string) bool { return strings.HasSuffix(s, "kafka-topics.sh") }) {
		t.Error("kafka has no healthcheck with kafka-topics.sh")
	}
}

func TestDeployDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string // instructions, continuation lines joined, comments dropped
	for l := range strings.SplitSeq(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	var froms []int
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d stages, want a build stage and a final stage", len(froms))
	}
	if !strings.HasPrefix(lines[froms[0]], "FROM golang:1.26 ") {
		t.Errorf("builder %q, want golang:1.26", lines[froms[0]])
	}
	build := regexp.MustCompile(`CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" .*\./cmd/ropcwatch$`)
	if !slices.ContainsFunc(lines[:froms[len(froms)-1]], build.MatchString) {
		t.Error(`no "CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" ... ./cmd/ropcwatch" in the build stage`)
	}
	final := lines[froms[len(froms)-1]:]
	for _, want := range []string{
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER nonroot",
		`ENTRYPOINT ["/ropcwatch"]`,
		"EXPOSE 9090",
	} {
		if !slices.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	for _, l := range final {
		if strings.HasPrefix(l, "RUN ") {
			t.Errorf("final stage runs %q: distroless has no shell", l)
		}
	}
}

// parseRunArgs parses a container's command line, "run" first, with the
// flags of `ropcwatch run`.
func parseRunArgs(t *testing.T, cmd []string) *runFlags {
	t.Helper()
	if len(cmd) == 0 || cmd[0] != "run" {
		t.Fatalf("command %q, want run first", cmd)
	}
	var out bytes.Buffer
	fs, f := newRunFlags(&out)
	if err := fs.Parse(cmd[1:]); err != nil {
		t.Fatalf("ropcwatch %s: %v\n%s", strings.Join(cmd, " "), err, out.String())
	}
	if fs.NArg() > 0 {
		t.Fatalf("ropcwatch run: unexpected arguments %q", fs.Args())
	}
	return f
}

func checkRunRequired(t *testing.T, f *runFlags) {
	t.Helper()
	if *f.topics == "" || *f.alerts == "" {
		t.Errorf("--topic %q --alerts-topic %q: both are required", *f.topics, *f.alerts)
	}
	if *f.dead == "" {
		t.Error("no --dead-letter-topic: rejected records would only be counted")
	}
	if *f.metricsAddr == "" {
		t.Error("--metrics-addr is off: no probes, no metrics")
	}
}

// checkNoLiteralSecrets fails when a secret flag is given other than as a
// reference, or an argument looks like a credential.
func checkNoLiteralSecrets(t *testing.T, args []string) {
	t.Helper()
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "sasl-password" || name == "eventhubs-connection-string") {
			if !hasValue && i+1 < len(args) {
				value = args[i+1]
			}
			if !strings.HasPrefix(value, "env:") && !strings.HasPrefix(value, "file:") {
				t.Errorf("--%s %q: a secret is given as env:NAME or file:PATH", name, value)
			}
		}
		if strings.Contains(a, "SharedAccessKey=") || strings.Contains(strings.ToLower(a), "password=") {
			t.Errorf("argument %d looks like a literal secret", i)
		}
	}
}
