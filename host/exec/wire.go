package exec

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// The documents a client sends and reads on every call — the request
// out, the Token answer in — are written and read here by hand, not by
// encoding/json's reflection: its first use of a type builds the type's
// codec, which costs the short-lived front (`tokenkeeper get` with a
// warm agent) about 0.8 M instructions of its ~1.1 M. The results are
// those of encoding/json, byte for byte and field for field
// (FuzzRequestJSON, FuzzDecodeAnswer).

// AppendJSON appends the document json.Marshal(r) makes (in the same
// field order, with the same escaping and omissions) to b.
func (r TokenRequest) AppendJSON(b []byte) []byte {
	b = appendHead(b, r.APIVersion, r.Kind, r.Profile)
	if r.MinValidity != 0 {
		b = append(b, `,"minValidity":`...)
		b = appendString(b, time.Duration(r.MinValidity).String())
	}
	if r.ForceRefresh {
		b = append(b, `,"forceRefresh":true`...)
	}
	if r.AllowShorter {
		b = append(b, `,"allowShorter":true`...)
	}
	return append(b, '}')
}

// AppendJSON appends the document json.Marshal(r) makes to b.
func (r InvalidateRequest) AppendJSON(b []byte) []byte {
	b = appendHead(b, r.APIVersion, r.Kind, r.Profile)
	b = append(b, `,"fingerprint":`...)
	b = appendString(b, r.Fingerprint)
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, r.Reason)
	}
	return append(b, '}')
}

// appendHead opens a request document with the fields both requests
// start with, in their order.
func appendHead(b []byte, apiVersion, kind, profile string) []byte {
	b = append(b, `{"apiVersion":`...)
	b = appendString(b, apiVersion)
	b = append(b, `,"kind":`...)
	b = appendString(b, kind)
	b = append(b, `,"profile":`...)
	return appendString(b, profile)
}

// appendString appends s as a JSON string the way json.Marshal writes
// one: HTML-escaped (<, > and &), control characters as \b, \f, \n, \r,
// \t or \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Answer is what the agent answers a request with on the exec protocol
// (agentconn.Call): a Token document, or an Error document (Error set).
type Answer struct {
	Token
	Error *ErrorBody `json:"error"`
}

// DecodeAnswer is json.Unmarshal(doc, a) for a zero *a: the same
// fields, the same error. A Token document as the agent writes it — the
// keys of Token spelled exactly, string values without escapes, a bool —
// is read without reflection; anything else (an Error document, an
// escape, a number, null, another key, a syntax error) goes to
// encoding/json. a is filled in place: the front's frames stay free of
// the document's 270 bytes.
func DecodeAnswer(doc []byte, a *Answer) error {
	if a.parseToken(doc) {
		return nil
	}
	*a = Answer{}
	return json.Unmarshal(doc, a)
}

// parseToken reads doc into a when it is a Token document of the plain
// form DecodeAnswer describes, and reports whether it was. Every string
// is a substring of one copy of doc: one allocation for them all.
func (a *Answer) parseToken(doc []byte) bool {
	s := scanner{b: doc, s: string(doc)}
	ok := s.object(func(key string) bool {
		if p := a.stringField(key); p != nil {
			return s.strInto(p)
		}
		switch key {
		case "header":
			return s.object(func(key string) bool {
				switch key {
				case "name":
					return s.strInto(&a.Header.Name)
				case "value":
					return s.strInto(&a.Header.Value)
				}
				return false
			})
		case "expiresAt":
			start := s.i
			if _, ok := s.str(); !ok {
				return false
			}
			// What encoding/json calls for a time.Time: the same
			// parse, the same value, and an error goes the slow way.
			return a.ExpiresAt.UnmarshalJSON(doc[start:s.i]) == nil
		case "shorterThanRequested":
			v, ok := s.boolean()
			a.ShorterThanRequested = v
			return ok
		}
		return false
	})
	s.space()
	return ok && s.i == len(doc)
}

// stringField is the string field of a's Token named key, spelled
// exactly; nil for another key.
func (a *Answer) stringField(key string) *string {
	switch key {
	case "apiVersion":
		return &a.APIVersion
	case "kind":
		return &a.Kind
	case "profile":
		return &a.Profile
	case "provider":
		return &a.Provider
	case "token":
		return &a.Token.Token
	case "tokenType":
		return &a.TokenType
	case "fingerprint":
		return &a.Fingerprint
	case "url":
		return &a.URL
	case "caFile":
		return &a.CAFile
	case "principal":
		return &a.Principal
	case "role":
		return &a.Role
	}
	return nil
}

// scanner reads the plain JSON subset parseToken accepts from b (s is
// the same bytes as a string, for substrings). Every method reports
// false for anything outside that subset; the caller then leaves the
// document to encoding/json, which also gives the error of a bad one.
type scanner struct {
	b []byte
	s string
	i int
}

// space skips JSON white space.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after white space.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string with no escape and no control character, of
// valid UTF-8: one encoding/json decodes to its bytes as they are.
func (s *scanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return "", false
	}
	v := s.b[start : start+end]
	if bytes.IndexByte(v, '\\') >= 0 {
		return "", false
	}
	for _, c := range v {
		if c < 0x20 {
			return "", false
		}
	}
	s.i = start + end + 1
	return s.s[start : start+end], utf8.Valid(v)
}

// strInto reads a string (str) into *p.
func (s *scanner) strInto(p *string) bool {
	v, ok := s.str()
	*p = v
	return ok
}

// boolean reads true or false.
func (s *scanner) boolean() (bool, bool) {
	s.space()
	rest := s.b[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// object reads an object, calling member for each key once its colon is
// read; member reads the value. A repeated key is read again, into the
// same field, as encoding/json does.
func (s *scanner) object(member func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.next(':') || !member(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}
