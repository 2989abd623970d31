package synth

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
)

// country is where an IP address is located, as Entra ID reports it.
type country struct {
	code, city, state string
	lat, lon          float64
	asn               int // a typical consumer ISP
	hostingASN        int // a typical hosting provider, for attack traffic
}

// countries are both home countries of users and sources of attacks. The
// index of a country also numbers its address blocks (see homeIP, attackIP).
var countries = []country{
	{"US", "Seattle", "Washington", 47.6062, -122.3321, 7922, 14061},
	{"GB", "London", "London", 51.5072, -0.1276, 5089, 20473},
	{"DE", "Munich", "Bavaria", 48.1374, 11.5755, 3320, 24940},
	{"FR", "Paris", "Paris", 48.8566, 2.3522, 3215, 16276},
	{"IN", "Hyderabad", "Telangana", 17.3850, 78.4867, 55836, 14061},
	{"JP", "Tokyo", "Tokyo", 35.6764, 139.6500, 2516, 20473},
	{"NL", "Amsterdam", "North Holland", 52.3676, 4.9041, 1136, 60781},
	{"CA", "Toronto", "Ontario", 43.6532, -79.3832, 812, 16276},
	{"AU", "Sydney", "New South Wales", -33.8688, 151.2093, 1221, 20473},
	{"BR", "Sao Paulo", "Sao Paulo", -23.5558, -46.6396, 28573, 262287},
	{"ES", "Madrid", "Madrid", 40.4168, -3.7038, 3352, 16276},
	{"SE", "Stockholm", "Stockholm", 59.3293, 18.0686, 3301, 9009},
	{"PL", "Warsaw", "Mazovia", 52.2297, 21.0122, 5617, 9009},
	{"SG", "Singapore", "Central Singapore", 1.3521, 103.8198, 9506, 14061},
	{"RU", "Moscow", "Moscow", 55.7558, 37.6173, 12389, 49505},
	{"CN", "Shanghai", "Shanghai", 31.2304, 121.4737, 4812, 4134},
	{"VN", "Hanoi", "Ha Noi", 21.0278, 105.8342, 7552, 45899},
	{"NG", "Lagos", "Lagos", 6.5244, 3.3792, 29465, 37148},
	{"RO", "Bucharest", "Bucuresti", 44.4268, 26.1025, 8708, 9009},
	{"UA", "Kyiv", "Kyiv City", 50.4501, 30.5234, 15895, 49505},
}

// Country indexes used by the population.
const (
	cUS = iota
	cGB
	cDE
	cFR
	cIN
	cJP
	cNL
)

// attackCountries are where attack traffic comes from.
var attackCountries = []int{6, 14, 15, 16, 17, 18, 19, 9, 0, 11, 12, 13}

// homeIP returns a consumer address in country ci: IPv4 from 198.18.0.0/16
// (RFC 2544), IPv6 from 2001:db8:<ci+1>::/48 (RFC 3849).
func homeIP(r *rand.Rand, ci int, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2001:db8:%x:%x:%x::%x", ci+1, r.IntN(0x10000), 1+r.IntN(0xffff), 1+r.IntN(0xffff))
	}
	return fmt.Sprintf("198.18.%d.%d", ci*8+r.IntN(8), 1+r.IntN(254))
}

// attackIP returns a hosting-provider address in country ci: IPv4 from
// 198.19.0.0/16 (RFC 2544), IPv6 from 2001:db8:a0<ci>::/48 (RFC 3849).
func attackIP(r *rand.Rand, ci int, v6 bool) string {
	if v6 {
		return fmt.Sprintf("2001:db8:a0%02x:%x::%x", ci, r.IntN(0x10000), 1+r.IntN(0xffff))
	}
	return fmt.Sprintf("198.19.%d.%d", ci*8+r.IntN(8), 1+r.IntN(254))
}

// office is one entry of the network allowlist: a corporate egress that
// legitimate sign-ins come from.
type office struct {
	entry   string // the NetworkAllowlist SearchKey
	name    string // the named location shown in networkLocationDetails
	country int
	// inside are addresses in the entry, including its edges; outside are
	// addresses just beyond them, which the allowlist must not cover.
	inside, outside []string
	random          func(r *rand.Rand) string
}

var offices = []office{
	{"198.51.100.0/24", "HQ egress (London)", cGB,
		[]string{"198.51.100.0", "198.51.100.255", "::ffff:198.51.100.77"},
		[]string{"198.51.101.0", "198.51.99.255"},
		func(r *rand.Rand) string { return fmt.Sprintf("198.51.100.%d", 1+r.IntN(254)) }},
	{"203.0.113.10-203.0.113.60", "Branch offices, US and DE", cUS,
		[]string{"203.0.113.10", "203.0.113.60", "::ffff:203.0.113.33"},
		[]string{"203.0.113.9", "203.0.113.61"},
		func(r *rand.Rand) string { return fmt.Sprintf("203.0.113.%d", 10+r.IntN(51)) }},
	{"192.0.2.44", "VPN concentrator", cNL,
		[]string{"192.0.2.44"},
		[]string{"192.0.2.43", "192.0.2.45"},
		func(*rand.Rand) string { return "192.0.2.44" }},
	{"2001:db8:ffff::/48", "HQ egress (London) IPv6", cGB,
		[]string{"2001:db8:ffff::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		[]string{"2001:db8:fffe:ffff:ffff:ffff:ffff:ffff", "2001:db8:1:0:0:0:0:1"},
		func(r *rand.Rand) string {
			return fmt.Sprintf("2001:db8:ffff:%x::%x", r.IntN(0x10000), 1+r.IntN(0xffff))
		}},
	{"2001:db8:fffe::7", "Jump host", cDE,
		[]string{"2001:db8:fffe::7"},
		[]string{"2001:db8:fffe::8", "2001:db8:fffe::6"},
		func(*rand.Rand) string { return "2001:db8:fffe::7" }},
	{"2001:db8:fffd::100-2001:db8:fffd::1ff", "Branch offices IPv6", cDE,
		[]string{"2001:db8:fffd::100", "2001:db8:fffd::1ff"},
		[]string{"2001:db8:fffd::ff", "2001:db8:fffd::200"},
		func(r *rand.Rand) string { return fmt.Sprintf("2001:db8:fffd::%x", 0x100+r.IntN(0x100)) }},
}

// app is a client application as sign-in logs name it, with the resource it
// usually asks a token for.
type app struct {
	name, id                   string
	resource, resourceID       string
	clientApp                  string
	userAgents                 []string
	weight                     int
	scopes                     string // the "Oauth Scope Info" value
	incomingTokenTypes         []string
	previouslySatisfiedFactors bool
}

const (
	uaEdge    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"
	uaChrome  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaWinAuth = "Windows-AzureAD-Authentication-Provider/1.0"
	uaOffice  = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)"
	uaIOS     = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 TeamsMobile-iOS"
	uaAndroid = "Dalvik/2.1.0 (Linux; U; Android 14; SM-S918B Build/UP1A.231005.007)"
	uaMSAL    = "Mozilla/5.0 (compatible; MSAL 1.0) PKeyAuth/1.0"
	uaOneDrv  = "Microsoft SkyDriveSync 24.076.0414.0003 ship; Windows NT 10.0 (22631)"
)

const (
	resGraph    = "00000003-0000-0000-c000-000000000000"
	resExchange = "00000002-0000-0ff1-ce00-000000000000"
	resSPO      = "00000003-0000-0ff1-ce00-000000000000"
	resARM      = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
	resAADGraph = "00000002-0000-0000-c000-000000000000"
	resTeams    = "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe"
	resDRS      = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"
	resIntune   = "0000000a-0000-0000-c000-000000000000"
)

var (
	tokNone  = []string{"none"}
	tokPRT   = []string{"primaryRefreshToken", "primaryRefreshToken", "none"}
	tokFresh = []string{"refreshToken", "none", "none"}
)

// normalApps are what ordinary non-interactive traffic consists of.
var normalApps = []app{
	{"Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams Services", resTeams, "Mobile Apps and Desktop clients", []string{uaEdge, uaIOS, uaAndroid}, 30, `["user_impersonation"]`, tokFresh, true},
	{"Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", "Office 365 SharePoint Online", resSPO, "Mobile Apps and Desktop clients", []string{uaOffice, uaMSAL}, 20, `["AllSites.Write","MyFiles.Write"]`, tokPRT, true},
	{"Microsoft Outlook", "5d661950-3475-41cd-a2c3-d671a3162bc1", "Office 365 Exchange Online", resExchange, "Mobile Apps and Desktop clients", []string{uaOffice, uaIOS}, 15, `["EWS.AccessAsUser.All","Mail.ReadWrite"]`, tokFresh, true},
	{"OneDrive SyncEngine", "ab9b8c07-8f02-4f72-87fa-80105867a763", "Office 365 SharePoint Online", resSPO, "Mobile Apps and Desktop clients", []string{uaOneDrv}, 12, `["AllSites.Write"]`, tokPRT, true},
	{"Windows Sign In", "38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Azure Active Directory", resAADGraph, "Mobile Apps and Desktop clients", []string{uaWinAuth}, 8, `[]`, tokPRT, false},
	{"Microsoft Authentication Broker", "29d9ed98-a469-4536-ade2-f981bc1d605e", "Device Registration Service", resDRS, "Mobile Apps and Desktop clients", []string{uaAndroid, uaIOS}, 5, `["adrs_access"]`, tokFresh, true},
	{"Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Windows Azure Service Management API", resARM, "Browser", []string{uaEdge, uaChrome}, 4, `["user_impersonation"]`, tokNone, true},
	{"Microsoft Edge", "ecd6b820-32c2-49b6-98a6-444530e5a77a", "Microsoft Graph", resGraph, "Browser", []string{uaEdge}, 6, `["User.Read","Userinfo.ReadWrite"]`, tokPRT, true},
	{"Microsoft Intune Company Portal", "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", "Microsoft Intune", resIntune, "Mobile Apps and Desktop clients", []string{uaAndroid, uaIOS}, 3, `["user_impersonation"]`, tokFresh, true},
	{`Contoso "Legacy" Mailer`, "6c1b4e0a-8e2f-4a39-9f0c-3d7c2b8a1e55", "Office 365 Exchange Online", resExchange, "Mobile Apps and Desktop clients", []string{uaMSAL}, 1, `["SMTP.Send"]`, tokNone, false},
	{`HR\Payroll Sync`, "0d6f3a2e-5b7c-4e81-a9d2-7f1e3c5b9a04", "Microsoft Graph", resGraph, "Mobile Apps and Desktop clients", []string{uaMSAL}, 1, `["User.Read.All"]`, tokNone, false},
}

// Decoy apps: names that mention ROPC-like text yet are ordinary apps.
var (
	appEuropcar = app{"Europcar", "b2a7c9e4-3f1d-4c6a-8e5b-9d0f2a4c6e81", "Microsoft Graph", resGraph, "Browser", []string{uaEdge}, 0, `["openid","profile"]`, tokNone, true}
	appHarness  = app{"ROPC Test Harness", "f4e3d2c1-b0a9-4876-9543-210fedcba987", "ropc-legacy-api", "5e0f7c2a-9b1d-4e3f-8a6c-1b2d3e4f5a6b", "Mobile Apps and Desktop clients", []string{uaMSAL}, 0, `["access_as_user"]`, tokNone, false}
)

// attackTools are command-line clients attackers replay passwords with.
var attackTools = []app{
	{"Microsoft Azure CLI", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Windows Azure Service Management API", resARM, "Mobile Apps and Desktop clients", []string{"python-requests/2.31.0", "python/3.11.8 (Linux-6.5.0-x86_64-with-glibc2.35) msal/1.26.0 azure-cli/2.57.0"}, 0, `["user_impersonation"]`, tokNone, false},
	{"Azure Active Directory PowerShell", "1b730954-1685-4b74-9bfd-dac224a7b894", "Windows Azure Active Directory", resAADGraph, "Mobile Apps and Desktop clients", []string{"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.3803"}, 0, `[]`, tokNone, false},
	{"Microsoft Azure PowerShell", "1950a258-227b-4e31-a9cf-717495945fc2", "Windows Azure Service Management API", resARM, "Mobile Apps and Desktop clients", []string{"curl/8.5.0", "curl/7.88.1"}, 0, `["user_impersonation"]`, tokNone, false},
	{"Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Graph", resGraph, "Mobile Apps and Desktop clients", []string{"python-requests/2.28.1"}, 0, `["openid","profile","offline_access"]`, tokNone, false},
	{"Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Graph", resGraph, "Mobile Apps and Desktop clients", []string{"python-requests/2.31.0"}, 0, `["openid","profile"]`, tokNone, false},
}

// legitRopcNames are spellings of allowlisted apps (ASCII case varies) that
// do use ROPC in real tenants; attackTools[4] is one of them too.
var legitRopcNames = []string{
	"Microsoft Authentication Broker", "MICROSOFT AUTHENTICATION BROKER", "microsoft authentication broker",
	"Microsoft Office", "MICROSOFT OFFICE", "Microsoft office",
	"Microsoft Intune Company Portal", "Azure AD Connect", "AZURE AD CONNECT", "Microsoft Office Authentication Broker",
}

// lookalikeNames resemble allowlisted apps but are not in the list, so their
// successful ROPC sign-ins qualify: a KELVIN SIGN (U+212A) that only Unicode
// folding maps to "k", a trailing space, a longer name, and no name at all.
var lookalikeNames = []string{"Microsoft Authentication Bro\u212Aer", "Microsoft Office ", "Microsoft Office 365", ""}

// legacyApps are sanctioned ROPC clients that run on allowlisted networks.
var legacyApps = []app{
	{"Contoso Scan to Email", "8a3e5d7c-1f2b-4c9a-b6e8-0d4f2a7c9e13", "Office 365 Exchange Online", resExchange, "Authenticated SMTP", []string{"python-requests/2.25.1"}, 0, `["SMTP.Send"]`, tokNone, false},
	{"Legacy CRM Connector", "3f9b1d5e-7a2c-4e6b-8d0f-5c1a9e3b7d26", "Microsoft Graph", resGraph, "Mobile Apps and Desktop clients", []string{"Java/1.8.0_392"}, 0, `["Mail.Read"]`, tokNone, false},
}

// caPolicy is one conditional-access policy of a tenant.
type caPolicy struct {
	name             string
	grant, session   []string
	satisfied, unsat int
}

var caPolicyPool = []caPolicy{
	{"Require MFA for all users", []string{"Mfa"}, nil, 19, 0},
	{"Block legacy authentication", []string{"Block"}, nil, 3, 16},
	{"Block ROPC clients", []string{"Block"}, nil, 1, 2},
	{"Require compliant or hybrid joined device", []string{"RequireCompliantDevice", "RequireDomainJoinedDevice"}, nil, 1, 2},
	{"Require MFA for administrators", []string{"Mfa"}, nil, 1, 2},
	{"Blocked Countries", []string{"Block"}, nil, 3, 8},
	{"Guest terms of use policy", []string{"Guest terms of use"}, nil, 1, 2},
	{"Guest session timeout", nil, []string{"SignInFrequency"}, 1, 2},
	{"Require app protection policy on mobile", []string{"RequireApprovedApp", "RequireCompliantApp"}, nil, 0, 1},
	{"Require MFA for Azure management", []string{"Mfa"}, nil, 1, 2},
	{"Block high sign-in risk", []string{"Block"}, nil, 3, 16},
	{"Require password change for high user risk", []string{"Mfa", "PasswordChange"}, nil, 3, 16},
	{"Persistent browser session - never", nil, []string{"PersistentBrowserSessionMode"}, 1, 2},
	{`CA – iOS \u0026 Android – Unmanaged`, []string{"Mfa", "RequireApprovedApp"}, nil, 0, 1},
	{"Require MFA for guest users", []string{"Mfa"}, nil, 1, 2},
	{"Block device code flow", []string{"Block"}, nil, 1, 2},
	{"Require MFA when registering security info", []string{"Mfa"}, nil, 0, 1},
	{"Use app enforced restrictions for O365", nil, []string{"ApplicationEnforcedRestrictions"}, 1, 2},
	{"TEST - Require Windows Hello for Business", []string{"RequireAuthenticationStrength"}, nil, 1, 2},
	{"Block unsupported device platforms", []string{"Block"}, nil, 3, 8},
	{"Require phishing-resistant MFA for admins", []string{"RequireAuthenticationStrength"}, nil, 1, 2},
	{"Continuous access evaluation - strict location", nil, []string{"ContinuousAccessEvaluation"}, 1, 2},
	{"Token protection for Exchange Online", nil, []string{"SignInTokenProtection"}, 1, 2},
	{"Require MFA from outside trusted locations", []string{"Mfa"}, nil, 3, 8},
	{`Block access for "Test" accounts`, []string{"Block"}, nil, 1, 2},
	{"Require Mobile access from protected apps/compliant devices", []string{"RequireCompliantDevice"}, nil, 0, 1},
}

var caResults = []string{"notApplied", "notApplied", "notApplied", "success", "reportOnlyNotApplied", "reportOnlySuccess", "notEnabled", "reportOnlyInterrupted"}

// tenant is one Entra ID directory sending to the hub (an MSSP hub carries
// several).
type tenant struct {
	id, domain string
	homes      []int // home countries of its users
	// caArrays are rendered appliedConditionalAccessPolicies arrays, each
	// with other per-policy results; records pick one.
	caArrays []string
}

// user is one account of a tenant.
type user struct {
	upn, name, id string
	tenant        *tenant
	homeTenantID  string
	guest         bool
	ip            string
	ipCountry     int
	office        *office // nil unless ip is a corporate egress
	device        string  // rendered deviceDetail object
	asn           int
}

// attacked is a user whose password an attacker replays over ROPC.
type attacked struct {
	u *user
	// upnVariant is another case of the UPN that some of the attacker's
	// sign-ins carry ("" if none); the rule keys on the exact string.
	upnVariant string
	ips        []string
	ipCountry  []int
	tools      []int // indexes into attackTools
}

// population is everything records are drawn from; it depends only on the
// seed and the user counts.
type population struct {
	tenants    []*tenant
	users      []*user // ordinary users; users[i].office may be set
	remote     []*user // users not on an allowlisted network
	attacked   []attacked
	service    []*user // sanctioned ROPC service accounts on allowlisted networks
	ropcTester *user   // a decoy: its UPN says ROPC, it never uses it
	spApps     []app   // service principals (ServicePrincipalSignInLogs)
}

var firstNames = []string{"Alex", "Megan", "Adele", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Miriam", "Nestor", "Patti", "Pradeep", "Priya", "Kenji", "Yuki", "Lena", "Jonas", "Camille", "Lucas", "Ananya", "Rahul", "Sofia", "Mateo", "Olga", "Ivan", "Chloe", "Noah", "Emma", "Liam", "Zoë", "Björn", "Amélie", "Søren", "Chidi", "Thu", "Ana", "João", "Wei", "Mei", "Omar", "Fatima", "Sven", "Ines", "Marta", "Piotr", "Tomás"}

var lastNames = []string{"Wilber", "Bowen", "Vance", "Siciliani", "Archie", "Cantrell", "Hill", "Lanier", "Sherman", "Gu", "Holloway", "Robbins", "Graham", "Wilke", "Fernandez", "Gupta", "Sharma", "Tanaka", "Sato", "Müller", "Schmidt", "Dubois", "Martin", "Reddy", "Iyer", "García", "López", "Petrova", "Ivanov", "O'Brien", "Nguyen", "Okafor", "Kowalski", "Nowak", "Andersson", "Lindqvist", "Silva", "Santos", "Chen", "Wang", "Haddad", "Rahman", "Rossi", "Moreau", "Novak", "Jensen", "Kim", "Park", "Smith", "Brown"}

// asciiFold maps a display name to the ASCII a directory admin would put in
// a UPN.
var asciiFold = strings.NewReplacer("ë", "e", "ö", "oe", "ø", "o", "é", "e", "ü", "ue", "á", "a", "ã", "a", "í", "i", "ó", "o", "Ø", "O", " ", "")

func newPopulation(seed uint64, nUsers, nAttacked int) *population {
	r := rand.New(rand.NewPCG(seed, 0x706f70756c617465)) // "populate"
	p := &population{}
	// Policy sets differ in size, so records do: the biggest tenant has a
	// lean set (a record of it is about 4 KB), the others 8 to 20 policies.
	specs := []struct {
		domain   string
		homes    []int
		policies func(r *rand.Rand) int
	}{
		{"contoso.com", []int{cUS, cGB}, func(*rand.Rand) int { return 5 }},
		{"fabrikam.com", []int{cDE, cFR, cNL}, func(r *rand.Rand) int { return 8 + r.IntN(5) }},
		{"northwindtraders.com", []int{cIN, cJP, cUS}, func(r *rand.Rand) int { return 14 + r.IntN(7) }},
	}
	for i, s := range specs {
		t := &tenant{id: newUUID(r), domain: s.domain, homes: s.homes}
		t.caArrays = renderPolicySet(r, s.policies(r), i == 0)
		p.tenants = append(p.tenants, t)
	}
	taken := map[string]bool{}
	uniqueUPN := func(local, domain string) string {
		upn := local + "@" + domain
		for n := 2; taken[strings.ToLower(upn)]; n++ {
			upn = fmt.Sprintf("%s%d@%s", local, n, domain)
		}
		taken[strings.ToLower(upn)] = true
		return upn
	}
	newUser := func(t *tenant, local, name string) *user {
		u := &user{upn: uniqueUPN(local, t.domain), name: name, id: newUUID(r), tenant: t, homeTenantID: t.id}
		home := t.homes[r.IntN(len(t.homes))]
		if r.IntN(10) < 3 {
			u.office = &offices[r.IntN(len(offices))]
			u.ip, u.ipCountry = u.office.random(r), u.office.country
		} else {
			u.ip, u.ipCountry = homeIP(r, home, r.IntN(5) == 0), home
		}
		u.asn = countries[u.ipCountry].asn
		u.device = renderDevice(r)
		return u
	}

	// Special accounts first, so they exist at any population size.
	p.ropcTester = newUser(p.tenants[0], "ropc.tester", "ROPC Tester")
	for i, local := range []string{"svc-scan2mail", "svc-crm-sync"} {
		u := newUser(p.tenants[i], local, "Service "+local)
		u.office = &offices[i]
		u.ip, u.ipCountry = u.office.random(r), u.office.country
		p.service = append(p.service, u)
	}
	special := []*user{
		newUser(p.tenants[0], "Admin.Ops", "Admin Ops"),
		newUser(p.tenants[1], "dana.o'brien", "Dana O'Brien"),
		newUser(p.tenants[0], "zoe.muller_gmail.com#EXT#", `Zoë "Zo" Müller`),
		newUser(p.tenants[2], "robert.tables", `Robert "Bobby" Tables\Admin`),
	}
	special[2].guest, special[2].homeTenantID = true, newUUID(r)
	for _, u := range special {
		u.office, u.ip, u.ipCountry = nil, homeIP(r, u.tenant.homes[0], false), u.tenant.homes[0]
	}
	p.users = append(p.users, special...)
	for len(p.users) < nUsers {
		t := p.tenants[0] // holds about 60% of the users
		if k := r.IntN(10); k >= 8 {
			t = p.tenants[2]
		} else if k >= 6 {
			t = p.tenants[1]
		}
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		local := strings.ToLower(asciiFold.Replace(first) + "." + asciiFold.Replace(last))
		if r.IntN(5) == 0 {
			local = asciiFold.Replace(first) + "." + asciiFold.Replace(last) // provisioned with capitals
		}
		u := newUser(t, local, first+" "+last)
		if r.IntN(25) == 0 {
			u.guest, u.homeTenantID = true, newUUID(r)
		}
		p.users = append(p.users, u)
	}
	for _, u := range p.users {
		if u.office == nil {
			p.remote = append(p.remote, u)
		}
	}

	p.chooseAttacked(r, nAttacked, len(special))

	for _, name := range []string{"Contoso Backup Agent", "fabrikam-etl-prod", "Northwind Billing Webhook", "Europcar Fleet Sync"} {
		p.spApps = append(p.spApps, app{name: name, id: newUUID(r), resource: "Microsoft Graph", resourceID: resGraph})
	}
	return p
}

// chooseAttacked picks n attacked users (at most all remote users): the
// first nSpecial remote users, whose UPNs need escaping or differ in case,
// then others at random. Each gets two to four attacker addresses and one or
// two tools.
func (p *population) chooseAttacked(r *rand.Rand, n, nSpecial int) {
	n = min(n, len(p.remote))
	order := r.Perm(len(p.remote) - nSpecial)
	for i := 0; i < n; i++ {
		u := p.remote[i]
		if i >= nSpecial {
			u = p.remote[nSpecial+order[i-nSpecial]]
		}
		a := attacked{u: u}
		if i == 0 {
			a.upnVariant = strings.ToLower(u.upn)
		}
		for k := 2 + r.IntN(3); k > 0; k-- {
			ci := attackCountries[r.IntN(len(attackCountries))]
			a.ips = append(a.ips, attackIP(r, ci, r.IntN(6) == 0))
			a.ipCountry = append(a.ipCountry, ci)
		}
		for k := 1 + r.IntN(2); k > 0; k-- {
			a.tools = append(a.tools, r.IntN(len(attackTools)-1)) // the last tool is allowlisted
		}
		p.attacked = append(p.attacked, a)
	}
}

func renderDevice(r *rand.Rand) string {
	b := []byte(`{"deviceId":`)
	switch r.IntN(4) {
	case 0: // an unregistered personal device
		b = append(b, `"","operatingSystem":"`...)
		b = append(b, []string{"Ios", "Android", "MacOs"}[r.IntN(3)]...)
		b = append(b, `","browser":"`...)
		b = append(b, []string{"Mobile Safari", "Chrome Mobile 124.0.6367", "Safari 17.4"}[r.IntN(3)]...)
		b = append(b, `"}`...)
	default:
		b = append(b, '"')
		b = append(b, newUUID(r)...)
		b = append(b, `","displayName":`...)
		host := fmt.Sprintf("LT-%05d", r.IntN(100000))
		if r.IntN(200) == 0 {
			host = fmt.Sprintf("ROPC-LAB-%02d", r.IntN(100)) // a decoy: "ropc" in a device name
		}
		b = appendString(b, host)
		b = append(b, `,"operatingSystem":"Windows 10","browser":"`...)
		b = append(b, []string{"Edge 124.0.0", "Chrome 124.0.0", "Rich Client 4.61.0.0"}[r.IntN(3)]...)
		b = append(b, `","isCompliant":true,"isManaged":true,"trustType":"`...)
		b = append(b, []string{"Azure AD joined", "Hybrid Azure AD joined"}[r.IntN(2)]...)
		b = append(b, `"}`...)
	}
	return string(b)
}

// renderPolicySet draws a tenant's n conditional-access policies and renders
// a few variants of the array with different per-policy results. With
// mustBlockROPC the set includes the decoy "Block ROPC clients".
func renderPolicySet(r *rand.Rand, n int, mustBlockROPC bool) []string {
	idx := r.Perm(len(caPolicyPool))[:n]
	if mustBlockROPC && !slices.Contains(idx, 2) {
		idx[r.IntN(n)] = 2
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newUUID(r)
	}
	var out []string
	for v := 0; v < 6; v++ {
		b := []byte{'['}
		for k, i := range idx {
			pol := caPolicyPool[i]
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"`...)
			b = append(b, ids[k]...)
			b = append(b, `","displayName":`...)
			b = appendString(b, pol.name)
			b = append(b, `,"enforcedGrantControls":`...)
			b = appendStrings(b, pol.grant)
			b = append(b, `,"enforcedSessionControls":`...)
			b = appendStrings(b, pol.session)
			b = append(b, `,"result":"`...)
			b = append(b, caResults[r.IntN(len(caResults))]...)
			b = append(b, `","conditionsSatisfied":`...)
			b = fmt.Appendf(b, "%d", pol.satisfied)
			b = append(b, `,"conditionsNotSatisfied":`...)
			b = fmt.Appendf(b, "%d", pol.unsat)
			b = append(b, '}')
		}
		out = append(out, string(append(b, ']')))
	}
	return out
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// newUUID returns a random version-4 UUID in its canonical text form.
func newUUID(r *rand.Rand) string { return string(appendUUID(nil, r)) }

// WriteAllowlist writes the NetworkAllowlist watchlist that the generated
// corporate networks form, as a Sentinel watchlist export: a CSV with the
// columns SearchKey and Description. It holds an IPv4 CIDR, an IPv4 a-b range,
// a single IPv4 address and the same three forms for IPv6. The set is fixed:
// it does not depend on any Config.
func WriteAllowlist(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"SearchKey", "Description"}); err != nil {
		return fmt.Errorf("write allowlist: %w", err)
	}
	for _, o := range offices {
		if err := cw.Write([]string{o.entry, o.name}); err != nil {
			return fmt.Errorf("write allowlist: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write allowlist: %w", err)
	}
	return nil
}
