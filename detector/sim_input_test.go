package detector

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// simMessage is one input message of TestSimulation and when it is
// produced.
type simMessage struct {
	at        time.Time
	partition int32
	value     []byte
	// qualifying counts the records in it that the rule keeps (for the
	// durability check); future says it is dated ahead of any clock of
	// the run, rejected says it must be dead-lettered.
	qualifying int
	future     bool
	rejected   bool
	// marker: an upstream transaction's commit marker, not a message.
	marker bool
	// records are the message's records, as JSON; envelope says they sit
	// in {"records":[...]}.
	records  []string
	envelope bool
	// qualifies says which of the records the rule keeps: a router numbers
	// a message's qualifying sign-ins, not its records.
	qualifies []bool
	// offset is where the message landed, once produced.
	offset int64
}

// simInputConfig shapes the generated input.
type simInputConfig struct {
	start      time.Time
	span       time.Duration // of event time
	messages   int
	partitions int
	keyed      bool // each user's messages on one partition (one engine)
	// late is the share of records dated behind the lateness (they amend);
	// markers the chance of an upstream commit marker after a message.
	late    float64
	markers float64
	// redeliver is the chance that a record is an earlier one sent again.
	redeliver float64
}

var simUsers = []string{
	"alice@contoso.com", "Alice@Contoso.com", "", "bob@fabrikam.com", "carol@x.test",
	"émile@x.test", "zoë@x.test", "dave@x.test", "erin@x.test",
}

var simApps = []string{"python-requests", "curl", "Azure CLI", "Microsoft Office", "Europcar"}

// genSimInput draws the input of one run: messages in production order.
func genSimInput(r *rand.Rand, c simInputConfig) []simMessage {
	var out []simMessage
	var ids []string
	id := func() string {
		if r.Float64() < 0.05 {
			return ""
		}
		s := "id-" + strconv.Itoa(len(ids))
		ids = append(ids, s)
		return s
	}
	// recent holds recent records with an Id, for redeliveries: the same
	// record again, as an upstream producer's retry sends it.
	recent := map[string][]string{} // by user, so keyed input stays keyed
	step := c.span / time.Duration(c.messages)
	at := c.start
	for range c.messages {
		at = at.Add(time.Duration(r.Int64N(int64(2 * step))))
		m := simMessage{at: at, partition: int32(r.IntN(c.partitions))}
		switch x := r.Float64(); {
		case x < 0.02:
			m.value, m.rejected = []byte(`{"records":[{"TimeGenerated":`), true
		case x < 0.03:
			m.value, m.rejected = []byte(`{"TimeGenerated":"`+stamp(at)+`","AuthenticationProtocol":"ropc","ResultType":true,"UserPrincipalName":"x@x.test"}`), true
		case x < 0.04:
			// Dated a day ahead of any clock of the run: it must touch
			// nothing.
			m.value, m.future, m.qualifying = []byte(simRecord1(at.Add(24*time.Hour), "mallory@x.test", "ropc", "0", "curl", "198.51.100.66", "XX", id())), true, 1
		default:
			n := 1 + r.IntN(3)
			recs := make([]string, n)
			upn := simUsers[r.IntN(len(simUsers))]
			if c.keyed {
				m.partition = int32(userPartition(upn, c.partitions))
			}
			for i := range recs {
				t := at.Add(-time.Duration(r.Int64N(int64(20 * time.Second))))
				if r.Float64() < c.late {
					t = at.Add(-3 * time.Minute)
				}
				protocol, result, app := "ropc", "0", simApps[r.IntN(len(simApps))]
				switch y := r.Float64(); {
				case y < 0.25:
					protocol = "none"
				case y < 0.35:
					result = "50126"
				case y < 0.40:
					app = "Microsoft Office" // allowlisted
				}
				q := protocol == "ropc" && result == "0" && app != "Microsoft Office"
				ip := fmt.Sprintf("203.0.113.%d", r.IntN(4))
				loc := []string{"US", "DE", "", "FR"}[r.IntN(4)]
				recs[i] = simRecord1(t, upn, protocol, result, app, ip, loc, id())
				if mine := recent[upn]; len(mine) > 0 && r.Float64() < c.redeliver {
					recs[i] = mine[len(mine)-1-r.IntN(min(len(mine), 5))] // a redelivery
					q = strings.Contains(recs[i], `"ropc","ResultType":"0"`) && !strings.Contains(recs[i], `"Microsoft Office"`)
				} else if !strings.Contains(recs[i], `"Id":""`) {
					recent[upn] = append(recent[upn], recs[i])
				}
				if q {
					m.qualifying++
				}
				m.qualifies = append(m.qualifies, q)
			}
			m.records, m.envelope = recs, n > 1 || r.IntN(2) == 0
			m.value = []byte(simValue(recs, m.envelope))
		}
		out = append(out, m)
		if r.Float64() < c.markers {
			out = append(out, simMessage{at: at, partition: m.partition, marker: true})
		}
	}
	return out
}

// simValue is a message holding recs.
func simValue(recs []string, envelope bool) string {
	if !envelope {
		return recs[0]
	}
	return `{"records":[` + strings.Join(recs, ",") + `]}`
}

func simRecord1(t time.Time, upn, protocol, result, app, ip, loc, id string) string {
	return fmt.Sprintf(`{"TimeGenerated":%q,"Type":"AADNonInteractiveUserSignInLogs","AuthenticationProtocol":%q,"ResultType":%q,"AppDisplayName":%q,"UserPrincipalName":%q,"IPAddress":%q,"Location":%q,"Id":%q}`,
		stamp(t), protocol, result, app, upn, ip, loc, id)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// userPartition keys a user to one partition, as a producer keyed by UPN.
func userPartition(upn string, n int) int {
	h := 0
	for _, c := range []byte(upn) {
		h = h*31 + int(c)
	}
	return (h%n + n) % n
}
