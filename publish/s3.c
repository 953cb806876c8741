/*
 * The s3 publisher: the PEM CRL under a new key per CRL (the key an alb
 * publisher hands to AddTrustStoreRevocations: ALB copies an object once,
 * so overwriting one changes nothing), PREFIX/crl/latest.pem and .der for
 * other readers, and the CA bundle PREFIX/ca.pem when it changed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "publish/publish_int.h"

static int
s3_check(const struct publish_conf *conf, size_t i, struct ca_error *err)
{
	if (conf[i].bucket[0] == '\0' || conf[i].region[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "s3 publisher '%s' needs "
		    "a bucket and a region", conf[i].name);
	return CA_OK;
}

int
publish_aws_open(struct publisher *p, struct ca_error *err)
{
	struct aws_client_options ao;

	if (p->set->opt.read_only)
		return CA_OK;
	memset(&ao, 0, sizeof(ao));
	ao.imds_endpoint = p->conf.imds_endpoint;
	ao.region = p->conf.region;
	ao.max_attempts = p->set->opt.max_attempts;
	ao.base_delay_ms = p->set->opt.base_delay_ms;
	ao.timeout_s = p->set->opt.timeout_s;
	return aws_client_new(&ao, &p->aws, err);
}

static int
s3_open(struct publisher *p, struct ca_error *err)
{
	const char	*pre = p->conf.prefix;
	size_t		 l;

	while (*pre == '/')
		pre++;
	l = strlen(pre);
	while (l > 0 && pre[l - 1] == '/')
		l--;
	snprintf(p->prefix, sizeof(p->prefix), "%.*s%s", (int)l, pre,
	    l ? "/" : "");
	return publish_aws_open(p, err);
}

static int
s3_put(struct publisher *p, const char *key, const void *body, size_t len,
    const char *ctype, struct ca_error *err)
{
	struct aws_response	 r;
	int			 rc;

	memset(&r, 0, sizeof(r));
	rc = aws_s3_put(p->aws, p->conf.endpoint, p->conf.region,
	    p->conf.bucket, key, body, len, ctype, &r, err);
	/* A failure says so in its error (logged once by runner.c). */
	if (rc == CA_OK && r.attempts > 1)
		publish_log(p->set, PUBLISH_INFO, "%s: PUT %s took %u attempts",
		    p->conf.name, key, r.attempts);
	aws_response_clear(&r);
	return rc;
}

static int
s3_run(struct publisher *p, const struct crl_snapshot *crl,
    struct publish_state *s, struct ca_error *err)
{
	struct publish_set	*set = p->set;
	char			 key[300];
	int			 rc;

	/* A new key per CRL: the one ALB is told to copy. */
	snprintf(key, sizeof(key), "%scrl/%" PRIu64 ".pem", p->prefix,
	    crl->number);
	if ((rc = s3_put(p, key, crl->pem, crl->pem_len,
	    "application/x-pem-file", err)) != CA_OK)
		return rc;
	snprintf(s->object_key, sizeof(s->object_key), "%s", key);
	snprintf(key, sizeof(key), "%scrl/latest.pem", p->prefix);
	if ((rc = s3_put(p, key, crl->pem, crl->pem_len,
	    "application/x-pem-file", err)) != CA_OK)
		return rc;
	snprintf(key, sizeof(key), "%scrl/latest.der", p->prefix);
	if ((rc = s3_put(p, key, crl->der, crl->der_len,
	    "application/pkix-crl", err)) != CA_OK)
		return rc;
	if (strcmp(s->bundle_sha256, set->bundle_sha256) != 0) {
		snprintf(key, sizeof(key), "%sca.pem", p->prefix);
		if ((rc = s3_put(p, key, set->bundle, set->bundle_len,
		    "application/x-pem-file", err)) != CA_OK)
			return rc;
		snprintf(s->bundle_sha256, sizeof(s->bundle_sha256), "%s",
		    set->bundle_sha256);
		publish_log(set, PUBLISH_INFO, "%s: CA bundle uploaded to %s",
		    p->conf.name, key);
	}
	return CA_OK;
}

static int
s3_plan(struct publisher *p, const struct crl_snapshot *crl,
    const struct publish_state *s, struct awsbuf *b, struct ca_error *err)
{
	int	 rc;

	(void)err;
	rc = awsbuf_printf(b, "  would PUT s3://%s/%scrl/%" PRIu64 ".pem, "
	    "%scrl/latest.pem and %scrl/latest.der (CRL %" PRIu64 ", %"
	    PRIu64 " entries)\n", p->conf.bucket, p->prefix, crl->number,
	    p->prefix, p->prefix, crl->number, crl->entries);
	if (rc == CA_OK && strcmp(s->bundle_sha256, p->set->bundle_sha256) !=
	    0)
		rc = awsbuf_printf(b, "  would PUT s3://%s/%sca.pem (this CA's "
		    "certificate)\n", p->conf.bucket, p->prefix);
	return rc;
}

static int
s3_status(const struct publisher *p, const struct publish_state *s,
    struct awsbuf *b)
{
	(void)p;
	return awsbuf_printf(b, "  object:           %s\n",
	    s->object_key[0] ? s->object_key : "-");
}

static void
s3_destination(const struct publisher *p, char *out, size_t size)
{
	if (p->conf.endpoint[0] != '\0')
		snprintf(out, size, "s3:%s/%s/%s", p->conf.endpoint,
		    p->conf.bucket, p->prefix);
	else
		snprintf(out, size, "s3:https://s3.%s.amazonaws.com/%s/%s",
		    p->conf.region, p->conf.bucket, p->prefix);
}

const struct publish_ops publish_s3_ops = {
	.name = "s3",
	.check = s3_check,
	.open = s3_open,
	.destination = s3_destination,
	.plan = s3_plan,
	.run = s3_run,
	.status = s3_status,
};
