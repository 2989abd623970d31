package synth

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// Config describes a stream. The zero value of every field but Records
// means its default.
type Config struct {
	// Records is how many records to write, in all categories, redelivered
	// duplicates included.
	Records int
	// Seed selects the stream; the same Config always yields the same bytes.
	Seed uint64
	// ROPCRate is the share of records that are non-interactive ROPC
	// sign-ins, qualifying or not (zero means 0.005).
	ROPCRate float64
	// Start is the event time of the first record (zero means
	// 2026-05-01T00:00:00Z).
	Start time.Time
	// Rate is records per second of event time (zero means whatever makes
	// the stream span 3.5 windows, so even a small run has several).
	Rate float64
	// Users is the number of ordinary accounts (zero means 5000).
	Users int
	// AttackedUsers is how many users an attacker signs in as over ROPC
	// (zero means max(3, Records/2000)); capped by the users not on a
	// corporate network.
	AttackedUsers int
	// RecordsPerMessage bounds the records per envelope (zero means 1 to 16;
	// the median is about a third of the way up). Max is at most 200, which
	// keeps messages below the 1 MB Event Hubs limit.
	RecordsPerMessage IntRange
	// Window is the rule's query period (zero means one hour). Windows are
	// tumbling, aligned to the Unix epoch and half-open: (end-Window, end].
	Window time.Duration
	// AllowlistIPs says whether the truth assumes the NetworkAllowlist that
	// WriteAllowlist writes is in force.
	AllowlistIPs bool
}

// IntRange is an inclusive range of integers.
type IntRange struct{ Min, Max int }

// Defaults of Config.
const (
	DefaultROPCRate = 0.005
	DefaultUsers    = 5000
	DefaultWindow   = time.Hour
	maxPerMessage   = 200
	windowsSpanned  = 3.5
)

// DefaultStart is the event time of the first record when Config.Start is zero.
var DefaultStart = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// Validate reports the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case c.Records < 0:
		return fmt.Errorf("Records is %d, want at least 0", c.Records)
	case math.IsNaN(c.ROPCRate) || c.ROPCRate < 0 || c.ROPCRate > 1:
		return fmt.Errorf("ROPCRate is %v, want a share between 0 and 1", c.ROPCRate)
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		return fmt.Errorf("Rate is %v, want records per second above 0", c.Rate)
	case c.Users < 0:
		return fmt.Errorf("Users is %d, want at least 0", c.Users)
	case c.AttackedUsers < 0:
		return fmt.Errorf("AttackedUsers is %d, want at least 0", c.AttackedUsers)
	case c.RecordsPerMessage.Min < 0 || c.RecordsPerMessage.Max < 0 || c.RecordsPerMessage.Max > maxPerMessage:
		return fmt.Errorf("RecordsPerMessage is %d..%d, want bounds from 1 to %d", c.RecordsPerMessage.Min, c.RecordsPerMessage.Max, maxPerMessage)
	case c.RecordsPerMessage.Max != 0 && c.RecordsPerMessage.Min > c.RecordsPerMessage.Max:
		return fmt.Errorf("RecordsPerMessage is %d..%d, want Min at most Max", c.RecordsPerMessage.Min, c.RecordsPerMessage.Max)
	case c.Window < 0:
		return fmt.Errorf("Window is %v, want a positive duration", c.Window)
	case c.Window > 0 && c.Window%(100*time.Nanosecond) != 0:
		return fmt.Errorf("Window is %v, want a multiple of 100ns (the timestamps' precision)", c.Window)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ROPCRate == 0 {
		c.ROPCRate = DefaultROPCRate
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Rate == 0 {
		c.Rate = float64(max(c.Records, 1)) / (windowsSpanned * c.Window.Seconds())
	}
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.AttackedUsers == 0 {
		c.AttackedUsers = max(3, c.Records/2000)
	}
	if c.RecordsPerMessage.Min == 0 {
		c.RecordsPerMessage.Min = 1
	}
	if c.RecordsPerMessage.Max == 0 {
		c.RecordsPerMessage.Max = max(c.RecordsPerMessage.Min, 16)
	}
	return c
}

// Generate writes cfg.Records records to w, one envelope {"records":[...]}
// per line, and returns what the rule must find in them. It streams: memory
// holds the truth, not the records. It stops early, returning ctx.Err(),
// when ctx is done.
func Generate(ctx context.Context, cfg Config, w io.Writer) (*Truth, error) {
	return GenerateEach(ctx, cfg, func(line []byte, _ int) error {
		_, err := w.Write(line)
		return err
	})
}

// GenerateEach is Generate handing each line to fn instead of writing it:
// line is one envelope and its newline, valid only during the call, and
// records is how many records it holds. An error from fn stops the stream
// and is returned, wrapped.
func GenerateEach(ctx context.Context, cfg Config, fn func(line []byte, records int) error) (*Truth, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("synth config: %w", err)
	}
	g := newGenerator(cfg.withDefaults())
	line := make([]byte, 0, 64<<10)
	for g.stats.Records < g.cfg.Records {
		if g.stats.Messages%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		n := min(g.messageSize(), g.cfg.Records-g.stats.Records)
		line = append(line[:0], `{"records":[`...)
		for i := 0; i < n; i++ {
			if i > 0 {
				line = append(line, ',')
			}
			line = g.appendNext(line)
		}
		line = append(line, "]}\n"...)
		if err := fn(line, n); err != nil {
			return nil, fmt.Errorf("write message %d: %w", g.stats.Messages, err)
		}
		g.stats.Messages++
		g.stats.Records += n
		g.stats.Bytes += int64(len(line))
	}
	return g.truth.finish(g.stats), nil
}

// generator owns the state of one Generate call.
type generator struct {
	cfg   Config
	r     *rand.Rand
	pop   *population
	rw    recordWriter
	truth *truthBuilder
	stats Stats

	startNs   int64
	stepNs    float64
	windowNs  int64
	slot      int
	lastWin   int64
	boundary  int   // records still to place exactly on boundaryNs
	boundNs   int64 // the window boundary crossed last
	appWeight []int // cumulative weights of normalApps

	ring [8]ringEntry // recent ROPC records, for redelivery
}

type ringEntry struct {
	ns      int64
	message int // the message it went out in
	rec     []byte
}

func newGenerator(cfg Config) *generator {
	pop := newPopulation(cfg.Seed, cfg.Users, cfg.AttackedUsers)
	r := rand.New(rand.NewPCG(cfg.Seed, 0x7265636f726473)) // "records"
	g := &generator{
		cfg:      cfg,
		r:        r,
		pop:      pop,
		rw:       recordWriter{r: r, pop: pop},
		truth:    newTruthBuilder(cfg.Window),
		startNs:  cfg.Start.UnixNano(),
		stepNs:   1e9 / cfg.Rate,
		windowNs: int64(cfg.Window),
	}
	sum := 0
	for _, a := range normalApps {
		sum += a.weight
		g.appWeight = append(g.appWeight, sum)
	}
	return g
}

// messageSize draws an envelope size skewed to small messages: with the
// default 1..16 the median is 6.
func (g *generator) messageSize() int {
	lo, hi := g.cfg.RecordsPerMessage.Min, g.cfg.RecordsPerMessage.Max
	return min(hi, lo+int(float64(hi-lo+1)*math.Pow(g.r.Float64(), 1.6)))
}

// nextTime returns the event time of the next slot: the nominal time plus a
// little jitter, now and then a few seconds early. It also notices crossed
// window boundaries, where the next two records go exactly on the boundary.
func (g *generator) nextTime() int64 {
	base := g.startNs + int64(float64(g.slot)*g.stepNs)
	win := floorDiv(base, g.windowNs)
	if (g.slot == 0 && base%g.windowNs == 0) || (g.slot > 0 && win > g.lastWin) {
		g.boundary, g.boundNs = 2, win*g.windowNs
	}
	g.slot++
	g.lastWin = win
	ns := base + int64(g.r.Float64()*g.stepNs)
	if g.r.IntN(100) < 3 {
		ns = base - g.r.Int64N(3e9)
	}
	return ns - floorMod(ns, 100)
}

// appendNext appends the next record.
func (g *generator) appendNext(b []byte) []byte {
	ns := g.nextTime()
	if g.boundary > 0 {
		g.boundary--
		return g.appendAttack(b, g.boundNs, "ropc")
	}
	if g.r.Float64() < g.cfg.ROPCRate {
		return g.appendROPC(b, ns)
	}
	switch u := g.r.IntN(1000); {
	case u < 20:
		return g.appendInteractive(b, ns)
	case u < 23:
		u := g.pop.users[g.r.IntN(len(g.pop.users))]
		return g.rw.appendServicePrincipal(b, ns, u.tenant, &g.pop.spApps[g.r.IntN(len(g.pop.spApps))], u.ip, u.ipCountry)
	case u < 38:
		return g.appendDecoy(b, ns)
	}
	s := g.normal(ns, g.pop.users[g.r.IntN(len(g.pop.users))])
	return g.rw.appendSignIn(b, &s)
}

// normal returns an ordinary non-interactive sign-in of u.
func (g *generator) normal(ns int64, u *user) signIn {
	r := g.r
	a := &normalApps[pick(r, g.appWeight)]
	s := signIn{
		ns: ns, category: catNonInteractive, u: u, upn: u.upn, app: a, appName: a.name,
		ua: a.userAgents[r.IntN(len(a.userAgents))], ip: u.ip, country: u.ipCountry, asn: u.asn, office: u.office,
		protocol: "none", caVariant: r.IntN(6), processing: 20 + r.IntN(900),
		tokenType: a.incomingTokenTypes[r.IntN(len(a.incomingTokenTypes))], scopes: a.scopes,
	}
	if r.IntN(10) == 0 { // roaming
		home := u.tenant.homes[r.IntN(len(u.tenant.homes))]
		s.ip, s.country, s.asn, s.office = homeIP(r, home, r.IntN(3) == 0), home, countries[home].asn, nil
	}
	switch p := r.IntN(1000); {
	case p < 15:
		s.protocol = "deviceCode"
	case p < 25:
		s.protocol = "wsFederation"
	case p < 35:
		s.protocol = "saml20"
	case p < 40:
		s.protocol = "oAuth2"
	case p < 43:
		s.protocol = "authenticationTransfer"
	case p < 48: // the 2021 shape, before these keys existed
		s.protocol, s.omitNewKeys = "", true
	}
	if r.IntN(100) < 7 {
		s.errorCode = normalFailures[r.IntN(len(normalFailures))].code
	}
	return s
}

// appendInteractive appends a SignInLogs record; one in ten is a successful
// ROPC sign-in, which the rule must skip by category.
func (g *generator) appendInteractive(b []byte, ns int64) []byte {
	if g.r.IntN(10) == 0 {
		s := g.attack(ns, "ropc")
		s.category = catInteractive
		return g.rw.appendSignIn(b, &s)
	}
	s := g.normal(ns, g.pop.users[g.r.IntN(len(g.pop.users))])
	s.category = catInteractive
	return g.rw.appendSignIn(b, &s)
}

var (
	appExchange = app{"Office 365 Exchange Online", resExchange, "Office 365 Exchange Online", resExchange, "Exchange ActiveSync", []string{"BAV2ROPC"}, 0, `["EAS.AccessAsUser.All"]`, tokNone, false}
	appIMAP     = app{"Office 365 Exchange Online", resExchange, "Office 365 Exchange Online", resExchange, "IMAP4", []string{"BAV2ROPC"}, 0, `["IMAP.AccessAsUser.All"]`, tokNone, false}
)

// appendDecoy appends a record that mentions ROPC without being one the
// rule counts.
func (g *generator) appendDecoy(b []byte, ns int64) []byte {
	r := g.r
	s := g.normal(ns, g.pop.remote[r.IntN(len(g.pop.remote))])
	s.protocol, s.omitNewKeys = "none", false
	switch r.IntN(5) {
	case 0:
		s.app, s.appName, s.ua = &appEuropcar, appEuropcar.name, uaEdge
	case 1:
		s.app = []*app{&appExchange, &appIMAP}[r.IntN(2)]
		s.appName, s.ua, s.tokenType = s.app.name, "BAV2ROPC", "none"
	case 2:
		s.u, s.upn = g.pop.ropcTester, g.pop.ropcTester.upn
	case 3:
		s = g.attack(ns, "ropc ") // trailing space: not =~ "ropc"
	case 4:
		s.app, s.appName = &appHarness, appHarness.name
	}
	return g.rw.appendSignIn(b, &s)
}

// attack returns a successful password sign-in of an attacked user from one
// of the attacker's addresses and tools.
func (g *generator) attack(ns int64, protocol string) signIn {
	r := g.r
	f := r.Float64()
	a := &g.pop.attacked[int(f*f*float64(len(g.pop.attacked)))] // a few users take most attempts
	i := 0
	if r.IntN(10) >= 6 {
		i = r.IntN(len(a.ips))
	}
	tool := &attackTools[a.tools[r.IntN(len(a.tools))]]
	s := signIn{
		ns: ns, category: catNonInteractive, u: a.u, upn: a.u.upn, app: tool, appName: tool.name,
		ua: tool.userAgents[r.IntN(len(tool.userAgents))], ip: a.ips[i], country: a.ipCountry[i],
		asn: countries[a.ipCountry[i]].hostingASN, protocol: protocol, password: true, risky: r.IntN(5) == 0,
		caVariant: r.IntN(6), processing: 60 + r.IntN(400), tokenType: "none", scopes: tool.scopes,
	}
	if a.upnVariant != "" && r.IntN(5) == 0 {
		s.upn = a.upnVariant
	}
	return s
}

// appendAttack appends a successful ROPC sign-in of an attacked user, which
// qualifies unless protocol is not a case variant of "ropc".
func (g *generator) appendAttack(b []byte, ns int64, protocol string) []byte {
	s := g.attack(ns, protocol)
	return g.appendROPCRecord(b, &s, true)
}

// appendROPC appends one non-interactive ROPC sign-in of a kind drawn from a
// mix of qualifying ones and near misses.
func (g *generator) appendROPC(b []byte, ns int64) []byte {
	r := g.r
	switch k := r.IntN(100); {
	case k < 40:
		return g.appendAttack(b, ns, "ropc")
	case k < 48:
		return g.appendAttack(b, ns, []string{"ROPC", "Ropc", "rOPC"}[r.IntN(3)])
	case k < 65: // failed: the credential-stuffing rule's business
		s := g.attack(ns, "ropc")
		if r.IntN(2) == 0 {
			u := g.pop.remote[r.IntN(len(g.pop.remote))]
			s.u, s.upn = u, u.upn
		}
		s.errorCode, s.risky = ropcFailures[r.IntN(len(ropcFailures))].code, false
		return g.appendROPCRecord(b, &s, false)
	case k < 77: // an allowlisted app
		s := g.ropcFrom(ns, g.pop.users[r.IntN(len(g.pop.users))], &normalApps[5])
		s.appName = legitRopcNames[r.IntN(len(legitRopcNames))]
		return g.appendROPCRecord(b, &s, false)
	case k < 80: // looks allowlisted, is not
		s := g.ropcFrom(ns, g.pop.remote[r.IntN(len(g.pop.remote))], &normalApps[5])
		s.appName = lookalikeNames[r.IntN(len(lookalikeNames))]
		return g.appendROPCRecord(b, &s, true)
	case k < 90: // from an allowlisted network
		s := g.sanctioned(ns)
		if r.IntN(3) == 0 {
			s.ip = s.office.inside[r.IntN(len(s.office.inside))]
		}
		return g.appendROPCRecord(b, &s, !g.cfg.AllowlistIPs)
	case k < 92: // just outside an allowlisted network
		s := g.sanctioned(ns)
		s.ip, s.office = s.office.outside[r.IntN(len(s.office.outside))], nil
		return g.appendROPCRecord(b, &s, true)
	}
	// Kafka redelivers a recent message: the same record, the same id, in a
	// later message, at most ten minutes of event time later.
	for try := 0; try < 4; try++ {
		e := &g.ring[r.IntN(len(g.ring))]
		if e.rec != nil && e.message < g.stats.Messages && e.ns >= ns-600e9 {
			g.stats.ROPC++
			g.stats.Redelivered++
			return append(b, e.rec...)
		}
	}
	return g.appendAttack(b, ns, "ropc")
}

// ropcFrom returns a successful ROPC sign-in of u from its usual address.
func (g *generator) ropcFrom(ns int64, u *user, a *app) signIn {
	r := g.r
	return signIn{
		ns: ns, category: catNonInteractive, u: u, upn: u.upn, app: a, appName: a.name,
		ua: a.userAgents[r.IntN(len(a.userAgents))], ip: u.ip, country: u.ipCountry, asn: u.asn, office: u.office,
		protocol: "ropc", password: true, caVariant: r.IntN(6), processing: 40 + r.IntN(300),
		tokenType: "none", scopes: a.scopes,
	}
}

// sanctioned returns a successful ROPC sign-in by a legacy client on a
// corporate network: a service account, or a user behind the office egress.
func (g *generator) sanctioned(ns int64) signIn {
	r := g.r
	u := g.pop.service[r.IntN(len(g.pop.service))]
	if r.IntN(2) == 0 {
		o := &offices[r.IntN(len(offices))]
		u = &user{}
		*u = *g.pop.users[r.IntN(len(g.pop.users))]
		u.office, u.ip, u.ipCountry = o, o.random(r), o.country
	}
	s := g.ropcFrom(ns, u, &legacyApps[r.IntN(len(legacyApps))])
	return s
}

// appendROPCRecord appends s, remembers it for redelivery and, when it
// qualifies, adds it to the truth.
func (g *generator) appendROPCRecord(b []byte, s *signIn, qualifies bool) []byte {
	start := len(b)
	b = g.rw.appendSignIn(b, s)
	g.stats.ROPC++
	e := &g.ring[g.r.IntN(len(g.ring))]
	e.ns, e.message, e.rec = s.ns, g.stats.Messages, append(e.rec[:0], b[start:]...)
	if qualifies {
		g.stats.Qualifying++
		g.truth.add(s.ns, s.upn, string(g.rw.idBuf[:]), s.ip, countries[s.country].code, s.appName)
	}
	return b
}

// pick draws an index with the given cumulative weights.
func pick(r *rand.Rand, cum []int) int {
	x := r.IntN(cum[len(cum)-1])
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
