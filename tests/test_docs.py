#!/usr/bin/env python3
"""The manual pages agree with the program.

mail2sms.conf(5): every key the program accepts is documented (read from the
key table in src/config.c), and every documented key, with the example the
page gives for it, is accepted by `mail2sms --check-config`; the documented
types match the table; setting every key to its documented default changes
nothing. mail2sms(8): its OPTIONS are those of `mail2sms --help`, its EXIT
STATUS section holds the contract's codes with their DSNs. Both pages format
cleanly with `groff -man -ww`. etc/mail2sms.conf passes --check-config once
its placeholder ids are replaced, and names them until then. The Postfix
snippets of README.md and docs/postfix.md name an installed program, and
the files they feed mail2sms exist."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

MAN8 = os.path.join(SRCDIR, "docs", "mail2sms.8")
MAN5 = os.path.join(SRCDIR, "docs", "mail2sms.conf.5")
CONFIG_C = os.path.join(SRCDIR, "src", "config.c")
EXAMPLE_CONF = os.path.join(SRCDIR, "etc", "mail2sms.conf")

# ------------------------------------------------------------ roff reading

_ESCAPES = [
    (r"\(dq", '"'), (r"\(aq", "'"), (r"\(em", "--"), (r"\(en", "-"),
    (r"\-", "-"), (r"\e", "\\"), (r"\&", ""), (r"\ ", " "), (r"\|", ""),
]


def unescape(s):
    s = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", s)      # font changes
    for a, b in _ESCAPES:
        s = s.replace(a, b)
    return s


def macro_args(rest):
    """The arguments of a roff request line, quotes honoured."""
    args, i, n = [], 0, len(rest)
    while i < n:
        while i < n and rest[i] == " ":
            i += 1
        if i >= n:
            break
        if rest[i] == '"':
            i += 1
            cur = []
            while i < n:
                if rest[i] == '"':
                    if i + 1 < n and rest[i + 1] == '"':
                        cur.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                cur.append(rest[i])
                i += 1
            args.append("".join(cur))
        else:
            j = i
            while j < n and rest[j] != " ":
                j += 1
            args.append(rest[i:j])
            i = j
    return args


def text_of(line):
    """The plain text a source line produces (font macros flattened)."""
    m = re.match(r"^\.(B|I|R|SM|BR|RB|BI|IB|IR|RI)(?:\s+(.*))?$", line)
    if m:
        args = macro_args(m.group(2) or "")
        sep = " " if len(m.group(1)) == 1 or m.group(1) == "SM" else ""
        return unescape(sep.join(args))
    if line.startswith(".") or line.startswith("'"):
        return ""
    return unescape(line)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [l for l in f.read().split("\n") if not l.startswith('.\\"')]


def section(lines, name):
    """The source lines of section .SH name (up to the next .SH)."""
    out, inside = [], False
    for l in lines:
        if l.startswith(".SH"):
            title = " ".join(macro_args(l[3:]))
            inside = unescape(title) == name
            continue
        if inside:
            out.append(l)
    check(out, "no section %s" % name)
    return out


# ------------------------------------------------------ mail2sms.conf(5)

TYPE_LINE = re.compile(r"^\((?P<type>[a-z ]+), (?:default (?P<default>.+)|"
                       r"(?P<none>no default|required))\)$")


def doc_keys():
    """{key: {"type", "default", "example", "line"}} from mail2sms.conf(5).
    NAME in a key stands for a free name and becomes '*'."""
    lines = read_lines(MAN5)
    keys = {}
    i = 0
    while i < len(lines):
        if lines[i] == ".TP" and i + 1 < len(lines) and lines[i + 1].startswith(".B "):
            name = text_of(lines[i + 1]).strip()
            name = re.sub(r"(?<=\.)NAME(?=\.|$)", "*", name)
            typeline = unescape(lines[i + 2]) if i + 2 < len(lines) else ""
            m = TYPE_LINE.match(typeline)
            check(m, "%s: entry without a '(type, default ...)' line: %r" % (name, typeline))
            example = None
            j = i + 3
            while j < len(lines) and not re.match(r"^\.(TP|SH|SS)\b", lines[j]):
                if lines[j] == "Example:" and j + 1 < len(lines):
                    example = text_of(lines[j + 1]).strip()
                j += 1
            check(name not in keys, "%s documented twice" % name)
            keys[name] = {"type": m.group("type"), "default": m.group("default"),
                          "required": m.group("none") == "required",
                          "example": example, "line": i + 2}
            i = j
            continue
        i += 1
    return keys


def doc_sections():
    """The first word of each .SH title of mail2sms.conf(5)."""
    out = set()
    for l in read_lines(MAN5):
        if l.startswith(".SH"):
            words = unescape(" ".join(macro_args(l[3:]))).replace(",", " ").split()
            out.update(words)
    return out


def source_keys():
    """{key: type} from keys[] and key_infos_extra[] in src/config.c."""
    with open(CONFIG_C, encoding="utf-8") as f:
        src = f.read()
    out = {}
    m = re.search(r"static const key_def keys\[\] = \{(.*?)\n\};", src, re.S)
    check(m, "keys[] not found in src/config.c")
    for km in re.finditer(r'\{\s*"([^"]+)",\s*K_\w+,.*?"([a-z|]+)"\s*\}', m.group(1)):
        out[km.group(1)] = km.group(2)
    m = re.search(r"key_infos_extra\[\] = \{(.*?)\n\};", src, re.S)
    check(m, "key_infos_extra[] not found in src/config.c")
    for km in re.finditer(r'\{\s*"([^"]+)",\s*"([a-z|]+)"\s*\}', m.group(1)):
        out[km.group(1)] = km.group(2)
    check(len(out) > 40, "only %d keys read from src/config.c" % len(out))
    return out


# -------------------------------------------------- configurations to probe

STMT = re.compile(r"^\s*([A-Za-z*][-A-Za-z0-9_*]*)\s*[=:]")


def base_tree(d):
    """A minimal usable configuration as a tree of statements."""
    key = os.path.join(d, "access_key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(DEFAULT_KEY + "\n")
    return {
        "bird": {
            "workspace_id": 'workspace_id = "ws-test";',
            "channel_id": 'channel_id = "ch-test";',
            "access_key_file": 'access_key_file = "%s";' % key,
        },
        "state_dir": 'state_dir = "%s";' % os.path.join(d, "state"),
    }


def put(tree, parent, stmt):
    """Add stmt (a setting as written) to the group at path parent."""
    g = tree
    for p in parent:
        if not isinstance(g.get(p), dict):
            g[p] = {}
        g = g[p]
    m = STMT.match(stmt)
    check(m, "cannot tell the setting name of %r" % stmt)
    g[m.group(1)] = stmt


def render(tree, indent=""):
    out = []
    for name, v in tree.items():
        if isinstance(v, dict):
            out.append("%s%s = {" % (indent, name))
            out.append(render(v, indent + "  "))
            out.append("%s};" % indent)
        else:
            out.append(indent + v)
    return "\n".join(l for l in out if l)


def check_config(tree, d, name="probe.conf"):
    path = os.path.join(d, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(tree) + "\n")
    return run(["--check-config", "-c", path]), path


def parent_of(key):
    """Where a key's example is written: the group above the key, or for a
    free name ('*'), the group that holds the free names."""
    parts = key.split(".")
    if "*" in parts:
        return parts[:parts.index("*")]
    return parts[:-1]


def literal(value):
    """A documented default as libconfig text, or None when it is not a
    plain value (a path with LOCALSTATEDIR, another key, "empty")."""
    v = value.strip()
    if re.fullmatch(r'"[^"]*"', v) or v in ("true", "false"):
        return v
    if re.fullmatch(r"-?\d+", v):
        return v + ("L" if abs(int(v)) >= 2**31 else "")
    if re.fullmatch(r"-?\d+\.\d*", v):
        return v
    return None


# ------------------------------------------------------------------- cases

@case("every key in src/config.c is documented in mail2sms.conf(5) with its type")
def keys_documented():
    doc = doc_keys()
    sections = doc_sections()
    missing, wrong_type = [], []
    for key, ctype in source_keys().items():
        if key not in doc:
            if ctype == "group" and key in sections:
                continue                # a section of the page
            missing.append(key)
            continue
        dtypes = set(doc[key]["type"].split(" or "))
        if not set(ctype.split("|")) <= dtypes:
            wrong_type.append("%s: program %s, page %s" % (key, ctype, doc[key]["type"]))
    check(not missing, "not in mail2sms.conf(5): %s" % ", ".join(missing))
    check(not wrong_type, "types differ: %s" % "; ".join(wrong_type))


@case("every key in mail2sms.conf(5) is in the program's key table")
def documented_keys_known():
    known = source_keys()
    extra = [k for k in doc_keys() if k not in known]
    check(not extra, "documented but not in src/config.c: %s" % ", ".join(extra))


@case("every documented key, with its example, is accepted by --check-config")
def examples_accepted():
    doc = doc_keys()
    check(len(doc) > 40, "only %d keys documented" % len(doc))
    d = tmpdir()
    bad = []
    for key, info in sorted(doc.items()):
        ex = info["example"]
        if not ex:
            bad.append("%s: no example" % key)
            continue
        m = STMT.match(ex)
        if not m or ("*" not in key and m.group(1) != key.split(".")[-1]):
            bad.append("%s: example %r does not set it" % (key, ex))
            continue
        tree = base_tree(d)
        parent = parent_of(key)
        if key in ("bird.access_key_file", "bird.ca_file", "state.password_file"):
            # A file this machine may not have: the same key, a file it has.
            pm = re.search(r'"(/[^"]*)"', ex)
            if pm and not os.path.exists(pm.group(1)):
                ex = ex.replace(pm.group(1), os.path.join(d, "access_key"))
        if key == "bird.access_key":
            del tree["bird"]["access_key_file"]     # only one of the two
        if key.startswith("message.template.") and key != "message.template.project_id":
            put(tree, ["message", "template"], 'project_id = "p1";')
        put(tree, parent, ex)
        r, path = check_config(tree, d, "probe-%s.conf" % key.replace("*", "NAME"))
        if "unknown key" in r.out or r.rc != 0 or "configuration OK" not in r.out:
            with open(path) as f:
                bad.append("%s: rc %d\n%s\n--- output:\n%s" % (key, r.rc, f.read(), r.out))
    check(not bad, "\n".join(bad))


@case("a misspelt key is refused, so the probes above mean something")
def unknown_key_refused():
    d = tmpdir()
    tree = base_tree(d)
    put(tree, ["bird"], "timeout_s = 30;")
    r, _ = check_config(tree, d)
    eq(r.rc, 78, "exit status for an unknown key")
    check("unknown key" in r.out and "bird.timeout_s" in r.out, "output %r" % r.out)


@case("setting every key to its documented default changes nothing")
def defaults_are_real():
    doc = doc_keys()
    known = source_keys()
    d = tmpdir()
    base = base_tree(d)
    r0, _ = check_config(base, d, "same.conf")
    eq(r0.rc, 0, "minimal configuration (%s)" % r0.out)
    tree = base_tree(d)
    used = []
    for key, info in sorted(doc.items()):
        if "*" in key or key not in known or known[key] == "group" or not info["default"]:
            continue
        if key.startswith("message.template."):
            continue                # defaults inside a template only
        if key in ("bird.workspace_id", "bird.channel_id", "bird.access_key_file",
                   "state_dir"):
            continue                # set by the minimal configuration
        lit = literal(unescape(info["default"]))
        if lit is None:
            continue
        put(tree, key.split(".")[:-1], "%s = %s;" % (key.split(".")[-1], lit))
        used.append(key)
    check(len(used) >= 30, "only %d keys have a plain documented default: %s"
          % (len(used), used))
    r1, path = check_config(tree, d, "same.conf")
    with open(path) as f:
        text = f.read()
    eq(r1.rc, 0, "all documented defaults set (%s)\n%s" % (r1.out, text))
    eq(r1.out, r0.out, "--check-config summary with every documented default set\n" + text)


def source_defaults():
    """{key: value} of the defaults in src/config.c: what set_defaults()
    assigns, else the zero value of the field. Strings are Python str,
    numbers int/float, booleans bool; None = no default; "empty" = list."""
    with open(CONFIG_C, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"static void set_defaults\(m2s_config \*cfg\)\s*\{(.*?)\n\}", src, re.S)
    check(m, "set_defaults() not found in src/config.c")
    assigned = dict(re.findall(r"cfg->(\w+) = (.*?);", m.group(1)))
    m = re.search(r"static const key_def keys\[\] = \{(.*?)\n\};", src, re.S)
    out = {}
    for km in re.finditer(r'\{\s*"([^"]+)",\s*(K_\w+),\s*(?:OFF\((\w+)\)|NOFF),\s*'
                          r'(?:NULL|"([^"]*)")', m.group(1)):
        key, kind, field, choices = km.groups()
        if not field:
            continue
        expr = assigned.get(field)
        if expr is None:
            val = {"K_INT": 0, "K_INT64": 0, "K_NUM": 0, "K_BOOL": False,
                   "K_LIST": "empty"}.get(kind)
            if kind == "K_ENUM":
                val = choices.split("|")[0]
        elif kind == "K_STR":
            sm = re.fullmatch(r'xstrdup\("([^"]*)"\)', expr.strip())
            mm = re.fullmatch(r'xstrdup\(([A-Z_]+) "([^"]*)"\)', expr.strip())
            val = (sm.group(1) if sm else "(%s%s)" % mm.groups() if mm
                   else "(unreadable: %s)" % expr.strip())
        elif kind in ("K_INT", "K_INT64", "K_NUM"):
            check(re.fullmatch(r"[\d.*+ ]+", expr), "%s: cannot read %r" % (key, expr))
            val = eval(expr)        # digits and * only, checked above
        elif kind == "K_BOOL":
            val = expr.strip() == "true"
        else:                       # enums and media.mms: M2S_..._WORD
            val = expr.strip().rsplit("_", 1)[-1].lower()
            if choices:
                check(val in choices.split("|"), "%s: %s is not one of %s"
                      % (key, expr, choices))
        out[key] = val
    check(len(out) > 40, "only %d defaults read from src/config.c" % len(out))
    return out


def doc_default(info):
    """A documented default as a Python value (see source_defaults)."""
    if info["default"] is None:
        return None
    v = unescape(info["default"]).strip()
    if v == "empty":
        return "empty"
    if re.fullmatch(r'"[^"]*"', v):
        return v[1:-1]
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d*", v):
        return float(v)
    return "(%s)" % v


@case("the documented defaults are those of set_defaults() in src/config.c")
def defaults_match_source():
    doc = doc_keys()
    bad = []
    for key, want in sorted(source_defaults().items()):
        got = doc_default(doc[key]) if key in doc else "(undocumented)"
        # A path under a configure directory is documented by its name:
        # LOCALSTATEDIR/lib/mail2sms.
        ok = got == want and (type(got) is type(want) or isinstance(want, float))
        if not ok:
            bad.append("%s: page %r, program %r" % (key, got, want))
    check(not bad, "; ".join(bad))


@case("groff -man -ww finds nothing to warn about in either page")
def groff_clean():
    groff = shutil.which("groff")
    if not groff:
        if os.environ.get("M2S_REQUIRE_POSTFIX") == "1":
            raise AssertionError("groff is not installed (apt-get install groff-base)")
        skip("groff is not installed")
    for page in (MAN8, MAN5):
        p = subprocess.run([groff, "-man", "-ww", "-z", page], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=clean_env())
        out = p.stdout.decode("utf-8", "replace")
        check(p.returncode == 0 and not out.strip(),
              "%s: rc %d\n%s" % (os.path.basename(page), p.returncode, out))


EXPECTED_EXITS = {
    "0": [],
    "75": ["4.3.5", "4.4.", "4.3.0", "4.7.0"],
    "67": ["5.1.1"],
    "77": ["5.7.1"],
    "65": ["5.6.0"],
}


@case("EXIT STATUS in mail2sms(8) lists the contract's codes and DSNs")
def exit_status_section():
    sec = section(read_lines(MAN8), "EXIT STATUS")
    entries, cur, depth, tail = {}, None, 0, []
    i = 0
    while i < len(sec):
        l = sec[i]
        if l.startswith(".RS"):
            depth += 1
        elif l.startswith(".RE"):
            depth -= 1
        elif l == ".TP" and depth == 0 and i + 1 < len(sec):
            tag = text_of(sec[i + 1]).strip()
            if re.fullmatch(r"\d+", tag):
                cur = tag
                entries[cur] = []
                i += 2
                continue
        elif re.match(r"^\.(PP|P|LP)\b", l) and depth == 0:
            cur = None
        if cur is not None:
            entries[cur].append(text_of(l))
        else:
            tail.append(text_of(l))
        i += 1
    eq(sorted(entries, key=int), sorted(EXPECTED_EXITS, key=int), "exit codes listed")
    for code, dsns in EXPECTED_EXITS.items():
        text = " ".join(entries[code])
        for dsn in dsns:
            check(dsn in text, "exit %s: %s not mentioned: %r" % (code, dsn, text))
        others = set(re.findall(r"\b[45]\.\d\.\d\b", text)) - set(
            x for x in re.findall(r"\b[45]\.\d\.\d\b", text)
            if any(x.startswith(p) for p in dsns))
        check(not others, "exit %s mentions the DSNs of other codes: %s" % (code, others))
    rest = " ".join(tail)
    check(re.search(r"check-config.*\b0\b.*\b78\b", rest),
          "--check-config's 0 / 78 not described: %r" % rest)
    r = run(["--help"])
    eq(r.rc, 0, "--help exit status")
    m = re.search(r"Exit status:(.*)", r.out, re.S)
    check(m, "--help has no exit status summary")
    help_codes = set(re.findall(r"\b\d+\b", m.group(1)))
    eq(help_codes, set(EXPECTED_EXITS) | {"78"}, "exit codes in --help")


def options_from_help():
    r = run(["--help"])
    eq(r.rc, 0, "--help exit status")
    out = set()
    for l in r.lines:
        m = re.match(r"^\s+(-[^ ]*(?:, -[^ ]+)?)(?:\s{2,}|$)", l)
        if m:
            out.add(m.group(1))
    check(len(out) >= 5, "no options found in --help: %r" % r.out)
    return out


def options_from_man():
    sec = section(read_lines(MAN8), "OPTIONS")
    out = set()
    for i, l in enumerate(sec):
        if l == ".TP" and i + 1 < len(sec):
            tag = text_of(sec[i + 1]).strip()
            if tag != "--":
                out.add(tag)
    return out


@case("OPTIONS in mail2sms(8) are exactly those of mail2sms --help")
def options_match_help():
    eq(options_from_man(), options_from_help(), "options (man page vs --help)")


def example_with_key(d):
    """etc/mail2sms.conf with a key file and a state directory of the test's."""
    with open(EXAMPLE_CONF, encoding="utf-8") as f:
        text = f.read()
    key = os.path.join(d, "access_key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(DEFAULT_KEY + "\n")
    text, n1 = re.subn(r'(?m)^(\s*access_key_file\s*=\s*)"[^"]*";',
                       lambda m: '%s"%s";' % (m.group(1), key), text)
    text, n2 = re.subn(r'(?m)^(\s*state_dir\s*=\s*)"[^"]*";',
                       lambda m: '%s"%s";' % (m.group(1), os.path.join(d, "state")), text)
    eq((n1, n2), (1, 1), "access_key_file and state_dir lines rewritten")
    return text


@case("etc/mail2sms.conf as shipped: --check-config names the placeholder ids and their lines")
def example_config_placeholders():
    d = tmpdir()
    text = example_with_key(d)
    path = os.path.join(d, "mail2sms.conf")
    with open(path, "w") as f:
        f.write(text)
    lines = text.splitlines()
    r = run(["--check-config", "-c", path])
    eq(r.rc, 78, "--check-config of the example as shipped (%s)" % r.out)
    for key in ("workspace_id", "channel_id"):
        n = [i + 1 for i, l in enumerate(lines) if re.match(r"\s*%s\s*=" % key, l)]
        eq(len(n), 1, "one %s line in the example" % key)
        want = "%s:%d: bird.%s is the example's placeholder" % (path, n[0], key)
        check(any(l.startswith(want) for l in r.lines), "no %r in %r" % (want, r.out))
    eq(len(r.lines), 3, "the two placeholders are the only problems: %r" % r.out)


@case("etc/mail2sms.conf passes --check-config with a key file, state dir and real ids")
def example_config_valid():
    d = tmpdir()
    text = example_with_key(d)
    # What the administrator does: the workspace's and the channel's ids.
    text, n3 = re.subn(r'(?m)^(\s*(workspace|channel)_id\s*=\s*)"0[0-]*";',
                       lambda m: '%s"%s";' % (m.group(1), "2f7e3c1a-5b8d-4e0f-9a6b-1c2d3e4f5a6b"),
                       text)
    eq(n3, 2, "workspace_id and channel_id lines rewritten")
    path = os.path.join(d, "mail2sms.conf")
    with open(path, "w") as f:
        f.write(text)
    r = run(["--check-config", "-c", path])
    eq(r.rc, 0, "--check-config of etc/mail2sms.conf (%s)" % r.out)
    check("configuration OK" in r.out, "output %r" % r.out)
    check(DEFAULT_KEY not in r.out, "access key printed")


@case("tests/fake_bird.py --help lists its control endpoints and fault controls")
def fake_help():
    r = subprocess.run([sys.executable, os.path.join(SRCDIR, "tests", "fake_bird.py"), "--help"],
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=30)
    eq(r.returncode, 0, "exit status")
    for word in ("/_fake/requests", "/_fake/reset", "/_fake/faults", "/_fake/latency",
                 '"endpoint"', '"number"', '"skip"', '"times"', '"status"', '"retry_after"',
                 '"hang"', '"drop"', '"nonjson"', '"latency"', '"random"', '"rate"'):
        check(word in r.stdout, "%s not in --help:\n%s" % (word, r.stdout))


# ------------------------------------------------------ Postfix snippets

GUIDES = [os.path.join(SRCDIR, "README.md"), os.path.join(SRCDIR, "docs", "postfix.md")]
PROGRAMS = {"/usr/bin/mail2sms": "the Debian package", "/usr/local/bin/mail2sms": "make install"}


@case("README and docs/postfix.md: every argv= names an installed program, both routes given")
def snippets_name_installed_program():
    for g in GUIDES:
        with open(g, encoding="utf-8") as f:
            text = f.read()
        progs = re.findall(r"argv=(/\S+)", text)
        check(progs, "%s has no argv=" % g)
        bad = sorted(set(p for p in progs if p not in PROGRAMS))
        eq(bad, [], "%s: argv= programs that neither install route puts there" % g)
        for prog in PROGRAMS:
            check(prog in text, "%s does not give %s (%s)" % (g, prog, PROGRAMS[prog]))


@case("docs/postfix.md: the mails it feeds mail2sms exist; no /usr/local/etc without its route")
def guide_files_exist():
    path = os.path.join(SRCDIR, "docs", "postfix.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for name in re.findall(r"<\s*(\S+\.eml)\b", text):
        check(os.path.exists(os.path.join(SRCDIR, name)) or os.path.isabs(name),
              "docs/postfix.md feeds %s, which is not in the tree" % name)
    check("runuser" in text, "docs/postfix.md does not use runuser")
    for page in (MAN8, MAN5, path, os.path.join(SRCDIR, "README.md")):
        with open(page, encoding="utf-8") as f:
            check("sudo" not in f.read(), "%s says sudo; the documents use runuser" % page)


def hacking_layers():
    """{module: layer} from the Layers table of docs/HACKING.md."""
    with open(os.path.join(SRCDIR, "docs", "HACKING.md"), encoding="utf-8") as f:
        text = f.read()
    part = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers = {}
    for m in re.finditer(r"^\| (\d+) \| ([a-z_, ]+) \|$", part, re.M):
        for mod in m.group(2).split(","):
            layers[mod.strip()] = int(m.group(1))
    return layers


@case("src/: every #include points to a lower layer of docs/HACKING.md; every module has one")
def layers_point_down():
    layers = hacking_layers()
    check(len(layers) > 10, "no Layers table in docs/HACKING.md: %r" % layers)
    src = os.path.join(SRCDIR, "src")
    modules = sorted(set(os.path.splitext(n)[0] for n in os.listdir(src)
                         if n.endswith((".c", ".h"))))
    eq([m for m in modules if m not in layers], [], "modules without a layer")
    eq([m for m in layers if m not in modules], [], "layers naming no module")
    wrong = []
    for name in sorted(os.listdir(src)):
        if not name.endswith((".c", ".h")):
            continue
        mod = os.path.splitext(name)[0]
        with open(os.path.join(src, name), encoding="utf-8") as f:
            for inc in re.findall(r'^#include "([a-z_]+)\.h"', f.read(), re.M):
                if inc == mod or inc == "build-config" or inc not in layers:
                    continue
                if layers[inc] >= layers.get(mod, -1):
                    wrong.append("%s includes %s.h (layer %d, not below %d)"
                                 % (name, inc, layers[inc], layers[mod]))
    eq(wrong, [], "includes that do not point down")


if __name__ == "__main__":
    main()
