#!/usr/bin/env python3
"""bench/quality.py - how an alert reads on a phone, before and after condensing.

    python3 bench/quality.py [--bin PATH] [--baseline FILE] [--write-baseline] [--json FILE]

--bin             the mail2sms binary (default: $M2S_BIN, else ./_build/src/mail2sms)
--baseline        the texts of the binary before condensing (default
                  bench/quality-baseline.json)
--write-baseline  run --bin over the set and write its texts as the baseline
                  instead of reporting (done once, with the binary as it was)
--json            also write the report's figures to FILE

The set: every bench/samples/*.eml (imitations of each tool's default
template, see bench/samples/README.md) and the recipe fixtures of
tests/fixtures named in bench/samples/facts.json, each with the facts a
person on call must see: state, object, value. Each mail goes through a dry
run (-n) with the default configuration; the text's SMS parts and characters
are counted as a phone counts them (GSM-7 septets, extension characters
twice; UCS-2 units; 160/153 and 70/67 per part, greedy segmentation), and
each fact is looked for, case-insensitively, in the first segment: the first
160 GSM-7 septets, or 70 UCS-2 units.

Targets (the issue's): every mail has state, object and value in the first
segment; at least 80 % fit in one part; mean parts at least 40 % below the
baseline's; no mail longer than in the baseline, in parts (what costs; a
mail whose text now says more within the same parts, as a Grafana mail that
sent only "open it in a browser", shows it in the characters). Python 3 standard library
only. Exit status: 0 when every target is met, 1 when one is missed.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
SAMPLES = os.path.join(HERE, "samples")
FACTS = os.path.join(SAMPLES, "facts.json")
BASELINE = os.path.join(HERE, "quality-baseline.json")

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT = set("^{}\\[~]|€\f")

CONF = """bird = {{ workspace_id = "ws-quality"; channel_id = "ch-quality";
  access_key = "quality-key-not-secret"; }};
recipients = {{ default_country = "31"; aliases = {{ oncall = [ "+31612345678" ]; }}; }};
state_dir = "{state}";
"""


def weights(text):
    """Per character: (septets or None when not GSM-7, UCS-2 units)."""
    out = []
    for ch in text:
        g = 1 if ch in GSM_BASIC else 2 if ch in GSM_EXT else None
        out.append((g, 2 if ord(ch) > 0xFFFF else 1))
    return out


def count(text):
    """(encoding, units, parts, first-segment text) as a phone counts."""
    w = weights(text)
    gsm = all(g is not None for g, _ in w)
    idx = 0 if gsm else 1
    single, multi = (160, 153) if gsm else (70, 67)
    units = sum(x[idx] for x in w)
    parts, in_part = 0, 0
    for x in w:
        if parts == 0 or in_part + x[idx] > multi:
            parts += 1
            in_part = 0
        in_part += x[idx]
    if units <= single:
        parts = 1 if units else 0
    # the first segment: what a lock screen and the first part show
    used, first = 0, []
    cap = single if units <= single else multi
    for ch, x in zip(text, w):
        if used + x[idx] > cap:
            break
        used += x[idx]
        first.append(ch)
    return ("GSM-7" if gsm else "UCS-2"), units, parts, "".join(first)


def texts_of(binary, eml, conf):
    with open(eml, "rb") as f:
        r = subprocess.run([binary, "-n", "-c", conf, "-f", "sender@example.com", "-q", "QUALITY1",
                            "--", "oncall@sms.example.com"], stdin=f, capture_output=True, timeout=60)
    texts = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        try:
            req = json.loads(line)
        except ValueError:
            continue
        body = req.get("body", {}).get("body", {})
        t = body.get("text", {}).get("text")
        if t is not None:
            texts.append(t)
    return texts[0] if texts else ""


def the_set():
    with open(FACTS, encoding="utf-8") as f:
        facts = json.load(f)
    mails = []
    for name in sorted(facts):
        path = (os.path.join(SRCDIR, name + ".eml") if name.startswith("tests/")
                else os.path.join(SAMPLES, name + ".eml"))
        if not os.path.exists(path):
            sys.exit("quality: %s named in %s does not exist" % (path, FACTS))
        mails.append((name, path, facts[name]))
    for path in sorted(glob.glob(os.path.join(SAMPLES, "*.eml"))):
        name = os.path.basename(path)[:-4]
        if name not in facts:
            sys.exit("quality: %s has no facts in %s" % (path, FACTS))
    return mails


def run_all(binary, mails):
    d = tempfile.mkdtemp(prefix="m2s-quality-")
    conf = os.path.join(d, "quality.conf")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(CONF.format(state=os.path.join(d, "state")))
    out = {name: texts_of(binary, path, conf) for name, path, _ in mails}
    os.remove(conf)
    os.rmdir(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("M2S_BIN") or
                    os.path.join(SRCDIR, "_build", "src", "mail2sms"))
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--write-baseline", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    mails = the_set()
    now = run_all(a.bin, mails)
    if a.write_baseline:
        with open(a.baseline, "w", encoding="utf-8") as f:
            json.dump({n: {"text": t} for n, t in now.items()}, f, indent=2, sort_keys=True,
                      ensure_ascii=False)
            f.write("\n")
        print("wrote %s: %d texts of %s" % (a.baseline, len(now), a.bin))
        return 0
    with open(a.baseline, encoding="utf-8") as f:
        base = {n: v["text"] for n, v in json.load(f).items()}

    rows, figures = [], []
    for name, _, fct in mails:
        if name not in base:
            sys.exit("quality: %s is not in the baseline %s" % (name, a.baseline))
        b_enc, b_units, b_parts, b_first = count(base[name])
        enc, units, parts, first = count(now[name])
        seen = {k: fct[k].lower() in first.lower() for k in ("state", "object", "value")}
        seen_before = sum(fct[k].lower() in b_first.lower() for k in ("state", "object", "value"))
        # longer is what costs: more parts (the characters are in the table)
        longer = parts > b_parts
        figures.append({"name": name, "before": {"parts": b_parts, "chars": len(base[name]),
                                                 "encoding": b_enc, "facts_first": seen_before},
                        "after": {"parts": parts, "chars": len(now[name]), "encoding": enc,
                                  "facts_first": sum(seen.values())},
                        "facts": seen, "longer": longer})
        rows.append((name.replace("tests/fixtures/", "fixture:"), "%d / %d" % (b_parts, len(base[name])),
                     "%d / %d" % (parts, len(now[name])), enc,
                     "%d/3" % seen_before,
                     "".join(k[0].upper() if seen[k] else "-" for k in ("state", "object", "value")),
                     "LONGER" if longer else ""))

    head = ("mail", "before parts/chars", "after parts/chars", "after enc", "facts first before",
            "after S O V", "longer")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")

    n = len(figures)
    all_facts = sum(1 for f in figures if all(f["facts"].values()))
    one_part = sum(1 for f in figures if f["after"]["parts"] <= 1)
    mean_before = sum(f["before"]["parts"] for f in figures) / n
    mean_after = sum(f["after"]["parts"] for f in figures) / n
    cut = 1 - mean_after / mean_before if mean_before else 0
    longer = [f["name"] for f in figures if f["longer"]]
    targets = [
        ("state, object and value in the first segment", all_facts == n,
         "%d of %d mails" % (all_facts, n)),
        ("at least 80 % fit in one part", one_part >= 0.8 * n,
         "%d of %d (%.0f %%)" % (one_part, n, 100.0 * one_part / n)),
        ("mean parts at least 40 % below the baseline", cut >= 0.4,
         "%.2f -> %.2f (%.0f %% fewer)" % (mean_before, mean_after, 100 * cut)),
        ("no mail longer (in parts) than in the baseline", not longer,
         ", ".join(longer) if longer else "none longer"),
    ]
    print()
    for name, ok, detail in targets:
        print("%-4s %s: %s" % ("ok" if ok else "MISS", name, detail))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"mails": figures, "targets": [{"name": t, "ok": ok, "detail": d}
                                                     for t, ok, d in targets]}, f, indent=2)
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
