#!/usr/bin/env python3
"""Golden tests: every tests/fixtures/NAME.eml goes through a dry run

    mail2sms -n -c tests/conf/golden.conf -f sender@example.com -q GOLDEN1 \
        -- oncall@sms.example.com

and its exit status and standard output are compared with
tests/expected/NAME.json:

    {"exit": RC, "requests": [one parsed JSON object per output line],
     "line": "the non-JSON output, only when there is some"}

With M2S_UPDATE_GOLDEN=1 the expected files are (re)written instead; read
each one before committing it. A fixture without an expected file
fails: every fixture's output is reviewed once, then golden.

Whatever the expected files say, every run must also keep these promises:
the access key never appears on stdout or stderr, nothing is written to
state_dir, the requests go to the configured endpoint, and the SMS text
holds no HTML tags, entities, CSS or invalid UTF-8 replacement characters.

Run one fixture: python3 tests/test_golden.py zabbix
"""

import difflib
import glob
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from m2stest import SRCDIR, case, main, run, skip, tmpdir  # noqa: E402

FIXTURES = os.path.join(SRCDIR, "tests", "fixtures")
EXPECTED = os.path.join(SRCDIR, "tests", "expected")
CONF = os.path.join(SRCDIR, "tests", "conf", "golden.conf")

ACCESS_KEY = "golden-key-not-secret"
STATE_DIR = "/nonexistent/mail2sms-state"
ENDPOINT = "https://api.bird.com/workspaces/ws-golden/channels/ch-golden/"
ARGS = ["-n", "-f", "sender@example.com", "-q", "GOLDEN1", "--",
        "oncall@sms.example.com"]
UPDATE = os.environ.get("M2S_UPDATE_GOLDEN") == "1"

# What must never reach a phone: markup, entities, CSS, broken charsets.
LINT = [
    (re.compile(r"</?(a|b|i|u|p|br|hr|em|strong|span|div|font|center|table|tbody|"
                r"thead|tr|td|th|ul|ol|li|h[1-6]|img|html|head|body|style|script|"
                r"meta|title|o:p|blockquote|pre|code)(\s[^<>]*)?/?>", re.I), "an HTML tag"),
    (re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});"), "an HTML entity"),
    (re.compile(r"(font-family|mso-|-webkit-|border-collapse|\{\s*[a-z-]+\s*:)"), "CSS"),
    (re.compile("\ufffd"), "a U+FFFD replacement character (charset not converted)"),
    (re.compile(r"=\?[A-Za-z0-9_-]+\?[BbQq]\?"), "an undecoded RFC 2047 word"),
]


def pretty(obj):
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def conf_for(name):
    """tests/conf/NAME.conf, else the conf named by the fixture's first word
    (options-*.eml -> options.conf), else golden.conf."""
    for cand in (name, name.split("-")[0]):
        path = os.path.join(SRCDIR, "tests", "conf", cand + ".conf")
        if os.path.exists(path):
            return path
    return CONF


def conf_copy(name=""):
    """The configurations hold a literal access key, so give the program an
    owner-only copy (a source tree may be world-readable or read-only)."""
    d = tmpdir("m2s-golden-")
    path = os.path.join(d, "golden.conf")
    shutil.copyfile(conf_for(name), path)
    os.chmod(path, 0o600)
    return path


def texts(requests):
    """Every text the run would send: body text and template parameters."""
    out = []
    for r in requests:
        body = r.get("body") if isinstance(r, dict) else None
        if not isinstance(body, dict):
            continue
        b = body.get("body")
        if isinstance(b, dict) and isinstance(b.get("text"), dict):
            t = b["text"].get("text")
            if isinstance(t, str):
                out.append(t)
        tmpl = body.get("template")
        if isinstance(tmpl, dict):
            for p in tmpl.get("parameters") or []:
                if isinstance(p, dict) and isinstance(p.get("value"), str):
                    out.append(p["value"])
    return out


def result_of(res):
    requests, other = [], []
    for line in res.out.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(obj, dict):
            requests.append(obj)
        else:
            other.append(line)
    got = {"exit": res.rc, "requests": requests}
    if other:
        got["line"] = "\n".join(other)
    # In a dry run the line for Postfix goes to standard error.
    err = [l for l in res.err.splitlines() if re.match(r"^[45]\.\d+\.\d+ ", l)]
    if err:
        got["stderr_line"] = err[-1]
    return got


def promises(name, res, got):
    """Checks that hold for every fixture, expected file or not."""
    problems = []
    if ACCESS_KEY in res.out or ACCESS_KEY in res.err:
        problems.append("the access key appears in the output")
    if os.path.exists(STATE_DIR):
        problems.append("the dry run created %s" % STATE_DIR)
    if res.timed_out:
        problems.append("timed out")
    if res.rc == 0 and not got["requests"]:
        problems.append("exit 0 but no request printed")
    if res.rc == 0 and "line" in got:
        problems.append("exit 0 with non-JSON output %r" % got["line"])
    for r in got["requests"]:
        url = r.get("url", "")
        if r.get("method") != "POST":
            problems.append("request method %r" % r.get("method"))
        if not url.startswith(ENDPOINT):
            problems.append("request to %r, not %s..." % (url, ENDPOINT))
        if "Authorization" in json.dumps(r) or "AccessKey" in json.dumps(r):
            problems.append("a request printed with its Authorization header")
    for t in texts(got["requests"]):
        for rx, what in LINT:
            m = rx.search(t)
            if m:
                problems.append("%s in the SMS text: %r" % (what, m.group(0)))
    return problems


def golden_case(path):
    name = os.path.basename(path)[:-len(".eml")]
    expected_path = os.path.join(EXPECTED, name + ".json")

    def fn():
        with open(path, "rb") as f:
            data = f.read()
        res = run(["-c", conf_copy(name)] + ARGS, data, timeout=60)
        got = result_of(res)
        problems = promises(name, res, got)
        if UPDATE:
            os.makedirs(EXPECTED, exist_ok=True)
            with open(expected_path, "w", encoding="utf-8") as f:
                f.write(pretty(got))
            print("# wrote %s" % os.path.relpath(expected_path, SRCDIR))
        elif not os.path.exists(expected_path):
            if problems:
                raise AssertionError("; ".join(problems))
            raise AssertionError("no %s yet: review the output and write it with "
                                 "M2S_UPDATE_GOLDEN=1" % os.path.relpath(expected_path, SRCDIR))
        else:
            with open(expected_path, encoding="utf-8") as f:
                want = json.load(f)
            if got != want:
                diff = "".join(difflib.unified_diff(
                    pretty(want).splitlines(True), pretty(got).splitlines(True),
                    "expected/%s.json" % name, "actual"))
                if res.err.strip():
                    diff += "stderr:\n" + res.err
                problems.insert(0, "output differs from the expected file:\n" + diff)
        if problems:
            raise AssertionError("\n".join(problems))

    case(name)(fn)


def register():
    if not os.path.exists(CONF):
        skip("no %s" % CONF)
        return
    paths = sorted(glob.glob(os.path.join(FIXTURES, "*.eml")))
    if not paths:
        skip("no fixtures in %s" % FIXTURES)
        return
    for p in paths:
        golden_case(p)


register()

if __name__ == "__main__":
    main()
