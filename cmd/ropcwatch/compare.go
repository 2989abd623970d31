package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ropcwatch/ropcwatch/detector/synth"
	"github.com/ropcwatch/ropcwatch/stream"
)

// runCompare is `ropcwatch compare`: the result rows of an alert file
// against a generator's truth file, or against another alert file (to
// backtest a rule change on the same history).
func runCompare(_ context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	alerts := fs.String("alerts", "", "alerts to check, Sentinel shape, one per line (`FILE`)")
	truth := fs.String("truth", "", "expected rows written by ropcwatch generate --truth (`FILE`)")
	baseline := fs.String("baseline", "", "expected rows taken from another alert file (`FILE`)")
	show := fs.Int("show", 10, "rows of each kind of difference to print")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *alerts == "" || (*truth == "") == (*baseline == "") {
		fmt.Fprintln(e.stderr, "ropcwatch compare: want --alerts FILE and exactly one of --truth FILE or --baseline FILE")
		return exitFailure
	}
	got, err := readFile(*alerts, e, alertRows)
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch compare: --alerts: %v\n", err)
		return exitFailure
	}
	var want []synth.TruthRow
	if *truth != "" {
		want, err = readFile(*truth, e, func(r io.Reader) ([]synth.TruthRow, error) {
			t, err := synth.ReadTruth(r)
			if err != nil {
				return nil, err
			}
			return t.Rows, nil
		})
	} else {
		want, err = readFile(*baseline, e, alertRows)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ropcwatch compare: %v\n", err)
		return exitFailure
	}
	d := synth.Compare(want, got)
	d.WriteReport(e.stdout, *show)
	if !d.Empty() {
		return exitRejected
	}
	return exitOK
}

func readFile(path string, e env, read func(io.Reader) ([]synth.TruthRow, error)) ([]synth.TruthRow, error) {
	f, err := stream.OpenInput(path, e.stdin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f)
}

// alertLine is what compare and loadtest read of a Sentinel-shape alert.
type alertLine struct {
	AlertId   string
	Revision  int
	Status    string
	WindowEnd time.Time
	Result    alertRow
	Results   []alertRow
}

type alertRow struct {
	UserPrincipalName    string
	Count                int
	IPs, Countries, Apps []string
	FirstSeen, LastSeen  time.Time
	IPAddress            string
}

// alertRows reads the rows of the latest revision of each alert; a
// SingleAlert alert contributes every row of its window.
func alertRows(r io.Reader) ([]synth.TruthRow, error) {
	var latest latestAlerts
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var a alertLine
		if err := dec.Decode(&a); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("alert %d: %w", n, err)
		}
		latest.add(a)
	}
	return latest.rows(), nil
}

// latestAlerts keeps the latest revision of each alert, in the order the
// alerts first appeared.
type latestAlerts struct {
	latest map[string]alertLine
	order  []string
}

func (l *latestAlerts) add(a alertLine) {
	if l.latest == nil {
		l.latest = make(map[string]alertLine)
	}
	prev, seen := l.latest[a.AlertId]
	if !seen {
		l.order = append(l.order, a.AlertId)
	}
	if !seen || a.Revision > prev.Revision {
		l.latest[a.AlertId] = a
	}
}

// rows returns the result rows of the latest revisions.
func (l *latestAlerts) rows() []synth.TruthRow {
	var rows []synth.TruthRow
	for _, id := range l.order {
		a := l.latest[id]
		rs := a.Results
		if len(rs) == 0 {
			rs = []alertRow{a.Result}
		}
		for _, r := range rs {
			rows = append(rows, synth.TruthRow{
				WindowEnd: a.WindowEnd, UserPrincipalName: r.UserPrincipalName, Count: r.Count,
				IPs: r.IPs, Countries: r.Countries, Apps: r.Apps, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, IPAddress: r.IPAddress,
			})
		}
	}
	return rows
}
