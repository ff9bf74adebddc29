#!/usr/bin/env python3
"""baseline.py - what an administrator would write instead of mail2sms.

Reads one mail on standard input, picks its text (text/plain, else HTML with
the tags stripped), builds "{subject}: {body}" cut to three SMS parts and
POSTs it as JSON to the Bird Channels API.  Python 3 standard library only
(email, html.parser, urllib).  It does less than mail2sms: no aliases,
media, charset repair beyond what email does, retries, journal or limits.

    baseline.py --url URL --workspace WS --channel CH --key-file FILE [-n] NUMBER

-n prints the request body instead of sending it.  Exit 0 when the API
accepted the message, 75 when it should be tried again, 65 otherwise.
"""

import argparse
import email
import email.policy
import html.parser
import json
import re
import sys
import urllib.error
import urllib.request


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3"):
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def mail_text(msg):
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = part.get_content()
    if part.get_content_subtype() == "html":
        p = _Text()
        p.feed(text)
        text = "".join(p.out)
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--channel", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("-n", action="store_true")
    ap.add_argument("number")
    a = ap.parse_args()

    msg = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
    subject = str(msg.get("Subject", "") or "")
    body = re.sub(r"\s+", " ", mail_text(msg)).strip()
    text = ("%s: %s" % (subject, body) if subject else body)[:3 * 153]
    if not text:
        print("5.6.0 nothing to send")
        return 65
    payload = {"receiver": {"contacts": [{"identifierKey": "phonenumber",
                                          "identifierValue": a.number}]},
               "body": {"type": "text", "text": {"text": text}}}
    mid = msg.get("Message-ID")
    if mid:
        payload["reference"] = str(mid).strip()
    data = json.dumps(payload).encode()
    if a.n:
        print(data.decode())
        return 0
    with open(a.key_file) as f:
        key = f.read().strip()
    req = urllib.request.Request(
        "%s/workspaces/%s/channels/%s/messages" % (a.url, a.workspace, a.channel),
        data=data, method="POST",
        headers={"Content-Type": "application/json", "Authorization": "AccessKey " + key})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=20) as r:
            r.read()
            return 0
    except urllib.error.HTTPError as e:
        print("%s Bird API answered HTTP %d" % ("4.4.0" if e.code in (429,) or e.code >= 500
                                                else "5.6.0", e.code))
        return 75 if e.code in (429,) or e.code >= 500 else 65
    except OSError as e:
        print("4.4.1 Bird API unreachable: %s" % e)
        return 75


if __name__ == "__main__":
    sys.exit(main())
