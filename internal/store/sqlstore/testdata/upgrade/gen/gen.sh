#!/usr/bin/env bash
# gen.sh MODE OUT — drive the OLD uapid (a03dd4e) to build the upgrade cast.
#   MODE: sqlite | postgres
#   OUT:  work directory (data dir, responses, cookie jars, server log)
# Needs: /tmp/uapid-a03, fixture.yaml and secrets.env next to this script, ../secret.key;
# MariaDB at 127.0.0.1:3306 (root), PostgreSQL at 127.0.0.1:5432.
set -euo pipefail
[ -e "$2" ] && { echo "$2 exists" >&2; exit 1; }
MODE=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
UAPID=${UAPID:-/tmp/uapid-a03}
source "$HERE/secrets.env"
mkdir -p "$OUT/data" "$OUT/resp"
R=$OUT/resp

# Secrets chosen here (not in the fixture).
DAVE_PW=${DAVE_PW:-Dave-$(head -c9 /dev/urandom | base64 | tr '+/' '-_')}
SALES_PW=${SALES_PW:-Sales-$(head -c9 /dev/urandom | base64 | tr '+/' '-_')}
printf "DAVE_PW='%s'\nSALES_PW='%s'\n" "$DAVE_PW" "$SALES_PW" > "$OUT/more-secrets.env"

STORE_ARGS=()
if [ "$MODE" = postgres ]; then
  STORE_ARGS=(--store "postgres://postgres@127.0.0.1:5432/uapid_upgrade_a03?sslmode=disable"
              --secret-key-file "$HERE/../secret.key")
fi

# Sessions are given 10-year lifetimes so that the recorded sessions stay
# valid (unexpired) whenever the upgrade test runs.
"$UAPID" serve --data "$OUT/data" --fixture "$HERE/fixture.yaml" \
  --mysql-dsn 'root@tcp(127.0.0.1:3306)/' --hostname localhost \
  --cpanel-addr 127.0.0.1:0 --webmail-addr 127.0.0.1:0 --whm-addr 127.0.0.1:0 \
  --login-ttl 87600h --idle-timeout 87600h --max-age 87600h \
  --audit-log "$OUT/audit.jsonl" "${STORE_ARGS[@]}" >"$OUT/server.out" 2>"$OUT/server.err" &
PID=$!
echo "$PID" > "$OUT/server.pid"
for _ in $(seq 100); do
  [ "$(grep -c '^listening' "$OUT/server.out" 2>/dev/null)" -ge 3 ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$OUT/server.err"; exit 1; }
  sleep 0.2
done
port() { grep "service=$1 " "$OUT/server.out" | sed 's/.*addr=127.0.0.1://'; }
CP=$(port cpaneld) WM=$(port webmaild) WHM=$(port whostmgrd)
echo "CP=$CP WM=$WM WHM=$WHM" | tee "$OUT/ports"

C=(curl -sSk --max-time 30)
whm() { local f=$1; shift; "${C[@]}" -u "root:$ROOT_PW" -G "https://127.0.0.1:$WHM/json-api/$f" --data-urlencode api.version=1 "$@"; }
save() { tee "$R/$1.json"; echo; }

# --- WHM API 1 as root (Basic) ---
whm createacct --data-urlencode username=dave --data-urlencode domain=dave.test \
  --data-urlencode plan=gold --data-urlencode contactemail=dave@example.net \
  --data-urlencode "password=$DAVE_PW" | save 01-createacct-dave
whm suspendacct --data-urlencode user=carol --data-urlencode 'reason=Billing overdue' \
  --data-urlencode disallowun=1 | save 02-suspendacct-carol
whm suspendacct --data-urlencode user=bob --data-urlencode 'reason=Abuse report #4711' | save 03-suspendacct-bob
whm api_token_create --data-urlencode token_name=monitor --data-urlencode expires_at=4070908800 \
  --data-urlencode whitelist_ip=127.0.0.1 --data-urlencode whitelist_ip-1=192.0.2.0/24 | save 04-api_token_create-root

# --- UAPI as alice (Basic) ---
uapi() { local f=$1; shift; "${C[@]}" -u "alice:$ALICE_PW" -G "https://127.0.0.1:$CP/execute/$f" "$@"; }
uapi Tokens/create_full_access --data-urlencode name=deploy --data-urlencode expires_at=4102444800 | save 05-tokens-create-alice
uapi Email/add_pop --data-urlencode email=sales --data-urlencode domain=shop.alice.test \
  --data-urlencode "password=$SALES_PW" | save 06-add_pop-alice

# --- sessions ---
# (a) unused Webmail session for info@alice.test, bound to another address
uapi Session/create_webmail_session_for_mail_user --data-urlencode login=info --data-urlencode domain=alice.test \
  --data-urlencode remote_address=198.51.100.23 | save 07-webmail-unused
# (b) Webmail session for sales@shop.alice.test, then logged in
uapi Session/create_webmail_session_for_mail_user --data-urlencode login=sales --data-urlencode domain=shop.alice.test \
  --data-urlencode remote_address=127.0.0.1 --data-urlencode locale=fr | save 08-webmail-login-create
WTOK=$(jq -r .data.token "$R/08-webmail-login-create.json")
WSES=$(jq -r .data.session "$R/08-webmail-login-create.json")
"${C[@]}" -c "$OUT/jar-webmail" -D "$R/09-webmail-login.headers" -o "$R/09-webmail-login.body" \
  -w '%{http_code} %{redirect_url}\n' --data-urlencode "session=$WSES" "https://127.0.0.1:$WM$WTOK/login/"
"${C[@]}" -b "$OUT/jar-webmail" -o /dev/null -w 'webmail landing %{http_code}\n' "https://127.0.0.1:$WM$WTOK/"
# (c) cPanel SSO session for alice (WHM create_user_session), logged in, temp user created
whm create_user_session --data-urlencode user=alice --data-urlencode service=cpaneld | save 10-create_user_session-alice
SURL=$(jq -r .data.url "$R/10-create_user_session-alice.json")
STOK=$(jq -r .data.cp_security_token "$R/10-create_user_session-alice.json")
"${C[@]}" -X POST -c "$OUT/jar-sso" -D "$R/11-sso-login.headers" -o "$R/11-sso-login.body" \
  -w '%{http_code} %{redirect_url}\n' --resolve "localhost:$CP:127.0.0.1" "$SURL"
"${C[@]}" -b "$OUT/jar-sso" -X POST --resolve "localhost:$CP:127.0.0.1" "https://localhost:$CP$STOK/execute/Session/create_temp_user" | save 12-create_temp_user
# (d) password login of dave on the cPanel port
"${C[@]}" -c "$OUT/jar-pwlogin" -D "$R/13-password-login.headers" \
  --data-urlencode user=dave --data-urlencode "pass=$DAVE_PW" "https://127.0.0.1:$CP/login/?login_only=1" | save 13-password-login-dave

# --- read-back ---
whm listaccts | save 20-listaccts
"${C[@]}" -H "Authorization: cpanel alice:$(jq -r .data.token "$R/05-tokens-create-alice.json")" \
  "https://127.0.0.1:$CP/execute/Tokens/list" | save 21-tokens-list-alice
"${C[@]}" -H "Authorization: whm root:$(jq -r .data.token "$R/04-api_token_create-root.json")" \
  -G "https://127.0.0.1:$WHM/json-api/version" --data-urlencode api.version=1 | save 22-version-roottoken
"$UAPID" session list --data "$OUT/data" "${STORE_ARGS[@]}" > "$R/23-session-list.txt" 2>&1 || true

kill -TERM "$PID"
wait "$PID" && echo "server exited 0"
