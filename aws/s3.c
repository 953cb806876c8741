/*
 * S3 objects, path-style (S3-compatible servers and tests accept it, and
 * a bucket name with dots needs it over TLS).
 */
#include <stdio.h>
#include <string.h>

#include "aws/aws_int.h"

static int
s3_call(struct aws_client *c, const char *method, const char *endpoint,
    const char *region, const char *bucket, const char *key, const void *body,
    size_t len, const char *content_type, struct aws_response *resp,
    struct ca_error *err)
{
	struct aws_signed_call	 sc;
	struct sigv4_kv		 extra[1];
	char			 ep[1024], path[2048], what[2300];
	struct ca_error		 e2;
	int			 rc;

	aws_response_clear(resp);
	aws_default_endpoint(ep, sizeof(ep), endpoint, "s3", region);
	/* Path-style: /bucket/key. */
	if ((size_t)snprintf(path, sizeof(path), "/%s/%s", bucket, key) >=
	    sizeof(path))
		return ca_error_set(err, CA_EINVAL, "S3 key too long");
	snprintf(what, sizeof(what), "S3 %s s3://%s/%s", method, bucket, key);
	memset(&sc, 0, sizeof(sc));
	sc.method = method;
	sc.endpoint = ep;
	sc.path = path;
	sc.region = region;
	sc.service = "s3";
	sc.s3 = true;
	sc.body = body;
	sc.body_len = len;
	if (content_type != NULL) {
		extra[0].name = "Content-Type";
		extra[0].value = content_type;
		sc.extra = extra;
		sc.n_extra = 1;
	}
	if ((rc = aws_signed_send(c, &sc, resp, &e2)) != CA_OK)
		/* No credentials is no request's fault: said as is. */
		return ca_error_set(err, rc, "%s%s%s", resp->attempts == 0 ?
		    "" : what, resp->attempts == 0 ? "" : ": ", e2.msg);
	if (resp->status < 200 || resp->status > 299)
		return aws_answer_error(resp, what, err);
	return CA_OK;
}

int
aws_s3_put(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, const void *body, size_t len,
    const char *content_type, struct aws_response *resp, struct ca_error *err)
{
	return s3_call(c, "PUT", endpoint, region, bucket, key, body, len,
	    content_type, resp, err);
}

int
aws_s3_get(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, struct aws_response *resp,
    struct ca_error *err)
{
	return s3_call(c, "GET", endpoint, region, bucket, key, NULL, 0, NULL,
	    resp, err);
}
