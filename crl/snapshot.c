/*
 * Immutable, reference-counted CRLs: what the schedule hands to the HTTP
 * handlers and the publishers, and what `mtlsca publish` loads from a file.
 * Built from a crl_result by taking its buffers, so a new CRL is never
 * copied on its way out.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crl/crl_int.h"

static void
snapshot_free(struct crl_snapshot *snap)
{
	if (snap == NULL)
		return;
	free(snap->der);
	free(snap->pem);
	free(snap);
}

int
crl_snapshot_new(struct crl_result *r, struct crl_snapshot **out)
{
	struct crl_snapshot *snap;

	if (r == NULL || r->der == NULL || r->pem == NULL)
		return CA_EINVAL;
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		return CA_ENOMEM;
	atomic_init(&snap->refs, 1);
	snap->der = r->der;
	snap->der_len = r->der_len;
	snap->pem = r->pem;
	snap->pem_len = r->pem_len;
	snap->number = r->number;
	snap->entries = r->entries;
	snap->this_update = r->this_update;
	snap->next_update = r->next_update;
	r->der = NULL;
	r->pem = NULL;
	crl_result_clear(r);
	*out = snap;
	return CA_OK;
}

struct crl_snapshot *
crl_snapshot_ref(struct crl_snapshot *snap)
{
	if (snap != NULL)
		atomic_fetch_add(&snap->refs, 1);
	return snap;
}

void
crl_snapshot_release(struct crl_snapshot *snap)
{
	if (snap == NULL)
		return;
	if (atomic_fetch_sub(&snap->refs, 1) == 1)
		snapshot_free(snap);
}

/*
 * Only parsing (the publishers' gate checks the rest), with crl/'s own
 * strict parser: gnutls_x509_crl_import is quadratic in the entry count
 * (20 s at 50,000).
 */
int
crl_snapshot_load(const char *pem_path, struct crl_snapshot **out,
    struct ca_error *err)
{
	struct crl_result	 r;
	struct crl_parsed	 p;
	struct ca_error		 e2;
	uint8_t			*buf = NULL;
	size_t			 len;
	unsigned		 blocks = 0;
	bool			 outside = false;
	int			 rc;

	memset(&r, 0, sizeof(r));
	if ((rc = file_read(pem_path, CRL_ALB_MAX_BYTES + 1, &buf, &len,
	    err)) != CA_OK)
		goto out;
	if (crl_pem_decode(buf, len, &r.der, &r.der_len, &blocks, &outside,
	    &e2) != CA_OK) {
		rc = ca_error_set(err, CA_EMALF, "%s is not a PEM CRL: %s",
		    pem_path, e2.msg);
		goto out;
	}
	if (crl_parse_der(r.der, r.der_len, &p) != CA_OK) {
		rc = ca_error_set(err, CA_EMALF, "%s is not a PEM CRL: %s",
		    pem_path, p.why);
		goto out;
	}
	if (!p.has_number || p.number_big) {
		rc = ca_error_set(err, CA_EMALF, "%s: the CRL has no usable "
		    "cRLNumber (RFC 5280 section 5.2.3)", pem_path);
		goto out;
	}
	r.number = p.number;
	r.entries = p.entries;
	r.this_update = p.this_update;
	/* As gnutls_x509_crl_get_next_update: -1 when absent. */
	r.next_update = p.has_next ? p.next_update : -1;
	r.pem = (char *)buf;
	r.pem_len = len;
	buf = NULL;
	if ((rc = crl_snapshot_new(&r, out)) != CA_OK)
		rc = ca_error_set(err, rc, "out of memory");
out:
	free(buf);
	crl_result_clear(&r);
	return rc;
}
