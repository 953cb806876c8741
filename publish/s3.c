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

void
publish_s3_prefix(const char *conf_prefix, char *out, size_t size)
{
	const char	*pre = conf_prefix;
	size_t		 l;

	while (*pre == '/')
		pre++;
	l = strlen(pre);
	while (l > 0 && pre[l - 1] == '/')
		l--;
	snprintf(out, size, "%.*s%s", (int)l, pre, l ? "/" : "");
}

static int
s3_open(struct publisher *p, struct ca_error *err)
{
	publish_s3_prefix(p->conf.prefix, p->prefix, sizeof(p->prefix));
	/* A retiring CA's CRLs: PREFIX<ns>/crl/... */
	snprintf(p->crl_prefix, sizeof(p->crl_prefix), "%s%s%s", p->prefix,
	    p->set->ns, p->set->ns[0] ? "/" : "");
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
	char			 key[400];
	int			 rc;

	/* A new key per CRL: the one ALB is told to copy. */
	snprintf(key, sizeof(key), "%scrl/%" PRIu64 ".pem", p->crl_prefix,
	    crl->number);
	if ((rc = s3_put(p, key, crl->pem, crl->pem_len,
	    "application/x-pem-file", err)) != CA_OK)
		return rc;
	snprintf(s->object_key, sizeof(s->object_key), "%s", key);
	snprintf(key, sizeof(key), "%scrl/latest.pem", p->crl_prefix);
	if ((rc = s3_put(p, key, crl->pem, crl->pem_len,
	    "application/x-pem-file", err)) != CA_OK)
		return rc;
	snprintf(key, sizeof(key), "%scrl/latest.der", p->crl_prefix);
	if ((rc = s3_put(p, key, crl->der, crl->der_len,
	    "application/pkix-crl", err)) != CA_OK)
		return rc;
	/* The bundle object is the active CA's set's. */
	if (set->ns[0] == '\0' &&
	    strcmp(s->bundle_sha256, set->bundle_sha256) != 0) {
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
	    PRIu64 " entries)\n", p->conf.bucket, p->crl_prefix, crl->number,
	    p->crl_prefix, p->crl_prefix, crl->number, crl->entries);
	if (rc == CA_OK && p->set->ns[0] == '\0' &&
	    strcmp(s->bundle_sha256, p->set->bundle_sha256) != 0)
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

/*
 * What the s3 publishers last published (recovery after a restore): each
 * one's PREFIX/crl/latest.der, handed to cb with a source naming it. A
 * publisher that has published nothing yet (404) is skipped; any other
 * failure stops and is returned, naming the publisher.
 */
int
publish_latest_crls(struct publish_set *set, publish_crl_cb cb, void *ctx,
    struct ca_error *err)
{
	struct aws_response	 r;
	char			 key[400], source[800];
	int			 rc = CA_OK;

	if (set == NULL || cb == NULL)
		return ca_error_set(err, CA_EINVAL, "no publishers");
	for (size_t i = 0; i < set->n && rc == CA_OK; i++) {
		struct publisher *p = &set->pub[i];

		if (p->conf.type != PUBLISH_S3)
			continue;
		if (p->aws == NULL)
			return ca_error_set(err, CA_EINVAL, "s3 publisher '%s' "
			    "was opened read-only", p->conf.name);
		snprintf(key, sizeof(key), "%scrl/latest.der", p->crl_prefix);
		snprintf(source, sizeof(source), "s3 publisher '%s': s3://%s/%s",
		    p->conf.name, p->conf.bucket, key);
		memset(&r, 0, sizeof(r));
		rc = aws_s3_get(p->aws, p->conf.endpoint, p->conf.region,
		    p->conf.bucket, key, &r, err);
		if (rc == CA_ENOENT)
			rc = CA_OK;	/* nothing published there yet */
		else if (rc != CA_OK)
			ca_error_set(err, rc, "%s: %s", source, err->msg);
		else
			rc = cb(ctx, source, (const uint8_t *)r.body.data,
			    r.body.len, err);
		aws_response_clear(&r);
	}
	return rc;
}

static struct publisher *
s3_named(struct publish_set *set, const char *name, struct ca_error *err)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->pub[i].conf.type == PUBLISH_S3 &&
		    strcmp(set->pub[i].conf.name, name) == 0) {
			if (set->pub[i].aws == NULL) {
				ca_error_set(err, CA_EINVAL, "s3 publisher '%s' "
				    "was opened read-only", name);
				return NULL;
			}
			return &set->pub[i];
		}
	ca_error_set(err, CA_ENOENT, "no s3 publisher '%s'", name);
	return NULL;
}

/* The s3 publisher name and PREFIX/backup/<file_name> in its bucket
   (backups are not namespaced); what: "upload", "deletion". */
static int
backup_key(struct publish_set *set, const char *name, const char *file_name,
    const char *what, struct publisher **p, char *key, size_t size,
    struct ca_error *err)
{
	if (set == NULL || name == NULL || file_name == NULL ||
	    file_name[0] == '\0' || strchr(file_name, '/') != NULL)
		return ca_error_set(err, CA_EINVAL, "bad backup %s: a file "
		    "name without '/' is needed", what);
	if ((*p = s3_named(set, name, err)) == NULL)
		return err != NULL ? err->code : CA_ENOENT;
	snprintf(key, size, "%sbackup/%s", (*p)->prefix, file_name);
	return CA_OK;
}

int
publish_s3_backup_put(struct publish_set *set, const char *name,
    const char *file_name, const void *buf, size_t len, char *key_out,
    size_t key_size, struct ca_error *err)
{
	struct publisher	*p;
	struct aws_response	 r;
	char			 key[600];
	int			 rc;

	if ((rc = backup_key(set, name, file_name, "upload", &p, key,
	    sizeof(key), err)) != CA_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = aws_s3_put(p->aws, p->conf.endpoint, p->conf.region,
	    p->conf.bucket, key, buf, len, "application/x-tar", &r, err);
	aws_response_clear(&r);
	if (rc == CA_OK && key_out != NULL)
		snprintf(key_out, key_size, "s3://%s/%s", p->conf.bucket, key);
	return rc;
}

int
publish_s3_backup_delete(struct publish_set *set, const char *name,
    const char *file_name, struct ca_error *err)
{
	struct publisher	*p;
	struct aws_response	 r;
	char			 key[600];
	int			 rc;

	if ((rc = backup_key(set, name, file_name, "deletion", &p, key,
	    sizeof(key), err)) != CA_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = aws_s3_delete(p->aws, p->conf.endpoint, p->conf.region,
	    p->conf.bucket, key, &r, err);
	aws_response_clear(&r);
	return rc;
}
