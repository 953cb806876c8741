/*
 * The publisher set: the registry of types, checking and preparing the
 * configured publishers, and running them on a CRL (the gate once, then
 * each publisher in order).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "publish/publish_int.h"

void
publish_log(struct publish_set *set, enum publish_log level,
    const char *fmt, ...)
{
	char	 msg[768];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (set != NULL && set->opt.log != NULL)
		set->opt.log(set->opt.log_ctx, level, msg);
	else
		fprintf(stderr, "mtlsca: publish: %s%s\n",
		    level == PUBLISH_ERR ? "error: " :
		    level == PUBLISH_WARN ? "warning: " : "", msg);
}

/* ---- the registry ---- */

const struct publish_ops *
publish_ops_of(enum publish_type type)
{
	switch (type) {
	case PUBLISH_DIR: return &publish_dir_ops;
	case PUBLISH_S3: return &publish_s3_ops;
	case PUBLISH_ALB: return &publish_alb_ops;
	}
	return NULL;
}

/* ---- the set ---- */

static int
check_conf(const struct publish_conf *conf, size_t i, struct ca_error *err)
{
	const struct publish_conf	*c = &conf[i];
	const struct publish_ops	*ops = publish_ops_of(c->type);

	if (c->name[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "publisher %zu has no "
		    "name", i + 1);
	for (size_t j = 0; j < i; j++)
		if (strcmp(conf[j].name, c->name) == 0)
			return ca_error_set(err, CA_EINVAL, "publisher '%s' is "
			    "listed twice: names must be unique", c->name);
	if (ops == NULL)
		return ca_error_set(err, CA_EINVAL, "publisher '%s' has an "
		    "unknown type", c->name);
	return ops->check(conf, i, err);
}

/*
 * What gnutls_x509_crl_verify required of a CRL's issuer: a CA (RFC 5280
 * section 4.2.1.9) allowed to sign CRLs (section 4.2.1.3, when keyUsage is
 * present). It does not change from one CRL to the next: checked once.
 */
static int
ca_signs_crls(struct ca *ca, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d;
	const uint8_t		*der;
	size_t			 len;
	unsigned		 usage = 0;
	int			 rc = CA_OK, kr;

	der = ca_cert_der(ca, &len);
	d.data = (unsigned char *)der;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
		rc = ca_error_set(err, CA_ECRYPTO, "the CA certificate does "
		    "not parse");
		goto out;
	}
	if (gnutls_x509_crt_get_ca_status(crt, NULL) != 1 ||
	    ((kr = gnutls_x509_crt_get_key_usage(crt, &usage, NULL)) !=
	    GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE && (kr < 0 ||
	    (usage & GNUTLS_KEY_CRL_SIGN) == 0)))
		rc = ca_error_set(err, CA_EPOLICY, "the CA certificate is not "
		    "a CA allowed to sign CRLs (RFC 5280 sections 4.2.1.3 and "
		    "4.2.1.9): nothing can be published");
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

int
publish_set_new(struct ca *ca, struct store *st,
    const struct publish_conf *conf, size_t n,
    const struct publish_options *opt, struct publish_set **out,
    struct ca_error *err)
{
	struct publish_set	*set = NULL;
	const char		*pem;
	int			 rc;

	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (n > 0 && (set->pub = calloc(n, sizeof(*set->pub))) == NULL)) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	set->ca = ca;
	set->st = st;
	if (opt != NULL)
		set->opt = *opt;
	/* ALB's quota, whatever crl.max_entries allows `mtlsca crl` to make
	   (up to 10,000,000 for relying parties without one). */
	if (set->opt.max_entries == 0 ||
	    set->opt.max_entries > CRL_ALB_MAX_ENTRIES)
		set->opt.max_entries = CRL_ALB_MAX_ENTRIES;
	if (set->opt.read_only || ca == NULL) {
		set->opt.read_only = true;
		pem = "";
	} else if ((rc = ca_signs_crls(ca, err)) != CA_OK)
		goto fail;
	else
		pem = ca_cert_pem(ca);
	set->bundle_len = strlen(pem);
	if ((set->bundle = strdup(pem)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = sigv4_sha256_hex(set->bundle, set->bundle_len,
	    set->bundle_sha256)) != CA_OK) {
		rc = ca_error_set(err, rc, "cannot hash the CA bundle");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = check_conf(conf, i, err)) != CA_OK)
			goto fail;
		set->pub[i].conf = conf[i];
		set->pub[i].ops = publish_ops_of(conf[i].type);
		set->pub[i].set = set;
		set->n = i + 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct publisher *p = &set->pub[i];

		if ((rc = p->ops->open(p, err)) != CA_OK)
			goto fail;
		p->ops->destination(p, p->dest, sizeof(p->dest));
		if ((rc = publish_state_key(p->dest, p->key)) != CA_OK) {
			rc = ca_error_set(err, rc, "cannot hash a destination");
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(set->pub[j].dest, p->dest) == 0) {
				rc = ca_error_set(err, CA_EINVAL, "publishers "
				    "'%s' and '%s' publish to the same place "
				    "(%s)", set->pub[j].conf.name,
				    p->conf.name, p->dest);
				goto fail;
			}
	}
	for (size_t i = 0; i < n && !set->opt.read_only; i++)
		if ((rc = publish_state_migrate(set, &set->pub[i], err)) !=
		    CA_OK)
			goto fail;
	*out = set;
	return CA_OK;
fail:
	publish_set_free(set);
	return rc;
}

void
publish_set_free(struct publish_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		aws_client_free(set->pub[i].aws);
	free(set->pub);
	free(set->bundle);
	free(set);
}

/* ---- running ---- */

static int
reconcile_one(struct publisher *p, struct ca_error *err)
{
	struct publish_state	 s;
	struct ca_error		 e2;
	int			 rc, rc2;

	if (p->ops->reconcile == NULL)
		return CA_OK;
	if ((rc = publish_state_read(p->set, p, &s, err)) != CA_OK)
		return rc;
	/* Once per process, and again while an add is in doubt. */
	if (p->reconciled && s.pending_number == 0)
		return CA_OK;
	if ((rc = p->ops->reconcile(p, &s, err)) == CA_OK)
		p->reconciled = true;
	/* What was learnt is kept even when a later step failed. */
	if ((rc2 = publish_state_write(p->set, p, &s, &e2)) != CA_OK &&
	    rc == CA_OK)
		rc = ca_error_set(err, rc2, "%s", e2.msg);
	return rc;
}

int
publish_reconcile(struct publish_set *set, struct ca_error *err)
{
	struct ca_error	 e2;
	int		 first = CA_OK, rc;

	if (set->opt.read_only)
		return ca_error_set(err, CA_EINVAL, "a read-only publisher set "
		    "does not reconcile");
	for (size_t i = 0; i < set->n; i++) {
		if ((rc = reconcile_one(&set->pub[i], &e2)) == CA_OK)
			continue;
		publish_log(set, PUBLISH_WARN, "%s: reconcile: %s",
		    set->pub[i].conf.name, e2.msg);
		if (first == CA_OK) {
			first = rc;
			ca_error_set(err, rc, "%s: %s", set->pub[i].conf.name,
			    e2.msg);
		}
	}
	return first;
}

static int
run_one(struct publisher *p, const struct crl_snapshot *crl,
    const struct gate_verdict *v, struct ca_error *err)
{
	struct publish_set	*set = p->set;
	struct publish_state	 s;
	struct ca_error		 e2;
	int64_t			 now = time_now();
	int			 rc;

	ca_error_clear(&e2);
	/* Reconcile before the books are read (once per process, and while
	 * an add is in doubt). A failure is not fatal: add/remove below
	 * still keep them, and an add in doubt stops the next one. */
	if (p->ops->reconcile != NULL && reconcile_one(p, &e2) != CA_OK) {
		publish_log(set, PUBLISH_WARN, "%s: reconcile: %s",
		    p->conf.name, e2.msg);
		ca_error_clear(&e2);
	}
	if ((rc = publish_state_read(set, p, &s, err)) != CA_OK)
		return rc;
	if (crl->number == s.published_number && s.published_number != 0) {
		publish_log(set, PUBLISH_INFO, "%s: CRL %" PRIu64 " is "
		    "already published", p->conf.name, crl->number);
		if (p->conf.type == PUBLISH_S3 && s.object_key[0]) {
			p->put_number = crl->number;
			snprintf(p->put_key, sizeof(p->put_key), "%s",
			    s.object_key);
		}
		return CA_OK;
	}
	s.last_attempt = now;
	if ((rc = gate_for(p, v, s.published_number, &e2)) == CA_OK)
		rc = p->ops->run(p, crl, &s, &e2);
	if (rc == CA_OK) {
		s.last_success = time_now();
		s.published_number = crl->number;
		s.successes++;
		s.last_error[0] = '\0';
		if (v->newest_revocation > s.newest_revocation) {
			s.latency = s.last_success - v->newest_revocation;
			s.newest_revocation = v->newest_revocation;
		}
		publish_log(set, PUBLISH_INFO, "%s: published CRL %" PRIu64
		    " (%" PRIu64 " entries)", p->conf.name, crl->number,
		    crl->entries);
	} else {
		s.failures++;
		snprintf(s.last_error, sizeof(s.last_error), "%s", e2.msg);
		publish_log(set, PUBLISH_ERR, "%s: CRL %" PRIu64 " not "
		    "published: %s", p->conf.name, crl->number, e2.msg);
		ca_error_set(err, rc, "%s", e2.msg);
	}
	{
		struct ca_error e3;
		if (publish_state_write(set, p, &s, &e3) != CA_OK)
			publish_log(set, PUBLISH_ERR, "%s: cannot record the "
			    "state: %s", p->conf.name, e3.msg);
	}
	return rc;
}

int
publish_run(struct publish_set *set, struct crl_snapshot *crl,
    struct ca_error *err)
{
	struct gate_verdict	 v;
	struct ca_error		 e2;
	char			 failed[200] = "";
	char			 first_msg[256] = "";
	int			 first = CA_OK, rc;

	if (set->opt.read_only)
		return ca_error_set(err, CA_EINVAL, "a read-only publisher set "
		    "does not publish");
	/* The gate once for every publisher. */
	gate_run(set, crl, &v);
	for (size_t i = 0; i < set->n; i++) {
		if ((rc = run_one(&set->pub[i], crl, &v, &e2)) == CA_OK)
			continue;
		if (first == CA_OK) {
			first = rc;
			snprintf(first_msg, sizeof(first_msg), "%s", e2.msg);
		}
		if (strlen(failed) + strlen(set->pub[i].conf.name) + 3 <
		    sizeof(failed))
			snprintf(failed + strlen(failed),
			    sizeof(failed) - strlen(failed), "%s%s",
			    failed[0] ? ", " : "", set->pub[i].conf.name);
	}
	if (first != CA_OK)
		ca_error_set(err, first, "publisher(s) %s failed: %s", failed,
		    first_msg);
	return first;
}

static int
schedule_cb(struct crl_snapshot *crl, void *ctx, struct ca_error *err)
{
	return publish_run(ctx, crl, err);
}

int
publish_attach(struct publish_set *set, struct crl_schedule *s,
    struct ca_error *err)
{
	/* A trust store unreachable at start is logged, not fatal: the
	 * service keeps serving CRLs, and the next publish tries again. */
	(void)publish_reconcile(set, NULL);
	if (set->n == 0)
		return CA_OK;
	return crl_schedule_add_publisher(s, "publishers", schedule_cb, set,
	    err);
}
