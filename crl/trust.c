/*
 * Trusting a CRL this data directory wrote. A CRL is verified when it is
 * built (crl_build re-parses it and checks its signature); when its files
 * are written, the store records the SHA-256 of its DER and PEM, the facts
 * checked (number, dates, entries), the CA certificate it was made for,
 * and what each file is (device, inode, size, mtime, ctime: fstat'd once
 * it had its name). At start, files still so are the CRL verified then,
 * taken without hashing them; files whose identity changed but whose
 * hashes match (a copy, a restore, a record from before identities) are
 * taken too, and their identities recorded. Re-parsing and re-verifying,
 * then hashing 54 MB, cost most of the start-up with 500,000 entries
 * (issue 15; design note 25). Any other file is checked in full as before.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "common/util.h"
#include "crl/crl.h"
#include "crl/crl_int.h"

#define META_CRL_RECORD		"crl_files_record"
#define RECORD_V1		1
#define RECORD_V2		2
/* version, SHA-256 of the DER, of the PEM and of the CA certificate,
   number, thisUpdate, nextUpdate, entries; from version 2 on, each file's
   identity (device, inode, size, mtime and ctime in ns) */
#define RECORD_V1_LEN		(1 + 3 * 32 + 4 * 8)
#define ID_LEN			(5 * 8)
#define RECORD_LEN		(RECORD_V1_LEN + 2 * ID_LEN)
#define R_DER			1
#define R_PEM			33
#define R_CA			65
#define R_FACTS			97
#define R_DER_ID		129
#define R_PEM_ID		(R_DER_ID + ID_LEN)

/* What the record says of the files; ids zero when it knows none. */
struct record {
	uint8_t			der_sha[32], pem_sha[32];
	uint64_t		number, entries;
	int64_t			this_update, next_update;
	struct crl_file_id	der_id, pem_id;
};

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

static void
id_put(uint8_t *p, const struct crl_file_id *id)
{
	be64_put(p, id->dev);
	be64_put(p + 8, id->ino);
	be64_put(p + 16, id->size);
	be64_put(p + 24, (uint64_t)id->mtime_ns);
	be64_put(p + 32, (uint64_t)id->ctime_ns);
}

static void
id_get(const uint8_t *p, struct crl_file_id *id)
{
	id->dev = be64_get(p);
	id->ino = be64_get(p + 8);
	id->size = be64_get(p + 16);
	id->mtime_ns = (int64_t)be64_get(p + 24);
	id->ctime_ns = (int64_t)be64_get(p + 32);
}

void
crl_file_id_of(const struct stat *st, struct crl_file_id *id)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
	    st->st_ctim.tv_nsec;
}

static bool
id_known(const struct crl_file_id *id)
{
	return id->ino != 0 && id->ctime_ns != 0;
}

static bool
id_same(const struct crl_file_id *a, const struct crl_file_id *b)
{
	return id_known(a) && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime_ns == b->mtime_ns &&
	    a->ctime_ns == b->ctime_ns;
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
record_put(struct store *st, struct ca *ca, const struct record *r,
    struct ca_error *err)
{
	uint8_t	rec[RECORD_LEN];
	char	name[64];

	rec[0] = RECORD_V2;
	memcpy(rec + R_DER, r->der_sha, 32);
	memcpy(rec + R_PEM, r->pem_sha, 32);
	if (ca_hash(ca, rec + R_CA) != CA_OK)
		return ca_error_set(err, CA_ECRYPTO, "hashing the CA "
		    "certificate");
	be64_put(rec + R_FACTS, r->number);
	be64_put(rec + R_FACTS + 8, (uint64_t)r->this_update);
	be64_put(rec + R_FACTS + 16, (uint64_t)r->next_update);
	be64_put(rec + R_FACTS + 24, r->entries);
	id_put(rec + R_DER_ID, &r->der_id);
	id_put(rec + R_PEM_ID, &r->pem_id);
	crl_meta_name(META_CRL_RECORD, ca, name, sizeof(name));
	return store_meta_put(st, name, rec, sizeof(rec), err);
}

/* The record, if there is one for this CA. */
static bool
record_get(struct store *st, struct ca *ca, struct record *r)
{
	uint8_t	*rec = NULL, cah[32];
	size_t	 len = 0;
	bool	 ok = false;
	char	 name[64];

	memset(r, 0, sizeof(*r));
	/* Each CA its own record (CA rotation): "@<id>" after the first. */
	crl_meta_name(META_CRL_RECORD, ca, name, sizeof(name));
	if (store_meta_get(st, name, &rec, &len, NULL) != CA_OK ||
	    !((len == RECORD_V1_LEN && rec[0] == RECORD_V1) ||
	    (len == RECORD_LEN && rec[0] == RECORD_V2)) ||
	    ca_hash(ca, cah) != CA_OK || memcmp(cah, rec + R_CA, 32) != 0)
		goto out;
	memcpy(r->der_sha, rec + R_DER, 32);
	memcpy(r->pem_sha, rec + R_PEM, 32);
	r->number = be64_get(rec + R_FACTS);
	r->this_update = (int64_t)be64_get(rec + R_FACTS + 8);
	r->next_update = (int64_t)be64_get(rec + R_FACTS + 16);
	r->entries = be64_get(rec + R_FACTS + 24);
	/* A version-1 record knows no identities: the files are compared
	   by hash, then recorded again with theirs. */
	if (rec[0] == RECORD_V2) {
		id_get(rec + R_DER_ID, &r->der_id);
		id_get(rec + R_PEM_ID, &r->pem_id);
	}
	ok = true;
out:
	free(rec);
	return ok;
}

int
crl_files_record(struct store *st, struct ca *ca, const struct crl_result *r,
    struct ca_error *err)
{
	struct record	rec;

	if (st == NULL || ca == NULL || r == NULL || r->der == NULL ||
	    (r->pem == NULL && !r->written))
		return ca_error_set(err, CA_EINVAL, "no CRL to record");
	memset(&rec, 0, sizeof(rec));
	if (!r->written && (gnutls_hash_fast(GNUTLS_DIG_SHA256, r->der,
	    r->der_len, rec.der_sha) < 0 || gnutls_hash_fast(
	    GNUTLS_DIG_SHA256, r->pem, r->pem_len, rec.pem_sha) < 0))
		return ca_error_set(err, CA_ECRYPTO, "hashing the CRL");
	/* crl_write_files hashed both files as it wrote them, and noted
	   what each file is once it had its name. */
	if (r->written) {
		memcpy(rec.der_sha, r->der_sha256, 32);
		memcpy(rec.pem_sha, r->pem_sha256, 32);
		rec.der_id = r->der_id;
		rec.pem_id = r->pem_id;
	}
	rec.number = r->number;
	rec.this_update = r->this_update;
	rec.next_update = r->next_update;
	rec.entries = r->entries;
	return record_put(st, ca, &rec, err);
}

void
crl_snapshot_record(struct store *st, struct ca *ca,
    const struct crl_snapshot *snap)
{
	struct record	rec;

	if (st == NULL || ca == NULL || snap == NULL)
		return;
	/* No identities: those of the paths now might not be of the bytes
	   checked. The next start compares hashes, then records them from
	   the very descriptors it read. */
	memset(&rec, 0, sizeof(rec));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, snap->der, snap->der_len,
	    rec.der_sha) < 0 || gnutls_hash_fast(GNUTLS_DIG_SHA256, snap->pem,
	    snap->pem_len, rec.pem_sha) < 0)
		return;
	rec.number = snap->number;
	rec.this_update = snap->this_update;
	rec.next_update = snap->next_update;
	rec.entries = snap->entries;
	(void)record_put(st, ca, &rec, NULL);
}

static bool
same_hash(const uint8_t *p, size_t len, const uint8_t want[32])
{
	uint8_t h[32];

	return gnutls_hash_fast(GNUTLS_DIG_SHA256, p, len, h) >= 0 &&
	    memcmp(h, want, 32) == 0;
}

bool
crl_der_recorded(struct store *st, struct ca *ca, const char *dir)
{
	struct record		 rec;
	struct crl_file_id	 id;
	struct stat		 sb;
	uint8_t			*der = NULL;
	size_t			 len = 0;
	char			 path[4096];
	bool			 ok = false;

	if (st == NULL || ca == NULL || dir == NULL ||
	    !record_get(st, ca, &rec) ||
	    path_join(path, sizeof(path), dir, "crl.der") != CA_OK)
		return false;
	if (stat(path, &sb) == 0) {
		crl_file_id_of(&sb, &id);
		if (id_same(&rec.der_id, &id))
			return true;
	}
	/* Another identity (a record made after a full check, or from
	   before identities): the hash decides, and a match is recorded
	   with the identity of the very descriptor read. */
	if (file_read_stat(path, CRL_ALB_MAX_BYTES, &der, &len, &sb, NULL) ==
	    CA_OK && same_hash(der, len, rec.der_sha)) {
		crl_file_id_of(&sb, &rec.der_id);
		(void)record_put(st, ca, &rec, NULL);
		ok = true;
	}
	free(der);
	return ok;
}

struct crl_snapshot *
crl_snapshot_recorded(struct store *st, struct ca *ca, const char *dir)
{
	struct crl_snapshot	*snap = NULL;
	struct record		 rec;
	struct crl_file_id	 der_id, pem_id;
	struct stat		 sd, sp;
	uint8_t			*der = NULL, *pem = NULL;
	size_t			 der_len = 0, pem_len = 0;
	char			 path[4096];

	if (st == NULL || ca == NULL || dir == NULL || !record_get(st, ca, &rec))
		return NULL;
	if (path_join(path, sizeof(path), dir, "crl.der") != CA_OK ||
	    file_read_stat(path, CRL_ALB_MAX_BYTES, &der, &der_len, &sd,
	    NULL) != CA_OK)
		goto out;
	if (path_join(path, sizeof(path), dir, "crl.pem") != CA_OK ||
	    file_read_stat(path, CRL_ALB_MAX_BYTES, &pem, &pem_len, &sp,
	    NULL) != CA_OK)
		goto out;
	crl_file_id_of(&sd, &der_id);
	crl_file_id_of(&sp, &pem_id);
	/* The files as written and recorded (same inode, size, mtime and
	   ctime: no write, rename or utimensat since) are taken as they are;
	   hashing 54 MB was most of the start-up at 500,000 entries. Any
	   other pair is compared by hash, and when it matches, its
	   identities are recorded for the next start. */
	if (!id_same(&rec.der_id, &der_id) || !id_same(&rec.pem_id, &pem_id) ||
	    rec.der_id.size != der_len || rec.pem_id.size != pem_len) {
		if (!same_hash(der, der_len, rec.der_sha) ||
		    !same_hash(pem, pem_len, rec.pem_sha))
			goto out;
		rec.der_id = der_id;
		rec.pem_id = pem_id;
		(void)record_put(st, ca, &rec, NULL);
	}
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		goto out;
	atomic_init(&snap->refs, 1);
	/* Handed over as read: file_read's buffers end with a NUL. */
	snap->der = der;
	snap->der_len = der_len;
	snap->pem = (char *)pem;
	snap->pem_len = pem_len;
	der = pem = NULL;
	snap->number = rec.number;
	snap->this_update = rec.this_update;
	snap->next_update = rec.next_update;
	snap->entries = rec.entries;
out:
	free(der);
	free(pem);
	return snap;
}
