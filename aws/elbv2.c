/*
 * ELBv2, an AWS Query API (Version 2015-12-01, SigV4 service
 * "elasticloadbalancing"): every parameter in a form body, XML answers.
 */
#include <stdio.h>
#include <string.h>

#include "aws/aws_int.h"

int
aws_elbv2_call(struct aws_client *c, const char *endpoint, const char *region,
    const char *action, const struct sigv4_kv *params, size_t n_params,
    struct aws_response *resp, struct ca_error *err)
{
	struct aws_signed_call	 sc;
	struct sigv4_kv		 extra[1] = { { "Content-Type",
	    "application/x-www-form-urlencoded; charset=utf-8" } };
	struct awsbuf		 form = { 0 };
	char			 ep[1024], what[128];
	struct ca_error		 e2;
	int			 rc;

	aws_response_clear(resp);
	aws_default_endpoint(ep, sizeof(ep), endpoint, "elasticloadbalancing",
	    region);
	snprintf(what, sizeof(what), "ELBv2 %s", action);
	/* RFC 3986 percent-encoding (what SigV4 canonicalises as well). */
	if ((rc = awsbuf_puts(&form, "Action=")) != CA_OK ||
	    (rc = sigv4_uri_encode(&form, action, strlen(action), false)) !=
	    CA_OK || (rc = awsbuf_puts(&form, "&Version=2015-12-01")) != CA_OK)
		goto oom;
	for (size_t i = 0; i < n_params; i++) {
		if ((rc = awsbuf_puts(&form, "&")) != CA_OK ||
		    (rc = sigv4_uri_encode(&form, params[i].name,
		    strlen(params[i].name), false)) != CA_OK ||
		    (rc = awsbuf_puts(&form, "=")) != CA_OK ||
		    (rc = sigv4_uri_encode(&form, params[i].value,
		    strlen(params[i].value), false)) != CA_OK)
			goto oom;
	}
	memset(&sc, 0, sizeof(sc));
	sc.method = "POST";
	sc.endpoint = ep;
	sc.path = "/";
	sc.region = region;
	sc.service = "elasticloadbalancing";
	sc.extra = extra;
	sc.n_extra = 1;
	sc.body = form.data;
	sc.body_len = form.len;
	sc.not_idempotent = strcmp(action, "AddTrustStoreRevocations") == 0;
	if ((rc = aws_signed_send(c, &sc, resp, &e2)) != CA_OK) {
		/* No credentials is no request's fault: said as is. */
		ca_error_set(err, rc, "%s%s%s", resp->attempts == 0 ? "" : what,
		    resp->attempts == 0 ? "" : ": ", e2.msg);
		goto out;
	}
	if (resp->status < 200 || resp->status > 299)
		rc = aws_answer_error(resp, what, err);
	goto out;
oom:
	rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&form);
	return rc;
}
