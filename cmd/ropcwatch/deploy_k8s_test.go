package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ropcwatch/ropcwatch/detector"
	"github.com/ropcwatch/ropcwatch/stream"
)

// The deployment files are checked here against the code they configure:
// the manifests decode strictly into their Kubernetes types, the arguments
// parse with the flags of `ropcwatch run`, and every PromQL expression names
// only metrics the detector registers. Nothing here needs a network, a
// cluster or a Docker engine.

const repoRoot = "../.."

// k8sManifests holds the typed objects of deploy/k8s, by kind.
type k8sManifests struct {
	files          []string // every manifest file, kustomization.yaml excluded
	kustomization  *kustomization
	statefulSet    *appsv1.StatefulSet
	configMap      *corev1.ConfigMap
	secret         *corev1.Secret
	service        *corev1.Service
	pdb            *policyv1.PodDisruptionBudget
	scaledObject   *scaledObject
	triggerAuth    *triggerAuthentication
	objectMetadata map[string]metav1.ObjectMeta // by "Kind/name"
}

// kustomization covers the fields of deploy/k8s/kustomization.yaml.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// scaledObject covers the fields of keda.sh/v1alpha1 ScaledObject that
// deploy/k8s uses; unknown fields are rejected, so a typo fails here.
type scaledObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"`
		MaxReplicaCount *int32 `json:"maxReplicaCount"`
		PollingInterval *int32 `json:"pollingInterval"`
		CooldownPeriod  *int32 `json:"cooldownPeriod"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type              string            `json:"type"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
			} `json:"authenticationRef"`
		} `json:"triggers"`
	} `json:"spec"`
}

// triggerAuthentication covers keda.sh/v1alpha1 TriggerAuthentication with
// secretTargetRef.
type triggerAuthentication struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef"`
	} `json:"spec"`
}

var yamlDocSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadK8s strictly decodes every manifest of deploy/k8s.
func loadK8s(t *testing.T) *k8sManifests {
	t.Helper()
	dir := filepath.Join(repoRoot, "deploy", "k8s")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	m := &k8sManifests{objectMetadata: map[string]metav1.ObjectMeta{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(file)
		if base == "kustomization.yaml" {
			m.kustomization = new(kustomization)
			if err := yaml.UnmarshalStrict(data, m.kustomization); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			continue
		}
		m.files = append(m.files, base)
		for i, doc := range yamlDocSeparator.Split(string(data), -1) {
			if isEmptyYAML(doc) {
				continue
			}
			if err := m.decode([]byte(doc)); err != nil {
				t.Fatalf("%s, document %d: %v", base, i+1, err)
			}
		}
	}
	return m
}

func isEmptyYAML(doc string) bool {
	for line := range strings.SplitSeq(doc, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// decode decodes one document into the typed object its kind names,
// rejecting unknown and duplicate fields.
func (m *k8sManifests) decode(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	strict := func(want string, into any, meta func() metav1.ObjectMeta) error {
		if tm.APIVersion != want {
			return fmt.Errorf("%s: apiVersion %q, want %q", tm.Kind, tm.APIVersion, want)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		md := meta()
		key := tm.Kind + "/" + md.Name
		if _, dup := m.objectMetadata[key]; dup {
			return fmt.Errorf("%s defined twice", key)
		}
		m.objectMetadata[key] = md
		return nil
	}
	switch tm.Kind {
	case "StatefulSet":
		m.statefulSet = new(appsv1.StatefulSet)
		return strict("apps/v1", m.statefulSet, func() metav1.ObjectMeta { return m.statefulSet.ObjectMeta })
	case "ConfigMap":
		m.configMap = new(corev1.ConfigMap)
		return strict("v1", m.configMap, func() metav1.ObjectMeta { return m.configMap.ObjectMeta })
	case "Secret":
		m.secret = new(corev1.Secret)
		return strict("v1", m.secret, func() metav1.ObjectMeta { return m.secret.ObjectMeta })
	case "Service":
		m.service = new(corev1.Service)
		return strict("v1", m.service, func() metav1.ObjectMeta { return m.service.ObjectMeta })
	case "PodDisruptionBudget":
		m.pdb = new(policyv1.PodDisruptionBudget)
		return strict("policy/v1", m.pdb, func() metav1.ObjectMeta { return m.pdb.ObjectMeta })
	case "ScaledObject":
		m.scaledObject = new(scaledObject)
		return strict("keda.sh/v1alpha1", m.scaledObject, func() metav1.ObjectMeta { return m.scaledObject.Metadata })
	case "TriggerAuthentication":
		m.triggerAuth = new(triggerAuthentication)
		return strict("keda.sh/v1alpha1", m.triggerAuth, func() metav1.ObjectMeta { return m.triggerAuth.Metadata })
	}
	return fmt.Errorf("unexpected kind %q (apiVersion %q)", tm.Kind, tm.APIVersion)
}

func TestDeployKubernetesManifests(t *testing.T) {
	m := loadK8s(t)
	for _, o := range []struct {
		kind    string
		missing bool
	}{
		{"StatefulSet", m.statefulSet == nil}, {"ConfigMap", m.configMap == nil}, {"Secret", m.secret == nil},
		{"Service", m.service == nil}, {"PodDisruptionBudget", m.pdb == nil}, {"ScaledObject", m.scaledObject == nil},
		{"TriggerAuthentication", m.triggerAuth == nil}, {"kustomization.yaml", m.kustomization == nil},
	} {
		if o.missing {
			t.Fatalf("deploy/k8s has no %s", o.kind)
		}
	}
	for key, md := range m.objectMetadata {
		if md.Namespace != "" {
			t.Errorf("%s sets namespace %q: the manifests are namespace-agnostic", key, md.Namespace)
		}
	}
	if got, want := slices.Sorted(slices.Values(m.kustomization.Resources)), slices.Sorted(slices.Values(m.files)); !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, want)
	}

	sts := m.statefulSet
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if repo, _, _ := strings.Cut(path.Base(c.Image), ":"); repo != "ropcwatch" {
		t.Errorf("image %q, want ropcwatch", c.Image)
	}
	if !labelsMatch(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels)
	}

	f := parseRunArgs(t, append(slices.Clone(c.Command), c.Args...))
	checkRunRequired(t, f)
	checkNoLiteralSecrets(t, c.Args)

	t.Run("secrets come from the Secret through env", func(t *testing.T) {
		keys := secretKeys(m.secret)
		var sawConn bool
		for _, e := range c.Env {
			if looksSecret(e.Name) {
				if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					t.Errorf("env %s: a secret must come from valueFrom.secretKeyRef", e.Name)
					continue
				}
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				ref := e.ValueFrom.SecretKeyRef
				if ref.Name != m.secret.Name || !keys[ref.Key] {
					t.Errorf("env %s: secretKeyRef %s/%s names no key of Secret %s", e.Name, ref.Name, ref.Key, m.secret.Name)
				}
			}
			sawConn = sawConn || e.Name == "EVENTHUBS_CONNECTION_STRING"
		}
		if !sawConn {
			t.Error("no EVENTHUBS_CONNECTION_STRING in the container env")
		}
		if len(c.EnvFrom) > 0 {
			t.Error("envFrom hides which variables are secrets: name each one")
		}
	})

	t.Run("static membership from the pod name", func(t *testing.T) {
		e := envVar(c.Env, "ROPCWATCH_INSTANCE_ID")
		if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Errorf("ROPCWATCH_INSTANCE_ID = %+v, want valueFrom.fieldRef metadata.name", e)
		}
		if sts.Spec.ServiceName != m.service.Name {
			t.Errorf("serviceName %q, want the Service %q", sts.Spec.ServiceName, m.service.Name)
		}
	})

	t.Run("probes hit the metrics port", func(t *testing.T) {
		_, port, err := net.SplitHostPort(*f.metricsAddr)
		if err != nil {
			t.Fatalf("--metrics-addr %q: %v", *f.metricsAddr, err)
		}
		cp := containerPort(c, "http-metrics")
		if cp == nil || fmt.Sprint(cp.ContainerPort) != port {
			t.Fatalf("container port http-metrics = %+v, want %s (--metrics-addr)", cp, port)
		}
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe", p.name)
				continue
			}
			g := p.probe.HTTPGet
			if g.Path != p.path || !portIs(g.Port.String(), cp) {
				t.Errorf("%s: GET %s on %s, want %s on http-metrics (%d)", p.name, g.Path, g.Port.String(), p.path, cp.ContainerPort)
			}
		}
		sp := m.service.Spec.Ports
		if len(sp) != 1 || sp[0].Name != "http-metrics" || sp[0].Port != 9090 || !portIs(sp[0].TargetPort.String(), cp) {
			t.Errorf("Service ports %+v, want http-metrics 9090 to the container's http-metrics", sp)
		}
		if !labelsMatch(m.service.Spec.Selector, sts.Spec.Template.Labels) {
			t.Errorf("Service selector %v does not select the pods", m.service.Spec.Selector)
		}
	})

	t.Run("hardened pod", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatal("no container securityContext")
		}
		psc := pod.SecurityContext
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		seccomp := sc.SeccompProfile
		if seccomp == nil && psc != nil {
			seccomp = psc.SeccompProfile
		}
		switch {
		case !nonRoot:
			t.Error("runAsNonRoot is not true")
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Error("readOnlyRootFilesystem is not true")
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Error("allowPrivilegeEscalation is not false")
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Error("capabilities: want drop ALL and nothing added")
		case seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Error("seccompProfile is not RuntimeDefault")
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 40 {
			t.Errorf("terminationGracePeriodSeconds %v, want at least 40 (the shutdown flush takes up to 30 s)", g)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("no %s request", r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Error("no memory limit")
		}
	})

	t.Run("the ConfigMap's rule and allowlist load and are the ones mounted", func(t *testing.T) {
		cm := m.configMap
		ruleKey, allowKey := mountedKey(t, pod, c, cm.Name, *f.rules.rule), mountedKey(t, pod, c, cm.Name, *f.rules.allowlist)
		rule, err := detector.LoadRule([]byte(cm.Data[ruleKey]))
		if err != nil {
			t.Fatalf("ConfigMap %s key %s: %v", cm.Name, ruleKey, err)
		}
		if len(rule.Warnings) > 0 {
			t.Errorf("rule warnings: %v", rule.Warnings)
		}
		shipped, err := os.ReadFile(filepath.Join(repoRoot, "detector", "rules", "ropc-authentication-detected.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data[ruleKey] != string(shipped) {
			t.Errorf("ConfigMap %s key %s differs from detector/rules/ropc-authentication-detected.yaml", cm.Name, ruleKey)
		}
		nets, err := detector.ParseNetworkAllowlist(strings.NewReader(cm.Data[allowKey]))
		if err != nil {
			t.Fatalf("ConfigMap %s key %s: %v", cm.Name, allowKey, err)
		}
		if len(nets.Skipped) > 0 {
			t.Errorf("allowlist entries skipped: %+v", nets.Skipped)
		}
		if !strings.HasPrefix(cm.Data[allowKey], "SearchKey") {
			t.Error("the allowlist CSV does not start with the header SearchKey")
		}
	})

	t.Run("the whole service configuration is valid", func(t *testing.T) {
		// Materialise the ConfigMap where the pod would see it and the
		// Secret's placeholder as the environment, then build the
		// configuration `ropcwatch run` would start with.
		dir := t.TempDir()
		args := append(slices.Clone(c.Command), c.Args...)[1:]
		for i, a := range args {
			for _, vm := range c.VolumeMounts {
				if rest, ok := strings.CutPrefix(a, vm.MountPath+"/"); ok {
					p := filepath.Join(dir, rest)
					if err := os.WriteFile(p, []byte(m.configMap.Data[rest]), 0o600); err != nil {
						t.Fatal(err)
					}
					args[i] = p
				}
			}
		}
		getenv := func(name string) string {
			e := envVar(c.Env, name)
			switch {
			case e == nil:
				return ""
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				if v, ok := m.secret.StringData[e.ValueFrom.SecretKeyRef.Key]; ok {
					return v
				}
				return string(m.secret.Data[e.ValueFrom.SecretKeyRef.Key])
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
				return sts.Name + "-0"
			}
			return e.Value
		}
		fs, f := newRunFlags(io.Discard)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cfg, err := serviceConfig(env{getenv: getenv, stdout: io.Discard, stderr: &stderr}, f)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Fatalf("serviceConfig: %v", err)
		}
		if stderr.Len() > 0 {
			t.Errorf("warnings: %s", stderr.String())
		}
		if cfg.Consumer.InstanceID != sts.Name+"-0" {
			t.Errorf("instance id %q, want the pod name", cfg.Consumer.InstanceID)
		}
		ns, err := stream.ParseEventHubsConnectionString(cfg.Consumer.Kafka.EventHubsConnectionString.Reveal())
		if err != nil {
			t.Fatalf("the Secret's connection string: %v", err)
		}
		if got := m.scaledObject.Spec.Triggers[0].Metadata["bootstrapServers"]; got != ns.Broker() {
			t.Errorf("KEDA bootstrapServers %q, want the detector's broker %q", got, ns.Broker())
		}
	})

	t.Run("KEDA scales the StatefulSet on the group's lag with the Secret", func(t *testing.T) {
		so := m.scaledObject.Spec
		if r := so.ScaleTargetRef; r.Kind != "StatefulSet" || r.Name != sts.Name {
			t.Errorf("scaleTargetRef %+v, want StatefulSet %s", r, sts.Name)
		}
		if so.MinReplicaCount == nil || *so.MinReplicaCount < 1 {
			t.Error("minReplicaCount must be at least 1: with no replica no window closes")
		}
		if len(so.Triggers) != 1 || so.Triggers[0].Type != "kafka" {
			t.Fatalf("triggers %+v, want one kafka trigger", so.Triggers)
		}
		tr := so.Triggers[0]
		for _, k := range []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} {
			if tr.Metadata[k] == "" {
				t.Errorf("kafka trigger without %s", k)
			}
		}
		if tr.Metadata["consumerGroup"] != *f.group || tr.Metadata["topic"] != *f.topics {
			t.Errorf("trigger group %q topic %q, want the detector's --group %q --topic %q",
				tr.Metadata["consumerGroup"], tr.Metadata["topic"], *f.group, *f.topics)
		}
		if tr.AuthenticationRef == nil || tr.AuthenticationRef.Name != m.triggerAuth.Metadata.Name {
			t.Errorf("authenticationRef %+v, want %s", tr.AuthenticationRef, m.triggerAuth.Metadata.Name)
		}
		keys := secretKeys(m.secret)
		params := map[string]string{}
		for _, r := range m.triggerAuth.Spec.SecretTargetRef {
			if r.Name != m.secret.Name || !keys[r.Key] {
				t.Errorf("secretTargetRef %s: %s/%s names no key of Secret %s", r.Parameter, r.Name, r.Key, m.secret.Name)
			}
			params[r.Parameter] = m.secret.StringData[r.Key]
		}
		if params["sasl"] != "plaintext" || params["username"] != "$ConnectionString" || params["tls"] != "enable" || params["password"] == "" {
			t.Errorf("TriggerAuthentication for Event Hubs: want sasl plaintext, username $ConnectionString, tls enable and a password; got parameters %v", slices.Sorted(maps.Keys(params)))
		}
	})

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		p := m.pdb.Spec
		if p.MaxUnavailable == nil || p.MaxUnavailable.String() != "1" || p.MinAvailable != nil {
			t.Errorf("maxUnavailable %v minAvailable %v, want maxUnavailable 1", p.MaxUnavailable, p.MinAvailable)
		}
		if p.Selector == nil || !labelsMatch(p.Selector.MatchLabels, sts.Spec.Template.Labels) {
			t.Error("the PodDisruptionBudget does not select the pods")
		}
	})
}

func looksSecret(name string) bool {
	n := strings.ToUpper(name)
	for _, s := range []string{"PASSWORD", "CONNECTION_STRING", "SECRET", "TOKEN", "KEY"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.StringData {
		keys[k] = true
	}
	for k := range s.Data {
		keys[k] = true
	}
	return keys
}

func envVar(env []corev1.EnvVar, name string) *corev1.EnvVar {
	for i := range env {
		if env[i].Name == name {
			return &env[i]
		}
	}
	return nil
}

func containerPort(c corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

// portIs reports whether a probe or target port, by name or number, is p.
func portIs(port string, p *corev1.ContainerPort) bool {
	return port == p.Name || port == fmt.Sprint(p.ContainerPort)
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// mountedKey returns the ConfigMap key that file is, in the pod, failing
// when no volume of ConfigMap cm is mounted where file lies.
func mountedKey(t *testing.T, pod corev1.PodSpec, c corev1.Container, cm, file string) string {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		if path.Dir(file) != path.Clean(vm.MountPath) || vm.SubPath != "" {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm && len(v.ConfigMap.Items) == 0 {
				return path.Base(file)
			}
		}
	}
	t.Fatalf("%s is not in a mounted volume of ConfigMap %s", file, cm)
	return ""
}

// detectorMetricNames returns every series name the detector exports,
// mapped to its metric family: a histogram's _bucket, _sum and _count
// included.
