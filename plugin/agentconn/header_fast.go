package agentconn

import (
	"bytes"
	"time"
)

// The header lines appendHeader writes, as json.Marshal spells them.
var (
	headerStart   = []byte(`{"protocol":1`)
	headerTimeout = []byte(`,"timeout":"`)
)

// parseHeaderFast reads a header line of exactly the form appendHeader
// writes — {"protocol":1} or {"protocol":1,"timeout":"1.5s"} with a
// positive timeout of printable ASCII, no space, no escape — without a JSON
// decoder, which was about 6% of the agent's work per exec call. ok is
// false for anything else, which parseHeaderJSON then accepts or refuses
// with its exact error (FuzzParseHeader compares the two).
func parseHeaderFast(line []byte) (t time.Duration, ok bool) {
	rest, found := bytes.CutPrefix(line, headerStart)
	if !found {
		return 0, false
	}
	if len(rest) == 1 && rest[0] == '}' {
		return 0, true
	}
	rest, found = bytes.CutPrefix(rest, headerTimeout)
	if !found {
		return 0, false
	}
	value, found := bytes.CutSuffix(rest, []byte(`"}`))
	if !found || len(value) == 0 {
		return 0, false
	}
	for _, c := range value {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return 0, false
		}
	}
	t, err := time.ParseDuration(string(value))
	if err != nil || t <= 0 {
		return 0, false
	}
	return t, true
}
