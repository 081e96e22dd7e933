#!/usr/bin/env python3
"""Prints a broker key id, {RFC 7638 thumbprint of the owner's public JWK}/{name}, from the owner's .jwk file.

The id depends only on the owner's public key and the key's name, so a data owner can hand it to the coordinator's
operator before the broker is even running; `enclave key register` prints the same id.
    keyid.py OWNER.key.jwk NAME
"""
import base64
import hashlib
import json
import sys

jwk = json.load(open(sys.argv[1]))
if jwk.get("kty") != "EC":
    sys.exit("keyid.py: only EC owner keys")
canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
print(f"{thumbprint}/{sys.argv[2]}")
