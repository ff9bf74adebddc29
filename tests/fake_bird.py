#!/usr/bin/env python3
"""A fake Bird Channels API for the integration tests (standard library only).

It answers the calls mail2sms makes -- send a message, read a message's
status, ask for a presigned upload, upload to the presigned URL -- with
the checks Bird (and S3) would make, records every request, and can be
told to fail in chosen ways through the /_fake control endpoints:

  GET  /_fake/requests   every request received on the Bird endpoints
  GET  /_fake/gets       every status read served: id, number, time, answer
  POST /_fake/reset      forget requests, faults, scripts and stored media
  POST /_fake/faults     {"rules": [...]} or {"random": {...}}
  POST /_fake/latency    {"seconds": S}: delay every Bird request
  POST /_fake/status     a status script for a number, or for every number

Run: fake_bird.py --port 0 --port-file FILE [--workspace WS] [--channel CH]
     [--access-key KEY] [--log FILE] [--latency SECONDS]
"""

import argparse
import datetime
import email.message
import email.utils
import hashlib
import http.server
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import uuid

ALLOWED_TOP = {
    "sender", "receiver", "reference", "template", "meta", "replyTo", "body",
    "notification", "capFrequency", "enableLinkTracking", "ignoreQuietHours",
    "ignoreGlobalHoldout", "tags", "shortLinks", "scheduledFor", "validity",
}
CONTACT_KEYS = {"id", "identifierKey", "identifierValue", "type", "identifiers",
                "platformAddress", "platformAddressSelector"}
TEXT_KEYS = {"text", "attachments", "actions", "metadata"}
IMAGE_KEYS = {"text", "images", "metadata", "actions"}
IMAGE_ITEM_KEYS = {"mediaUrl", "altText"}
FILE_KEYS = {"text", "files", "metadata", "actions"}
FILE_ITEM_KEYS = {"mediaUrl", "contentType", "filename", "altText", "metadata"}
TEMPLATE_KEYS = {"name", "projectId", "version", "locale", "attachments",
                 "shortLinks", "variables", "utmParameters", "parameters",
                 "settings"}
TAG_RE = re.compile(r"^[a-zA-Z0-9\-_ ]+$")

ERROR_CODES = {
    400: ("InvalidRequest", "The request is invalid"),
    401: ("Unauthorized", "The request is not authorized: invalid access key"),
    403: ("Forbidden", "The access key is not allowed to perform this action"),
    404: ("NotFound", "The requested resource does not exist"),
    409: ("Conflict", "Creating the message was not possible because of conflicting conditions"),
    422: ("InvalidPayload", "The request did not pass validation"),
    429: ("TooManyRequests", "Too many requests, slow down"),
    500: ("InternalServerError", "An internal error occurred"),
    502: ("BadGateway", "Bad gateway"),
    503: ("ServiceUnavailable", "The service is temporarily unavailable"),
    504: ("GatewayTimeout", "Gateway timeout"),
}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bird_error(status, message=None, details=None):
    code, default = ERROR_CODES.get(status, ("Error", "HTTP %d" % status))
    err = {"code": code, "message": message or default}
    if details is not None:
        err["details"] = details
    return err


def s3_error(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>%s</RequestId></Error>\n'
            % (code, message, uuid.uuid4().hex[:16].upper()))


def validate_message(msg):
    """Return a details dict {"field.path": ["problem", ...]} (empty = valid)."""
    details = {}

    def bad(path, problem):
        details.setdefault(path, []).append(problem)

    if not isinstance(msg, dict):
        bad("", "must be an object")
        return details
    for k in msg:
        if k not in ALLOWED_TOP:
            bad(k, "unknown field")
    rec = msg.get("receiver")
    if not isinstance(rec, dict):
        bad("receiver", "is required and must be an object")
    else:
        for k in rec:
            if k != "contacts":
                bad("receiver." + k, "unknown field")
        contacts = rec.get("contacts")
        if not isinstance(contacts, list) or not contacts:
            bad("receiver.contacts", "must be a non-empty list")
        else:
            for i, c in enumerate(contacts):
                p = "receiver.contacts.%d" % i
                if not isinstance(c, dict):
                    bad(p, "must be an object")
                    continue
                for k in c:
                    if k not in CONTACT_KEYS:
                        bad(p + "." + k, "unknown field")
                v = c.get("identifierValue")
                if not isinstance(v, str) or not v:
                    bad(p + ".identifierValue", "is required")
                if "identifierKey" in c and not isinstance(c["identifierKey"], str):
                    bad(p + ".identifierKey", "must be a string")
    has_body = msg.get("body") is not None
    has_tmpl = msg.get("template") is not None
    if has_body == has_tmpl:
        bad("body", "exactly one of body or template is required")
    if has_body:
        validate_body(msg["body"], bad)
    if has_tmpl:
        validate_template(msg["template"], bad)
    if "reference" in msg and not isinstance(msg["reference"], str):
        bad("reference", "must be a string")
    if "tags" in msg:
        tags = msg["tags"]
        if not isinstance(tags, list):
            bad("tags", "must be a list")
        else:
            if len(tags) > 10:
                bad("tags", "at most 10 tags")
            for i, t in enumerate(tags):
                if (not isinstance(t, str) or not 1 <= len(t) <= 50
                        or not TAG_RE.match(t)):
                    bad("tags.%d" % i, "must match ^[a-zA-Z0-9-_ ]+$, 1-50 characters")
    if "validity" in msg:
        v = msg["validity"]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            bad("validity", "must be an integer >= 0")
    return details


def validate_body(body, bad):
    if not isinstance(body, dict):
        bad("body", "must be an object")
        return
    t = body.get("type")
    if t not in ("text", "image", "file"):
        bad("body.type", "must be one of text, image, file")
        return
    for k in body:
        if k not in ("type", t):
            bad("body." + k, "unknown field for type %s" % t)
    inner = body.get(t)
    p = "body." + t
    if not isinstance(inner, dict):
        bad(p, "is required and must be an object")
        return
    allowed = {"text": TEXT_KEYS, "image": IMAGE_KEYS, "file": FILE_KEYS}[t]
    for k in inner:
        if k not in allowed:
            bad(p + "." + k, "unknown field")
    if "metadata" in inner and not isinstance(inner["metadata"], dict):
        bad(p + ".metadata", "must be an object")
    elif t == "text" and "metadata" in inner:
        for k, v in inner["metadata"].items():
            if k not in ("subject", "headers", "whatsapp", "line", "email"):
                bad(p + ".metadata." + k, "unknown field")
    if "text" in inner and not isinstance(inner["text"], str):
        bad(p + ".text", "must be a string")
    if t == "text":
        if not isinstance(inner.get("text"), str) or not inner.get("text"):
            bad("body.text.text", "is required and must be a non-empty string")
        return
    key = "images" if t == "image" else "files"
    items = inner.get(key)
    if not isinstance(items, list) or not items:
        bad(p + "." + key, "must be a non-empty list")
        return
    if len(items) > 10:
        bad(p + "." + key, "at most 10 items")
    for i, it in enumerate(items):
        ip = "%s.%s.%d" % (p, key, i)
        if not isinstance(it, dict):
            bad(ip, "must be an object")
            continue
        for k in it:
            if k not in (IMAGE_ITEM_KEYS if t == "image" else FILE_ITEM_KEYS):
                bad(ip + "." + k, "unknown field")
        url = it.get("mediaUrl")
        if not isinstance(url, str) or not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", url):
            bad(ip + ".mediaUrl", "is required and must be a URI")
        if t == "file":
            ct = it.get("contentType")
            if not isinstance(ct, str) or not ct:
                bad(ip + ".contentType", "is required")
            if "filename" in it and not isinstance(it["filename"], str):
                bad(ip + ".filename", "must be a string")


def validate_template(tmpl, bad):
    if not isinstance(tmpl, dict):
        bad("template", "must be an object")
        return
    for k in tmpl:
        if k not in TEMPLATE_KEYS:
            bad("template." + k, "unknown field")
    for k in ("projectId", "version", "locale"):
        if not isinstance(tmpl.get(k), str) or not tmpl.get(k):
            bad("template." + k, "is required")
    params = tmpl.get("parameters")
    if params is None:
        return
    if not isinstance(params, list):
        bad("template.parameters", "must be a list")
        return
    for i, prm in enumerate(params):
        pp = "template.parameters.%d" % i
        if not isinstance(prm, dict):
            bad(pp, "must be an object")
            continue
        if prm.get("type") != "string":
            bad(pp + ".type", "must be \"string\"")
        if not isinstance(prm.get("key"), str) or not prm.get("key"):
            bad(pp + ".key", "is required")
        if "value" in prm and not isinstance(prm["value"], str):
            bad(pp + ".value", "must be a string")
        for k in prm:
            if k not in ("type", "key", "value"):
                bad(pp + "." + k, "unknown field")


def parse_multipart(body, content_type):
    """Parse multipart/form-data by hand. Returns [(name, filename, ctype, bytes)]
    in order, or raises ValueError."""
    m = email.message.Message()
    m["content-type"] = content_type
    if m.get_content_type() != "multipart/form-data":
        raise ValueError("not multipart/form-data")
    boundary = m.get_param("boundary")
    if not boundary:
        raise ValueError("no boundary")
    delim = b"\r\n--" + boundary.encode("latin-1")
    pieces = (b"\r\n" + body).split(delim)
    if len(pieces) < 3:
        raise ValueError("no parts")
    fields = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        eol = piece.find(b"\r\n")
        if eol < 0:
            raise ValueError("bad boundary line")
        part = piece[eol + 2:]
        hend = part.find(b"\r\n\r\n")
        if hend < 0:
            if part.startswith(b"\r\n"):
                hdr_text, data = b"", part[2:]
            else:
                raise ValueError("part without header end")
        else:
            hdr_text, data = part[:hend], part[hend + 4:]
        hm = email.message.Message()
        for line in hdr_text.split(b"\r\n"):
            if not line:
                continue
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if not sep:
                raise ValueError("bad part header")
            hm[name.strip()] = value.strip()
        if hm.get("content-disposition") is None:
            raise ValueError("part without Content-Disposition")
        fname = hm.get_param("name", header="content-disposition")
        if fname is None:
            raise ValueError("part without a name")
        filename = hm.get_param("filename", header="content-disposition")
        if isinstance(filename, tuple):
            filename = email.utils.collapse_rfc2231_value(filename)
        fields.append((fname, filename, hm.get("content-type"), data))
    if not closed:
        raise ValueError("no closing boundary")
    return fields


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.workspace = args.workspace
        self.channel = args.channel
        self.key = args.access_key
        self.latency = args.latency
        self.log = args.log
        self.port = None
        self.reset()

    def reset(self):
        self.requests = []
        self.seq = 0
        self.rules = []
        self.random = None
        self.rng = None
        self.uploads = {}   # id -> {"fields": {...}, "content_type": ct}
        self.media = {}     # id -> (content_type, bytes)
        self.messages = {}  # Bird id -> {"number", "message" (as sent back), "reads"}
        self.scripts = {}   # number -> [step, ...]; "*" for every other number
        self.gets = []      # {"id", "number", "t", "status", "answer"} per status read

    def next_fault(self, endpoint, numbers, content_type=None):
        """Called with the lock held. Returns the rule that applies, or None.
        A rule applies to an endpoint ("*" for all), optionally only to
        requests for one number or, for presign and upload, one content
        type; it can skip its first matches and apply a number of times."""
        if self.random is not None and endpoint == "messages":
            r = self.random
            if self.rng.random() < r.get("rate", 0.0):
                action = self.rng.choice(r.get("actions", ["500"]))
                if action == "hang":
                    return {"hang": r.get("hang", 30), "_name": "hang"}
                if action == "drop":
                    return {"drop": True, "_name": "drop"}
                if action == "nonjson":
                    return {"nonjson": True, "_name": "nonjson"}
                rule = {"status": int(action), "_name": "status %s" % action}
                if int(action) == 429 and "retry_after" in r:
                    rule["retry_after"] = r["retry_after"]
                return rule
            return None
        for rule in self.rules:
            ep = rule.get("endpoint", "*")
            if ep not in ("*", endpoint):
                continue
            num = rule.get("number")
            if num is not None and num not in numbers:
                continue
            ct = rule.get("content_type")
            if ct is not None and ct != content_type:
                continue
            rule["_seen"] = rule.get("_seen", 0) + 1
            skip = rule.get("skip", 0) or 0
            if rule["_seen"] <= skip:
                continue
            times = rule.get("times", -1)
            if times is None or times < 0 or rule["_seen"] - skip <= times:
                return rule
        return None


def rule_name(rule):
    if rule is None:
        return None
    if "_name" in rule:
        return rule["_name"]
    for k in ("status", "hang", "drop", "nonjson", "latency"):
        if k in rule:
            return k if k in ("drop", "nonjson") else "%s %s" % (k, rule[k])
    return "rule"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The header and the body of an answer go out in two writes: without
    # this, Nagle holds the body until the client's delayed ACK (40 ms) on
    # every request of a kept connection.
    disable_nagle_algorithm = True
    server_version = "FakeBird/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        st = self.server.state
        if st.log:
            with st.lock, open(st.log, "a") as f:
                f.write("%s %s\n" % (now_rfc3339(), fmt % args))

    # ------------------------------------------------------------ plumbing
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=None, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        elif body is None:
            data = b""
        else:
            data = body
        # Record the status before the answer leaves: a client that reads
        # /_fake/requests right after its answer must find it there.
        rec = getattr(self, "cur_rec", None)
        if rec is not None:
            with self.server.state.lock:
                rec["status"] = status
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        try:
            self.end_headers()
            if status != 204 and self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            # The client went away (timed out) before the answer: the request
            # was still processed, as it would be by the real service.
            self.close_connection = True
            self.client_gone = True
        return status

    def headers_dict(self):
        d = {}
        for k, v in self.headers.items():
            k = k.lower()
            d[k] = d[k] + ", " + v if k in d else v
        return d

    # ------------------------------------------------------------ dispatch
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        self.cur_rec = None         # set again for a Bird endpoint
        st = self.server.state
        body = self.read_body()
        path = self.path.split("?", 1)[0]
        if path.startswith("/_fake/"):
            return self.control(method, path, body)
        if path.startswith("/_media/") and method == "GET":
            with st.lock:
                item = st.media.get(path[len("/_media/"):])
            if item is None:
                return self.send(404, s3_error("NoSuchKey", "The specified key does not exist."),
                                 "application/xml")
            return self.send(200, item[1], item[0])

        endpoint = None
        m = re.match(r"^/workspaces/([^/]+)/channels/([^/]+)/messages$", path)
        if m and method == "POST":
            endpoint = "messages"
        mg = re.match(r"^/workspaces/([^/]+)/channels/([^/]+)/messages/([^/]+)$", path)
        if mg and method == "GET":
            endpoint = "message"
            m = mg
        mp = (re.match(r"^/workspaces/([^/]+)/channels/([^/]+)/presigned-upload$", path)
              or re.match(r"^/workspaces/([^/]+)/channel-media/presigned-upload$", path))
        if mp and method == "POST":
            endpoint = "presign"
            m = mp
        mu = re.match(r"^/_upload/([^/]+)$", path)
        if mu and method == "POST":
            endpoint = "upload"

        parsed = None
        if endpoint in ("messages", "presign"):
            try:
                parsed = json.loads(body.decode("utf-8")) if body else None
            except (ValueError, UnicodeDecodeError):
                parsed = None
        numbers = []
        if endpoint == "message":
            with st.lock:
                known = st.messages.get(mg.group(3))
            numbers = [known["number"]] if known else []
        if endpoint == "messages" and isinstance(parsed, dict):
            try:
                numbers = [c.get("identifierValue") for c in parsed["receiver"]["contacts"]]
            except (KeyError, TypeError, AttributeError):
                numbers = []

        rec = {"method": method, "path": path, "headers": self.headers_dict(),
               "json": parsed, "form": None, "field_order": None, "status": None,
               "fault": None, "t": time.time(), "client_gone": False}
        self.client_gone = False
        self.cur_rec = rec
        with st.lock:
            st.seq += 1
            rec["seq"] = st.seq
            st.requests.append(rec)
            ctype = None
            if endpoint == "presign" and isinstance(parsed, dict):
                ctype = parsed.get("contentType")
            elif endpoint == "upload" and mu.group(1) in st.uploads:
                ctype = st.uploads[mu.group(1)]["content_type"]
            rule = st.next_fault(endpoint, numbers, ctype) if endpoint else None
            rec["fault"] = rule_name(rule)
            latency = st.latency

        if latency:
            time.sleep(latency)

        if rule is not None and "latency" not in rule:
            if endpoint == "message":
                with st.lock:
                    st.gets.append({"id": mg.group(3), "number": (numbers or [None])[0],
                                    "t": rec["t"], "status": None,
                                    "answer": "fault " + rec["fault"]})
            return self.apply_fault(rule, rec)
        if rule is not None:
            time.sleep(float(rule["latency"]))

        if endpoint == "messages":
            status = self.messages(m.group(1), m.group(2), body, parsed)
        elif endpoint == "message":
            status = self.message(m.group(1), m.group(2), m.group(3), rec)
        elif endpoint == "presign":
            status = self.presign(m.group(1), m.groups()[1] if len(m.groups()) > 1 else None,
                                  body, parsed)
        elif endpoint == "upload":
            status = self.upload(mu.group(1), body, rec)
        else:
            status = self.send(404, bird_error(404, "The requested resource does not exist: no such route"))
        with st.lock:
            rec["status"] = status
            if getattr(self, "client_gone", False):
                rec["client_gone"] = True

    def apply_fault(self, rule, rec):
        st = self.server.state
        if "hang" in rule:
            time.sleep(float(rule["hang"]))
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rule.get("drop"):
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rule.get("garbage"):
            status = self.send(200, '{"id": "', "application/json")
        elif rule.get("nonjson") and rec["method"] == "GET":
            status = self.send(200, "<html><body>Status</body></html>\n", "text/html")
        elif rule.get("nonjson"):
            status = self.send(202, "<html><body><h1>Accepted</h1><p>Your request is being"
                               " processed.</p></body></html>\n", "text/html")
        else:
            code = int(rule["status"])
            extra = {}
            if "retry_after" in rule:
                extra["Retry-After"] = str(rule["retry_after"])
            body = rule.get("body")
            if body is None:
                body = bird_error(code)
            ctype = "application/json" if isinstance(body, (dict, list)) else "text/plain"
            status = self.send(code, body, ctype, extra)
        with st.lock:
            rec["status"] = status
            if getattr(self, "client_gone", False):
                rec["client_gone"] = True

    def check_auth(self, ws, ch):
        """Returns a status if the request was answered with an error, else None."""
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if auth != "AccessKey " + st.key:
            return self.send(401, bird_error(401, "The request is not authorized: "
                                             "missing or invalid access key"))
        if ws != st.workspace or (ch is not None and ch != st.channel):
            what = "workspace" if ws != st.workspace else "channel"
            return self.send(404, bird_error(404, "The requested resource does not exist: "
                                             "%s not found" % what))
        return None

    def json_request(self, body, parsed):
        ct = self.headers.get("Content-Type", "")
        if ct.split(";")[0].strip().lower() != "application/json":
            return self.send(400, bird_error(400, "Content-Type must be application/json"))
        if parsed is None:
            return self.send(400, bird_error(400, "The request body is not valid JSON"))
        return None

    # ------------------------------------------------------------ Bird
    def messages(self, ws, ch, body, parsed):
        st = self.server.state
        r = self.check_auth(ws, ch) or self.json_request(body, parsed)
        if r:
            return r
        details = validate_message(parsed)
        if details:
            return self.send(422, bird_error(422, "The request did not pass validation", details))
        contacts = []
        for c in parsed["receiver"]["contacts"]:
            c = dict(c)
            c.setdefault("id", str(uuid.uuid4()))
            contacts.append(c)
        now = now_rfc3339()
        out = {"id": str(uuid.uuid4()), "channelId": st.channel,
               "sender": {"connector": {"id": str(uuid.uuid4()),
                                        "identifierValue": "+15550100"}},
               "receiver": {"contacts": contacts}}
        if parsed.get("body") is not None:
            out["body"] = parsed["body"]
        else:
            out["template"] = parsed["template"]
        if "reference" in parsed:
            out["reference"] = parsed["reference"]
        out.update({"status": "accepted", "direction": "outgoing",
                    "lastStatusAt": now, "createdAt": now, "updatedAt": now})
        with st.lock:
            st.messages[out["id"]] = {"number": contacts[0].get("identifierValue"),
                                      "message": dict(out), "reads": 0}
        return self.send(202, out)

    def message(self, ws, ch, mid, rec):
        """A message's status, as its number's script says: each read takes
        the next step, the last step repeats."""
        st = self.server.state
        r = self.check_auth(ws, ch)
        if r:
            return r
        with st.lock:
            known = st.messages.get(mid)
            step = None
            if known is not None:
                script = st.scripts.get(known["number"], st.scripts.get("*", ["delivered"]))
                step = script[min(known["reads"], len(script) - 1)] if script else "delivered"
                known["reads"] += 1
            log = {"id": mid, "number": known["number"] if known else None, "t": rec["t"],
                   "status": None, "answer": None}
            st.gets.append(log)
        if known is None:
            log["answer"] = "404"
            return self.send(404, bird_error(404, "The requested resource does not exist: "
                                             "message not found"))
        if isinstance(step, str):
            step = {"status": step}
        if "http" in step:
            code = int(step["http"])
            log["answer"] = str(code)
            return self.send(code, bird_error(code))
        out = dict(known["message"])
        out["status"] = step.get("status", "delivered")
        now = now_rfc3339()
        out["lastStatusAt"] = out["updatedAt"] = now
        for k in ("reason", "failure", "details"):
            if k in step:
                out[k] = step[k]
        log["status"] = out["status"]
        log["answer"] = "200"
        return self.send(200, out)

    def presign(self, ws, ch, body, parsed):
        st = self.server.state
        r = self.check_auth(ws, ch) or self.json_request(body, parsed)
        if r:
            return r
        ct = parsed.get("contentType") if isinstance(parsed, dict) else None
        if not isinstance(ct, str) or not ct:
            return self.send(422, bird_error(422, "The request did not pass validation",
                                             {"contentType": ["is required"]}))
        mid = str(uuid.uuid4())
        base = "http://127.0.0.1:%d" % st.port
        form = {"key": mid, "Content-Type": ct,
                "policy": hashlib.sha256(mid.encode()).hexdigest(),
                "x-amz-algorithm": "AWS4-HMAC-SHA256",
                "x-amz-signature": hashlib.sha256((mid + ct).encode()).hexdigest()}
        with st.lock:
            st.uploads[mid] = {"fields": form, "content_type": ct}
        return self.send(200, {"mediaUrl": base + "/_media/" + mid,
                               "uploadUrl": base + "/_upload/" + mid,
                               "uploadMethod": "POST", "uploadFormData": form})

    def upload(self, mid, body, rec):
        st = self.server.state
        xml = "application/xml"
        with st.lock:
            up = st.uploads.get(mid)
        if up is None:
            return self.send(404, s3_error("NoSuchUpload", "The specified upload does not exist."), xml)
        try:
            fields = parse_multipart(body, self.headers.get("Content-Type", ""))
        except ValueError as e:
            return self.send(400, s3_error("MalformedPOSTRequest",
                                           "The body of your POST request is not well-formed "
                                           "multipart/form-data: %s" % e), xml)
        form = {}
        for name, filename, ctype, data in fields:
            if name == "file":
                form[name] = {"filename": filename, "content_type": ctype, "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()}
            else:
                form[name] = data.decode("utf-8", "replace")
        with st.lock:
            rec["form"] = form
            rec["field_order"] = [f[0] for f in fields]
        if self.headers.get("Authorization") is not None:
            return self.send(400, s3_error("InvalidArgument", "Only one auth mechanism allowed; "
                                           "only the X-Amz-Algorithm query parameter, Signature "
                                           "query string parameter or the Authorization header "
                                           "should be specified"), xml)
        for k, v in up["fields"].items():
            if form.get(k) != v:
                return self.send(400, s3_error("InvalidPolicyDocument" if k == "policy" else
                                               "InvalidArgument",
                                               "Bucket POST must contain a field named '%s' "
                                               "with the value given" % k), xml)
        if not fields or fields[-1][0] != "file":
            return self.send(400, s3_error("InvalidArgument", "POST requires exactly one file "
                                           "upload per request, as the last field"), xml)
        if sum(1 for f in fields if f[0] == "file") != 1:
            return self.send(400, s3_error("InvalidArgument", "POST requires exactly one file "
                                           "upload per request"), xml)
        with st.lock:
            st.media[mid] = (up["content_type"], fields[-1][3])
        return self.send(204)

    # ------------------------------------------------------------ control
    def control(self, method, path, body):
        st = self.server.state
        try:
            arg = json.loads(body.decode("utf-8")) if body else {}
        except ValueError:
            return self.send(400, {"error": "bad JSON"})
        if path == "/_fake/requests" and method == "GET":
            with st.lock:
                data = json.dumps(st.requests)
            return self.send(200, data.encode())
        if path == "/_fake/reset" and method == "POST":
            with st.lock:
                st.reset()
            return self.send(200, {"ok": True})
        if path == "/_fake/faults" and method == "POST":
            with st.lock:
                if "random" in arg and arg["random"] is not None:
                    st.random = dict(arg["random"])
                    st.rng = random.Random(st.random.get("seed", 0))
                    st.rules = []
                else:
                    st.random = None
                    st.rules = [dict(r) for r in arg.get("rules", [])]
            return self.send(200, {"ok": True})
        if path == "/_fake/gets" and method == "GET":
            with st.lock:
                data = json.dumps(st.gets)
            return self.send(200, data.encode())
        if path == "/_fake/status" and method == "POST":
            with st.lock:
                known = list(arg.get("messages", []))
                if "id" in arg:
                    known.append({"id": arg["id"], "number": arg.get("number")})
                for k in known:
                    st.messages[k["id"]] = {"number": k.get("number"), "reads": 0,
                                            "message": {"id": k["id"],
                                                        "channelId": st.channel,
                                                        "status": "accepted"}}
                if "script" in arg:
                    st.scripts[arg.get("number", "*")] = list(arg["script"])
            return self.send(200, {"ok": True})
        if path == "/_fake/latency" and method == "POST":
            with st.lock:
                st.latency = float(arg.get("seconds", 0))
            return self.send(200, {"ok": True})
        return self.send(404, {"error": "no such control endpoint"})


FAULT_HELP = """\
control endpoints (on the same port):
  GET  /_fake/requests   every request received on the Bird endpoints (JSON)
  POST /_fake/reset      forget requests, faults and stored media
  POST /_fake/latency    {"seconds": S}: delay every Bird request
  POST /_fake/faults     {"rules": [RULE, ...]}: the first rule that applies
                         answers; {"rules": []} ends all faults
                         {"random": {...}}: random faults, see below

a RULE is a JSON object; it applies to
  "endpoint": "messages" | "message" (status reads) | "presign" | "upload" | "*"
              (default "*")
  "number": "+31..."       only requests for this receiver
  "content_type": "..."    only presign/upload of this type
  "skip": N                let the first N matching requests through
  "times": N               apply N times, then let them through (-1: always)
and does one of
  "status": CODE           answer CODE with Bird's error body, or
  "body": ... with it      that body instead (object: JSON, string: text)
  "retry_after": S         with "status": a Retry-After header
  "hang": S                read the request, say nothing for S seconds, close
  "drop": true             close the connection with a reset, no answer
  "nonjson": true          202 (a status read: 200) with an HTML body
  "garbage": true          200 with a JSON body cut short
  "latency": S             wait S seconds, then answer normally

status scripts (POST /_fake/status):
  {"number": "+31...", "script": [STEP, ...]}   that number's messages
  {"script": [...]}                              every other number (default
                                                 ["delivered"])
  {"id": "ID", "number": "+31..."}               know a message sent elsewhere
  {"messages": [{"id": "ID", "number": "+31..."}, ...]}    many at once
  each status read takes the next STEP, the last one repeats; a STEP is a
  status word ("sent"), an object {"status": "delivery_failed", "reason":
  "unknown_subscriber", "failure": {"description": ..., "source": {"code":
  "15005", "name": "sms-messagebird"}}}, or {"http": 404} for that answer

random faults ("messages" only):
  {"random": {"rate": 0.3, "actions": ["500", "503", "429", "hang", "drop",
   "nonjson"], "seed": 1, "hang": S, "retry_after": S}}

example:
  curl -d '{"rules": [{"endpoint": "messages", "status": 503, "times": 2}]}' \\
       http://127.0.0.1:PORT/_fake/faults
"""


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that hangs up (a timed-out attempt, the end of a run) is
        # part of the job, not an error worth a traceback in the test log.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=FAULT_HELP)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--port-file", help="write the port chosen to this file")
    ap.add_argument("--workspace", default="ws-test", help="the workspace id it accepts")
    ap.add_argument("--channel", default="ch-test", help="the channel id it accepts")
    ap.add_argument("--access-key", default="test-access-key-0123456789",
                    help="the access key it accepts (Authorization: AccessKey KEY)")
    ap.add_argument("--log", help="append a line per request to this file")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds to wait before answering every Bird request")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; with "
                    "--tls-key); media URLs stay http://")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.state = State(args)
    srv.state.port = srv.server_address[1]

    def stop(signum, frame):
        # shutdown() waits for serve_forever, so run it off the main thread.
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.state.port)
        os.replace(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
