#!/bin/sh
# Seeds for fuzz_csr_info: the subject Name and the attributes' content of
# every request in tests/data/csr/accept and issue, as the target reads
# them (name length in 2 octets, Name, attributes' content), one file each,
# named after the request. Run from this directory: sh make-seeds.sh
set -eu
for f in ../../../data/csr/accept/*.pem ../../../data/csr/issue/*.pem; do
	openssl req -in "$f" -outform DER | python3 -c '
import sys
d = sys.stdin.buffer.read()
def tlv(b, i):
    """(start of content, end of the TLV) of the TLV at b[i]"""
    n = b[i + 1]
    if n < 0x80:
        return i + 2, i + 2 + n
    k = n & 0x7f
    l = int.from_bytes(b[i + 2:i + 2 + k], "big")
    return i + 2 + k, i + 2 + k + l
c, _ = tlv(d, 0)            # CertificationRequest
ci, ce = tlv(d, c)          # CertificationRequestInfo
_, e = tlv(d, ci)           # version
ns, ne = e, tlv(d, e)[1]    # subject Name
_, pe = tlv(d, ne)          # subjectPKInfo
as_, ae = tlv(d, pe)        # [0] attributes
name = d[ns:ne]
sys.stdout.buffer.write(len(name).to_bytes(2, "big") + name + d[as_:ae])
' >"$(basename "$f" .pem)"
done
