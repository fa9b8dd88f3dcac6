"""
The DirSync position stored in the cache of `samba-tool user syncpasswords`, for the idsync password agent
(services/password-agent). Run with Samba's own Python (the interpreter samba-tool runs with), as root beside the DC.

  read <cache.ldb>
      prints {"control": "dirsync:1:0:0[:<cookie>]" or null, "storedAt": "<ldb time>" or null}
      (control null: the file holds no initialized cache)
  move-to-current-end <cache.ldb> <ldapi-url> <smb.conf>
      sets the cache's position to the DC's current end, then prints it as `read` does. A DirSync search that
      matches no object still returns the DC's cookie (its highest USN and up-to-dateness vector), so a first
      start takes its baseline without samba-tool handing every account to the hook.

It only reads and writes the cache's dirsyncControl (which samba-tool itself rewrites after each DirSync answer);
it never asks for, reads or prints an account's attributes.
"""
import json
import sys
import time

import ldb

CACHE_DN = "KEY=USERSYNCPASSWORDS"
# No object has the null GUID: the search returns no entry, only the cookie.
MATCHES_NOTHING = "(&(objectClass=user)(objectGUID=00000000-0000-0000-0000-000000000000))"


def open_cache(path, writable=False):
    return ldb.Ldb(path, flags=0 if writable else ldb.FLG_RDONLY)


def read_position(cache):
    res = cache.search(base=CACHE_DN, scope=ldb.SCOPE_BASE, attrs=["dirsyncControl", "currentTime"])
    if len(res) != 1 or "dirsyncControl" not in res[0]:
        return {"control": None, "storedAt": None}
    stored_at = str(res[0]["currentTime"][0]) if "currentTime" in res[0] else None
    return {"control": str(res[0]["dirsyncControl"][0]), "storedAt": stored_at}


def current_end(ldapi_url, smb_conf):
    from samba.auth import system_session
    from samba.credentials import Credentials
    from samba.param import LoadParm
    from samba.samdb import SamDB

    lp = LoadParm()
    lp.load(smb_conf)
    creds = Credentials()
    # Anonymous over the privileged ldapi socket is SYSTEM (as samba-tool syncpasswords connects).
    creds.set_anonymous()
    samdb = SamDB(url=ldapi_url, session_info=system_session(), credentials=creds, lp=lp)
    res = samdb.search(expression=MATCHES_NOTHING, scope=ldb.SCOPE_SUBTREE, attrs=["objectGUID"], controls=["dirsync:1:0:0"])
    if len(res) != 0:
        raise RuntimeError("the position search matched %d objects" % len(res))
    if not res.controls or res.controls[0].oid != "1.2.840.113556.1.4.841":
        raise RuntimeError("the DC returned no DirSync cookie")
    control = res.controls[0]
    # As samba-tool stores it after each answer (update_cache): a critical control with the cookie.
    control.critical = True
    return str(control)


def move_to_current_end(cache, control):
    message = ldb.Message(ldb.Dn(cache, CACHE_DN))
    message["dirsyncControl"] = ldb.MessageElement(control, ldb.FLAG_MOD_REPLACE, "dirsyncControl")
    message["currentTime"] = ldb.MessageElement(ldb.timestring(int(time.time())), ldb.FLAG_MOD_REPLACE, "currentTime")
    cache.modify(message)


def main(argv):
    if len(argv) == 3 and argv[1] == "read":
        print(json.dumps(read_position(open_cache(argv[2]))))
        return 0
    if len(argv) == 5 and argv[1] == "move-to-current-end":
        cache = open_cache(argv[2], writable=True)
        if read_position(cache)["control"] is None:
            raise RuntimeError("%s holds no initialized samba-tool cache" % argv[2])
        move_to_current_end(cache, current_end(argv[3], argv[4]))
        print(json.dumps(read_position(cache)))
        return 0
    sys.stderr.write("usage: syncpasswords-position.py read <cache.ldb> | move-to-current-end <cache.ldb> <ldapi-url> <smb.conf>\n")
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # one line, no traceback: the agent logs it
        sys.stderr.write("idsync position helper: %s: %s\n" % (type(error).__name__, error))
        sys.exit(1)
