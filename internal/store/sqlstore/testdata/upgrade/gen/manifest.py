#!/usr/bin/env python3
"""manifest.py SQLITE_WORKDIR POSTGRES_WORKDIR OUT.json

Build manifest.json: every record of the two stores written by uapid a03dd4e,
read back from the stores themselves (SQLite file, PostgreSQL database), with
the secrets used or received while building them (from the gen.sh work
directories). Every secret is checked against its stored hash.
"""
import datetime
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE = "a03dd4e252c3559c74c937a56b46aeb586528c46"
PG_DB = "uapid_upgrade_a03"
UPGTOOL = os.environ.get("UPGTOOL", "/tmp/upgtool")


def envfile(path):
    out = {}
    for line in open(path):
        m = re.match(r"^(\w+)='(.*)'$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def resp(work, name):
    return json.load(open(os.path.join(work, "resp", name + ".json")))


def jar(work, name):
    """(cookie name, raw value as sent in Cookie:, decoded value)."""
    for line in open(os.path.join(work, name)):
        f = line.rstrip("\n").split("\t")
        if len(f) == 7:
            return f[5], f[6], urllib.parse.unquote_plus(f[6])
    raise SystemExit("no cookie in " + name)


def iso_ns(ns):
    return None if ns == 0 else datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).isoformat()


def iso_ms(ms):
    return datetime.datetime.fromtimestamp(ms / 1e3, datetime.timezone.utc).isoformat()


def unhex(v):
    """bytes from a SQLite blob or a PostgreSQL '\\x..' text (None for NULL)."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v
    assert v.startswith("\\x"), v
    return bytes.fromhex(v[2:])


def rows_sqlite(db, table):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out = [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    con.close()
    return out


def rows_pg(table):
    q = f"SELECT coalesce(json_agg(t), '[]') FROM (SELECT * FROM {table}) t"
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", PG_DB, "-Atc", q],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def unseal(hexval, context):
    if hexval in (None, "\\x", ""):
        return ""
    r = subprocess.run([UPGTOOL, "open", os.path.join(HERE, "..", "secret.key"), hexval, context],
                       check=True, capture_output=True, text=True)
    return r.stdout


def build(kind, work):
    S = envfile(os.path.join(HERE, "secrets.env"))
    S.update(envfile(os.path.join(work, "more-secrets.env")))
    if kind == "sqlite":
        db = os.path.join(work, "data", "uapid.db")
        T = lambda t: rows_sqlite(db, t)  # noqa: E731
        tables = [r[0] for r in sqlite3.connect(db).execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        ucol, mig_table = "user", "schema_migrations"
    else:
        T = rows_pg
        tables = rows_pg("(SELECT tablename AS name FROM pg_tables WHERE schemaname='public' ORDER BY 1) x")
        tables = [t["name"] for t in tables]
        ucol, mig_table = None, "uapid_schema_migrations"
    counts = {t: len(T(t)) for t in tables}
    b = lambda v: bool(v)  # noqa: E731  (SQLite 0/1, PostgreSQL true/false)

    state = T("directory_state")[0]
    accounts_raw = T("directory_accounts")
    domains = T("directory_domains")
    dbs = T("directory_databases")
    mboxes = T("directory_mailboxes")
    toks = T("directory_tokens")
    sess = T("sessions")
    temps = T("temp_users")
    notes = {n["user"]: n for n in T("whmacct_notes")} if "whmacct_notes" in tables else {}
    listaccts = {a["user"]: a for a in resp(work, "20-listaccts")["data"]["acct"]}

    acct_pw = {"res": S["RES_PW"], "carol": S["CAROL_PW"], "alice": S["ALICE_PW"], "bob": S["BOB_PW"], "dave": S["DAVE_PW"]}
    how = {"res": "fixture (reseller)", "carol": "fixture (owner res); WHM suspendacct reason='Billing overdue' disallowun=1",
           "alice": "fixture", "bob": "fixture (locale de); WHM suspendacct reason='Abuse report #4711' (no lock)",
           "dave": "WHM createacct plan=gold contactemail=dave@example.net"}
    accounts = []
    for a in accounts_raw:
        user = a["user"] if kind == "sqlite" else a["username"]
        n = notes.get(user)
        la = listaccts[user]
        accounts.append({
            "user": user,
            "created_by": how[user],
            "password": acct_pw[user],
            "password_hash": a["password_hash"],
            "locale": a["locale"],
            "owner": a["owner"],
            "reseller": b(a["reseller"]),
            "suspended": b(a["suspended"]),
            "created_at_unix_nano": a["created_at"],
            "created_at": iso_ns(a["created_at"]),
            "domains": [d["domain"] for d in sorted((d for d in domains if d["account"] == user), key=lambda d: d["position"])],
            "databases": [d["name"] for d in sorted((d for d in dbs if d["account"] == user), key=lambda d: d["position"])],
            "whmacct_notes": None if n is None else {
                "created_at_unix_nano": n["created_at"],
                "matches_account_created_at": n["created_at"] == a["created_at"],
                "plan": n["plan"], "contact_email": n["contact_email"],
                "suspended": b(n["suspended"]), "suspend_reason": n["suspend_reason"],
                "suspend_time_unix": n["suspend_time"], "locked": b(n["locked"])},
            "listaccts_as_served": {k: la[k] for k in ("plan", "email", "suspended", "suspendreason", "suspendtime",
                                                      "is_locked", "owner", "domain", "unix_startdate")},
        })

    mb_pw = {"info@alice.test": S["INFO_PW"], "support@shop.alice.test": S["SUPPORT_PW"],
             "hallo@bob.test": S["BOB_MAIL_PW"], "sales@shop.alice.test": S["SALES_PW"]}
    mailboxes = [{
        "address": m["address"], "account": m["account"], "domain": m["domain"],
        "created_by": "UAPI Email::add_pop (alice)" if m["address"].startswith("sales@") else "fixture",
        "password": mb_pw[m["address"]], "password_hash": m["password_hash"],
        "suspended_login": b(m["suspended_login"]),
        "created_at_unix_nano": m["created_at"], "created_at": iso_ns(m["created_at"]),
    } for m in mboxes]

    tok_secret = {("root", "billing"): (S["ROOT_TOK"], "fixture"),
                  ("alice", "ci"): (S["ALICE_TOK"], "fixture"),
                  ("root", "monitor"): (resp(work, "04-api_token_create-root")["data"]["token"],
                                        "WHM api_token_create expires_at=4070908800 whitelist_ip=127.0.0.1 whitelist_ip-1=192.0.2.0/24"),
                  ("alice", "deploy"): (resp(work, "05-tokens-create-alice")["data"]["token"],
                                        "UAPI Tokens::create_full_access expires_at=4102444800")}
    tokens = []
    for t in toks:
        user = t["user"] if kind == "sqlite" else t["username"]
        secret, src = tok_secret[(user, t["name"])]
        h = unhex(t["hash"]).hex()
        assert h == sha(secret), (user, t["name"])
        tokens.append({
            "user": user, "name": t["name"], "created_by": src, "token": secret, "hash_sha256_hex": h,
            "expires_at_unix_nano": t["expires_at"],
            "expires_at_unix": None if t["expires_at"] == 0 else t["expires_at"] // 10**9,
            "allow_ips_raw": t["allow_ips"],
            "allow_ips": [p for p in t["allow_ips"].split(",") if p],
            "created_at_unix_nano": t["created_at"], "created_at": iso_ns(t["created_at"]),
        })

    # Secrets of the four sessions, by what gen.sh did.
    wm_unused = resp(work, "07-webmail-unused")["data"]
    wm_login = resp(work, "08-webmail-login-create")["data"]
    sso = resp(work, "10-create_user_session-alice")["data"]
    tmp = resp(work, "12-create_temp_user")["data"]
    pwl = resp(work, "13-password-login-dave")
    known = {
        wm_unused["token"]: dict(kind="webmail, created and never used (UAPI Session::create_webmail_session_for_mail_user remote_address=198.51.100.23)",
                                 login_secret=wm_unused["session"], cookie=None),
        wm_login["token"]: dict(kind="webmail, created (remote_address=127.0.0.1 locale=fr) and logged in (POST /cpsess…/login/)",
                                login_secret=wm_login["session"], cookie=jar(work, "jar-webmail")),
        sso["cp_security_token"]: dict(kind="cPanel, WHM create_user_session for alice, logged in via its url, then Session::create_temp_user through the session",
                                       login_secret=sso["session"], login_url=sso["url"], cookie=jar(work, "jar-sso"),
                                       create_temp_user_answer=tmp),
        pwl["security_token"]: dict(kind="cPanel, password login of dave (POST /login/?login_only=1)",
                                    login_secret=None, cookie=jar(work, "jar-pwlogin")),
    }
    sessions = []
    for s in sess:
        k = known[s["token"]]
        user = s["user"] if kind == "sqlite" else s["user_name"]
        lh = unhex(s["login_hash"])
        ch = unhex(s["cookie_hash"])
        if k["login_secret"] is not None:
            assert lh.hex() == sha(k["login_secret"]), s["id"]
        if k["cookie"] is not None:
            assert ch is not None and ch.hex() == sha(k["cookie"][2]), s["id"]
        if kind == "sqlite":
            ret, tpass = s["return_url"], s["temp_pass"]
            sealed = None
        else:
            ret = unseal(s["return_url"], f"uapid/session/{s['id']}/return_url")
            tpass = unseal(s["temp_pass"], f"uapid/session/{s['id']}/temp_pass")
            sealed = {"return_url_hex": s["return_url"][2:], "temp_pass_hex": s["temp_pass"][2:],
                      "aad_context_return_url": f"uapid/session/{s['id']}/return_url",
                      "aad_context_temp_pass": f"uapid/session/{s['id']}/temp_pass"}
        e = {
            "id": s["id"], "kind": k["kind"], "user": user, "account": s["account"], "service": s["service"],
            "token": s["token"], "creator": s["creator"], "method": s["method"], "origin": s["origin"],
            "locale": s["locale"], "return_url": ret,
            "consumed": b(s["consumed"]),
            "login_secret": k["login_secret"],
            "login_hash_sha256_hex": None if lh is None else lh.hex(),
            "cookie_name": None if k["cookie"] is None else k["cookie"][0],
            "cookie_value_as_sent": None if k["cookie"] is None else k["cookie"][1],
            "cookie_secret": None if k["cookie"] is None else k["cookie"][2],
            "cookie_hash_sha256_hex": None if ch is None else ch.hex(),
            "temp_user": s["temp_user"], "temp_pass": tpass, "temp_created": b(s["temp_created"]),
            "created_at_unix_milli": s["created_at"], "created_at": iso_ms(s["created_at"]),
            "last_used_unix_milli": s["last_used"], "last_used": iso_ms(s["last_used"]),
            "expires_at_unix_milli": s["expires_at"], "expires_at": iso_ms(s["expires_at"]),
        }
        if "login_url" in k:
            e["login_url"] = k["login_url"]
            e["create_temp_user_answer"] = k["create_temp_user_answer"]
        if sealed:
            e["sealed"] = sealed
        sessions.append(e)

    temp_users = [{"name": t["name"], "account": t["account"], "session_id": t["session_id"],
                   "created_at_unix_milli": t["created_at"], "created_at": iso_ms(t["created_at"]),
                   "mariadb_user": f"'{t['name']}'@'localhost' (created by the old release; dropped by hand after the dump: test residue)"}
                  for t in temps]

    root_tokens = [t for t in tokens if t["user"] == "root"]
    return {
        "dump": f"a03dd4e.{kind}.sql",
        "written_by": "uapid serve (a03dd4e) --store " + ("<data>/uapid.db (default)" if kind == "sqlite" else
                                                         "postgres://postgres@127.0.0.1:5432/uapid_upgrade_a03 --secret-key-file secret.key"),
        "table_row_counts": counts,
        "schema_migrations": {"table": mig_table, "rows": T(mig_table)},
        "directory_generation": state["generation"],
        "root": {"password": S["ROOT_PW"], "password_hash": state["root_password_hash"],
                 "tokens": [t["name"] for t in root_tokens]},
        "accounts": accounts,
        "mailboxes": mailboxes,
        "tokens": tokens,
        "sessions": sessions,
        "temp_users": temp_users,
        "whmacct_notes": None if kind == "postgres" else [
            {"user": u, **{k: v for k, v in n.items() if k != "user"}} for u, n in notes.items()],
    }


def main():
    sq, pg, out = sys.argv[1:4]
    m = {
        "release": RELEASE,
        "about": "Records written by uapid " + RELEASE[:7] + " that a later release must read in place. "
                 "Times: directory rows (accounts, mailboxes, tokens, whmacct_notes.created_at) in unix NANOseconds, "
                 "sessions and temp_users in unix MILLIseconds, whmacct_notes.suspend_time and "
                 "schema_migrations.applied_at (SQLite) in unix seconds, uapid_schema_migrations.applied_at (PostgreSQL) timestamptz. "
                 "Token, login and cookie hashes are SHA-256 of the secret. Sessions were made with 10-year lifetimes "
                 "(--login-ttl/--idle-timeout/--max-age 87600h) so they are still valid when the test runs. "
                 "The two stores hold the same cast but different server-generated secrets and passwords for dave/sales.",
        "secret_key_file": "secret.key",
        "secret_key_note": "AES-256-GCM key (base64) of the PostgreSQL store: return_url and temp_pass are secretbox-sealed "
                           "(version byte 1, 4-byte key id, 12-byte nonce, ciphertext+tag; AAD = first 5 bytes + context "
                           "'uapid/session/<id>/<field>'). The SQLite store keeps them in clear text.",
        "column_names": {
            "account user": {"sqlite": "directory_accounts.user", "postgres": "directory_accounts.username"},
            "token owner": {"sqlite": "directory_tokens.user", "postgres": "directory_tokens.username"},
            "session user": {"sqlite": "sessions.user", "postgres": "sessions.user_name"},
            "return_url/temp_pass": {"sqlite": "TEXT (clear)", "postgres": "bytea (sealed)"},
            "booleans": {"sqlite": "INTEGER 0/1", "postgres": "boolean"},
            "whmacct_notes": {"sqlite": "table whmacct_notes", "postgres": "none (not stored)"},
            "migrations": {"sqlite": "schema_migrations (component, version, applied_at unix s)",
                           "postgres": "uapid_schema_migrations (component, version, applied_at timestamptz)"},
        },
        "stores": {"sqlite": build("sqlite", sq), "postgres": build("postgres", pg)},
    }
    json.dump(m, open(out, "w"), indent=2, ensure_ascii=False)
    open(out, "a").write("\n")


main()
