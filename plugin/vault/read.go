package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/tokenkeeper/tokenkeeper/plugin/secret"
)

// fieldOf picks field out of a read: of data.data when the answer is a KV
// version 2 one (data and metadata side by side), else of data.
func fieldOf(s *api.Secret, field string) (secret.Secret, error) {
	data := s.Data
	if inner, ok := kv2Data(data); ok {
		if inner == nil {
			return secret.Secret{}, errors.New("the latest version of this KV secret is deleted or destroyed")
		}
		data = inner
	}
	raw, ok := data[field]
	if !ok {
		return secret.Secret{}, fmt.Errorf("no field %q here; fields: %s", field, fieldNames(data))
	}
	var v string
	switch x := raw.(type) {
	case string:
		v = x
	case json.Number:
		v = x.String()
	default:
		return secret.Secret{}, fmt.Errorf("field %q is not a string (value not shown)", field)
	}
	if v == "" {
		return secret.Secret{}, fmt.Errorf("field %q is empty", field)
	}
	return secret.New(v), nil
}

// kv2Data is data.data of a KV version 2 answer; ok is false for any other
// answer. A deleted latest version has data null.
func kv2Data(data map[string]any) (inner map[string]any, ok bool) {
	meta, hasMeta := data["metadata"].(map[string]any)
	raw, hasData := data["data"]
	if !hasMeta || !hasData || meta == nil {
		return nil, false
	}
	if raw == nil {
		return nil, true
	}
	inner, ok = raw.(map[string]any)
	return inner, ok
}

// fieldNames lists the keys of data (names, never values), or "none".
func fieldNames(data map[string]any) string {
	if len(data) == 0 {
		return "none"
	}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// kv2Hint explains a path that found nothing by its mount: a KV version 2
// mount needs data/ after the mount, a version 1 mount must not have it.
// It asks Vault (sys/internal/ui/mounts, which the default policy
// allows); when that fails there is no hint.
func (c *Client) kv2Hint(ctx context.Context, path string) string {
	var s *api.Secret
	err := c.withToken(ctx, func(ctx context.Context) error {
		var err error
		s, err = c.api.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+path)
		return err
	})
	if err != nil || s == nil {
		return ""
	}
	mount, _ := s.Data["path"].(string)
	typ, _ := s.Data["type"].(string)
	opts, _ := s.Data["options"].(map[string]any)
	version, _ := opts["version"].(string)
	if typ != "kv" || mount == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(path, strings.TrimPrefix(mount, "/"))
	if !ok {
		return ""
	}
	inData := strings.HasPrefix(rest, "data/")
	switch {
	case version == "2" && !inData:
		return fmt.Sprintf(" (%s is a KV version 2 mount: write the path as %sdata/%s)", mount, mount, rest)
	case version != "2" && inData:
		return fmt.Sprintf(" (%s is a KV version 1 mount: write the path without data/, as %s%s)",
			mount, mount, strings.TrimPrefix(rest, "data/"))
	}
	return ""
}
