package synth

import (
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"
)

// Log categories that share the hub.
const (
	catNonInteractive   = "NonInteractiveUserSignInLogs"
	catInteractive      = "SignInLogs"
	catServicePrincipal = "ServicePrincipalSignInLogs"
)

// signIn is one record to write. Strings are raw; the writer escapes them.
type signIn struct {
	ns          int64 // event time, Unix nanoseconds, a multiple of 100
	category    string
	u           *user
	upn         string // u.upn, or a case variant of it
	app         *app
	appName     string // app.name, or a variant spelling of it
	ua          string
	ip          string
	country     int
	asn         int
	office      *office // the named location ip belongs to, if any
	protocol    string  // "" leaves authenticationProtocol out (the older shape)
	errorCode   int
	password    bool // the first factor was a password typed now (ROPC)
	risky       bool
	caVariant   int
	processing  int
	tokenType   string
	scopes      string
	omitNewKeys bool // the 2021 shape: no incomingTokenType, uniqueTokenIdentifier
}

// failure is an Entra ID error code with its logged texts.
type failure struct {
	code            int
	reason, details string
}

var (
	ropcFailures = []failure{
		{50126, "Error validating credentials due to invalid username or password.", "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes."},
		{50126, "Error validating credentials due to invalid username or password.", "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes."},
		{50126, "Error validating credentials due to invalid username or password.", ""},
		{50053, "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.", "The account is locked because the user tried to sign in too many times with an incorrect user ID or password."},
		{50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '797f4846-ba00-4fd7-ba43-dac1f8f63013'.", "MFA is required for this sign-in."},
		{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", ""},
		{50034, "The user account does not exist in the directory. To sign into this application, the account must be added to the directory.", ""},
	}
	normalFailures = []failure{
		{50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", ""},
		{70044, "The session has expired or is invalid due to sign-in frequency checks by conditional access.", ""},
		{700082, "The refresh token has expired due to inactivity. The token was issued on 2026-01-28T09:12:44.2201874Z and was inactive for 90.00:00:00.", ""},
		{50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0ff1-ce00-000000000000'.", ""},
		{50074, "Strong Authentication is required.", ""},
		{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", ""},
		{50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.", ""},
		{50089, "Authentication failed due to flow token expired.", ""},
	}
	failureByCode = func() map[int]failure {
		m := map[int]failure{}
		for _, f := range append(append([]failure(nil), normalFailures...), ropcFailures...) {
			if _, ok := m[f.code]; !ok {
				m[f.code] = f
			}
		}
		return m
	}()
)

// recordWriter renders records; it owns scratch space reused across records.
type recordWriter struct {
	r   *rand.Rand
	pop *population
	// idBuf holds the properties.id of the record written last.
	idBuf   [36]byte
	timeBuf [27]byte // 2006-01-02T15:04:05.0000000
}

// appendSignIn appends one user sign-in record (interactive or not).
func (w *recordWriter) appendSignIn(b []byte, s *signIn) []byte {
	t := w.formatTime(s.ns)
	appendUUID(w.idBuf[:0], w.r)
	id := w.idBuf[:]
	var corr [36]byte
	appendUUID(corr[:0], w.r)
	ten := s.u.tenant
	f := failureByCode[s.errorCode]

	b = append(b, `{"time":"`...)
	b = append(b, t...)
	b = append(b, `Z","resourceId":"/tenants/`...)
	b = append(b, ten.id...)
	b = append(b, `/providers/Microsoft.aadiam","operationName":"Sign-in activity","operationVersion":"1.0","category":"`...)
	b = append(b, s.category...)
	b = append(b, `","tenantId":"`...)
	b = append(b, ten.id...)
	b = append(b, `","resultType":"`...)
	b = strconv.AppendInt(b, int64(s.errorCode), 10)
	b = append(b, `","resultSignature":"None",`...)
	if s.errorCode != 0 {
		b = append(b, `"resultDescription":`...)
		b = appendString(b, f.reason)
		b = append(b, ',')
	}
	b = append(b, `"durationMs":0,"callerIpAddress":`...)
	b = appendString(b, s.ip)
	b = append(b, `,"correlationId":"`...)
	b = append(b, corr[:]...)
	b = append(b, `","identity":`...)
	b = appendString(b, s.u.name)
	b = append(b, `,"Level":4,"location":"`...)
	b = append(b, countries[s.country].code...)

	b = append(b, `","properties":{"id":"`...)
	b = append(b, id...)
	b = append(b, `","createdDateTime":"`...)
	b = append(b, t...)
	b = append(b, `+00:00","userDisplayName":`...)
	b = appendString(b, s.u.name)
	b = append(b, `,"userPrincipalName":`...)
	b = appendString(b, s.upn)
	b = append(b, `,"userId":"`...)
	b = append(b, s.u.id...)
	b = append(b, `","appId":"`...)
	b = append(b, s.app.id...)
	b = append(b, `","appDisplayName":`...)
	b = appendString(b, s.appName)
	b = append(b, `,"ipAddress":`...)
	b = appendString(b, s.ip)
	b = append(b, `,"status":{"errorCode":`...)
	b = strconv.AppendInt(b, int64(s.errorCode), 10)
	switch {
	case s.errorCode != 0:
		b = append(b, `,"failureReason":`...)
		b = appendString(b, f.reason)
		if f.details != "" {
			b = append(b, `,"additionalDetails":`...)
			b = appendString(b, f.details)
		}
	case s.app.previouslySatisfiedFactors && !s.password:
		b = append(b, `,"additionalDetails":"MFA requirement satisfied by claim in the token"`...)
	}
	b = append(b, `},"clientAppUsed":`...)
	b = appendString(b, s.app.clientApp)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, s.ua)
	b = append(b, `,"deviceDetail":`...)
	if s.password {
		b = append(b, `{"deviceId":"","operatingSystem":"Linux","browser":"`...)
		b = append(b, browserOf(s.ua)...)
		b = append(b, `"}`...)
	} else {
		b = append(b, s.u.device...)
	}
	c := &countries[s.country]
	b = append(b, `,"location":{"city":`...)
	b = appendString(b, c.city)
	b = append(b, `,"state":`...)
	b = appendString(b, c.state)
	b = append(b, `,"countryOrRegion":"`...)
	b = append(b, c.code...)
	b = append(b, `","geoCoordinates":{"latitude":`...)
	// Entra ID logs float32 coordinates widened to float64.
	b = strconv.AppendFloat(b, float64(float32(c.lat+float64(w.r.IntN(200)-100)/1e4)), 'f', -1, 64)
	b = append(b, `,"longitude":`...)
	b = strconv.AppendFloat(b, float64(float32(c.lon+float64(w.r.IntN(200)-100)/1e4)), 'f', -1, 64)
	b = append(b, `}},"mfaDetail":{},"correlationId":"`...)
	b = append(b, corr[:]...)
	b = append(b, `","conditionalAccessStatus":"`...)
	switch {
	case s.errorCode == 53003:
		b = append(b, "failure"...)
	case s.password:
		b = append(b, "notApplied"...)
	default:
		b = append(b, "success"...)
	}
	b = append(b, `","appliedConditionalAccessPolicies":`...)
	b = append(b, ten.caArrays[s.caVariant%len(ten.caArrays)]...)
	b = append(b, `,"originalRequestId":"`...)
	b = append(b, id...)
	b = append(b, `","isInteractive":`...)
	b = strconv.AppendBool(b, s.category == catInteractive)
	b = append(b, `,"tokenIssuerName":"","tokenIssuerType":"AzureAD","authenticationProcessingDetails":[{"key":"Legacy TLS (TLS 1.0, 1.1, 3DES)","value":"False"},{"key":"Oauth Scope Info","value":`...)
	b = appendString(b, s.scopes)
	b = append(b, `},{"key":"Is CAE Token","value":"False"}],"networkLocationDetails":`...)
	if s.office != nil {
		b = append(b, `[{"networkType":"trustedNamedLocation","networkNames":[`...)
		b = appendString(b, s.office.name)
		b = append(b, `]}]`...)
	} else {
		b = append(b, `[]`...)
	}
	b = append(b, `,"processingTimeInMilliseconds":`...)
	b = strconv.AppendInt(b, int64(s.processing), 10)
	if s.risky {
		b = append(b, `,"riskDetail":"none","riskLevelAggregated":"medium","riskLevelDuringSignIn":"medium","riskState":"atRisk","riskEventTypes":["unfamiliarFeatures"],"riskEventTypes_v2":["unfamiliarFeatures"]`...)
	} else {
		b = append(b, `,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none","riskEventTypes":[],"riskEventTypes_v2":[]`...)
	}
	b = append(b, `,"resourceDisplayName":`...)
	b = appendString(b, s.app.resource)
	b = append(b, `,"resourceId":"`...)
	b = append(b, s.app.resourceID...)
	b = append(b, `","resourceTenantId":"`...)
	b = append(b, ten.id...)
	b = append(b, `","homeTenantId":"`...)
	b = append(b, s.u.homeTenantID...)
	b = append(b, `","authenticationDetails":`...)
	b = w.appendAuthDetails(b, s, t)
	b = append(b, `,"authenticationRequirementPolicies":[],"authenticationRequirement":"`...)
	if s.password {
		b = append(b, `singleFactorAuthentication`...)
	} else {
		b = append(b, `multiFactorAuthentication`...)
	}
	b = append(b, `","servicePrincipalId":"","userType":"`...)
	if s.u.guest {
		b = append(b, `Guest`...)
	} else {
		b = append(b, `Member`...)
	}
	b = append(b, `","flaggedForReview":false,"isTenantRestricted":false,"autonomousSystemNumber":`...)
	b = strconv.AppendInt(b, int64(s.asn), 10)
	b = append(b, `,"crossTenantAccessType":"`...)
	if s.u.guest {
		b = append(b, `b2bCollaboration`...)
	} else {
		b = append(b, `none`...)
	}
	b = append(b, `","privateLinkDetails":{},"ssoExtensionVersion":""`...)
	if !s.omitNewKeys {
		b = append(b, `,"uniqueTokenIdentifier":"`...)
		b = base64.StdEncoding.AppendEncode(b, id)
		b = append(b, `","incomingTokenType":`...)
		b = appendString(b, s.tokenType)
	}
	if s.protocol != "" {
		b = append(b, `,"authenticationProtocol":`...)
		b = appendString(b, s.protocol)
	}
	return append(b, `}}`...)
}

func (w *recordWriter) appendAuthDetails(b []byte, s *signIn, t []byte) []byte {
	switch {
	case s.password:
		b = append(b, `[{"authenticationStepDateTime":"`...)
		b = append(b, t...)
		b = append(b, `+00:00","authenticationMethod":"Password","authenticationMethodDetail":"Password in the cloud","succeeded":`...)
		if s.errorCode == 0 || s.errorCode == 53003 || s.errorCode == 50076 {
			b = append(b, `true,"authenticationStepResultDetail":"Correct password"`...)
		} else {
			b = append(b, `false,"authenticationStepResultDetail":"Invalid username or password or Invalid on-premise username or password."`...)
		}
		return append(b, `,"authenticationStepRequirement":"Primary authentication","StatusSequence":0,"RequestSequence":0}]`...)
	case s.app.previouslySatisfiedFactors:
		b = append(b, `[{"authenticationStepDateTime":"`...)
		b = append(b, t...)
		return append(b, `+00:00","authenticationMethod":"Previously satisfied","succeeded":true,"authenticationStepResultDetail":"MFA requirement satisfied by claim in the token","authenticationStepRequirement":"Multi-factor authentication","StatusSequence":0,"RequestSequence":0}]`...)
	}
	return append(b, `[]`...)
}

// appendServicePrincipal appends one ServicePrincipalSignInLogs record.
func (w *recordWriter) appendServicePrincipal(b []byte, ns int64, ten *tenant, sp *app, ip string, ci int) []byte {
	t := w.formatTime(ns)
	appendUUID(w.idBuf[:0], w.r)
	id := w.idBuf[:]
	var corr, spid [36]byte
	appendUUID(corr[:0], w.r)
	appendUUID(spid[:0], w.r)
	b = append(b, `{"time":"`...)
	b = append(b, t...)
	b = append(b, `Z","resourceId":"/tenants/`...)
	b = append(b, ten.id...)
	b = append(b, `/providers/Microsoft.aadiam","operationName":"Sign-in activity","operationVersion":"1.0","category":"ServicePrincipalSignInLogs","tenantId":"`...)
	b = append(b, ten.id...)
	b = append(b, `","resultType":"0","resultSignature":"None","durationMs":0,"callerIpAddress":`...)
	b = appendString(b, ip)
	b = append(b, `,"correlationId":"`...)
	b = append(b, corr[:]...)
	b = append(b, `","identity":`...)
	b = appendString(b, sp.name)
	b = append(b, `,"Level":4,"location":"`...)
	b = append(b, countries[ci].code...)
	b = append(b, `","properties":{"id":"`...)
	b = append(b, id...)
	b = append(b, `","createdDateTime":"`...)
	b = append(b, t...)
	b = append(b, `+00:00","appId":"`...)
	b = append(b, sp.id...)
	b = append(b, `","appDisplayName":`...)
	b = appendString(b, sp.name)
	b = append(b, `,"ipAddress":`...)
	b = appendString(b, ip)
	b = append(b, `,"status":{"errorCode":0},"location":{"city":`...)
	b = appendString(b, countries[ci].city)
	b = append(b, `,"state":`...)
	b = appendString(b, countries[ci].state)
	b = append(b, `,"countryOrRegion":"`...)
	b = append(b, countries[ci].code...)
	b = append(b, `"},"correlationId":"`...)
	b = append(b, corr[:]...)
	b = append(b, `","conditionalAccessStatus":"notApplied","appliedConditionalAccessPolicies":[],"originalRequestId":"`...)
	b = append(b, id...)
	b = append(b, `","isInteractive":false,"tokenIssuerType":"AzureAD","authenticationProcessingDetails":[{"key":"Azure AD App Authentication Library","value":"Family: MSAL Library: MSAL.NET 4.60.3.0 Platform: .NET"}],"networkLocationDetails":[],"processingTimeInMilliseconds":`...)
	b = strconv.AppendInt(b, int64(20+w.r.IntN(200)), 10)
	b = append(b, `,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none","resourceDisplayName":`...)
	b = appendString(b, sp.resource)
	b = append(b, `,"resourceId":"`...)
	b = append(b, sp.resourceID...)
	b = append(b, `","resourceTenantId":"`...)
	b = append(b, ten.id...)
	b = append(b, `","homeTenantId":"`...)
	b = append(b, ten.id...)
	b = append(b, `","servicePrincipalId":"`...)
	b = append(b, spid[:]...)
	b = append(b, `","servicePrincipalName":`...)
	b = appendString(b, sp.name)
	b = append(b, `,"servicePrincipalCredentialKeyId":"`...)
	b = appendUUID(b, w.r)
	b = append(b, `","servicePrincipalCredentialThumbprint":"","clientCredentialType":"clientSecret","uniqueTokenIdentifier":"`...)
	b = base64.StdEncoding.AppendEncode(b, id)
	return append(b, `","incomingTokenType":"none"}}`...)
}

// browserOf names the client the way deviceDetail.browser does.
func browserOf(ua string) string {
	switch {
	case len(ua) >= 15 && ua[:15] == "python-requests":
		return "Python Requests " + ua[16:]
	case len(ua) >= 4 && ua[:4] == "curl":
		return "Curl " + ua[5:]
	case len(ua) >= 6 && ua[:6] == "python":
		return "Python 3.11"
	}
	return "Rich Client 5.1"
}

// formatTime renders ns as 2006-01-02T15:04:05.0000000 (UTC, seven
// fractional digits, no zone) into scratch space valid until the next call.
func (w *recordWriter) formatTime(ns int64) []byte {
	t := time.Unix(0, ns).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b := w.timeBuf[:0]
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	return appendDigits(b, t.Nanosecond()/100, 7)
}

func appendDigits(b []byte, v, width int) []byte {
	var d [8]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

const hexDigits = "0123456789abcdef"

// appendUUID appends a random version-4 UUID in canonical text form.
func appendUUID(b []byte, r *rand.Rand) []byte {
	var u [16]byte
	hi, lo := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0x0f])
	}
	return b
}

// appendString appends s as a JSON string. It escapes '"', '\\' and control
// characters, and replaces invalid UTF-8 with U+FFFD, so the output is valid
// JSON whatever s holds. It does not escape HTML characters.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0x0f])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
