/*
 * Trusting a CRL this data directory wrote, by its hash. A CRL is verified
 * when it is built (crl_build re-parses it and checks its signature); the
 * SHA-256 of its PEM, with the facts checked (number, dates, entries) and
 * the CA certificate it was made for, goes into the store when its files
 * are written. At start, a crl.pem with that hash is the CRL verified then:
 * re-parsing and re-verifying it cost most of the start-up with 500,000
 * entries (issue 15). A file that changed, or one the store has no record
 * of, is checked in full as before.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "crl/crl.h"

#define META_CRL_RECORD		"crl_files_record"
#define RECORD_V1		1
/* version, SHA-256 of the DER, of the PEM and of the CA certificate,
   number, thisUpdate, nextUpdate, entries */
#define RECORD_LEN		(1 + 3 * 32 + 4 * 8)
#define R_DER			1
#define R_PEM			33
#define R_CA			65
#define R_FACTS			97

static void
be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
be64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
ca_hash(struct ca *ca, uint8_t out[32])
{
	const uint8_t	*der;
	size_t		 len;

	der = ca_cert_der(ca, &len);
	if (der == NULL || gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, out) < 0)
		return CA_ECRYPTO;
	return CA_OK;
}

static int
record_put(struct store *st, struct ca *ca, const struct crl_snapshot *c,
    struct ca_error *err)
{
	uint8_t	rec[RECORD_LEN];

	rec[0] = RECORD_V1;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, c->der, c->der_len,
	    rec + R_DER) < 0 || gnutls_hash_fast(GNUTLS_DIG_SHA256, c->pem,
	    c->pem_len, rec + R_PEM) < 0 || ca_hash(ca, rec + R_CA) != CA_OK)
		return ca_error_set(err, CA_ECRYPTO, "hashing the CRL");
	be64_put(rec + R_FACTS, c->number);
	be64_put(rec + R_FACTS + 8, (uint64_t)c->this_update);
	be64_put(rec + R_FACTS + 16, (uint64_t)c->next_update);
	be64_put(rec + R_FACTS + 24, c->entries);
	{
		char name[64];

		crl_meta_name(META_CRL_RECORD, ca, name, sizeof(name));
		return store_meta_put(st, name, rec, sizeof(rec), err);
	}
}

int
crl_files_record(struct store *st, struct ca *ca, const struct crl_result *r,
    struct ca_error *err)
{
	struct crl_snapshot c;

	if (st == NULL || ca == NULL || r == NULL || r->der == NULL ||
	    r->pem == NULL)
		return ca_error_set(err, CA_EINVAL, "no CRL to record");
	memset(&c, 0, sizeof(c));
	c.der = r->der;
	c.der_len = r->der_len;
	c.pem = r->pem;
	c.pem_len = r->pem_len;
	c.number = r->number;
	c.this_update = r->this_update;
	c.next_update = r->next_update;
	c.entries = r->entries;
	return record_put(st, ca, &c, err);
}

void
crl_snapshot_record(struct store *st, struct ca *ca,
    const struct crl_snapshot *snap)
{
	if (st != NULL && ca != NULL && snap != NULL)
		(void)record_put(st, ca, snap, NULL);
}

static bool
same_hash(const uint8_t *p, size_t len, const uint8_t want[32])
{
	uint8_t h[32];

	return gnutls_hash_fast(GNUTLS_DIG_SHA256, p, len, h) >= 0 &&
	    memcmp(h, want, 32) == 0;
}

struct crl_snapshot *
crl_snapshot_recorded(struct store *st, struct ca *ca, const char *dir)
{
	struct crl_snapshot	*snap = NULL;
	uint8_t			*rec = NULL, *der = NULL, *pem = NULL, cah[32];
	size_t			 rec_len = 0, der_len = 0, pem_len = 0;
	char			 path[4096], name[64];


	if (st == NULL || ca == NULL || dir == NULL)
		return NULL;
	crl_meta_name(META_CRL_RECORD, ca, name, sizeof(name));
	if (store_meta_get(st, name, &rec, &rec_len, NULL) !=
	    CA_OK || rec_len != RECORD_LEN || rec[0] != RECORD_V1 ||
	    ca_hash(ca, cah) != CA_OK || memcmp(cah, rec + R_CA, 32) != 0)
		goto out;
	if (path_join(path, sizeof(path), dir, "crl.der") != CA_OK ||
	    file_read(path, CRL_ALB_MAX_BYTES, &der, &der_len, NULL) !=
	    CA_OK || !same_hash(der, der_len, rec + R_DER))
		goto out;
	if (path_join(path, sizeof(path), dir, "crl.pem") != CA_OK ||
	    file_read(path, CRL_ALB_MAX_BYTES, &pem, &pem_len, NULL) !=
	    CA_OK || !same_hash(pem, pem_len, rec + R_PEM))
		goto out;
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		goto out;
	atomic_init(&snap->refs, 1);
	/* Handed over as read: file_read's buffers end with a NUL. */
	snap->der = der;
	snap->der_len = der_len;
	snap->pem = (char *)pem;
	snap->pem_len = pem_len;
	der = pem = NULL;
	snap->number = be64_get(rec + R_FACTS);
	snap->this_update = (int64_t)be64_get(rec + R_FACTS + 8);
	snap->next_update = (int64_t)be64_get(rec + R_FACTS + 16);
	snap->entries = be64_get(rec + R_FACTS + 24);
out:
	free(rec);
	free(der);
	free(pem);
	return snap;
}
