package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Proxy is an auth proxy the agent serves for one profile (YAML
// `proxies.<profile>`; see `tokenkeeper proxy`), started with the agent.
type Proxy struct {
	// Profile is the key: the profile whose token the proxy adds.
	Profile string
	// Listen is "unix:PATH" or "IP:PORT" (loopback only, checked when the
	// agent starts it); "" is the socket proxy-<profile>.sock in the
	// runtime directory.
	Listen string
	// RequireHeader, if set, must carry the random value the agent writes
	// to HeaderFile ("" puts it in the runtime directory).
	RequireHeader string
	HeaderFile    string
	// Timeout bounds the wait for upstream's response headers; 0 means the
	// proxy's default.
	Timeout time.Duration
	// Line is where the entry starts in the file.
	Line int
}

var proxyKeys = []string{"listen", "require_header", "header_file", "timeout"}

const proxiesHelp = "must be a mapping of profile names to proxy settings, e.g. proxies: {sddc: {listen: 127.0.0.1:8443}}"

// proxies parses the top-level `proxies` mapping; an entry may be empty
// (`sddc: {}` or `sddc:`) for a proxy on the default socket.
func (ps *parser) proxies(n *yaml.Node, cfg *Config) {
	w := where{field: "proxies"}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		ps.fail(n, w, proxiesHelp)
		return
	}
	for _, p := range ps.pairs(n, w, false) {
		px := Proxy{Profile: p.key, Line: p.k.Line}
		pw := w.sub(p.key)
		switch {
		case isNull(p.v):
		case p.v.Kind != yaml.MappingNode:
			ps.fail(p.v, pw, proxiesHelp)
			continue
		default:
			ps.proxy(p.v, pw, &px)
		}
		cfg.Proxies = append(cfg.Proxies, px)
	}
}

func (ps *parser) proxy(n *yaml.Node, w where, px *Proxy) {
	for _, q := range ps.pairs(n, w, false) {
		qw := w.sub(q.key)
		switch q.key {
		case "listen":
			ps.str(q.v, qw, &px.Listen)
		case "require_header":
			ps.str(q.v, qw, &px.RequireHeader)
		case "header_file":
			ps.path(q.v, qw, &px.HeaderFile)
		case "timeout":
			ps.duration(q.v, qw, &px.Timeout, bounds{min: MinTimeout})
		default:
			ps.unknown(q.k, w, q.key, proxyKeys)
		}
	}
}

// checkProxies reports a proxy of a profile the file does not define.
func (ps *parser) checkProxies(cfg *Config) {
	for _, px := range cfg.Proxies {
		p, ok := cfg.Profiles[px.Profile]
		switch {
		case !ok && len(cfg.Profiles) > 0:
			ps.errs = append(ps.errs, &Error{File: ps.file, Line: px.Line, Field: "proxies." + px.Profile,
				Msg: "names no profile of this file"})
		case ok && p.Provider == ProviderVault:
			ps.errs = append(ps.errs, &Error{File: ps.file, Line: px.Line, Field: "proxies." + px.Profile,
				Msg: "a profile of provider vault has Vault's url, not the API's: the proxy would not know where to send requests"})
		}
	}
}
