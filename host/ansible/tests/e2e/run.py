"""End-to-end test of the tokenkeeper.vmware collection with real ansible-core.

Run by `make e2e-ansible` (after `make build`), from any directory:

  1. builds the collection with ansible-galaxy, installs the artifact into a temporary
     collections path, and checks that ansible-doc renders the lookup;
  2. starts `tokenkeeper-sim vcf` and `tokenkeeper-sim vcd` over TLS with short token
     and session lifetimes, and writes a tokenkeeper profiles file for them (CA files,
     passwords by {env: ...} reference);
  3. runs api.yml with ansible-playbook: uri calls to GET /v1/domains and
     GET /cloudapi/1.0.0/orgs with the lookup's header, spread over more than the
     access lifetime; every task must succeed, /_sim/stats must show one login per
     profile, and the output must not contain a bearer;
  4. runs it again with a wrong VCF password and a fresh agent: it must fail at its
     first task with the helper's message, and the simulator must count exactly one
     failed login, also after a second failing run.

Everything runs under a private XDG_RUNTIME_DIR (where the agent lives); agents are
stopped with `tokenkeeper agent stop` and simulators by PID at the end, whatever happens.
Only the standard library is used; every wait is bounded.
"""

import http.client
import json
import os
import re
import selectors
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.dirname(os.path.dirname(HERE))
REPO = os.path.dirname(os.path.dirname(COLLECTION))
BIN = os.path.join(REPO, "bin")
TOKENKEEPER = os.path.join(BIN, "tokenkeeper")
SIM = os.path.join(BIN, "tokenkeeper-sim")

VCF_USER, VCF_PASSWORD = "svc-automation@vsphere.local", "Vcf-e2e-Passw0rd!"
VCD_USER, VCD_ORG, VCD_PASSWORD = "svc-automation", "System", "Vcd-e2e-Passw0rd!"
VCD_API_VERSION = "37.0"  # the highest version of the simulator's default product, 10.4

# Lifetimes: tokenkeeper hands out a token only when it stays valid for its 30 s safety
# margin, so the simulated lifetimes must exceed that. The playbook then runs well past
# them: VCF access tokens must be refreshed (not logged in again), and the VCD session
# must survive a pause longer than its idle timeout thanks to the profile's keepalive.
ACCESS_TTL = 40
VCD_IDLE = 40
VCD_KEEPALIVE = 10
PAUSES = [ACCESS_TTL + 5, 10]

PLAYBOOK_TIMEOUT = 300
COMMAND_TIMEOUT = 120


class Failure(Exception):
    """A failed check; the message says what was expected and what was seen."""


def log(msg):
    print("e2e-ansible: " + msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)
    log("ok: " + msg)


def run(argv, env=None, timeout=COMMAND_TIMEOUT, cwd=None):
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


class Sim:
    """A tokenkeeper-sim child process, started and stopped by PID."""

    def __init__(self, kind, args, workdir):
        self.kind = kind
        self.ca = os.path.join(workdir, kind + "-ca.pem")
        self.log_path = os.path.join(workdir, kind + "-sim.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([SIM, kind, "--tls", "--ca-out", self.ca] + args,
                                     stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        ready = self._ready_line(timeout=30)
        self.url = ready["url"]
        check(ready.get("caFile") == self.ca and os.path.exists(self.ca),
              "%s simulator ready at %s (pid %d), CA in %s" % (kind, self.url, self.proc.pid, self.ca))
        self._ctx = ssl.create_default_context(cafile=self.ca)
        threading.Thread(target=self._drain, daemon=True).start()

    def _ready_line(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise Failure("%s simulator printed no ready line within %ds (log: %s)" % (self.kind, timeout, self.log_path))
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise Failure("%s simulator exited (status %s) before its ready line (log: %s)"
                              % (self.kind, self.proc.poll(), self.log_path))
            buf += chunk
        sel.close()
        return json.loads(buf.split(b"\n", 1)[0])

    def _drain(self):
        for dummy in iter(lambda: self.proc.stdout.read(4096), b""):
            pass

    def stats(self):
        # http.client rather than urllib: ansible-test's replace-urlopen check is
        # meant for modules, and this driver must not depend on module_utils.
        url = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPSConnection(url.hostname, url.port, context=self._ctx, timeout=10)
        try:
            conn.request("GET", "/_sim/stats")
            resp = conn.getresponse()
            if resp.status != 200:
                raise Failure("%s simulator: GET /_sim/stats: HTTP %d" % (self.kind, resp.status))
            return json.load(resp)
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def build_and_install(workdir):
    """ansible-galaxy collection build + install -p; ansible-doc on the result."""
    rc, out = run(["ansible-galaxy", "collection", "build", COLLECTION, "--output-path", workdir, "--force"])
    check(rc == 0, "ansible-galaxy collection build: %s" % out.strip().splitlines()[-1])
    tarballs = [f for f in os.listdir(workdir) if f.startswith("tokenkeeper-vmware-") and f.endswith(".tar.gz")]
    check(len(tarballs) == 1, "one collection artifact built: %s" % tarballs)
    collections = os.path.join(workdir, "collections")
    rc, out = run(["ansible-galaxy", "collection", "install", os.path.join(workdir, tarballs[0]), "-p", collections])
    check(rc == 0 and os.path.isfile(os.path.join(collections, "ansible_collections", "tokenkeeper", "vmware",
                                                  "plugins", "lookup", "token.py")),
          "ansible-galaxy collection install -p %s" % collections)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections)
    rc, out = run(["ansible-doc", "-t", "lookup", "tokenkeeper.vmware.token"], env=env)
    check(rc == 0 and "TOKENKEEPER.VMWARE.TOKEN" in out and "min_validity" in out and "EXAMPLES" in out,
          "ansible-doc -t lookup tokenkeeper.vmware.token renders (%d lines)" % len(out.splitlines()))
    return collections


def write_config(path, vcf, vcd):
    profiles = [
        "agent:",
        "  idle_timeout: 5m",
        "profiles:",
        "  sddc:",
        "    provider: vcf",
        "    url: %s" % vcf.url,
        "    ca_file: %s" % vcf.ca,
        "    username: %s" % VCF_USER,
        "    password: {env: E2E_VCF_PASSWORD}",
    ]
    if vcd is not None:
        profiles += [
            "  vcd:",
            "    provider: vcd",
            "    url: %s" % vcd.url,
            "    ca_file: %s" % vcd.ca,
            "    org: %s" % VCD_ORG,
            "    username: %s" % VCD_USER,
            "    password: {env: E2E_VCD_PASSWORD}",
            "    keepalive: %ds" % VCD_KEEPALIVE,
        ]
    with open(path, "w") as f:
        f.write("\n".join(profiles) + "\n")
    os.chmod(path, 0o600)


class Agents:
    """The runtime directories given to playbook runs; each may hold an agent to stop."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.running = []

    def new(self, name):
        d = os.path.join(self.workdir, "run-" + name)
        os.makedirs(d, mode=0o700)
        self.running.append(d)
        return d

    def stop(self, runtime_dir, config):
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime_dir, TOKENKEEPER_CONFIG=config)
        try:
            rc, out = run([TOKENKEEPER, "agent", "stop"], env=env, timeout=60)
        except subprocess.TimeoutExpired:
            rc, out = -1, "timed out after 60s"
        log("tokenkeeper agent stop (%s): exit %d %s" % (os.path.basename(runtime_dir), rc, out.strip()))
        if runtime_dir in self.running:
            self.running.remove(runtime_dir)
        return rc


def playbook_env(collections, runtime_dir, config, vcf_password):
    return dict(os.environ,
                ANSIBLE_COLLECTIONS_PATH=collections,
                ANSIBLE_CONFIG=os.path.join(os.path.dirname(runtime_dir), "ansible.cfg"),
                ANSIBLE_NOCOLOR="1",
                ANSIBLE_HOME=os.path.join(os.path.dirname(runtime_dir), "ansible-home"),
                ANSIBLE_LOCAL_TEMP=os.path.join(os.path.dirname(runtime_dir), "ansible-tmp"),
                XDG_RUNTIME_DIR=runtime_dir,
                TOKENKEEPER_CONFIG=config,
                E2E_VCF_PASSWORD=vcf_password,
                E2E_VCD_PASSWORD=VCD_PASSWORD)


def playbook(collections, runtime_dir, config, vcf, vcd, vcf_password, no_log=True):
    env = playbook_env(collections, runtime_dir, config, vcf_password)
    extra = {
        "tokenkeeper_helper_path": TOKENKEEPER,
        "vcf_url": vcf.url, "vcf_ca": vcf.ca,
        "vcd_url": vcd.url if vcd else "", "vcd_ca": vcd.ca if vcd else "",
        "vcd_api_version": VCD_API_VERSION,
        "pauses": PAUSES, "e2e_no_log": no_log,
    }
    argv = ["ansible-playbook", "-v", "-i", "localhost,", os.path.join(HERE, "api.yml"), "-e", json.dumps(extra)]
    start = time.monotonic()
    rc, out = run(argv, env=env, timeout=PLAYBOOK_TIMEOUT)
    return rc, out, time.monotonic() - start


def recap(out):
    m = re.search(r"^localhost\s*:\s*(.*)$", out, re.M)
    return m.group(1).strip() if m else "(no recap)"


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def good_run(collections, agents, config, vcf, vcd):
    log("playbook run 1: correct passwords, pauses %s s, access TTL %ds, VCD idle timeout %ds"
        % (PAUSES, ACCESS_TTL, VCD_IDLE))
    runtime = agents.new("good")
    rc, out, took = playbook(collections, runtime, config, vcf, vcd, VCF_PASSWORD)
    if rc != 0:
        print(out)
    check(rc == 0, "ansible-playbook succeeded in %.1fs: %s" % (took, recap(out)))
    check(took > ACCESS_TTL, "the run (%.0fs) outlasted the access lifetime (%ds)" % (took, ACCESS_TTL))
    check(re.search(r"failed=0\b", out) is not None, "no task failed")
    check("Bearer " not in out and "eyJ" not in out, "no bearer or JWT in the ansible-playbook -v output")
    s = vcf.stats()
    log("vcf /_sim/stats: %s" % json.dumps(s))
    check(s["logins"] == 1 and s["loginFailures"] == 0, "vcf: exactly 1 login (%d), no failed login" % s["logins"])
    check(s["unauthorized"] == 0, "vcf: no request was refused with 401")
    check(s["refreshes"] >= 1, "vcf: the token was refreshed (%d refreshes), not logged in again" % s["refreshes"])
    if vcd is not None:
        d = vcd.stats()
        log("vcd /_sim/stats: %s" % json.dumps(d))
        check(d["logins"] == 1 and d["loginFailures"] == 0, "vcd: exactly 1 login (%d), no failed login" % d["logins"])
        check(d["unauthorized"] == 0, "vcd: no request was refused with 401")
    warm_lookup_cost(collections, runtime, config, vcf)
    before = [sim.stats() for sim in (vcf, vcd) if sim]
    agents.stop(runtime, config)
    for sim, b in zip([s for s in (vcf, vcd) if s], before):
        a = sim.stats()
        check(delta(a, b, "revocations") == 1 and a["activeSessions"] == 0,
              "%s: tokenkeeper agent stop revoked upstream (%+d revocation, %d active sessions left)"
              % (sim.kind, delta(a, b, "revocations"), a["activeSessions"]))


def warm_lookup_cost(collections, runtime, config, vcf, n=40):
    """Times warm.yml with 0 and n lookups: what one lookup adds to a playbook."""
    env = playbook_env(collections, runtime, config, VCF_PASSWORD)
    took = {}
    for count in (0, n) * 3:
        argv = ["ansible-playbook", "-i", "localhost,", os.path.join(HERE, "warm.yml"),
                "-e", json.dumps({"tokenkeeper_helper_path": TOKENKEEPER, "n": count})]
        start = time.monotonic()
        rc, out = run(argv, env=env, timeout=PLAYBOOK_TIMEOUT)
        elapsed = time.monotonic() - start
        if rc != 0:
            print(out)
        check(rc == 0, "warm.yml with %d lookups succeeded in %.2fs" % (count, elapsed))
        took[count] = min(took.get(count, elapsed), elapsed)
    per = (took[n] - took[0]) / n
    log("FIGURE: one warm lookup costs %.1f ms inside ansible-playbook (%d lookups: %.2fs, none: %.2fs; best of 3)"
        % (per * 1000, n, took[n], took[0]))
    s = vcf.stats()
    check(s["logins"] == 1, "vcf: still exactly 1 login after %d more lookups" % (3 * n))


def bad_run(collections, agents, config, vcf, vcd):
    log("playbook run 2: wrong VCF password, fresh agent")
    runtime = agents.new("bad")
    base_vcf = vcf.stats()
    base_vcd = vcd.stats() if vcd else {}
    for attempt in (1, 2):
        rc, out, took = playbook(collections, runtime, config, vcf, vcd, "wrong-password", no_log=False)
        fatal = [line for line in out.splitlines() if line.startswith("fatal:")]
        log("attempt %d: exit %d in %.1fs; %s" % (attempt, rc, took, fatal[0] if fatal else "(no fatal line)"))
        check(rc == 2, "attempt %d: ansible-playbook failed (exit %d)" % (attempt, rc))
        first_task = re.search(r"TASK \[([^\]]*)\]", out)
        check(first_task is not None and first_task.group(1).startswith("VCF GET /v1/domains") and len(fatal) == 1
              and "ok=0" in recap(out), "attempt %d: it failed at its first task: %s" % (attempt, recap(out)))
        # The first attempt reaches upstream; the second is refused by the agent's
        # lockout guard without contacting it, with the same exit status and the
        # guard's explanation (the rejection it remembers).
        if attempt == 1:
            want = ["(Unauthenticated, exit status 3): ", "credentials rejected"]
        else:
            want = [", exit status 3): ", "(lockout guard)", "BAD_CREDENTIALS"]
        check("tokenkeeper lookup: profile 'sddc' failed (" in fatal[0] and all(w in fatal[0] for w in want),
              "attempt %d: the failure carries the helper's code, message and exit status" % attempt)
        s = vcf.stats()
        check(delta(s, base_vcf, "loginFailures") == 1 and delta(s, base_vcf, "logins") == 0,
              "attempt %d: vcf counts exactly 1 failed login in total (%d), no login"
              % (attempt, delta(s, base_vcf, "loginFailures")))
    if vcd is not None:
        d = vcd.stats()
        check(delta(d, base_vcd, "logins") + delta(d, base_vcd, "loginFailures") == 0, "vcd was not contacted")
    agents.stop(runtime, config)


def vcd_missing():
    """Returns why the VCD half cannot run, or None."""
    rc, out = run([SIM, "vcd", "--help"], timeout=30)
    if rc != 0 or "Cloud Director" not in out:
        return "this tokenkeeper-sim has no vcd simulator (tokenkeeper-sim vcd --help: exit %d)" % rc
    return None


def main():
    for tool in ("ansible-playbook", "ansible-galaxy", "ansible-doc"):
        if shutil.which(tool) is None:
            raise Failure("%s not found: install ansible-core (make e2e-ansible does)" % tool)
    for exe in (TOKENKEEPER, SIM):
        if not os.access(exe, os.X_OK):
            raise Failure("%s missing: run make build" % exe)
    workdir = tempfile.mkdtemp(prefix="tk-ansible-e2e-")
    open(os.path.join(workdir, "ansible.cfg"), "w").close()  # no user ansible.cfg applies
    sims, agents, config = [], Agents(workdir), os.path.join(workdir, "config.yaml")
    try:
        collections = build_and_install(workdir)
        vcf = Sim("vcf", ["--user", "%s=%s:ADMIN" % (VCF_USER, VCF_PASSWORD), "--access-ttl", "%ds" % ACCESS_TTL], workdir)
        sims.append(vcf)
        vcd = None
        skip = vcd_missing()
        if skip:
            log("SKIP the VCD half: %s" % skip)
        else:
            vcd = Sim("vcd", ["--user", "%s@%s=%s" % (VCD_USER, VCD_ORG, VCD_PASSWORD),
                              "--idle-timeout", "%ds" % VCD_IDLE], workdir)
            sims.append(vcd)
        write_config(config, vcf, vcd)
        good_run(collections, agents, config, vcf, vcd)
        bad_run(collections, agents, config, vcf, vcd)
    finally:
        for d in list(agents.running):
            agents.stop(d, config)
        for s in sims:
            s.stop()
        if os.environ.get("E2E_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("kept %s" % workdir)
    log("PASS")


if __name__ == "__main__":
    try:
        main()
    except (Failure, subprocess.TimeoutExpired) as e:
        log("FAIL: %s" % e)
        sys.exit(1)
