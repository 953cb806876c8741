/*
 * Recovery from a published CRL: after a restore of an older backup (or a
 * store lost and rebuilt), the CRLs the world already holds say more than
 * the store. Two things must then hold (issue 12):
 *  - no CRL number is used twice: two different CRLs with one number break
 *    RFC 5280 section 5.2.3 (the number rises strictly) and, for the s3
 *    publisher, overwrite PREFIX/crl/<number>.pem, the object ALB was told
 *    to copy. The store's counter is raised to the CRL's number, so the
 *    next CRL is numbered above it;
 *  - no revocation is lost: every serial the CRL lists that the store does
 *    not hold as revoked is revoked again, with the CRL's revocationDate
 *    and reason (a serial the store never saw is recorded without a
 *    certificate, as `revoke --force` does), each with an audit entry
 *    "recovered from CRL N".
 * Only a CRL this CA signed is believed (its signature is checked with the
 * CA certificate's key): anything else could revoke at will.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crl/crl_int.h"
#include "common/der.h"
#include "common/util.h"

static const uint8_t oid_reason[] = { 0x55, 0x1d, 0x15 };

/* The reasonCode of an entry's extensions (0, unspecified, when absent).
   The parser has checked the structure already. */
static int
entry_reason(const struct der_tlv *exts)
{
	struct der_cur	c, e, v;
	struct der_tlv	ext, oid, t, val, en;

	der_cur_init(&c, exts->p, exts->len);
	while (c.left > 0) {
		if (der_expect(&c, DER_SEQUENCE, &ext) != 0)
			return 0;
		der_cur_init(&e, ext.p, ext.len);
		if (der_expect(&e, DER_OID, &oid) != 0)
			return 0;
		if (der_peek(&e) == DER_BOOLEAN && der_read(&e, &t) != 0)
			return 0;
		if (der_expect(&e, DER_OCTET_STRING, &val) != 0)
			return 0;
		if (oid.len != sizeof(oid_reason) ||
		    memcmp(oid.p, oid_reason, sizeof(oid_reason)) != 0)
			continue;
		der_cur_init(&v, val.p, val.len);
		if (der_expect(&v, DER_ENUMERATED, &en) != 0 || en.len != 1)
			return 0;
		return en.p[0];
	}
	return 0;
}

int
crl_recover(struct store *st, const uint8_t *ca_der, size_t ca_len,
    uint32_t ca_id, const uint8_t *buf, size_t len, const char *source, const char *who,
    struct crl_recovery *out, struct ca_error *err)
{
	struct crl_parsed	 o;
	struct store_txn	*txn = NULL;
	struct store_revocation	 rv;
	struct der_cur		 list, ent;
	struct der_tlv		 e, serial, when, exts;
	uint8_t			*der = NULL;
	size_t			 dlen;
	unsigned		 blocks;
	bool			 outside;
	char			 hex[SERIAL_HEX_MAX + 2], detail[512];
	int64_t			 now = time_now(), at;
	int			 outcome, rc;

	if (st == NULL || ca_der == NULL || buf == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "nothing to recover from");
	memset(out, 0, sizeof(*out));
	if (source == NULL)
		source = "a CRL";
	/* PEM (what ALB reads) or DER (crl.der, latest.der). */
	if (len > 0 && buf[0] == 0x30) {
		dlen = len;
	} else if ((rc = crl_pem_decode(buf, len, &der, &dlen, &blocks,
	    &outside, err)) != CA_OK) {
		return ca_error_set(err, rc, "%s: %s", source, err->msg);
	}
	if ((rc = crl_parse_der(der != NULL ? der : buf, dlen, &o)) != CA_OK) {
		rc = ca_error_set(err, rc, "%s: not a CRL: %s", source, o.why);
		goto out;
	}
	if ((rc = crl_sig_verify(ca_der, ca_len, o.alg, o.alg_len, o.tbs,
	    o.tbs_len, o.sig, o.sig_len, err)) != CA_OK) {
		char why[sizeof(err->msg)];

		/* err->msg is an argument: copied first (no overlap). */
		snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : "");
		rc = ca_error_set(err, rc, "%s was not signed by this CA (%s): "
		    "nothing is taken from it", source, why);
		goto out;
	}
	if (!o.has_number || o.number_big) {
		rc = ca_error_set(err, CA_EPOLICY, "%s has %s: it is not one "
		    "mtlsca made", source, o.has_number ? "a cRLNumber beyond "
		    "64 bits" : "no cRLNumber");
		goto out;
	}
	out->number = o.number;
	out->listed = o.entries;
	out->this_update = o.this_update;

	/* The number first: even if what follows fails, no later CRL can
	   take a number the world has seen. */
	if ((rc = store_counter_raise(st, STORE_COUNTER_CRL, o.number,
	    &out->counter, err)) != CA_OK)
		goto out;

	/* Then the entries, all or none, each with its audit entry. */
	if (o.list == NULL || o.list_len == 0)
		goto out;
	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		goto out;
	der_cur_init(&list, o.list, o.list_len);
	while (list.left > 0) {
		int reason = 0;

		if (der_expect(&list, DER_SEQUENCE, &e) != 0) {
			rc = ca_error_set(err, CA_EMALF, "%s: bad entry", source);
			goto out;
		}
		der_cur_init(&ent, e.p, e.len);
		if (der_expect(&ent, DER_INTEGER, &serial) != 0 ||
		    der_read(&ent, &when) != 0 || !der_time_parse(&when, &at)) {
			rc = ca_error_set(err, CA_EMALF, "%s: bad entry", source);
			goto out;
		}
		if (ent.left > 0 && der_expect(&ent, DER_SEQUENCE, &exts) == 0)
			reason = entry_reason(&exts);
		/* A negative serial (never ours) or a reason the store
		   cannot hold is skipped, and said. */
		if (der_int_negative(serial.p, serial.len) || serial.len == 0 ||
		    serial.len > SERIAL_MAX + 1 || reason == 8 || reason == 7 ||
		    reason > 10) {
			out->skipped++;
			continue;
		}
		memset(&rv, 0, sizeof(rv));
		rv.serial = serial.p;
		rv.serial_len = serial.len;
		rv.revoked_at = at;
		rv.reason = (uint8_t)reason;
		rv.force = true;
		rv.not_after = STORE_NOT_AFTER_UNKNOWN;
		/* A serial the store never saw goes to the CRL of the CA
		   that signed this one (not to the active CA's). */
		rv.ca_id = ca_id;
		if ((rc = store_txn_cert_revoke(txn, &rv, crl_entry_encode,
		    &outcome, err)) != CA_OK)
			goto out;
		if (outcome == STORE_REVOKE_ALREADY)
			continue;
		out->recovered++;
		serial_format(serial.p, serial.len, hex);
		snprintf(detail, sizeof(detail), "serial=%s reason=%d "
		    "recovered from CRL %" PRIu64 " (%s)", hex, reason,
		    o.number, source);
		if ((rc = store_txn_audit_append(txn, now, who != NULL ? who :
		    "mtlsca", "revoke", detail, err)) != CA_OK)
			goto out;
	}
	rc = store_txn_commit(txn, err);
	txn = NULL;
out:
	store_txn_abort(txn);
	free(der);
	return rc;
}
