#!/usr/bin/env python3
"""MMS media end to end: the real binary against the fake Bird API.

Mails come from tests/fixtures/media/*.eml (made by make-fixtures.py) or are
built here; the bytes every attachment should have are read back out of the
mail with Python's email package, and the bytes that reached the fake are
fetched from the mediaUrl it handed out (or read from media.directory), so
both sides of every comparison are computed independently of mail2sms.

With M2S_UPDATE_GOLDEN=1 the dry-run goldens tests/expected/media/*.json
are rewritten instead of compared; review them before committing.
"""

import email
import email.message
import email.policy
import glob
import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.join(os.environ.get("M2S_SRCDIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "tests"))
from m2stest import *  # noqa: E402,F401,F403

FIX = os.path.join(SRCDIR, "tests", "fixtures", "media")
EXPECTED = os.path.join(SRCDIR, "tests", "expected", "media")
WS, CH = DEFAULT_WORKSPACE, DEFAULT_CHANNEL
PRESIGN_CHANNEL = "/workspaces/%s/channels/%s/presigned-upload" % (WS, CH)
PRESIGN_WORKSPACE = "/workspaces/%s/channel-media/presigned-upload" % WS
US = "+15550100123"
US2 = "+15550100456"
NL = "+31612345678"

FAKE = FakeBird()


# ---------------------------------------------------------------- helpers

def fixture(name):
    with open(os.path.join(FIX, name + ".eml"), "rb") as f:
        return f.read()


def attachments(raw):
    """[(filename, content_type, bytes)] of every non-body part, in order."""
    m = email.message_from_bytes(raw, policy=email.policy.default)
    out = []
    for p in m.walk():
        if p.is_multipart() or p.get_content_maintype() == "text":
            continue
        out.append((p.get_filename(), p.get_content_type(), p.get_payload(decode=True)))
    return out


def image_mail(parts, subject="Camera snapshots", body="See the attached images."):
    """A multipart/mixed mail; parts: [(filename, ctype, bytes)]."""
    msg = email.message.EmailMessage(policy=email.policy.default)
    msg["From"] = "nagios@monitoring.example.com"
    msg["To"] = "oncall@sms.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<%s@test.example.com>" % os.urandom(8).hex()
    msg.set_content(body)
    for fn, ct, data in parts:
        maintype, subtype = ct.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=fn)
    return msg.as_bytes(policy=email.policy.default.clone(linesep="\n"))


def setup(numbers=(US,), media=None, bird=None, **more):
    """A fresh config against the fake; recipient alias "to" = numbers."""
    FAKE.reset()
    FAKE.faults([])
    d = tmpdir("m2s-media-")
    conf = write_config(d, FAKE.url,
                        recipients={"aliases": {"oncall": list(ONCALL), "to": list(numbers)}},
                        media=media or {}, bird=bird or {}, **more)
    return d, conf


def send(conf, raw, rcpt="to@sms.example.com", extra=(), timeout=60):
    return run(["-c", conf, "-f", "nagios@monitoring.example.com", "-q", "MEDIA1"]
               + list(extra) + ["--", rcpt], raw, timeout=timeout)


def reqs(kind):
    out = []
    for r in FAKE.requests():
        p = r["path"]
        if kind == "presign" and p.endswith("/presigned-upload"):
            out.append(r)
        elif kind == "upload" and p.startswith("/_upload/"):
            out.append(r)
        elif kind == "messages" and p.endswith("/messages"):
            out.append(r)
    return out


def body_of(number):
    """The body of the accepted message to number."""
    found = [m["json"] for m in FAKE.messages()
             if m["json"]["receiver"]["contacts"][0]["identifierValue"] == number]
    eq(len(found), 1, "accepted messages to %s" % number)
    return found[0]["body"]


def ok(res):
    check(res.rc == 0, "exit %r, want 0: %r" % (res.rc, res))


# ---------------------------------------------------------------- MMS numbers

@case("image to a +1 number: image body, bytes arrive intact")
def _():
    raw = fixture("image-jpeg")
    (fn, ct, data), = attachments(raw)
    _, conf = setup()
    res = send(conf, raw)
    ok(res)
    b = body_of(US)
    eq(b["type"], "image", "body type")
    imgs = b["image"]["images"]
    eq(len(imgs), 1, "images")
    eq(FAKE.media(imgs[0]["mediaUrl"]), data, "bytes fetched back")
    eq(b["image"]["metadata"]["subject"], "Camera 3 motion", "metadata.subject")
    check("Motion detected" in b["image"]["text"], "text: %r" % b["image"]["text"])
    check("http" not in b["image"]["text"], "no links in the MMS text")
    eq([r["json"] for r in reqs("presign")], [{"contentType": "image/jpeg"}], "presign body")


@case("PNG and GIF are image bodies too")
def _():
    for name, ct in (("image-png", "image/png"), ("image-gif", "image/gif")):
        raw = fixture(name)
        (fn, _, data), = attachments(raw)
        _, conf = setup()
        ok(send(conf, raw))
        b = body_of(US)
        eq(b["type"], "image", name + " body type")
        eq(FAKE.media(b["image"]["images"][0]["mediaUrl"]), data, name + " bytes")
        eq(reqs("upload")[0]["form"]["file"]["content_type"], ct, name + " upload type")


@case("PDF: file body, contentType, RFC 2231 file name decoded")
def _():
    raw = fixture("pdf-rfc2231")
    (fn, ct, data), = attachments(raw)
    eq(fn, "Sicherung M\u00e4rz \u2013 Woche 10.pdf", "fixture's own file name")
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "file", "body type")
    f, = b["file"]["files"]
    eq(f["contentType"], "application/pdf", "contentType")
    eq(f["filename"], fn, "filename")
    eq(FAKE.media(f["mediaUrl"]), data, "bytes")
    eq(b["file"]["metadata"]["subject"], "Weekly backup report", "metadata.subject")
    check("weekly backup report is attached" in b["file"]["text"], b["file"]["text"])
    up = reqs("upload")[0]["form"]["file"]
    eq(up["filename"], fn, "file name in the upload form")


@case("audio/mpeg: file body, RFC 2047 file name decoded")
def _():
    raw = fixture("audio-mpeg")
    (fn, ct, data), = attachments(raw)
    eq(fn, "Sprachnachricht \u00fcber Alarm.mp3", "fixture's own file name")
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "file", "body type")
    f, = b["file"]["files"]
    eq((f["contentType"], f["filename"]), ("audio/mpeg", fn), "file entry")
    eq(FAKE.media(f["mediaUrl"]), data, "bytes")


@case("image + PDF: file body with both, in mail order")
def _():
    raw = fixture("mixed-image-pdf")
    atts = attachments(raw)
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "file", "body type")
    files = b["file"]["files"]
    eq([(f["filename"], f["contentType"]) for f in files],
       [(fn, ct) for fn, ct, _ in atts], "files")
    for f, (_, _, data) in zip(files, atts):
        eq(FAKE.media(f["mediaUrl"]), data, "bytes of " + f["filename"])


@case("inline cid: image of multipart/related is media; the HTML is not")
def _():
    raw = fixture("related-cid")
    atts = attachments(raw)
    eq(len(atts), 1, "fixture: one inline image")
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "image", "body type")
    eq(len(b["image"]["images"]), 1, "images")
    eq(FAKE.media(b["image"]["images"][0]["mediaUrl"]), atts[0][2], "bytes")
    eq(len(reqs("upload")), 1, "uploads")


@case("twelve images: the first 10 sent, note for 2")
def _():
    raw = fixture("twelve-images")
    atts = attachments(raw)
    eq(len(atts), 12, "fixture")
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "image", "body type")
    imgs = b["image"]["images"]
    eq(len(imgs), 10, "images")
    for i, im in enumerate(imgs):
        eq(FAKE.media(im["mediaUrl"]), atts[i][2], "image %d" % (i + 1))
    check(b["image"]["text"].endswith("[2 more attachments not sent]"),
          "note: %r" % b["image"]["text"])
    eq(len(reqs("upload")), 10, "uploads")


@case("mms = true sends MMS to a +31 number; mms = false sends links to +1")
def _():
    raw = fixture("image-png")
    _, conf = setup(numbers=(NL,), media={"mms": True})
    ok(send(conf, raw))
    eq(body_of(NL)["type"], "image", "mms = true")
    _, conf = setup(numbers=(US,), media={"mms": False})
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "text", "mms = false")
    check(FAKE.url + "/_media/" in b["text"]["text"], "link: %r" % b["text"]["text"])


# ---------------------------------------------------------------- non-MMS numbers

@case("+31 with non_mms = links: SMS text ends with the media URL")
def _():
    raw = fixture("image-jpeg")
    (_, _, data), = attachments(raw)
    _, conf = setup(numbers=(NL,), media={"non_mms": "links"})
    ok(send(conf, raw))
    b = body_of(NL)
    eq(b["type"], "text", "body type")
    text = b["text"]["text"]
    urls = re.findall(r"https?://\S+", text)
    eq(len(urls), 1, "links in %r" % text)
    check(text.endswith(urls[0]), "link last: %r" % text)
    eq(FAKE.media(urls[0]), data, "bytes behind the link")


@case("+31 with non_mms = drop: note in the text, nothing uploaded")
def _():
    raw = fixture("mixed-image-pdf")
    _, conf = setup(numbers=(NL,), media={"non_mms": "drop"})
    ok(send(conf, raw))
    text = body_of(NL)["text"]["text"]
    check(text.endswith("[2 attachments not sent]"), "note: %r" % text)
    check("http" not in text, "no links: %r" % text)
    eq(len(reqs("presign")), 0, "presign requests")
    eq(len(reqs("upload")), 0, "uploads")


@case("+1 and +31 together: each gets its kind, one upload")
def _():
    raw = fixture("image-gif")
    _, conf = setup(numbers=(US, NL), media={"non_mms": "drop"})
    ok(send(conf, raw))
    eq(body_of(US)["type"], "image", "+1")
    t = body_of(NL)
    eq(t["type"], "text", "+31")
    check(t["text"]["text"].endswith("[1 attachment not sent]"), t["text"]["text"])
    eq(len(reqs("upload")), 1, "uploads")


@case("three numbers: each item uploaded once, the same URL for all")
def _():
    raw = fixture("mixed-image-pdf")
    _, conf = setup(numbers=(US, US2, NL))
    ok(send(conf, raw))
    eq(len(reqs("presign")), 2, "presign requests")
    eq(len(reqs("upload")), 2, "uploads")
    u1 = [f["mediaUrl"] for f in body_of(US)["file"]["files"]]
    u2 = [f["mediaUrl"] for f in body_of(US2)["file"]["files"]]
    eq(u1, u2, "URLs for the two +1 numbers")
    for u in u1:
        check(u in body_of(NL)["text"]["text"], "link %s for +31" % u)


# ---------------------------------------------------------------- limits

def big_and_small():
    big = os.urandom(7 * 1024 * 1024)
    small = fixture_bytes("image-png")
    return image_mail([("huge.jpg", "image/jpeg", big), ("small.png", "image/png", small)])


def fixture_bytes(name):
    return attachments(fixture(name))[0][2]


@case("oversize item (7 MB): left out with a note, the rest sent")
def _():
    raw = big_and_small()
    _, conf = setup()
    ok(send(conf, raw))
    b = body_of(US)
    eq(b["type"], "image", "body type")
    eq(len(b["image"]["images"]), 1, "images")
    eq(FAKE.media(b["image"]["images"][0]["mediaUrl"]), fixture_bytes("image-png"), "bytes")
    check(b["image"]["text"].endswith("[1 attachment too large, not sent]"), b["image"]["text"])
    eq([r["form"]["file"]["size"] for r in reqs("upload")], [len(fixture_bytes("image-png"))],
       "upload sizes")


@case("oversize with on_too_large = reject: 65 5.6.0, nothing sent")
def _():
    raw = big_and_small()
    _, conf = setup(media={"on_too_large": "reject"})
    res = send(conf, raw)
    eq(res.rc, 65, "exit (%r)" % res)
    eq(res.status, "5.6.0", "status line")
    check("huge.jpg" in res.out, "names the file: %r" % res.out)
    eq(FAKE.requests(), [], "requests")


@case("media.max_total_bytes: the item that would go over is left out")
def _():
    a, b2, c = os.urandom(600), os.urandom(600), os.urandom(300)
    raw = image_mail([("a.png", "image/png", a), ("b.png", "image/png", b2),
                      ("c.png", "image/png", c)])
    _, conf = setup(media={"max_bytes": 1000, "max_total_bytes": 1000})
    ok(send(conf, raw))
    imgs = body_of(US)["image"]["images"]
    eq([FAKE.media(i["mediaUrl"]) for i in imgs], [a, c], "items sent")
    check(body_of(US)["image"]["text"].endswith("[1 attachment too large, not sent]"),
          "note")


# ---------------------------------------------------------------- the upload flow

@case("upload form: every field in order, file last, no Authorization")
def _():
    raw = fixture("mixed-image-pdf")
    _, conf = setup()
    ok(send(conf, raw))
    pres = reqs("presign")
    ups = reqs("upload")
    eq(len(ups), 2, "uploads")
    for p in pres:
        check(p["headers"].get("authorization") == "AccessKey " + DEFAULT_KEY,
              "presign carries the access key")
    # The fake's presign answer: form fields key, Content-Type, policy,
    # x-amz-algorithm, x-amz-signature (in that order); key is the upload id.
    for u in ups:
        check("authorization" not in u["headers"], "upload without Authorization")
        uid = u["path"].rsplit("/", 1)[1]
        eq(u["field_order"], ["key", "Content-Type", "policy", "x-amz-algorithm",
                              "x-amz-signature", "file"], "field order")
        eq(u["form"]["key"], uid, "key field")
        eq(u["status"], 204, "upload answer")
        check(u["headers"].get("content-type", "").startswith("multipart/form-data"),
              "multipart upload")
    # Uploads start only after every presign answer is in.
    check(max(p["seq"] for p in pres) < min(u["seq"] for u in ups), "presign batch first")


@case("presign_path = workspace: channel-media endpoint")
def _():
    _, conf = setup(media={"presign_path": "workspace"})
    ok(send(conf, fixture("image-png")))
    eq([r["path"] for r in reqs("presign")], [PRESIGN_WORKSPACE], "presign path")
    eq(body_of(US)["type"], "image", "sent")


@case("presign_path = channel (default): channel endpoint")
def _():
    _, conf = setup()
    ok(send(conf, fixture("image-png")))
    eq([r["path"] for r in reqs("presign")], [PRESIGN_CHANNEL], "presign path")


def fails(res, rc, prefix):
    eq(res.rc, rc, "exit (%r)" % res)
    check(res.status.startswith(prefix), "status %r, want %s: %r" % (res.status, prefix, res.out))
    eq(len(res.lines), 1, "one line for Postfix")
    check(DEFAULT_KEY not in res.out + res.err, "access key leaked")


FAST = {"timeout": 1, "connect_timeout": 1}


@case("presign 503: 75 4.4.x, no message sent")
def _():
    _, conf = setup(bird=FAST, deadline=5)
    FAKE.faults([{"endpoint": "presign", "status": 503}])
    res = send(conf, fixture("image-png"))
    fails(res, 75, "4.4.")
    eq(reqs("messages"), [], "messages")
    eq(reqs("upload"), [], "uploads")
    check(len(reqs("presign")) >= 2, "retried within the deadline")


@case("presign 503 once: retried, then sent")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "presign", "status": 503, "times": 1}])
    ok(send(conf, fixture("image-png")))
    eq(body_of(US)["type"], "image", "sent")


@case("presign 401: 75 4.3.5")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "presign", "status": 401}])
    fails(send(conf, fixture("image-png")), 75, "4.3.5")
    eq(reqs("messages"), [], "messages")


@case("presign 422 (content type refused): the text still goes, with a note")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "presign", "status": 422}])
    res = send(conf, fixture("audio-mpeg"), extra=["-v"])
    ok(res)
    eq(reqs("upload"), [], "uploads")
    body = body_of(US)
    eq(body["type"], "text", "sent as SMS")
    check(body["text"]["text"].endswith("[1 attachment refused, not sent]"),
          "note at the end: %r" % body["text"]["text"])
    check("refused media" in res.err and "left out" in res.err,
          "warning logged with -v: %r" % res.err)
    check(DEFAULT_KEY not in res.out + res.err, "access key leaked")


@case("one of two items refused: the other goes as MMS, the note counts one")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "presign", "content_type": "application/pdf", "status": 415}])
    ok(send(conf, fixture("mixed-image-pdf")))
    eq([r["json"]["contentType"] for r in reqs("presign")
        if r["status"] == 200], ["image/png"], "presigned")
    eq(len(reqs("upload")), 1, "uploads")
    body = body_of(US)
    eq(body["type"], "image", "what is left is all images")
    eq(len(body["image"]["images"]), 1, "images")
    check(body["image"]["text"].endswith("[1 attachment refused, not sent]"),
          "note: %r" % body["image"]["text"])


@case("upload 413 (too large for storage), on_too_large = note: the text goes")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "upload", "status": 413}])
    ok(send(conf, fixture("image-png")))
    body = body_of(US)
    eq(body["type"], "text", "sent as SMS")
    check(body["text"]["text"].endswith("[1 attachment refused, not sent]"),
          "note: %r" % body["text"]["text"])


@case("upload 413, on_too_large = reject: 65 5.6.0, nothing sent")
def _():
    _, conf = setup(media={"on_too_large": "reject"})
    FAKE.faults([{"endpoint": "upload", "status": 413}])
    fails(send(conf, fixture("image-png")), 65, "5.6.0")
    eq(reqs("messages"), [], "messages")


@case("one item refused, another busy: 75, nothing sent, both tried again")
def _():
    _, conf = setup(bird=FAST, deadline=5)
    FAKE.faults([{"endpoint": "presign", "content_type": "application/pdf", "status": 422},
                 {"endpoint": "presign", "content_type": "image/png", "status": 503}])
    fails(send(conf, fixture("mixed-image-pdf")), 75, "4.4.")
    eq(reqs("messages"), [], "messages")
    FAKE.faults([])
    ok(send(conf, fixture("mixed-image-pdf")))
    eq(body_of(US)["type"], "file", "both items on the retry")


@case("upload 403 (expired signature): 75, no message sent")
def _():
    _, conf = setup()
    FAKE.faults([{"endpoint": "upload", "status": 403}])
    fails(send(conf, fixture("image-png")), 75, "4.")
    eq(reqs("messages"), [], "messages")


@case("upload hangs: 75 4.4.x within the deadline")
def _():
    _, conf = setup(bird=FAST, deadline=5)
    FAKE.faults([{"endpoint": "upload", "hang": 10}])
    res = send(conf, fixture("image-png"), timeout=30)
    fails(res, 75, "4.4.")
    check(res.elapsed < 8, "took %.1fs" % res.elapsed)
    eq(reqs("messages"), [], "messages")


@case("a deferred mail uploads again on the retry and is then sent")
def _():
    d, conf = setup()
    raw = fixture("image-png")
    FAKE.faults([{"endpoint": "upload", "status": 403}])
    eq(send(conf, raw).rc, 75, "first run")
    FAKE.faults([])
    ok(send(conf, raw))
    eq(body_of(US)["type"], "image", "sent on the retry")


@case("a retry stores media only for numbers not yet sent")
def _():
    _, conf = setup(numbers=(US, US2), bird=FAST, deadline=5)
    raw = fixture("image-png")
    FAKE.faults([{"endpoint": "messages", "number": US2, "status": 503}])
    res = send(conf, raw)
    eq(res.rc, 75, "first run: US2 deferred (%r)" % res)
    check("+15550100456" in res.out, "the line names US2: %r" % res.out)
    eq(len(reqs("presign")), 1, "first run: one presign")
    eq(len(FAKE.messages()), 1, "first run: US accepted")
    FAKE.faults([])
    ok(send(conf, raw))
    eq(len(reqs("presign")), 2, "the retry stores the image again, for US2")
    eq(body_of(US2)["type"], "image", "US2 gets the image on the retry")
    eq(len(FAKE.messages()), 2, "US not sent twice")
    # Every number has it now: a further run (Postfix retrying after a
    # crash, say) sends nothing and stores nothing, even if storing fails.
    FAKE.faults([{"endpoint": "presign", "status": 503}])
    ok(send(conf, raw))
    eq(len(reqs("presign")), 2, "nothing stored for a mail already sent")
    eq(len(FAKE.messages()), 2, "nothing sent again")


# ---------------------------------------------------------------- directory store

def dir_setup(numbers=(US,), base="https://media.example.com/sms/"):
    d = tmpdir("m2s-media-dir-")
    store = os.path.join(d, "www")
    os.mkdir(store)
    _, conf = setup(numbers=numbers, media={"store": "directory", "directory": store,
                                            "base_url": base})
    return store, conf


@case("directory store: bytes, random name with extension, 0644, URL")
def _():
    raw = fixture("mixed-image-pdf")
    atts = attachments(raw)
    store, conf = dir_setup()
    ok(send(conf, raw))
    files = body_of(US)["file"]["files"]
    eq(len(files), 2, "files")
    names = sorted(os.listdir(store))
    eq(len(names), 2, "files in the directory (no temporary files left): %r" % names)
    for f, (fn, _, data) in zip(files, atts):
        url = f["mediaUrl"]
        check(url.startswith("https://media.example.com/sms/"), url)
        name = url[len("https://media.example.com/sms/"):]
        check("//" not in url[len("https://"):], "double slash: " + url)
        ext = os.path.splitext(fn)[1]
        check(re.fullmatch(r"[0-9a-f]{32}" + re.escape(ext), name), "name %r" % name)
        path = os.path.join(store, name)
        with open(path, "rb") as fh:
            eq(fh.read(), data, "bytes of " + fn)
        eq(stat.S_IMODE(os.stat(path).st_mode), 0o644, "mode of " + name)
    eq(reqs("presign") + reqs("upload"), [], "nothing sent to Bird but messages")


@case("directory store: names differ every time, upper-case extension lowered")
def _():
    data = fixture_bytes("image-jpeg")
    raw = image_mail([("Snapshot.JPG", "image/jpeg", data),
                      ("weird name.t@r gz", "application/octet-stream", b"xyz")])
    store, conf = dir_setup(base="https://media.example.com/sms")
    ok(send(conf, raw))
    names = [f["mediaUrl"].rsplit("/", 1)[1] for f in body_of(US)["file"]["files"]]
    check(re.fullmatch(r"[0-9a-f]{32}\.jpg", names[0]), names[0])
    check(re.fullmatch(r"[0-9a-f]{32}", names[1]), "unsafe extension dropped: " + names[1])
    ok(send(conf, image_mail([("Snapshot.JPG", "image/jpeg", data)])))
    eq(len(os.listdir(store)), 3, "a second mail gets a new name")


@case("directory store cannot be written: 75, nothing sent, nothing left")
def _():
    store, conf = dir_setup()
    gone = os.path.join(store, "missing")
    _, conf = setup(media={"store": "directory", "directory": gone,
                           "base_url": "https://media.example.com/"})
    res = send(conf, fixture("mixed-image-pdf"))
    fails(res, 75, "4.")
    check(gone in res.out, "names the directory: %r" % res.out)
    eq(reqs("messages"), [], "messages")
    eq(os.listdir(store), [], "files left")


# ---------------------------------------------------------------- dry run

def dry_lines(res):
    return [json.loads(line) for line in res.lines]


@case("dry run: presign lines and stand-in URLs, nothing uploaded")
def _():
    raw = fixture("pdf-rfc2231")
    (fn, _, _), = attachments(raw)
    _, conf = setup(numbers=(US,))
    res = send(conf, raw, extra=["-n"])
    ok(res)
    lines = dry_lines(res)
    eq([(l["method"], l["url"]) for l in lines],
       [("POST", FAKE.url + PRESIGN_CHANNEL), ("POST", FAKE.url + "/workspaces/%s/channels/%s/messages" % (WS, CH))],
       "requests")
    eq(lines[0]["body"], {"contentType": "application/pdf"}, "presign body")
    f, = lines[1]["body"]["body"]["file"]["files"]
    from urllib.parse import quote
    eq(f["mediaUrl"], "https://dry-run.invalid/1/" + quote(fn, safe=""), "stand-in URL")
    eq(FAKE.requests(), [], "requests at the fake")


@case("dry run, directory store: stand-in URLs, nothing written")
def _():
    store, conf = dir_setup()
    res = send(conf, fixture("twelve-images"), extra=["-n"])
    ok(res)
    lines = dry_lines(res)
    eq(len(lines), 1, "only the message line")
    imgs = lines[0]["body"]["body"]["image"]["images"]
    eq([i["mediaUrl"] for i in imgs],
       ["https://dry-run.invalid/%d/cam%02d.png" % (i, i) for i in range(1, 11)], "URLs")
    eq(os.listdir(store), [], "directory")


@case("dry-run goldens (tests/expected/media)")
def _():
    d = tmpdir("m2s-media-golden-")
    conf = write_config(d, "https://api.bird.com",
                        recipients={"aliases": {"to": [US, NL]}},
                        state_dir="/nonexistent/mail2sms-state")
    update = os.environ.get("M2S_UPDATE_GOLDEN") == "1"
    names = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(FIX, "*.eml")))
    check(names, "fixtures")
    for name in names:
        res = send(conf, fixture(name), extra=["-n"])
        got = {"exit": res.rc, "requests": dry_lines(res)}
        path = os.path.join(EXPECTED, name + ".json")
        if update:
            os.makedirs(EXPECTED, exist_ok=True)
            with open(path, "w") as f:
                json.dump(got, f, indent=2, ensure_ascii=False)
                f.write("\n")
            continue
        with open(path) as f:
            want = json.load(f)
        eq(got, want, name)


if __name__ == "__main__":
    try:
        main()
    finally:
        FAKE.stop()
