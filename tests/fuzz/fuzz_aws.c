/*
 * libFuzzer target for what aws/ reads from the network: the XML of ELBv2
 * answers (revocation lists, NextMarker, the bundle's Location), STS's
 * AssumeRoleWithWebIdentity answer, AWS error documents, and the JSON
 * credentials documents of IMDS and the container endpoint. Invariants:
 * every parser answers one of its documented codes, a success fills what
 * it promises (NUL-terminated, within its buffer), a failure leaves no
 * secret behind; nothing reads out of bounds, leaks or crashes (XML with a
 * DOCTYPE is refused before any entity is read).
 * Seeds: tests/data/aws/.
 * corpus: data/aws
 */
/* The invariants are asserts: keep them in release builds too. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_revocation	 rev[8];
	struct aws_credentials	 cr;
	struct aws_response	 r;
	struct ca_error		 e;
	char			 marker[64], loc[256], text[32];
	const char		*in = (const char *)data;
	size_t			 n = 99;
	int64_t			 t;
	int			 rc;

	rc = aws_elbv2_parse_revocations(in, size, rev, 8, &n, marker,
	    sizeof(marker), &e);
	assert(rc == CA_OK || rc == CA_EMALF || rc == CA_ETOOBIG);
	if (rc == CA_OK)
		assert(n <= 8 && strlen(marker) < sizeof(marker));
	rc = aws_elbv2_parse_location(in, size, loc, sizeof(loc), &e);
	assert(rc == CA_OK || rc == CA_EMALF || rc == CA_ETOOBIG);
	if (rc == CA_OK)
		assert(loc[0] != '\0' && strlen(loc) < sizeof(loc));
	memset(&cr, 0x55, sizeof(cr));
	rc = aws_sts_parse_credentials(in, size, &cr, &e);
	assert(rc == CA_OK || rc == CA_EMALF);
	if (rc == CA_OK)
		assert(cr.access_key[0] != '\0' && cr.secret_key[0] != '\0' &&
		    strlen(cr.session_token) < sizeof(cr.session_token));
	rc = aws_xml_text(in, size, "Code", text, sizeof(text));
	assert(rc == CA_OK || rc == CA_EMALF || rc == CA_ENOENT ||
	    rc == CA_ETOOBIG);
	assert(strlen(text) < sizeof(text));

	/* The error reader works on a response's body. */
	memset(&r, 0, sizeof(r));
	if (size > 0 && awsbuf_add(&r.body, data, size) == CA_OK) {
		aws_xml_error(&r);
		assert(strlen(r.error_code) < sizeof(r.error_code));
		assert(strlen(r.error_message) < sizeof(r.error_message));
	}
	aws_response_clear(&r);

	rc = aws_imds_parse(in, size, &cr, &e);
	assert(rc == CA_OK || rc == CA_EAUTH);
	if (rc == CA_OK)
		assert(strcmp(cr.source, "instance role") == 0);
	rc = aws_container_parse(in, size, &cr, &e);
	assert(rc == CA_OK || rc == CA_EAUTH);
	aws_credentials_wipe(&cr);

	/* Expirations, on a NUL-terminated copy. */
	if (size < 64) {
		char s[64];

		memcpy(s, data, size);
		s[size] = '\0';
		rc = aws_expiration_parse(s, &t);
		assert(rc == CA_OK || rc == CA_EMALF || rc == CA_EINVAL);
	}
	return 0;
}
