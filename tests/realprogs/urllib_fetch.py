"""Fetches each URL given with urllib and prints, per URL, the HTTP status
and the SHA-256 of the body (or the HTTPError status)."""
import hashlib
import sys
import urllib.error
import urllib.request

for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            print(url.rsplit("/", 1)[1], response.status, hashlib.sha256(response.read()).hexdigest())
    except urllib.error.HTTPError as e:
        print(url.rsplit("/", 1)[1], "HTTPError", e.code)
