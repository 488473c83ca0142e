package vcd

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tokenkeeper/tokenkeeper/plugin/provider"
)

// versionInfo is one VersionInfo element of GET /api/versions. Element
// names are matched without their namespace so that any server spelling
// of http://www.vmware.com/vcloud/versions is accepted.
type versionInfo struct {
	Deprecated       bool   `xml:"deprecated,attr"`
	Version          string `xml:"Version"`
	LoginURL         string `xml:"LoginUrl"`
	ProviderLoginURL string `xml:"ProviderLoginUrl"`
}

type supportedVersions struct {
	XMLName  xml.Name      `xml:"SupportedVersions"`
	Versions []versionInfo `xml:"VersionInfo"`
}

// cloudAPISince is the first API version whose advertised login is the
// CloudAPI session endpoint; legacyRemoved is the first without
// POST /api/sessions (Cloud Director 10.5).
const (
	cloudAPISince = "36.0"
	legacyRemoved = "38.0"
)

// compareVersions orders API versions numerically, part by part:
// "9.0" < "10.0" < "37.0" < "37.2" < "38.1". Non-numeric parts compare as
// strings after the numeric ones so that odd labels still sort stably.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y string
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		xi, xerr := strconv.Atoi(orZero(x))
		yi, yerr := strconv.Atoi(orZero(y))
		switch {
		case xerr == nil && yerr == nil:
			if c := xi - yi; c != 0 {
				return sign(c)
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return 0
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func sign(c int) int {
	if c < 0 {
		return -1
	}
	return 1
}

// versionList renders the server's versions, sorted, for error messages.
func versionList(vs []versionInfo) string {
	names := make([]string, 0, len(vs))
	for _, v := range vs {
		names = append(names, v.Version)
	}
	slices.SortFunc(names, compareVersions)
	return strings.Join(names, ", ")
}

// selectVersion picks the API version to speak. A configured version must
// be offered by the server (deprecated or not). Otherwise the highest
// non-deprecated version wins (the highest of all when every one is
// deprecated). With legacy login and no configured version, versions from
// 38.0 on are skipped because they no longer have POST /api/sessions.
func selectVersion(vs []versionInfo, want string, legacy bool) (versionInfo, error) {
	if len(vs) == 0 {
		return versionInfo{}, fmt.Errorf("the server lists no API versions: %w", provider.ErrProtocol)
	}
	if want != "" {
		for _, v := range vs {
			if compareVersions(v.Version, want) == 0 {
				return v, nil
			}
		}
		return versionInfo{}, fmt.Errorf("api_version %q is not supported by the server, which offers %s: %w",
			want, versionList(vs), provider.ErrBadConfig)
	}
	var best, bestAny *versionInfo
	for i := range vs {
		v := &vs[i]
		if legacy && compareVersions(v.Version, legacyRemoved) >= 0 {
			continue
		}
		if bestAny == nil || compareVersions(v.Version, bestAny.Version) > 0 {
			bestAny = v
		}
		if !v.Deprecated && (best == nil || compareVersions(v.Version, best.Version) > 0) {
			best = v
		}
	}
	if best == nil {
		best = bestAny
	}
	if best == nil {
		return versionInfo{}, fmt.Errorf("legacy_login needs an API version below %s, the server offers %s: %w",
			legacyRemoved, versionList(vs), provider.ErrBadConfig)
	}
	return *best, nil
}

// usesCloudAPI reports whether password logins go to the CloudAPI session
// endpoints: from API 36.0 on, or when the server advertises them.
func (v versionInfo) usesCloudAPI() bool {
	return compareVersions(v.Version, cloudAPISince) >= 0 ||
		v.ProviderLoginURL != "" || strings.Contains(v.LoginURL, "/cloudapi/")
}

// versions returns the server's version list, fetched once per provider.
func (p *Provider) versions(ctx context.Context) ([]versionInfo, error) {
	p.mu.Lock()
	cached := p.versionCache
	p.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	req, err := p.base.NewRequest(ctx, http.MethodGet, "/api/versions", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/*+xml")
	r, err := p.do(req, "discover API versions")
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, p.upstreamError("discover API versions", req, r, loginKind(r.Status))
	}
	var sv supportedVersions
	if err := xml.Unmarshal(r.Body, &sv); err != nil {
		// Every Cloud Director answers this unauthenticated call with
		// SupportedVersions: a 200 with anything else (a portal's HTML
		// page) comes from another server at url.
		return nil, &provider.Error{Op: "discover API versions", Method: req.Method, Path: req.URL.Path,
			Status: r.Status, Message: p.notCloudDirector() + " (not a SupportedVersions document)", Kind: provider.ErrBadConfig}
	}
	p.mu.Lock()
	p.versionCache = sv.Versions
	p.mu.Unlock()
	return sv.Versions, nil
}

// version discovers the server's versions and selects the one to speak.
func (p *Provider) version(ctx context.Context) (versionInfo, error) {
	vs, err := p.versions(ctx)
	if err != nil {
		return versionInfo{}, err
	}
	v, err := selectVersion(vs, p.cfg.APIVersion, p.cfg.LegacyLogin)
	if err != nil {
		return versionInfo{}, fmt.Errorf("select API version: %w", err)
	}
	p.log.Trace("selected API version", "version", v.Version, "cloudapi", v.usesCloudAPI())
	return v, nil
}
