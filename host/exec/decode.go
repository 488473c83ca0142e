package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// fields maps each key a request may hold, spelled exactly, to where its
// value goes: *string, *bool or *Duration.
type fields map[string]any

// decodeRequest reads one JSON object of kind from r into dst. It walks
// the object's keys itself rather than trusting encoding/json, which
// matches keys case-insensitively and lets a repeated key win silently:
// {"Profile":"nosuch","profile":"sddc"} must not mean "sddc". Every key
// must be one of dst's, spelled exactly, and appear once. Errors name the
// key, never a value.
func decodeRequest(r io.Reader, kind string, dst fields) error {
	data, err := readRequest(r, kind)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walkObject(dec, kind, dst); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid(fmt.Sprintf("malformed %s on stdin: more than one JSON document", kind))
	}
	return nil
}

// readRequest reads all of stdin, bounded by MaxRequest.
func readRequest(r io.Reader, kind string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRequest+1))
	if err != nil {
		return nil, invalid(fmt.Sprintf("could not read %s from stdin: %v", kind, err))
	}
	if len(data) > MaxRequest {
		return nil, invalid(fmt.Sprintf("%s on stdin is larger than %d bytes", kind, MaxRequest))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid(fmt.Sprintf("no --profile given and no %s on stdin", kind))
	}
	return data, nil
}

// walkObject reads one object from dec, key by key, storing each value.
func walkObject(dec *json.Decoder, kind string, dst fields) error {
	malformed := func(what string) error {
		return invalid(fmt.Sprintf("malformed %s on stdin: %s", kind, what))
	}
	tok, err := dec.Token()
	if err != nil {
		return malformed(jsonProblem(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return malformed("must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(jsonProblem(err))
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		if err := checkKey(key, seen, dst); err != nil {
			return malformed(err.Error())
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return malformed(jsonProblem(err))
		}
		if err := store(raw, dst[key]); err != nil {
			return malformed(fmt.Sprintf("field %q: %v", key, err))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return malformed(jsonProblem(err))
	}
	return nil
}

// checkKey accepts a key of dst spelled exactly and not seen before.
func checkKey(key string, seen map[string]bool, dst fields) error {
	if _, ok := dst[key]; !ok {
		for known := range dst {
			if strings.EqualFold(known, key) {
				return fmt.Errorf("unknown field %q: did you mean %q? (field names are case-sensitive)", key, known)
			}
		}
		return fmt.Errorf("unknown field %q", key)
	}
	if seen[key] {
		return fmt.Errorf("field %q appears more than once", key)
	}
	seen[key] = true
	return nil
}

// store decodes raw into dst, describing a mismatch by the expected type.
func store(raw json.RawMessage, dst any) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return errors.New("must not be null")
	}
	err := json.Unmarshal(raw, dst)
	if err == nil {
		return nil
	}
	switch dst.(type) {
	case *string:
		return errors.New("must be a string")
	case *bool:
		return errors.New("must be true or false")
	case *Duration:
		if errors.Is(err, errDurationNegative) {
			return err
		}
		return errDurationSyntax
	}
	return errors.New("has the wrong type")
}

// jsonProblem describes a decoding error without echoing the input, which
// might hold something a user pasted by mistake.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return "invalid JSON"
}
