package exec

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// allowShorter is a request field of its own, strictly typed; the Token
// document carries shorterThanRequested only when it is true, so clients
// that do not know it see the document they always did.
func TestAllowShorterFields(t *testing.T) {
	req, err := ParseTokenRequest(strings.NewReader(
		`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p","minValidity":"3s","allowShorter":true}`))
	if err != nil || !req.AllowShorter || time.Duration(req.MinValidity) != 3*time.Second {
		t.Fatalf("ParseTokenRequest: %+v, %v", req, err)
	}
	for _, bad := range []string{`"allowShorter":"yes"`, `"AllowShorter":true`, `"allowShorter":null`} {
		_, err := ParseTokenRequest(strings.NewReader(`{"apiVersion":"tokenkeeper/v1","kind":"TokenRequest","profile":"p",` + bad + `}`))
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, shorter := range []bool{false, true} {
		var out bytes.Buffer
		if err := WriteToken(&out, Token{Profile: "p", Token: "t", ShorterThanRequested: shorter}, FormatJSON); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		v, present := doc["shorterThanRequested"]
		if present != shorter || (shorter && v != true) {
			t.Errorf("shorter=%v: document has shorterThanRequested=%v (present %v)", shorter, v, present)
		}
	}
}
