#!/bin/sh
# The quick start: install, build, and send a sample alert mail through
# mail2sms into a local stand-in for the Bird API; show what the API
# received and the exit status. Run as root on Debian 12.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" build
"$top/scripts/build.sh"
bin="$top/_build/src/mail2sms"

work=$(mktemp -d /tmp/mail2sms-demo.XXXXXX)
cleanup() { [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# The stand-in for Bird's API, on loopback.
python3 "$top/tests/fake_bird.py" --port 0 --port-file "$work/port" \
    --workspace demo-workspace --channel demo-channel \
    --access-key demo-access-key --log "$work/fake.log" &
fake_pid=$!
i=0
while [ ! -s "$work/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$work/port")

# A configuration like etc/mail2sms.conf, pointed at the stand-in.
umask 077
printf 'demo-access-key\n' > "$work/access_key"
cat > "$work/mail2sms.conf" <<CONF
bird = {
  api_url = "http://127.0.0.1:$port";
  workspace_id = "demo-workspace";
  channel_id = "demo-channel";
  access_key_file = "$work/access_key";
};
recipients = {
  default_country = "31";
  allowed_prefixes = [ "+31", "+32" ];
  aliases = { oncall = [ "+31612345678", "06 8765 4321" ]; };
};
state_dir = "$work/state";
CONF

echo
echo "== mail2sms --check-config"
"$bin" --check-config -c "$work/mail2sms.conf"
echo
echo "== the mail (docs/examples/nagios-alert.eml) piped as Postfix would:"
echo "   mail2sms -f nagios@monitoring.example.com -q 4F3A21C0E2 -- oncall@sms.example.com"
set +e
"$bin" -v -c "$work/mail2sms.conf" -f nagios@monitoring.example.com -q 4F3A21C0E2 \
    -- oncall@sms.example.com < "$top/docs/examples/nagios-alert.eml"
status=$?
set -e
echo "exit status: $status"
echo
echo "== what the Bird API received:"
python3 - "$port" <<'PY'
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen("http://127.0.0.1:%s/_fake/requests" % sys.argv[1]))
for r in reqs:
    auth = r["headers"].get("authorization", "")
    print("%s %s -> %s  (Authorization: %s <key>, User-Agent: %s)" % (
        r["method"], r["path"], r["status"], auth.split(" ")[0], r["headers"].get("user-agent")))
    print(json.dumps(r["json"], indent=2, ensure_ascii=False))
PY
exit "$status"
