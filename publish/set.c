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
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/log.h"
#include "common/util.h"
#include "publish/publish_int.h"

/* The publisher a message names first ("nginx: published CRL 2"). */
static const char *
named_publisher(const struct publish_set *set, const char *msg)
{
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const char	*name = set->pub[i].conf.name;
		size_t		 len = strlen(name);

		if (len > 0 && strncmp(msg, name, len) == 0 &&
		    msg[len] == ':')
			return name;
	}
	return NULL;
}

void
publish_log(struct publish_set *set, enum publish_log level,
    const char *fmt, ...)
{
	char		 msg[768];
	va_list		 ap;
	struct log_field f[1];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (set != NULL && set->opt.log != NULL) {
		set->opt.log(set->opt.log_ctx, level, msg);
		return;
	}
	f[0].name = "publisher";
	f[0].value = named_publisher(set, msg);
	log_event(level == PUBLISH_ERR ? LOG_LEVEL_ERROR :
	    level == PUBLISH_WARN ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO,
	    "publish", LOG_FIELDS(f), "publish: %s", msg);
}

/* ---- the registry ---- */

const struct publish_ops *
publish_ops_of(enum publish_type type)
{
	switch (type) {
	case PUBLISH_DIR: return &publish_dir_ops;
	case PUBLISH_S3: return &publish_s3_ops;
	case PUBLISH_ALB: return &publish_alb_ops;
	case PUBLISH_EXEC: return &publish_exec_ops;
	}
	return NULL;
}

/* ---- namespaces: one set per live CA ---- */

int
publish_ns_check(const char *ns, struct ca_error *err)
{
	/* Names the s3 prefix holds itself: PREFIX/crl/, PREFIX/backup/,
	   PREFIX/ca-bundles/. */
	static const char *const taken[] = { "crl", "backup", "ca-bundles" };
	size_t	 len;

	if (ns == NULL || ns[0] == '\0')
		return CA_OK;
	len = strlen(ns);
	if (len > PUBLISH_NS_MAX || strspn(ns, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789-") != len)
		return ca_error_set(err, CA_EINVAL, "CA namespace '%.40s' must "
		    "be 1 to %d characters of a-z, 0-9 and '-'", ns,
		    PUBLISH_NS_MAX);
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (strcmp(ns, taken[i]) == 0)
			return ca_error_set(err, CA_EINVAL, "CA namespace '%s' "
			    "is a name the s3 publisher uses itself", ns);
	return CA_OK;
}

int
publish_destination_of(const struct publish_conf *conf, const char *ns,
    char *out, size_t size, struct ca_error *err)
{
	struct publisher	*p;
	size_t			 len;

	if (publish_ops_of(conf->type) == NULL)
		return ca_error_set(err, CA_EINVAL, "publisher '%s' has an "
		    "unknown type", conf->name);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	p->conf = *conf;
	p->ops = publish_ops_of(conf->type);
	if (conf->type == PUBLISH_S3)
		publish_s3_prefix(conf->prefix, p->prefix, sizeof(p->prefix));
	p->ops->destination(p, out, size);
	free(p);
	/* A retiring CA's destination is a place of its own: its own state
	   (published number, RevocationIds). */
	len = strlen(out);
	if (ns != NULL && ns[0] != '\0' &&
	    (size_t)snprintf(out + len, size - len, "#%s", ns) >= size - len)
		return ca_error_set(err, CA_ETOOBIG, "publisher '%s': its "
		    "destination is too long", conf->name);
	return CA_OK;
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

/* publish_options.bundle_pem, when given: PEM certificates, this CA's
   among them. */
static int
bundle_holds_ca(struct ca *ca, const char *pem, struct ca_error *err)
{
	struct bundle	 given = { 0 }, ours = { 0 };
	int		 rc;

	if (pem == NULL || pem[0] == '\0')
		return CA_OK;
	if ((rc = bundle_add_pem(&given, pem, strlen(pem), "the CA bundle",
	    err)) == CA_OK && (rc = bundle_add_pem(&ours, ca_cert_pem(ca),
	    strlen(ca_cert_pem(ca)), "this CA", err)) == CA_OK &&
	    (ours.n != 1 || !bundle_has(&given, ours.c[0].sha256)))
		rc = ca_error_set(err, CA_EINVAL, "the CA bundle to publish "
		    "does not hold this CA's certificate");
	bundle_free(&given);
	bundle_free(&ours);
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

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	pthread_mutex_init(&set->run_mu, NULL);
	pthread_mutex_init(&set->mu, NULL);
	{
		pthread_condattr_t ca_attr;

		pthread_condattr_init(&ca_attr);
		pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC);
		pthread_cond_init(&set->cond, &ca_attr);
		pthread_condattr_destroy(&ca_attr);
	}
	if (n > 0 && (set->pub = calloc(n, sizeof(*set->pub))) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	set->ca = ca;
	set->st = st;
	if (opt != NULL)
		set->opt = *opt;
	if ((rc = publish_ns_check(set->opt.ca_ns, err)) != CA_OK)
		goto fail;
	if (set->opt.ca_ns != NULL)
		snprintf(set->ns, sizeof(set->ns), "%s", set->opt.ca_ns);
	set->opt.ca_ns = set->ns;
	if (set->opt.retry_min_ms <= 0)
		set->opt.retry_min_ms = 5000;
	if (set->opt.retry_max_ms <= 0)
		set->opt.retry_max_ms = 300000;
	if (set->opt.retry_max_ms < set->opt.retry_min_ms)
		set->opt.retry_max_ms = set->opt.retry_min_ms;
	if (set->opt.max_lag <= 0)
		set->opt.max_lag = 900;
	if (set->opt.lock_path != NULL &&
	    (set->lock_path = strdup(set->opt.lock_path)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	set->opt.lock_path = set->lock_path;
	/* ALB's quota, whatever crl.max_entries allows `mtlsca crl` to make
	   (up to 10,000,000 for relying parties without one). */
	if (set->opt.max_entries == 0 ||
	    set->opt.max_entries > CRL_ALB_MAX_ENTRIES)
		set->opt.max_entries = CRL_ALB_MAX_ENTRIES;
	if (set->opt.read_only || ca == NULL) {
		set->opt.read_only = true;
		pem = "";
	} else if ((rc = ca_signs_crls(ca, err)) != CA_OK ||
	    (rc = bundle_holds_ca(ca, set->opt.bundle_pem, err)) != CA_OK)
		goto fail;
	else if (set->opt.bundle_pem != NULL && set->opt.bundle_pem[0] != '\0')
		pem = set->opt.bundle_pem;
	else
		pem = ca_cert_pem(ca);
	set->opt.bundle_pem = NULL;	/* borrowed: copied below */
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
		if ((rc = publish_destination_of(&p->conf, set->ns, p->dest,
		    sizeof(p->dest), err)) != CA_OK)
			goto fail;
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
	/* An earlier version's state was the one CA's: the active set's. */
	for (size_t i = 0; i < n && !set->opt.read_only && !set->opt.dry_run &&
	    set->ns[0] == '\0'; i++)
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
	publish_stop(set);
	for (size_t i = 0; i < set->n; i++) {
		aws_client_free(set->pub[i].aws);
		bundle_free(&set->pub[i].extra);
	}
	gate_clear(&set->gate);
	pthread_cond_destroy(&set->cond);
	pthread_mutex_destroy(&set->mu);
	pthread_mutex_destroy(&set->run_mu);
	free(set->pub);
	free(set->bundle);
	free(set->lock_path);
	free(set);
}

