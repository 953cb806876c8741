/*
 * The recorder: every certificate this CA signs — enrolled over HTTP
 * (enroll.c's committer), signed by `mtlsca sign` (ca_sign) or made for the
 * service's own HTTPS listener (server.c) — is written here, with its audit
 * entry and the token use that paid for it, in one LMDB write transaction,
 * before anyone sees it (DESIGN.md "Data flow"). Signing happens before,
 * outside the transaction (STYLE.md "LMDB"); a serial already taken
 * (MDB_NOOVERWRITE) is signed again with a new serial.
 */
#include <stdio.h>
#include <string.h>

#include "ca/ca_int.h"
#include "common/util.h"

void
ca_record_entry_fill(struct ca_record_entry *en, const struct ca_issued *iss,
    int64_t now, const char *who, const char *action, const char *extra)
{
	char hex[SERIAL_HEX_MAX + 2];

	memset(en, 0, sizeof(*en));
	ca_issued_record(iss, now, &en->rec);
	snprintf(en->who, sizeof(en->who), "%s", who);
	snprintf(en->action, sizeof(en->action), "%s", action);
	serial_format(iss->serial, iss->serial_len, hex);
	/* A validity cut to the CA's notAfter is on record too. */
	snprintf(en->detail, sizeof(en->detail),
	    "serial=%s profile=%s subject=%.300s%s%s%s", hex, iss->profile,
	    iss->subject != NULL ? iss->subject : "", extra != NULL ? extra :
	    "", iss->truncated ? " truncated: " : "",
	    iss->truncated ? iss->truncated_reason : "");
}

int
ca_record_txn(struct store_txn *txn, const struct ca_record_entry *en,
    int64_t now, struct ca_error *err)
{
	int rc;

	if (en->use_token && (rc = store_txn_token_use(txn, en->token_hash,
	    now, NULL, err)) != CA_OK)
		return rc;
	if ((rc = store_txn_cert_put(txn, &en->rec, err)) != CA_OK)
		return rc;
	/* One renewal per certificate, decided here, atomically: two
	   renewals racing in one batch or in two cannot both commit. */
	if (en->renews_len > 0 && (rc = store_txn_renewal_put(txn,
	    en->renews, en->renews_len, en->rec.serial, en->rec.serial_len,
	    now, err)) != CA_OK)
		return rc;
	return store_txn_audit_append(txn, now, en->who, en->action,
	    en->detail, err);
}

/* One entry, one transaction. */
static int
record_one(struct store *st, const struct ca_record_entry *en, int64_t now,
    struct ca_error *err)
{
	struct store_txn	*txn = NULL;
	int			 rc;

	if ((rc = store_txn_begin(st, &txn, err)) != CA_OK)
		return rc;
	if ((rc = ca_record_txn(txn, en, now, err)) != CA_OK) {
		store_txn_abort(txn);
		return rc;
	}
	return store_txn_commit(txn, err);
}

int
ca_sign_record(struct store *st, ca_sign_fn sign, void *arg, const char *who,
    const char *action, struct ca_issued *out, struct ca_error *err)
{
	struct ca_record_entry	en;
	struct ca_issued	iss;
	int			rc;

	memset(&iss, 0, sizeof(iss));
	for (int attempt = 0; attempt < CA_SIGN_ATTEMPTS; attempt++) {
		int64_t now = time_now();

		if ((rc = sign(arg, now, &iss, err)) != CA_OK)
			return rc;
		ca_record_entry_fill(&en, &iss, now, who, action, NULL);
		if ((rc = record_one(st, &en, now, err)) == CA_OK) {
			*out = iss;
			return CA_OK;
		}
		ca_issued_clear(&iss);
		if (rc != CA_EEXIST)
			return rc;
	}
	return ca_error_set(err, CA_EEXIST, "%d fresh serial numbers in a row "
	    "were already taken: the random generator or the store is "
	    "broken", CA_SIGN_ATTEMPTS);
}

/* ---- mtlsca sign ---- */

struct sign_csr {
	struct ca			*ca;
	const struct ca_csr		*csr;
	const struct ca_profile		*profile;
	unsigned			 days;
};

static int
sign_csr(void *arg, int64_t now, struct ca_issued *out, struct ca_error *err)
{
	struct sign_csr *sc = arg;

	return ca_issue(sc->ca, sc->csr, sc->profile, sc->days, now, out, err);
}

int
ca_sign(struct ca *ca, struct store *st, const struct ca_csr *csr,
    const struct ca_profile *profile, unsigned days, const char *who,
    struct ca_issued *out, struct ca_error *err)
{
	struct sign_csr sc = { ca, csr, profile, days };

	if (ca == NULL || st == NULL || csr == NULL || profile == NULL ||
	    who == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_sign: missing argument");
	return ca_sign_record(st, sign_csr, &sc, who, "issue", out, err);
}
