"""A stand-in for `tokenkeeper get` that speaks the exec protocol with canned answers.

Driven by environment variables so a test can choose the behaviour per call:

  FAKE_TK_MODE     ok (default) | error | stderr-only | garbage | garbage-exit | two-docs | bad-version |
                   bad-kind | no-token | other-profile | sleep | shorter
  FAKE_TK_TOKEN    the token to hand out (tests use a canary)
  FAKE_TK_HEADER   header name (default Authorization)
  FAKE_TK_EXIT     exit status for error / stderr-only (default 3)
  FAKE_TK_CODE     error code for error (default Unauthenticated)
  FAKE_TK_MESSAGE  error message for error
  FAKE_TK_SLEEP    seconds to sleep in sleep mode (default 30)
  FAKE_TK_RECORD   file to which one JSON line {prog, argv, request} is appended per call

Like the real helper it rejects unknown flags and request fields (exit 2).
"""

import json
import os
import sys
import time

API = "tokenkeeper/v1"
KNOWN = {"apiVersion", "kind", "profile", "minValidity", "forceRefresh", "allowShorter"}


def fail(status, code, message, retryable=False):
    doc = {"apiVersion": API, "kind": "Error",
           "error": {"code": code, "message": message, "retryable": retryable}}
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stderr.write("tokenkeeper: %s\n" % message)
    sys.exit(status)


def parse_flags(args):
    """Accepts the flags of the real `get` that the lookup uses, each with a value."""
    if len(args) % 2:
        return None
    flags = dict(zip(args[::2], args[1::2]))
    if set(flags) - {"--format", "--timeout", "--config"} or flags.get("--format", "json") != "json":
        return None
    return flags


def main():
    env = os.environ.get
    raw = sys.stdin.read()
    try:
        req = json.loads(raw)
    except ValueError:
        fail(2, "InvalidArgument", "request on stdin is not JSON")
    if env("FAKE_TK_RECORD"):
        with open(env("FAKE_TK_RECORD"), "a") as f:
            f.write(json.dumps({"prog": os.path.basename(sys.argv[0]), "argv": sys.argv[1:],
                                "request": req}) + "\n")
    if sys.argv[1:2] != ["get"] or not parse_flags(sys.argv[2:]):
        fail(2, "InvalidArgument", "usage: tokenkeeper get [--format F] [--timeout D] [--config FILE]")
    extra = sorted(set(req) - KNOWN)
    if extra or req.get("kind") != "TokenRequest" or req.get("apiVersion") != API:
        fail(2, "InvalidArgument", "bad request: unknown fields %s" % extra)

    mode = env("FAKE_TK_MODE", "ok")
    token = env("FAKE_TK_TOKEN", "fake-token")
    profile = req["profile"]
    if mode == "sleep":
        time.sleep(float(env("FAKE_TK_SLEEP", "30")))
    if mode == "error":
        fail(int(env("FAKE_TK_EXIT", "3")), env("FAKE_TK_CODE", "Unauthenticated"),
             env("FAKE_TK_MESSAGE", "profile %s: credentials rejected" % profile),
             retryable=env("FAKE_TK_CODE") == "Unavailable")
    if mode == "stderr-only":
        sys.stderr.write("tokenkeeper: %s\n" % env("FAKE_TK_MESSAGE", "something broke"))
        sys.exit(int(env("FAKE_TK_EXIT", "3")))
    if mode == "garbage":
        sys.stdout.write("Bearer %s\n" % token)
        return
    if mode == "garbage-exit":
        sys.stdout.write("Bearer %s\n" % token)
        sys.stderr.write("tokenkeeper: %s\n" % env("FAKE_TK_MESSAGE", "something broke"))
        sys.exit(int(env("FAKE_TK_EXIT", "1")))
    name = env("FAKE_TK_HEADER", "Authorization")
    value = token if name.lower() == "x-vcloud-authorization" else "Bearer " + token
    doc = {"apiVersion": API, "kind": "Token", "profile": profile, "provider": "vcf",
           "token": token, "tokenType": "Bearer", "header": {"name": name, "value": value},
           "expiresAt": "2026-11-22T11:40:00Z", "fingerprint": "sha256:1f2e3d4c5b6a7988"}
    if mode == "bad-version":
        doc["apiVersion"] = "tokenkeeper/v9"
    if mode == "bad-kind":
        doc["kind"] = "Tokens"
    if mode == "no-token":
        del doc["token"]
    if mode == "other-profile":
        doc["profile"] = profile + "-other"
    if mode == "shorter":
        if req.get("allowShorter") is not True:
            fail(5, "Unavailable", "profile %s: no token valid for the min validity can be had" % profile, True)
        doc["shorterThanRequested"] = True
    out = json.dumps(doc)
    if mode == "two-docs":
        out = out + "\n" + out
    sys.stdout.write(out + "\n")


if __name__ == "__main__":
    main()
