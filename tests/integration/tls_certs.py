"""tests/integration/tls_certs.py — real X.509 material for the Python TLS tests.

make_certs(dir) runs the `openssl` command line (as test_certificates.cc does
for the C++ tests): a test CA, a server certificate for 127.0.0.1/localhost
signed by it, a client certificate signed by it, and a second CA nobody
trusts with a client certificate of its own. EC P-256 keys, valid two days.
"""

import os
import shutil
import subprocess


def have_openssl():
    return shutil.which("openssl") is not None


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=30)


def _cert(directory, name, subject, ca=None, extensions=""):
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]
    if ca is None:
        _openssl("req", "-x509", *ec, "-out", crt, "-days", "2", "-subj", subject)
        return
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    with open(ext, "w") as f:
        f.write(extensions + "\n")
    _openssl("req", *ec, "-out", csr, "-subj", subject)
    _openssl("x509", "-req", "-in", csr, "-CA", os.path.join(directory, ca + ".crt"),
             "-CAkey", os.path.join(directory, ca + ".key"), "-CAcreateserial", "-out", crt,
             "-days", "2", "-extfile", ext)


def make_certs(directory):
    """Writes ca, server, client, other_ca, untrusted_client (.crt/.key) into `directory`."""
    client = "extendedKeyUsage=clientAuth"
    _cert(directory, "ca", "/CN=inferd test CA")
    _cert(directory, "server", "/CN=localhost", "ca",
          "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    _cert(directory, "client", "/CN=inferd test client", "ca", client)
    _cert(directory, "other_ca", "/CN=untrusted CA")
    _cert(directory, "untrusted_client", "/CN=untrusted client", "other_ca", client)


def read(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()
