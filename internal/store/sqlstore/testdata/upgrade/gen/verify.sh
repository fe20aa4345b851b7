#!/usr/bin/env bash
# verify.sh DIR — load the dumps in DIR into fresh stores, check they are
# identical to what the old release wrote, and run the OLD uapid on them with
# the secrets of DIR/manifest.json.
set -euo pipefail
D=$(cd "$1" && pwd)
UAPID=${UAPID:-/tmp/uapid-a03}
UPGTOOL=${UPGTOOL:-/tmp/upgtool}
V=$(mktemp -d /tmp/upg-verify.XXXX)
M=$D/manifest.json
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== SQLite: sqlite3 new.db < a03dd4e.sqlite.sql"
mkdir -p "$V/sq/data"
sqlite3 "$V/sq/data/uapid.db" < "$D/a03dd4e.sqlite.sql"
sqlite3 "$V/sq/data/uapid.db" 'PRAGMA foreign_key_check; PRAGMA integrity_check'
echo "== SQLite: one ExecContext (modernc, foreign_keys ON)"
"$UPGTOOL" exec-sqlite "$D/a03dd4e.sqlite.sql" "$V/exec.db"
for db in "$V/sq/data/uapid.db" "$V/exec.db"; do
  diff <(grep -v '^--' "$D/a03dd4e.sqlite.sql" | grep -v '^$') \
       <(sqlite3 "$db" .dump | grep -vE '^(PRAGMA foreign_keys=OFF;|BEGIN TRANSACTION;|COMMIT;)$' | grep -v '^$') \
    || fail "re-dump of $db differs"
done
echo "re-dumps identical"

echo "== PostgreSQL: psql into schema s of a fresh database"
for db in uapid_upgrade_a03_verify uapid_upgrade_a03_verify2; do
  "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
"${PSQL[@]}" -d uapid_upgrade_a03_verify -c 'CREATE SCHEMA s'
{ echo 'SET search_path=s;'; cat "$D/a03dd4e.postgres.sql"; } | "${PSQL[@]}" -d uapid_upgrade_a03_verify
echo "== PostgreSQL: one Exec (pgx, simple protocol) into schema s of another fresh database"
"${PSQL[@]}" -d uapid_upgrade_a03_verify2 -c 'CREATE SCHEMA s'
"$UPGTOOL" exec-pg "$D/a03dd4e.postgres.sql" "postgres://postgres@127.0.0.1:5432/uapid_upgrade_a03_verify2?sslmode=disable&search_path=s"
"${PSQL[@]}" -d uapid_upgrade_a03_verify2 -Atc "select count(*) from pg_tables where schemaname='public'" | grep -qx 0 || fail "tables in public"
norm() { grep -vE '^(--|SET |SELECT pg_catalog|\\)' | sed -E 's/(^|[ (])(public|s)\./\1/g' | grep -vE '^CREATE SCHEMA|^COMMENT ON SCHEMA' | grep -v '^$'; }
orig=$(pg_dump -h 127.0.0.1 -U postgres --no-owner --no-privileges --inserts --schema=public uapid_upgrade_a03 | norm)
for db in uapid_upgrade_a03_verify uapid_upgrade_a03_verify2; do
  diff <(echo "$orig") <(pg_dump -h 127.0.0.1 -U postgres --no-owner --no-privileges --inserts --schema=s $db | norm) \
    || fail "re-dump of $db differs"
done
echo "re-dumps identical"

# ---- run the old binary on the loaded stores ----
check() { # kind extra-args...
  local kind=$1; shift
  local out=$V/$kind
  mkdir -p "$out/data"
  [ "$kind" = sqlite ] && cp "$V/sq/data/uapid.db" "$out/data/"
  "$UAPID" serve --data "$out/data" --hostname localhost --cpanel-addr 127.0.0.1:0 --webmail-addr 127.0.0.1:0 \
    --whm-addr 127.0.0.1:0 --login-ttl 87600h --idle-timeout 87600h --max-age 87600h "$@" \
    >"$out/server.out" 2>"$out/server.err" &
  local pid=$!
  for _ in $(seq 100); do
    [ "$(grep -c '^listening' "$out/server.out" 2>/dev/null)" -ge 3 ] && break
    kill -0 $pid 2>/dev/null || { cat "$out/server.err"; fail "server died"; }
    sleep 0.2
  done
  port() { grep "service=$1 " "$out/server.out" | sed 's/.*addr=127.0.0.1://'; }
  local CP WM WHM; CP=$(port cpaneld) WM=$(port webmaild) WHM=$(port whostmgrd)
  local S=".stores.$kind" C=(curl -sSk --max-time 30)
  j() { jq -r "$S$1" "$M"; }
  local rootpw; rootpw=$(j .root.password)
  # root password: listaccts
  local la; la=$("${C[@]}" -u "root:$rootpw" "https://127.0.0.1:$WHM/json-api/listaccts?api.version=1")
  echo "$la" | jq -c '[.data.acct[]|[.user,.owner,.plan,.email,.suspended,.suspendreason,.is_locked]]'
  for u in $(j '.accounts[].user'); do
    for f in plan email suspendreason is_locked suspendtime; do
      [ "$(echo "$la" | jq -c ".data.acct[]|select(.user==\"$u\")|.$f")" = "$(jq -c "$S.accounts[]|select(.user==\"$u\")|.listaccts_as_served.$f" "$M")" ] \
        || fail "$kind listaccts $u $f"
    done
  done
  # every token authenticates (whm for root, cpanel for accounts)
  local n; n=$(j '.tokens|length')
  for i in $(seq 0 $((n-1))); do
    local u t; u=$(j ".tokens[$i].user") t=$(j ".tokens[$i].token")
    if [ "$u" = root ]; then
      r=$("${C[@]}" -H "Authorization: whm root:$t" "https://127.0.0.1:$WHM/json-api/version?api.version=1" | jq .metadata.result)
    else
      r=$("${C[@]}" -H "Authorization: cpanel $u:$t" "https://127.0.0.1:$CP/execute/Tokens/list" | jq .status)
    fi
    [ "$r" = 1 ] || fail "$kind token $u/$(j ".tokens[$i].name")"
    echo "token $u/$(j ".tokens[$i].name") ok"
  done
  "${C[@]}" -H "Authorization: cpanel alice:$(j '.tokens[]|select(.name=="deploy")|.token')" \
    "https://127.0.0.1:$CP/execute/Email/list_pops" | jq -c '[.data[]|[.email,.suspended_login]]'
  # account passwords: alice, dave (Basic on cPanel), carol and bob are suspended (401)
  for u in alice dave res carol bob; do
    code=$("${C[@]}" -o /dev/null -w '%{http_code}' -u "$u:$(j ".accounts[]|select(.user==\"$u\")|.password")" "https://127.0.0.1:$CP/execute/Tokens/list")
    echo "basic $u: $code"
    case $u in carol|bob) [ "$code" = 401 ] || fail "$kind $u not refused";; *) [ "$code" = 200 ] || fail "$kind $u refused";; esac
  done
  # mailbox passwords (Basic on Webmail): the login-suspended one is refused
  for a in $(j '.mailboxes[].address'); do
    code=$("${C[@]}" -o /dev/null -w '%{http_code}' -u "$a:$(j ".mailboxes[]|select(.address==\"$a\")|.password")" "https://127.0.0.1:$WM/execute/Email/list_pops")
    echo "basic $a: $code"
  done
  # logged-in sessions: the recorded cookies still work
  n=$(j '.sessions|length')
  for i in $(seq 0 $((n-1))); do
    local cv tok svc port; cv=$(j ".sessions[$i].cookie_value_as_sent") tok=$(j ".sessions[$i].token") svc=$(j ".sessions[$i].service")
    [ "$cv" = null ] && continue
    port=$CP; [ "$svc" = webmaild ] && port=$WM
    r=$("${C[@]}" -H "Cookie: $(j ".sessions[$i].cookie_name")=$cv" "https://127.0.0.1:$port$tok/execute/Email/list_pops" | jq .status)
    echo "cookie $(j ".sessions[$i].user") ($svc): status $r"
    [ "$r" = 1 ] || fail "$kind cookie of session $(j ".sessions[$i].id")"
  done
  # the unused login secret is still unused (bound to 198.51.100.23: changed_ip from here, never invalid_session)
  local ls; ls=$(j '.sessions[]|select(.consumed==false)|.login_secret') tok=$(j '.sessions[]|select(.consumed==false)|.token')
  r=$("${C[@]}" --data-urlencode "session=$ls" "https://127.0.0.1:$WM$tok/login/?login_only=1")
  echo "unused webmail session from 127.0.0.1: $r"
  [ "$(echo "$r" | jq -r .message)" = changed_ip ] || fail "$kind unused session"
  "$UAPID" session list --data "$out/data" "$@"
  kill -TERM $pid; wait $pid || fail "$kind server exit"
  grep -iE 'level=(error|warn)' "$out/server.err" && fail "$kind server log has errors" || true
}
echo "== old uapid on the loaded SQLite store"
check sqlite
echo "== old uapid on the loaded PostgreSQL store (schema s)"
check postgres --store "postgres://postgres@127.0.0.1:5432/uapid_upgrade_a03_verify?sslmode=disable&search_path=s" \
  --secret-key-file "$D/secret.key"
"${PSQL[@]}" -c "DROP DATABASE uapid_upgrade_a03_verify" -c "DROP DATABASE uapid_upgrade_a03_verify2"
rm -rf "$V"
echo "ALL OK"
