package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/ropcwatch/ropcwatch/detector"
)

// TestDeployPromQL checks that the dashboard and the alert rules name only
// metrics the detector registers, and that the dashboard shows every one.
func TestDeployPromQL(t *testing.T) {
	known := detectorMetricNames(t)

	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "ropcwatch-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := map[string]string{} // expression -> where
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "dashboard panel " + p.Title
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_]\w*\)$`)
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		sm := labelValues.FindStringSubmatch(v.Definition)
		if sm == nil {
			t.Errorf("dashboard variable %s: %q is not label_values(SELECTOR, LABEL)", v.Name, v.Definition)
			continue
		}
		exprs[sm[1]] = "dashboard variable " + v.Name
	}

	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	data, err = os.ReadFile(filepath.Join(repoRoot, "deploy", "prometheus", "ropcwatch-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alert " + r.Alert
			alerts = append(alerts, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: want a severity label and a summary", r.Alert)
			}
		}
	}
	for _, want := range []string{"RopcwatchConsumerEventTimeLag", "RopcwatchWatermarkStalled", "RopcwatchRecordsRejected", "RopcwatchNotReady", "RopcwatchNoMessages"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}

	used := map[string]bool{}
	for expr, where := range exprs {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty expression", where)
			continue
		}
		names, err := promqlMetricNames(expr)
		if err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			family, ok := known[n]
			if !ok {
				t.Errorf("%s: %q names %s, which the detector does not register", where, expr, n)
				continue
			}
			if strings.HasPrefix(where, "dashboard") {
				used[family] = true
			}
		}
	}
	for _, family := range slices.Sorted(maps.Values(known)) {
		if !used[family] {
			t.Errorf("the dashboard does not show %s", family)
		}
	}
}

func detectorMetricNames(t *testing.T) map[string]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	rec := &describingRegisterer{Registerer: reg}
	detector.NewMetrics(rec)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, n := range rec.names {
		names[n] = n
	}
	// Gather shows the types; vectors without children are not gathered,
	// and the detector has no histogram vector, so Describe covers them.
	for _, mf := range families {
		n := mf.GetName()
		if _, ok := names[n]; !ok {
			t.Fatalf("gathered %s, not described", n)
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = n
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names found: %v", len(names), names)
	}
	return names
}

// describingRegisterer records the names of the metrics registered through
// it.
type describingRegisterer struct {
	prometheus.Registerer
	names []string
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *describingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			r.names = append(r.names, m[1])
		}
	}
	return r.Registerer.Register(c)
}

func (r *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// promqlFunctions are the PromQL functions and aggregations the deployment
// files may call.
var promqlFunctions = map[string]bool{
	"abs": true, "absent": true, "absent_over_time": true, "avg": true, "avg_over_time": true, "bottomk": true,
	"ceil": true, "changes": true, "clamp": true, "clamp_max": true, "clamp_min": true, "count": true,
	"count_over_time": true, "delta": true, "deriv": true, "floor": true, "group": true, "histogram_quantile": true,
	"idelta": true, "increase": true, "irate": true, "label_replace": true, "last_over_time": true, "max": true,
	"max_over_time": true, "min": true, "min_over_time": true, "quantile": true, "quantile_over_time": true,
	"rate": true, "resets": true, "round": true, "scalar": true, "sort": true, "sort_desc": true, "stddev": true,
	"sum": true, "sum_over_time": true, "time": true, "timestamp": true, "topk": true, "vector": true,
}

// promqlAggregations may take their grouping before the parenthesis:
// sum by (job) (...).
var promqlAggregations = map[string]bool{
	"avg": true, "bottomk": true, "count": true, "count_values": true, "group": true, "max": true, "min": true,
	"quantile": true, "stddev": true, "stdvar": true, "sum": true, "topk": true,
}

// promqlKeywords are PromQL words that are neither metrics nor functions; the
// grouping ones may be followed by a parenthesised label list.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
}

var promqlGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// promqlMetricNames returns the metric names an expression selects. It is a
// lexer, not a parser: label matchers, range selectors, strings and
// grouping label lists are skipped, a word followed by "(" must be a known
// function, and every other word that is not a keyword is a metric name.
// Grafana variables ($job, $__rate_interval) are skipped.
func promqlMetricNames(expr string) ([]string, error) {
	var names []string
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(expr); j++ {
			switch expr[j] {
			case '"', '\'', '`':
				end, err := skipString(expr, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c at %d", open, i)
	}
	isWordStart := func(b byte) bool { return b == '_' || b == ':' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
	isWord := func(b byte) bool { return isWordStart(b) || '0' <= b && b <= '9' }
	for i := 0; i < len(expr); {
		b := expr[i]
		switch {
		case b == '"' || b == '\'' || b == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case b == '{':
			end, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = end
		case b == '[':
			end, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = end
		case b == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case b == '$':
			for i++; i < len(expr) && isWord(expr[i]); i++ {
			}
		case '0' <= b && b <= '9' || b == '.':
			for ; i < len(expr) && (isWord(expr[i]) || expr[i] == '.'); i++ {
			}
		case isWordStart(b):
			start := i
			for ; i < len(expr) && isWord(expr[i]); i++ {
			}
			word := expr[start:i]
			next := i
			for next < len(expr) && (expr[next] == ' ' || expr[next] == '\t' || expr[next] == '\n') {
				next++
			}
			paren := next < len(expr) && expr[next] == '('
			switch lw := strings.ToLower(word); {
			case promqlGrouping[lw] && paren:
				end, err := skipTo(next, '(', ')')
				if err != nil {
					return nil, err
				}
				i = end
			case promqlKeywords[lw]:
			case promqlAggregations[word]:
			case paren:
				if !promqlFunctions[word] {
					return nil, fmt.Errorf("unknown function %s", word)
				}
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names, nil
}

// skipString returns the index just past the string literal starting at i.
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d", i)
}

func TestDeployPromQLLexer(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{"a rate over a Grafana interval", `sum by (reason) (rate(ropcwatch_rejected_total{job=~"$job"}[$__rate_interval]))`, []string{"ropcwatch_rejected_total"}},
		{"time minus a gauge", `time() - ropcwatch_partition_event_time_seconds > 600`, []string{"ropcwatch_partition_event_time_seconds"}},
		{"a set operation", "changes(a[30m]) == 0\nand rate(b[30m]) > 0", []string{"a", "b"}},
		{"a label value that looks like a metric", `up{job="ropcwatch_ready"}`, []string{"up"}},
		{"grouping after the aggregation", `sum(rate(x[5m])) without (pod, instance)`, []string{"x"}},
		{"a histogram quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`, []string{"h_bucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := promqlMetricNames(tt.expr)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("promqlMetricNames(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
			}
		})
	}
	if _, err := promqlMetricNames(`made_up_function(x)`); err == nil {
		t.Error("an unknown function was accepted")
	}
}
