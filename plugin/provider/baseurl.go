package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// BaseURL is a profile's url as a provider sends requests below it: an
// absolute http(s) URL, kept with its path prefix (a reverse proxy in
// front may serve the API below one).
type BaseURL struct{ u *url.URL }

// ParseBaseURL checks raw, the profile's url; a trailing slash is
// dropped. It refuses user info (net/http would send it as Basic auth on
// every request, and it is a secret in the file), a query and a
// fragment; its errors show the URL redacted, never raw.
func ParseBaseURL(raw string) (BaseURL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	switch {
	case err != nil:
		return BaseURL{}, fmt.Errorf("url is not a URL: %w", ErrBadConfig)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return BaseURL{}, fmt.Errorf("url %q must be an absolute http(s) URL: %w", u.Redacted(), ErrBadConfig)
	case u.User != nil:
		return BaseURL{}, fmt.Errorf("url must not carry credentials (user info): %w", ErrBadConfig)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return BaseURL{}, fmt.Errorf("url %q must not have a query or fragment: %w", u.Redacted(), ErrBadConfig)
	}
	return BaseURL{u: u}, nil
}

// NewRequest builds a request for path below the base URL. Requests go
// only to the host the profile names: a login URL a server advertises is
// never followed, so credentials reach no other host. A request that
// cannot be built is a configuration problem.
func (b BaseURL) NewRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	u := *b.u
	u.Path = strings.TrimRight(b.u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("could not build %s %s: %w", method, path, errors.Join(err, ErrBadConfig))
	}
	return req, nil
}

// String is the URL: scheme, host and path.
func (b BaseURL) String() string {
	return b.u.Scheme + "://" + b.u.Host + strings.TrimRight(b.u.EscapedPath(), "/")
}

// Origin is the server's origin for Account (see Origin), or the URL as
// configured when it has none.
func (b BaseURL) Origin() string {
	origin, err := Origin(b.u.String())
	if err != nil {
		return b.u.String()
	}
	return origin
}
