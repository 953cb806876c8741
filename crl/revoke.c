/*
 * Revocation: the CRL entry's final DER (kept in the store's revoked index so
 * that a CRL build is one cursor pass and one copy per entry) and the
 * revocation write itself.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "crl/crl.h"
#include "common/der.h"

/* id-ce-cRLReasons (2.5.29.21), RFC 5280 §5.3.1. */
static const uint8_t oid_reason[] = { 0x55, 0x1d, 0x15 };

/*
 * RFC 5280 §5.3.1: value 7 is not a CRLReason; removeFromCRL (8) only
 * appears in delta CRLs, which we do not issue.
 */
static bool
reason_ok(int reason)
{
	return reason >= 0 && reason <= 10 && reason != 7 && reason != 8;
}

/* A serial we may list: minimal positive INTEGER content, 1..21 octets
   (RFC 5280 §4.1.2.2: at most 20 octets of value, plus a sign pad). */
static bool
serial_ok(const uint8_t *s, size_t len)
{
	return s != NULL && len >= 1 && len <= SERIAL_MAX + 1 &&
	    der_int_minimal(s, len) && !der_int_negative(s, len) &&
	    !(len == SERIAL_MAX + 1 && s[0] != 0x00);
}

int
crl_entry_encode(const struct cert_record *rec, uint8_t *buf, size_t cap,
    size_t *len)
{
	struct der_buf	b;
	size_t		tlen, ext = 0, content;

	if (rec == NULL || buf == NULL || len == NULL ||
	    !serial_ok(rec->serial, rec->serial_len) ||
	    !reason_ok(rec->reason))
		return CA_EINVAL;
	if ((tlen = der_time_len(rec->revoked_at)) == 0 || rec->revoked_at < 0)
		return CA_EINVAL;
	/*
	 * crlEntryExtensions { Extension { reasonCode, ENUMERATED } }, left
	 * out for unspecified: RFC 5280 §5.3.1 says the reason code SHOULD be
	 * absent rather than carry unspecified (0).
	 * Sizes: ENUMERATED 3, OCTET STRING 5, OID 5, Extension 12,
	 * Extensions 14.
	 */
	if (rec->reason != 0)
		ext = 2 + 2 + 5 + 5;
	content = 2 + rec->serial_len + tlen + ext;
	der_buf_init(&b, buf, cap);
	der_put_hdr(&b, DER_SEQUENCE, content);
	der_put_tlv(&b, DER_INTEGER, rec->serial, rec->serial_len);
	der_put_time(&b, rec->revoked_at);
	if (rec->reason != 0) {
		der_put_hdr(&b, DER_SEQUENCE, 12);
		der_put_hdr(&b, DER_SEQUENCE, 10);
		der_put_tlv(&b, DER_OID, oid_reason, sizeof(oid_reason));
		der_put_hdr(&b, DER_OCTET_STRING, 3);
		der_put_uint(&b, DER_ENUMERATED, rec->reason);
	}
	if (b.overflow)
		return CA_ETOOBIG;
	*len = b.len;
	return CA_OK;
}

int
crl_revoke(struct store *st, const uint8_t *serial, size_t serial_len,
    int reason, int64_t revoked_at, bool force, int *outcome,
    struct cert_record *rec_out, struct ca_error *err)
{
	struct store_revocation	 rv;
	char			 hex[SERIAL_HEX_MAX + 2];
	int			 result = 0, rc;

	if (st == NULL)
		return ca_error_set(err, CA_EINVAL, "no store");
	if (!serial_ok(serial, serial_len)) {
		return ca_error_set(err, CA_EINVAL, "a serial to revoke is a "
		    "positive integer of at most 20 octets (RFC 5280 section "
		    "4.1.2.2)");
	}
	serial_format(serial, serial_len, hex);
	if (reason == 8)
		return ca_error_set(err, CA_EINVAL, "reason removeFromCRL is "
		    "only for delta CRLs (RFC 5280 section 5.3.1), which mtlsca "
		    "does not issue");
	if (!reason_ok(reason))
		return ca_error_set(err, CA_EINVAL, "%d is not a CRLReason "
		    "(RFC 5280 section 5.3.1: unspecified, keyCompromise, "
		    "cACompromise, affiliationChanged, superseded, "
		    "cessationOfOperation, certificateHold, privilegeWithdrawn, "
		    "aACompromise)", reason);
	if (revoked_at == 0)
		revoked_at = time_now();
	if (revoked_at < 0 || der_time_len(revoked_at) == 0)
		return ca_error_set(err, CA_EINVAL, "revocation time of serial "
		    "%s is outside the years 1970..9999", hex);

	memset(&rv, 0, sizeof(rv));
	rv.serial = serial;
	rv.serial_len = serial_len;
	rv.revoked_at = revoked_at;
	rv.reason = (uint8_t)reason;
	rv.force = force;
	rv.not_after = STORE_NOT_AFTER_UNKNOWN;
	if ((rc = store_cert_revoke(st, &rv, crl_entry_encode, &result,
	    rec_out, err)) != CA_OK)
		return rc;
	if (outcome != NULL)
		*outcome = result;
	return CA_OK;
}
