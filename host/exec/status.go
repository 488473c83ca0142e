package exec

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// KindStatus is the kind of the document `tokenkeeper status --json` prints.
const KindStatus = "Status"

// Status is the document `tokenkeeper status --json` prints: the agents
// serving the caller's profiles file and the state of every profile. It
// never holds a token: fingerprints only.
type Status struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Agent      AgentStatus `json:"agent"` // the caller's: its {env} values
	// OtherAgents run for the same file with other {env} values; each
	// holds its own tokens.
	OtherAgents []AgentStatus   `json:"otherAgents"`
	Profiles    []ProfileStatus `json:"profiles"`
}

// NewStatus is an empty Status document: no agent, no profile, and empty
// lists (never null) for both.
func NewStatus() Status {
	return Status{APIVersion: APIVersion, Kind: KindStatus, OtherAgents: []AgentStatus{}, Profiles: []ProfileStatus{}}
}

// AgentStatus is one agent of the caller's profiles file.
type AgentStatus struct {
	Running bool   `json:"running"`
	Socket  string `json:"socket"`
	PID     int    `json:"pid,omitempty"`
	// Tag names the agent's view of the {env} variables (a keyed hash of
	// their values, never the values); "" when the file reads none.
	Tag string `json:"tag,omitempty"`
}

// AgentRef says which agent holds a profile's state.
type AgentRef struct {
	PID int    `json:"pid,omitempty"`
	Tag string `json:"tag,omitempty"`
}

// ProfileStatus is the state of one profile in one agent. Times are UTC;
// an absent time is an unknown or unset one.
type ProfileStatus struct {
	Agent            *AgentRef  `json:"agent,omitempty"` // nil: no agent runs
	Profile          string     `json:"profile"`
	Provider         string     `json:"provider"`
	URL              string     `json:"url"`
	State            string     `json:"state"`
	AccessExpiresAt  *time.Time `json:"accessExpiresAt,omitempty"`
	RefreshExpiresAt *time.Time `json:"refreshExpiresAt,omitempty"`
	Fingerprint      string     `json:"fingerprint,omitempty"`
	LastError        string     `json:"lastError,omitempty"`
	RetryAt          *time.Time `json:"retryAt,omitempty"`
	LastUsed         *time.Time `json:"lastUsed,omitempty"`
	Counts           Counts     `json:"counts"`
	// Principal, Role and Scopes describe the current token as the
	// upstream does; absent when no token is held or it did not say.
	Principal string   `json:"principal,omitempty"`
	Role      string   `json:"role,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
}

// Counts are a profile's upstream calls since its agent started.
type Counts struct {
	Logins          int64 `json:"logins"`
	LoginFailures   int64 `json:"loginFailures"`
	Refreshes       int64 `json:"refreshes"`
	RefreshFailures int64 `json:"refreshFailures"`
	Revocations     int64 `json:"revocations"`
}

// WriteStatus writes doc to w as indented JSON.
func WriteStatus(w io.Writer, doc Status) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("could not write JSON: %w", err)
	}
	return nil
}
