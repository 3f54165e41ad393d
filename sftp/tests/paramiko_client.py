#!/usr/bin/env python3
"""paramiko, the SFTP client most partners' scripts use, against the embedded server.

Usage: paramiko_client.py PORT USER PASSWORD ACTION [ARGS...]

Actions (each prints one JSON line and exits 0 when the client saw what it should):
  login                      sign in; {"ok": true, "seconds": ...} or the error
  put LOCAL REMOTE           sftp.put(), which stats the remote name after closing it
"""
import json
import sys
import time

import paramiko


def main():
    port, user, password, action, *args = sys.argv[1:]
    started = time.monotonic()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    result = {}
    try:
        client.connect(
            "127.0.0.1",
            port=int(port),
            username=user,
            password=password,
            look_for_keys=False,
            allow_agent=False,
            timeout=60,
            banner_timeout=60,
            auth_timeout=60,
        )
        if action == "put":
            sftp = client.open_sftp()
            attrs = sftp.put(args[0], args[1])
            result["size"] = attrs.st_size
        result["ok"] = True
    except Exception as error:  # the test reads what went wrong
        result["ok"] = False
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        client.close()
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
