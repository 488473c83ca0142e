package vcd

import (
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// products maps a Cloud Director release to its highest API version.
var products = map[string]string{
	"9.5": "31.0", "9.7": "32.0", "10.0": "33.0", "10.1": "34.0", "10.2": "35.0",
	"10.3": "36.0", "10.4": "37.0", "10.5": "38.0", "10.6": "39.0",
}

// DefaultProduct is the release simulated when none is chosen: the newest
// that still has the legacy /api/sessions endpoint.
const DefaultProduct = "10.4"

// Versions at which the wire changes.
const (
	// CloudAPI sessions exist from 10.0 on.
	cloudAPISince = 33.0
	// From 36.0 the advertised LoginUrl is the CloudAPI session endpoint
	// and ProviderLoginUrl appears.
	cloudLoginURLSince = 36.0
	// From 30.0 the legacy login also returns the JWT headers.
	legacyJWTSince = 30.0
	// API tokens (10.3.1) and service accounts (10.4) use the OAuth
	// endpoints.
	oauthSince = 36.0
	// 10.5 removed POST /api/sessions and DELETE /api/session.
	legacyRemovedAt = 38.0
)

// ProductVersions returns the API versions a release offers: the six up
// to its highest, as real servers list a window of versions (the older
// half of any list is flagged deprecated, see newVersionSet).
func ProductVersions(product string) ([]string, error) {
	top, ok := products[product]
	if !ok {
		names := make([]string, 0, len(products))
		for p := range products {
			names = append(names, p)
		}
		slices.SortFunc(names, func(a, b string) int { return compare(a, b) })
		return nil, fmt.Errorf("unknown product %q (known: %s)", product, strings.Join(names, ", "))
	}
	hi, _ := strconv.ParseFloat(top, 64)
	var vs []string
	for v := hi - 5; v <= hi; v++ {
		vs = append(vs, strconv.FormatFloat(v, 'f', 1, 64))
	}
	return vs, nil
}

// ParseVersions parses "32.0,33.0,…" into a version list.
func ParseVersions(s string) ([]string, error) {
	var vs []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, err := strconv.ParseFloat(f, 64); err != nil {
			return nil, fmt.Errorf("API version %q is not a number like 37.0", f)
		}
		vs = append(vs, f)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no API versions in %q", s)
	}
	return vs, nil
}

func num(v string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

func compare(a, b string) int {
	x, y := num(a), num(b)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// versionSet is the server's supported versions.
type versionSet struct {
	sorted     []string // ascending
	deprecated map[string]bool
}

// newVersionSet marks the oldest half (rounded down) of the list
// deprecated, never the highest.
func newVersionSet(vs []string) versionSet {
	s := slices.Clone(vs)
	slices.SortFunc(s, compare)
	s = slices.CompactFunc(s, func(a, b string) bool { return compare(a, b) == 0 })
	dep := map[string]bool{}
	for i := 0; i < len(s)/2 && i < len(s)-1; i++ {
		dep[s[i]] = true
	}
	return versionSet{sorted: s, deprecated: dep}
}

func (v versionSet) max() float64 { return num(v.sorted[len(v.sorted)-1]) }

func (v versionSet) supports(version string) bool {
	return slices.ContainsFunc(v.sorted, func(s string) bool { return compare(s, version) == 0 })
}

// Features of the simulated release.
func (v versionSet) hasCloudAPI() bool { return v.max() >= cloudAPISince }
func (v versionSet) hasLegacy() bool   { return v.max() < legacyRemovedAt }
func (v versionSet) hasOAuth() bool    { return v.max() >= oauthSince }

// unsorted is the listing order: real servers do not sort, so neither
// does the simulator (odd indexes descending, then even ones ascending).
func (v versionSet) unsorted() []string {
	var odd, even []string
	for i, s := range v.sorted {
		if i%2 == 1 {
			odd = append([]string{s}, odd...)
		} else {
			even = append(even, s)
		}
	}
	return append(odd, even...)
}

type xmlVersionInfo struct {
	Deprecated       bool   `xml:"deprecated,attr"`
	Version          string `xml:"Version"`
	LoginURL         string `xml:"LoginUrl"`
	ProviderLoginURL string `xml:"ProviderLoginUrl,omitempty"`
}

type xmlSupportedVersions struct {
	XMLName  xml.Name         `xml:"http://www.vmware.com/vcloud/versions SupportedVersions"`
	Versions []xmlVersionInfo `xml:"VersionInfo"`
}

// serveVersions is GET /api/versions, no authentication.
func (b *Backend) serveVersions(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	var doc xmlSupportedVersions
	for _, v := range b.versions.unsorted() {
		info := xmlVersionInfo{Deprecated: b.versions.deprecated[v], Version: v, LoginURL: base + "/api/sessions"}
		if num(v) >= cloudLoginURLSince {
			info.LoginURL = base + "/cloudapi/1.0.0/sessions"
			info.ProviderLoginURL = base + "/cloudapi/1.0.0/sessions/provider"
		}
		doc.Versions = append(doc.Versions, info)
	}
	out, _ := xml.MarshalIndent(doc, "", "  ")
	w.Header().Set("Content-Type", "application/vnd.vmware.vcloud.versions+xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// acceptVersion returns the version= parameter of the Accept header.
func acceptVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if _, params, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && params["version"] != "" {
			return params["version"]
		}
	}
	return ""
}

// checkVersion answers 406 NOT_ACCEPTABLE when the request does not ask
// for a version the server supports; it returns the accepted version.
func (b *Backend) checkVersion(w http.ResponseWriter, r *http.Request, asJSON bool) (string, bool) {
	v := acceptVersion(r)
	if v != "" && b.versions.supports(v) {
		return v, true
	}
	msg := fmt.Sprintf("The request has invalid accept header: Invalid API version requested (%q). Supported versions: %s",
		v, strings.Join(b.versions.sorted, ", "))
	b.writeError(w, asJSON, http.StatusNotAcceptable, "NOT_ACCEPTABLE", msg)
	return "", false
}
