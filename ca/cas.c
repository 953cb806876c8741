/*
 * The CAs of one data directory (CA rotation): which CA is active, which
 * are retiring, which are retired.
 *
 * The registry is the directory <data_dir>/cas/, one subdirectory per CA
 * that took part in a rotation, named by its id:
 *
 *	cas/<id>/ca.pem		its certificate
 *	cas/<id>/ca.key		its key (0600)
 *	cas/<id>/state		"active", or "retiring" / "retired" with
 *				"last_expiry=<unix time>" (its last
 *				certificate's notAfter) and "since=<time>"
 *
 * The configured ca.cert / ca.key always hold the active CA, so that every
 * command that signs opens it as before; a data directory that never
 * rotated has no cas/ and its one CA is id 1 (STORE_CA_FIRST). A
 * subdirectory without a state file is a rotation that did not finish
 * making its CA: it is ignored (and replaced by the next rotation).
 *
 * Why files and not the store: every command opens its CA before (or
 * without) the store, LMDB allows one environment per process, and an
 * operator can read `ls cas/` and `cat cas/2/state`.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "ca/ca_int.h"

#define CAS_MAX			64	/* CAs a registry holds */
#define CAS_STATE_MAX		1024
#define CAS_CERT_MAX		(64 * 1024)

struct ca_registry {
	struct ca_entry	*e;
	size_t		 n;
	uint32_t	 active;	/* id of the configured CA */
	uint32_t	 max_id;
};

const char *
ca_state_name(enum ca_state s)
{
	switch (s) {
	case CA_STATE_ACTIVE:	return "active";
	case CA_STATE_RETIRING:	return "retiring";
	case CA_STATE_RETIRED:	return "retired";
	}
	return "?";
}

void
ca_registry_free(struct ca_registry *r)
{
	if (r == NULL)
		return;
	free(r->e);
	free(r);
}

/* Parse a state file: "active" / "retiring" / "retired", then key=value
   lines. CA_EMALF naming the file otherwise. */
static int
state_parse(const char *path, const char *text, struct ca_entry *e,
    struct ca_error *err)
{
	char		 buf[CAS_STATE_MAX], *line, *save = NULL;
	bool		 first = true;
	int64_t		 v;

	snprintf(buf, sizeof(buf), "%s", text);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			first = false;
			if (strcmp(line, "active") == 0)
				e->state = CA_STATE_ACTIVE;
			else if (strcmp(line, "retiring") == 0)
				e->state = CA_STATE_RETIRING;
			else if (strcmp(line, "retired") == 0)
				e->state = CA_STATE_RETIRED;
			else
				goto bad;
			continue;
		}
		if (strncmp(line, "last_expiry=", 12) == 0 &&
		    time_parse(line + 12, &v) == CA_OK)
			e->last_expiry = v;
		else if (strncmp(line, "since=", 6) == 0 &&
		    time_parse(line + 6, &v) == CA_OK)
			e->since = v;
		else
			goto bad;
	}
	if (first)
		goto bad;
	return CA_OK;
bad:
	return ca_error_set(err, CA_EMALF, "%s: expected \"active\", "
	    "\"retiring\" or \"retired\", then last_expiry= and since= "
	    "lines", path);
}

/* The facts of a CA certificate file: fingerprint, notAfter, subject. */
int
ca_cert_file_facts(const char *path, struct ca_entry *e, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d, der = { NULL, 0 }, dn = { NULL, 0 };
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 rc;

	if ((rc = file_read(path, CAS_CERT_MAX, &buf, &len, err)) != CA_OK)
		return rc;
	d.data = buf;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&crt) < 0) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0) {
		rc = ca_error_set(err, CA_EMALF, "%s: not a PEM certificate",
		    path);
		goto out;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size,
	    e->fingerprint) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "%s: SHA-256 failed", path);
		goto out;
	}
	hex_format(e->fingerprint, CA_HASH_LEN, e->fingerprint_hex);
	e->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0)
		snprintf(e->subject, sizeof(e->subject), "%.*s",
		    (int)dn.size, (const char *)dn.data);
	rc = CA_OK;
out:
	gnutls_free(der.data);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	free(buf);
	return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct ca_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One cas/<name> subdirectory: CA_OK and *keep when it is a CA of the
   registry; CA_OK and !*keep for one to ignore (no state file yet). */
static int
entry_load(const char *cas_dir, const char *name, struct ca_entry *e,
    bool *keep, struct ca_error *err)
{
	char		 dir[PATH_MAX], state[PATH_MAX];
	uint8_t		*text = NULL;
	size_t		 len;
	uint64_t	 id;
	int		 rc;

	*keep = false;
	memset(e, 0, sizeof(*e));
	if (parse_u64(name, 1, UINT32_MAX, &id) != CA_OK)
		return CA_OK;		/* not ours: "lost+found", a note */
	e->id = (uint32_t)id;
	if (snprintf(dir, sizeof(dir), "%" PRIu32, e->id) < 0 ||
	    strcmp(dir, name) != 0)
		return CA_OK;		/* "01": not the name we give */
	if (path_join(dir, sizeof(dir), cas_dir, name) != CA_OK ||
	    path_join(e->cert, sizeof(e->cert), dir, "ca.pem") != CA_OK ||
	    path_join(e->key, sizeof(e->key), dir, "ca.key") != CA_OK ||
	    path_join(state, sizeof(state), dir, "state") != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "%s/%s: path too long",
		    cas_dir, name);
	rc = file_read(state, CAS_STATE_MAX - 1, &text, &len, err);
	if (rc == CA_ENOENT) {
		ca_error_clear(err);
		return CA_OK;
	}
	if (rc != CA_OK)
		return rc;
	rc = state_parse(state, (const char *)text, e, err);
	free(text);
	if (rc != CA_OK)
		return rc;
	if ((rc = ca_cert_file_facts(e->cert, e, err)) != CA_OK)
		return rc;
	*keep = true;
	return CA_OK;
}

int
ca_registry_load(const char *cas_dir, const uint8_t *active_der,
    size_t active_len, struct ca_registry **out, struct ca_error *err)
{
	struct ca_registry	*r;
	DIR			*d = NULL;
	struct dirent		*de;
	uint8_t			 fp[CA_HASH_LEN];
	bool			 keep, found = false;
	int			 rc = CA_OK;

	if (cas_dir == NULL || active_der == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "no CA to look up");
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->e = calloc(CAS_MAX, sizeof(*r->e))) == NULL) {
		ca_registry_free(r);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	r->active = STORE_CA_FIRST;
	r->max_id = STORE_CA_FIRST;
	if ((d = opendir(cas_dir)) == NULL) {
		if (errno == ENOENT)
			goto done;	/* never rotated */
		rc = ca_error_set(err, CA_EIO, "%s: %s", cas_dir,
		    strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (r->n == CAS_MAX) {
			rc = ca_error_set(err, CA_ETOOBIG, "%s holds more than "
			    "%d CAs", cas_dir, CAS_MAX);
			goto out;
		}
		if ((rc = entry_load(cas_dir, de->d_name, &r->e[r->n], &keep,
		    err)) != CA_OK)
			goto out;
		if (keep) {
			if (r->e[r->n].id > r->max_id)
				r->max_id = r->e[r->n].id;
			r->n++;
		} else if (r->e[r->n].id > r->max_id) {
			/* An unfinished rotation's id is not given again. */
			r->max_id = r->e[r->n].id;
		}
	}
	qsort(r->e, r->n, sizeof(*r->e), entry_cmp);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, active_der, active_len,
	    fp) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "SHA-256 failed");
		goto out;
	}
	/* Found by fingerprint, not by the default id: cas/1/ always
	   exists after the first rotation, and a configured certificate
	   that is none of the registry's must not pass for CA 1. */
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->e[i].fingerprint, fp, CA_HASH_LEN) == 0) {
			r->active = r->e[i].id;
			found = true;
		}
	if (r->n > 0 && !found) {
		char hexfp[65];

		hex_format(fp, CA_HASH_LEN, hexfp);
		rc = ca_error_set(err, CA_EPOLICY, "the configured CA "
		    "certificate (SHA-256 %.16s...) is none of the CAs in %s: "
		    "point ca.cert and ca.key at the active one (`mtlsca ca "
		    "list --data-dir` shows them)", hexfp, cas_dir);
		goto out;
	}
done:
	*out = r;
	r = NULL;
out:
	if (d != NULL)
		closedir(d);
	ca_registry_free(r);
	return rc;
}

const struct ca_entry *
ca_registry_find(const struct ca_registry *r, uint32_t id)
{
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (r->e[i].id == id)
			return &r->e[i];
	return NULL;
}

uint32_t
ca_registry_active_id(const struct ca_registry *r)
{
	return r->active;
}

const struct ca_entry *
ca_registry_pending(const struct ca_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].state == CA_STATE_ACTIVE &&
		    r->e[i].id != r->active)
			return &r->e[i];
	return NULL;
}

size_t
ca_registry_count(const struct ca_registry *r)
{
	return r->n;
}

const struct ca_entry *
ca_registry_at(const struct ca_registry *r, size_t i)
{
	return i < r->n ? &r->e[i] : NULL;
}

uint32_t
ca_registry_next_id(const struct ca_registry *r)
{
	return r->max_id + 1;
}

int
ca_registry_state_write(const char *cas_dir, uint32_t id, enum ca_state s,
    int64_t last_expiry, int64_t since, struct ca_error *err)
{
	char	dir[PATH_MAX], path[PATH_MAX], text[256], a[21], b[21];
	int	n;

	n = snprintf(dir, sizeof(dir), "%s/%" PRIu32, cas_dir, id);
	if (n < 0 || (size_t)n >= sizeof(dir) ||
	    path_join(path, sizeof(path), dir, "state") != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "%s: path too long",
		    cas_dir);
	time_format(last_expiry, a);
	time_format(since, b);
	if (s == CA_STATE_ACTIVE)
		snprintf(text, sizeof(text), "active\nsince=%s\n", b);
	else
		snprintf(text, sizeof(text), "%s\nlast_expiry=%s\nsince=%s\n",
		    ca_state_name(s), a, b);
	return file_write_atomic(path, text, strlen(text), 0644, 0, err);
}

int
ca_cross_sign(struct ca *issuer, const struct ca *subject, char **pem,
    struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d, out = { NULL, 0 };
	struct ca_signer	*s;
	uint8_t			 serial[16];
	int64_t			 not_after;
	int			 rc;

	*pem = NULL;
	/* The subject CA's certificate as it is (name, key, SKI, basic
	   constraints, key usage), given a new serial, the issuer's name
	   and key identifier, a validity within the issuer's, and the
	   issuer's signature. */
	if ((rc = ca_serial_new(serial, err)) != CA_OK)
		return rc;
	if (gnutls_x509_crt_init(&crt) < 0)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	d.data = subject->der;
	d.size = (unsigned)subject->der_len;
	not_after = subject->not_after < issuer->not_after ?
	    subject->not_after : issuer->not_after;
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) <
	    0 || (rc = gnutls_x509_crt_set_expiration_time(crt,
	    (time_t)not_after)) < 0 ||
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, issuer->ski,
	    issuer->ski_len)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "cross certificate");
		goto out;
	}
	s = ca_signer_acquire(issuer);
	rc = gnutls_x509_crt_privkey_sign(crt, s->crt, s->key, issuer->dig, 0);
	ca_signer_release(s);
	if (rc < 0 || (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM,
	    &out)) < 0) {
		rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "signing the cross "
		    "certificate");
		goto out;
	}
	if ((*pem = malloc(out.size + 1)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(*pem, out.data, out.size);
	(*pem)[out.size] = '\0';
	rc = CA_OK;
out:
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
