package e2e

import (
	"net/http"
	"testing"
)

// TestAgentNoAgentDetachesVCF: `get --no-agent` logs in within the process
// and lets go of the profile (Keeper.Detach): for VCF the refresh token is
// revoked at once — no live refresh token stays behind — while the access
// token it printed keeps working; no agent is started.
func TestAgentNoAgentDetachesVCF(t *testing.T) {
	s := startSim(t, "vcf", "--user", e2eUser+"="+e2ePassword+":ADMIN")
	tk := newTK(t, vcfConfig(s, e2eUser, "{env: TK_E2E_PW}"), pwEnv)
	r := tk.run(t, nil, "get", "--profile", "sddc", "--no-agent")
	var doc tokenDoc
	if err := strictDecode(r.stdout, &doc); r.code != 0 || err != nil {
		t.Fatalf("get --no-agent: exit %d (%v): %s", r.code, err, r.stderr)
	}
	if st := s.Stats(t); st.Logins != 1 || st.Revocations != 1 || st.ActiveSessions != 0 {
		t.Fatalf("after get --no-agent: %+v, want 1 login, its refresh token revoked, 0 live", st)
	}
	if code := s.Domains(t, doc.Header); code != http.StatusOK {
		t.Fatalf("the printed access token got %d after the detach, want 200", code)
	}
	if pids := tk.agentPIDs(t); len(pids) != 0 {
		t.Fatalf("get --no-agent started agents %v", pids)
	}
}
