# -*- coding: utf-8 -*-
# Copyright: tokenkeeper contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Lookup plugin tokenkeeper.vmware.token: a valid bearer from `tokenkeeper get`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: token
author: tokenkeeper maintainers (@tokenkeeper)
version_added: "1.0.0"
short_description: fetch a valid bearer token for a VMware API from tokenkeeper
description:
  - Returns a bearer token for each tokenkeeper profile named in the terms, ready to
    send to VCF SDDC Manager or VMware Cloud Director.
  - The lookup holds no authentication logic. It runs the C(tokenkeeper get) credential
    helper with a JSON C(TokenRequest) on standard input and reads the one JSON C(Token)
    document it prints. Login, caching, refresh before expiry, lockout protection and
    revocation happen in the tokenkeeper agent, which C(tokenkeeper get) starts on first
    use and which outlives the lookup, so a long playbook logs in once per profile and
    every later lookup returns the cached token or a freshly refreshed one.
  - Profiles, URLs, CA files and credential references are configured in the tokenkeeper
    profiles file (see I(config)), never in the playbook. No secret is passed on the
    command line of the helper.
  - Like every lookup, this runs on the Ansible controller, not on the managed host.
  - Errors never contain a token. A token is also never written to a warning or to the
    verbose output of this lookup; only its fingerprint is. Set C(no_log) on the tasks that
    use the token, because modules such as M(ansible.builtin.uri) show their arguments,
    headers included, in verbose output and in failure results.
options:
  _terms:
    description:
      - Names of tokenkeeper profiles, as defined in the profiles file. One result per name.
    type: list
    elements: str
    required: true
  format:
    description:
      - Shape of each result.
      - C(token) returns the bare access token as a string.
      - 'C(header) returns a dictionary with the one HTTP header to send, for example
        C({"Authorization": "Bearer eyJ..."}), ready for the C(headers) option of
        M(ansible.builtin.uri). This is the form to prefer for API calls, because the
        header name depends on the profile (legacy VMware Cloud Director sessions use
        C(x-vcloud-authorization) instead of C(Authorization)).'
      - C(json) returns the whole C(Token) document printed by the helper as a dictionary
        (see RETURN), including C(expiresAt) and C(fingerprint).
    type: str
    default: token
    choices: [token, header, json]
    vars:
      - name: tokenkeeper_format
    env:
      - name: TOKENKEEPER_LOOKUP_FORMAT
    ini:
      - section: tokenkeeper_lookup
        key: format
  min_validity:
    description:
      - The token returned must stay valid for at least this long, as a duration such as
        C(90s), C(10m) or C(1h30m). An integer is taken as seconds.
      - Set it to the duration of the longest task that uses the token, so that the token
        does not expire halfway through, for example a C(wait_for) or a long polling loop.
      - When not set, tokenkeeper applies its own default (the token is valid for at
        least its safety margin of about 30 seconds).
    type: str
    vars:
      - name: tokenkeeper_min_validity
    env:
      - name: TOKENKEEPER_MIN_VALIDITY
    ini:
      - section: tokenkeeper_lookup
        key: min_validity
  allow_shorter:
    description:
      - When the upstream is unavailable and no token valid for I(min_validity) can be had,
        accept the cached token anyway as long as it has not expired, instead of failing
        with C(Unavailable).
      - Such a result is marked (C(shorterThanRequested) in the C(json) format) and the
        lookup prints a warning with its expiry. Leave it off for tasks that must not
        start with a token that may expire halfway through.
    type: bool
    default: false
    vars:
      - name: tokenkeeper_allow_shorter
    env:
      - name: TOKENKEEPER_ALLOW_SHORTER
    ini:
      - section: tokenkeeper_lookup
        key: allow_shorter
  helper_path:
    description:
      - The tokenkeeper executable, either a name searched for on the controller's
        C(PATH) or a path to the file.
    type: str
    default: tokenkeeper
    vars:
      - name: tokenkeeper_helper_path
    env:
      - name: TOKENKEEPER_PATH
    ini:
      - section: tokenkeeper_lookup
        key: helper_path
  config:
    description:
      - Path of the tokenkeeper profiles file, passed to the helper as C(--config).
      - When not set, the helper uses its own default, C($TOKENKEEPER_CONFIG) and then
        C($XDG_CONFIG_HOME/tokenkeeper/config.yaml).
      - Each profiles file has its own tokenkeeper agent; after the file changes, the next
        lookup starts a fresh agent with the new profiles (the old one revokes and exits).
    type: path
    vars:
      - name: tokenkeeper_config
    env:
      - name: TOKENKEEPER_CONFIG
    ini:
      - section: tokenkeeper_lookup
        key: config
  timeout:
    description:
      - Seconds to wait for the helper to answer, for each profile. It is passed to the
        helper as C(--timeout), and the helper is killed when it runs longer than that
        plus a grace period of two seconds; either way the lookup fails.
      - The first lookup of a profile logs in to the upstream; later ones are answered
        from the agent's cache in milliseconds.
    type: float
    default: 60
    vars:
      - name: tokenkeeper_timeout
    env:
      - name: TOKENKEEPER_LOOKUP_TIMEOUT
    ini:
      - section: tokenkeeper_lookup
        key: timeout
notes:
  - Options are resolved, from highest to lowest precedence, from the keyword given to
    the lookup, the Ansible variable, the environment variable, the C([tokenkeeper_lookup])
    section of C(ansible.cfg) and the default.
  - A failed lookup raises an error carrying the helper's message, its error code (for
    example C(Unauthenticated), C(PermissionDenied), C(Unavailable)) and its exit status.
    tokenkeeper never retries a rejected password on its own, so a wrong password fails
    fast and cannot lock the account.
  - C(no_log) hides the failure message of the task too. To diagnose a failing lookup,
    run C(tokenkeeper get --profile NAME --format token >/dev/null) on the controller, or
    rerun the play with C(no_log) turned off for the failing task; the lookup's error never
    contains a token.
seealso:
  - module: ansible.builtin.uri
  - name: tokenkeeper
    description: The tokenkeeper credential helper, its profiles file and its agent.
    link: https://github.com/tokenkeeper/tokenkeeper
"""

EXAMPLES = r"""
# The recommended form: the header dictionary goes straight into uri's headers.
# no_log keeps the header out of verbose output and failure results.
- name: List the workload domains of SDDC Manager
  ansible.builtin.uri:
    url: https://sddc-manager.lab.local/v1/domains
    headers: "{{ lookup('tokenkeeper.vmware.token', 'sddc', format='header') }}"
    ca_path: /etc/ssl/sddc-ca.pem
    return_content: true
  register: domains
  no_log: true

# A task that runs long (here polling for up to 40 minutes) asks for a token that
# stays valid at least that long.
- name: Wait for the domain to be created
  ansible.builtin.uri:
    url: "https://sddc-manager.lab.local/v1/tasks/{{ task_id }}"
    headers: "{{ lookup('tokenkeeper.vmware.token', 'sddc', format='header', min_validity='45m') }}"
  register: task
  until: task.json.status in ['SUCCESSFUL', 'FAILED']
  retries: 80
  delay: 30
  no_log: true

# VMware Cloud Director: the same lookup; the header name comes from the profile.
- name: List the organizations visible to the provider
  ansible.builtin.uri:
    url: https://vcd.example.com/cloudapi/1.0.0/orgs
    headers: "{{ lookup('tokenkeeper.vmware.token', 'vcd-provider', format='header')
                 | combine({'Accept': 'application/json;version=37.0'}) }}"
  register: orgs
  no_log: true

# Options can also come from variables, for a whole play or an inventory group.
- name: Use a specific helper and profiles file
  hosts: localhost
  vars:
    tokenkeeper_helper_path: /opt/tokenkeeper/bin/tokenkeeper
    tokenkeeper_config: "{{ playbook_dir }}/tokenkeeper.yaml"
    tokenkeeper_min_validity: 15m
  tasks:
    - name: Call the API
      ansible.builtin.uri:
        url: https://sddc-manager.lab.local/v1/domains
        headers: "{{ lookup('tokenkeeper.vmware.token', 'sddc', format='header') }}"
      no_log: true

# The bare token, for a script or CLI run on the controller, through its environment
# (never on its command line, where other users could read it).
- name: Run a report script with the token
  ansible.builtin.command: ./report.sh
  environment:
    SDDC_TOKEN: "{{ lookup('tokenkeeper.vmware.token', 'sddc', min_validity='30m') }}"
  delegate_to: localhost
  no_log: true

# The full document, when the expiry time or fingerprint matters.
- name: Show when the current token expires (the token itself is not printed)
  ansible.builtin.debug:
    msg: "{{ (lookup('tokenkeeper.vmware.token', 'sddc', format='json')).expiresAt }}"

# One result per profile, with query().
- name: Tokens for two profiles
  ansible.builtin.set_fact:
    both_headers: "{{ query('tokenkeeper.vmware.token', 'sddc', 'vcd-tenant', format='header') }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description:
    - One element per profile named in the terms, in the same order.
    - With I(format=token), the access token as a string.
    - 'With I(format=header), a dictionary with one entry, the header name and its value,
      for example C({"Authorization": "Bearer eyJ..."}).'
    - With I(format=json), the C(Token) document as a dictionary, with the keys below.
  type: list
  elements: raw
  contains:
    apiVersion:
      description: Version of the exec protocol.
      type: str
      sample: tokenkeeper/v1
    kind:
      description: Always C(Token).
      type: str
      sample: Token
    profile:
      description: The profile the token belongs to.
      type: str
      sample: sddc
    provider:
      description: The upstream kind of the profile, C(vcf) or C(vcd).
      type: str
      sample: vcf
    token:
      description: The access token.
      type: str
      sample: eyJhbGciOiJSUzI1NiJ9...
    tokenType:
      description: The token type, normally C(Bearer).
      type: str
      sample: Bearer
    header:
      description: The exact HTTP header to send with API calls.
      type: dict
      contains:
        name:
          description: Header name.
          type: str
          sample: Authorization
        value:
          description: Header value.
          type: str
          sample: Bearer eyJhbGciOiJSUzI1NiJ9...
    expiresAt:
      description: When the token expires, in RFC 3339 UTC.
      type: str
      sample: "2026-11-22T11:40:00Z"
    fingerprint:
      description: A short, non-reversible identifier of the token, safe to log.
      type: str
      sample: "sha256:1f2e3d4c5b6a7988"
    shorterThanRequested:
      description:
        - Present and true only when I(allow_shorter) accepted a token that expires before
          I(min_validity) because the upstream was unavailable.
      type: bool
      sample: true
    url:
      description:
        - The profile's upstream URL, so tasks need not repeat it.
        - Optional, absent with tokenkeeper releases before it was added.
      type: str
      sample: https://sddc-manager.lab.local
    caFile:
      description:
        - Absolute path of the CA bundle the profile verifies the upstream with, for
          C(ca_path) of M(ansible.builtin.uri).
        - Optional, absent when the profile uses the system's roots.
      type: str
      sample: /etc/ssl/sddc-ca.pem
"""

import json
import os
import re
import shutil
import subprocess

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import integer_types, string_types
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

display = Display()

API_VERSION = "tokenkeeper/v1"

# Go's time.ParseDuration syntax, which is what the helper accepts.
_DURATION_RE = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|ms|s|m|h)"
                          r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|ms|s|m|h))*$")

# Longest piece of helper stderr quoted in an error. The exec protocol promises that
# stderr holds one human line and never a secret; the cap keeps a broken helper from
# flooding the play output.
_STDERR_LIMIT = 500

# Seconds the helper gets past its own --timeout before it is killed.
_KILL_GRACE = 2.0

# Exit statuses of the exec protocol, used when the helper prints no Error document.
_EXIT_CODES = {
    1: "Internal",
    2: "InvalidArgument",
    3: "Unauthenticated",
    4: "PermissionDenied",
    5: "Unavailable",
}


class TokenkeeperLookupError(AnsibleLookupError):
    """A failed lookup. Carries the helper's error code, exit status and retryability.

    The message never contains a token.
    """

    def __init__(self, message, code=None, exit_status=None, retryable=None, profile=None):
        super(TokenkeeperLookupError, self).__init__(message)
        self.code = code
        self.exit_status = exit_status
        self.retryable = retryable
        self.profile = profile


class LookupModule(LookupBase):
    """Returns one token (or header, or Token document) per profile name."""

    def run(self, terms, variables=None, **kwargs):
        self._check_keywords(kwargs)
        self.set_options(var_options=self._option_vars(variables), direct=kwargs)
        fmt = self.get_option("format")
        min_validity = _duration(self.get_option("min_validity"))
        allow_shorter = self.get_option("allow_shorter")
        timeout = self.get_option("timeout")
        if timeout is None or timeout <= 0:
            raise TokenkeeperLookupError("tokenkeeper lookup: timeout must be a positive number of seconds")
        helper = _resolve_helper(self.get_option("helper_path"))
        config = self.get_option("config")

        results = []
        for term in terms:
            profile = _profile(term)
            doc = self._get(helper, config, profile, min_validity, allow_shorter, timeout)
            results.append(_shape(doc, fmt))
        return results

    def _check_keywords(self, kwargs):
        # Config resolution silently drops unknown keywords; a typo such as
        # min_valdity would then go unnoticed until a token expires mid-task.
        known = set(self.option_definitions or {}) - {"_terms"}
        unknown = sorted(k for k in kwargs if k not in known)
        if unknown:
            raise TokenkeeperLookupError(
                "tokenkeeper lookup: unknown option(s) %s; known options: %s"
                % (", ".join(unknown), ", ".join(sorted(known))))

    def _option_vars(self, variables):
        """Returns this plugin's variables, templated.

        The variables handed to a lookup are not templated yet, so a play setting
        tokenkeeper_config: "{{ playbook_dir }}/tk.yaml" would otherwise reach the
        config manager as the literal template.
        """
        if not variables:
            return variables
        names = set()
        for definition in (self.option_definitions or {}).values():
            for entry in definition.get("vars") or []:
                names.add(entry["name"])
        picked = {}
        for name in names:
            if name in variables:
                value = variables[name]
                if self._templar is not None:
                    value = self._templar.template(value)
                picked[name] = value
        return picked

    def _get(self, helper, config, profile, min_validity, allow_shorter, timeout):
        request = {"apiVersion": API_VERSION, "kind": "TokenRequest", "profile": profile}
        if min_validity:
            request["minValidity"] = min_validity
        if allow_shorter:
            request["allowShorter"] = True
        # The helper gets the same deadline, so that it normally gives up first and
        # explains why in an Error document; the kill after a grace period is the
        # backstop for a helper that hangs.
        argv = [helper, "get", "--format", "json", "--timeout", _go_seconds(timeout)]
        if config:
            argv += ["--config", config]
        display.vvv("tokenkeeper.vmware.token: running %s for profile %r" % (" ".join(argv), profile))
        try:
            proc = subprocess.run(
                argv,
                input=json.dumps(request).encode("utf-8"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=timeout + _KILL_GRACE,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TokenkeeperLookupError(
                "tokenkeeper lookup: %s get did not answer for profile %r within %g seconds "
                "(option timeout); the helper was stopped" % (helper, profile, timeout),
                code="Timeout", profile=profile, retryable=True) from None
        except OSError as e:
            raise TokenkeeperLookupError(
                "tokenkeeper lookup: could not run helper %s (option helper_path): %s"
                % (helper, to_text(e.strerror or e)), code="HelperNotFound", profile=profile) from None
        if proc.returncode != 0:
            raise _failure(helper, profile, proc)
        doc = _parse_token(helper, profile, proc.stdout)
        display.vvv("tokenkeeper.vmware.token: profile %r: token %s, expires %s"
                    % (profile, doc.get("fingerprint"), doc.get("expiresAt")))
        if doc.get("shorterThanRequested") is True:
            display.warning("tokenkeeper lookup: profile %r: the upstream is unavailable; using the cached "
                            "token %s, which expires at %s, sooner than min_validity asks (allow_shorter)"
                            % (profile, doc.get("fingerprint"), doc.get("expiresAt")))
        return doc


def _profile(term):
    if not isinstance(term, string_types) or not term.strip():
        raise TokenkeeperLookupError(
            "tokenkeeper lookup: each term must be a profile name (a non-empty string), got %s"
            % type(term).__name__)
    return to_text(term).strip()


def _duration(value):
    """Returns min_validity as a Go duration string, or None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TokenkeeperLookupError("tokenkeeper lookup: min_validity must be a duration such as 10m")
    if isinstance(value, integer_types) or (isinstance(value, string_types) and value.strip().isdigit()):
        return "%ds" % int(value)
    text = to_text(value).strip()
    if not _DURATION_RE.match(text):
        raise TokenkeeperLookupError(
            "tokenkeeper lookup: min_validity %r is not a duration such as 90s, 10m or 1h30m" % text)
    return text


def _go_seconds(seconds):
    """Formats seconds as a Go duration: 60 -> "60s", 0.5 -> "500ms"."""
    if float(seconds).is_integer():
        return "%ds" % int(seconds)
    return "%dms" % max(1, int(round(seconds * 1000)))


def _resolve_helper(path):
    if not path:
        raise TokenkeeperLookupError("tokenkeeper lookup: helper_path is empty")
    path = os.path.expanduser(to_text(path))
    if os.sep not in path:
        found = shutil.which(path)
        if found is None:
            raise TokenkeeperLookupError(
                "tokenkeeper lookup: helper %r not found on PATH; install tokenkeeper or set "
                "helper_path (variable tokenkeeper_helper_path, environment TOKENKEEPER_PATH)" % path,
                code="HelperNotFound")
        return found
    if not os.path.isfile(path):
        raise TokenkeeperLookupError(
            "tokenkeeper lookup: helper %s (option helper_path) does not exist" % path,
            code="HelperNotFound")
    if not os.access(path, os.X_OK):
        raise TokenkeeperLookupError(
            "tokenkeeper lookup: helper %s (option helper_path) is not executable" % path,
            code="HelperNotFound")
    return path


def _failure(helper, profile, proc):
    """Builds the error for a non-zero exit from the helper's Error document or stderr."""
    status = proc.returncode
    if status < 0:
        return TokenkeeperLookupError(
            "tokenkeeper lookup: %s get was killed by signal %d for profile %r" % (helper, -status, profile),
            exit_status=status, profile=profile)
    err = _error_document(proc.stdout)
    if err is not None:
        code = to_text(err.get("code") or _EXIT_CODES.get(status, "Unknown"))
        message = to_text(err.get("message") or "no message")
        retryable = err.get("retryable") if isinstance(err.get("retryable"), bool) else None
    else:
        code = _EXIT_CODES.get(status, "Unknown")
        message = _stderr_line(proc.stderr) or "no error document on stdout and nothing on stderr"
        retryable = status == 5
    hint = ", retryable" if retryable else ""
    return TokenkeeperLookupError(
        "tokenkeeper lookup: profile %r failed (%s, exit status %d%s): %s" % (profile, code, status, hint, message),
        code=code, exit_status=status, retryable=retryable, profile=profile)


def _error_document(stdout):
    try:
        doc = json.loads(to_text(stdout, errors="surrogate_or_strict"))
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "Error" or not isinstance(doc.get("error"), dict):
        return None
    return doc["error"]


def _stderr_line(stderr):
    text = to_text(stderr, errors="surrogate_or_replace").strip()
    if len(text) > _STDERR_LIMIT:
        text = text[:_STDERR_LIMIT] + "..."
    return " ".join(text.split())


def _parse_token(helper, profile, stdout):
    """Parses and validates the one Token document. Never quotes the output: it may be a token."""
    def bad(why):
        return TokenkeeperLookupError(
            "tokenkeeper lookup: %s get printed %s for profile %r (%d bytes on stdout, not shown "
            "because they may contain a token); expected one %s Token document"
            % (helper, why, profile, len(stdout), API_VERSION), code="MalformedOutput", profile=profile)

    try:
        doc = json.loads(to_text(stdout, errors="surrogate_or_strict"))
    except (ValueError, UnicodeError):
        raise bad("output that is not exactly one JSON document") from None
    if not isinstance(doc, dict):
        raise bad("a JSON value that is not an object")
    if doc.get("apiVersion") != API_VERSION:
        raise bad("a document with an unsupported apiVersion")
    if doc.get("kind") != "Token":
        raise bad("a document whose kind is not Token")
    header = doc.get("header")
    if not isinstance(doc.get("token"), string_types) or not doc["token"]:
        raise bad("a Token document without a token")
    if not isinstance(header, dict) or not all(isinstance(header.get(k), string_types) and header.get(k)
                                               for k in ("name", "value")):
        raise bad("a Token document without a header name and value")
    if doc.get("profile") not in (None, profile):
        raise bad("a Token document for another profile")
    return doc


def _shape(doc, fmt):
    if fmt == "header":
        return {doc["header"]["name"]: doc["header"]["value"]}
    if fmt == "json":
        return doc
    return doc["token"]
