/*
 * Fresh serial numbers, alone in this file so that a test can link its own
 * ca_serial_new in place of this one (tests/unit/test_ca_enroll.c forces a
 * serial collision that 126 random bits never give).
 */
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "ca/ca_int.h"

int
ca_serial_new(uint8_t serial[16], struct ca_error *err)
{
	int	rc;

	if ((rc = gnutls_rnd(GNUTLS_RND_RANDOM, serial, 16)) < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc,
		    "random serial number");
	/* Top bits 01: positive without a pad byte, always 16 octets,
	 * 126 random bits (RFC 5280 §4.1.2.2; CA/B BR 7.1 asks for 64). */
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	return CA_OK;
}
