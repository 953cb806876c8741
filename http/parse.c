/*
 * Request parsing that needs no socket: the route and serial of a URL, and
 * the enrollment body (its Content-Type, the CSR as PEM, DER or JSON, the
 * profile and days parameters). Pure functions of their input, so that a
 * fuzz target (tests/fuzz/fuzz_http_request.c) can drive them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/util.h"
#include "http/http_int.h"

static bool
serial_chars(const char *p, size_t n)
{
	if (n == 0 || n >= HTTP_SERIAL_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F') || ch == ':'))
			return false;
	}
	return true;
}

enum route
http_route_match(const char *url, char *serial, size_t serial_size)
{
	static const struct {
		const char	*path;
		enum route	 route;
	} fixed[] = {
		{ "/crl", ROUTE_CRL },
		{ "/crl.pem", ROUTE_CRL_PEM },
		{ "/ca.pem", ROUTE_CA_PEM },
		{ "/healthz", ROUTE_HEALTHZ },
		{ "/metrics", ROUTE_METRICS },
		{ "/v1/certificates", ROUTE_ENROLL },
		{ "/v1/certificates/renew", ROUTE_RENEW },
		{ "/v1/crl", ROUTE_CRL_RUN },
		{ "/v1/crl/status", ROUTE_CRL_STATUS },
	};
	static const char prefix[] = "/v1/certificates/";
	const char	*rest, *slash;
	size_t		 n;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(url, fixed[i].path) == 0)
			return fixed[i].route;
	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return ROUTE_UNKNOWN;
	rest = url + sizeof(prefix) - 1;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!serial_chars(rest, n) || n >= serial_size)
		return ROUTE_UNKNOWN;
	memcpy(serial, rest, n);
	serial[n] = '\0';
	if (slash == NULL)
		return ROUTE_CERT_GET;
	if (strcmp(slash, "/revoke") == 0)
		return ROUTE_CERT_REVOKE;
	return ROUTE_UNKNOWN;
}

bool
http_ctype_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

void
http_body_clear(struct http_body *b)
{
	if (b == NULL)
		return;
	json_decref(b->json);
	memset(b, 0, sizeof(*b));
}

int
http_body_parse(const char *ct, const char *q_profile, const char *q_days,
    const uint8_t *body, size_t len, struct http_body *b,
    struct ca_error *err)
{
	json_error_t	 jerr;
	json_t		*v;
	uint64_t	 d;

	memset(b, 0, sizeof(*b));
	if (len == 0)
		return ca_error_set(err, CA_EMALF, "the request has no body: "
		    "send a PKCS#10 CSR (PEM, DER) or JSON {\"csr\": ...}");
	if (q_profile != NULL) {
		if (strlen(q_profile) >= sizeof(b->profile))
			return ca_error_set(err, CA_EMALF, "profile name too "
			    "long");
		snprintf(b->profile, sizeof(b->profile), "%s", q_profile);
	}
	if (q_days != NULL) {
		if (parse_u64(q_days, 1, 100000, &d) != CA_OK)
			return ca_error_set(err, CA_EMALF, "days must be a "
			    "whole number from 1 to 100000");
		b->days = (unsigned)d;
	}
	if (ct == NULL) {
		/* No type: tell PEM, JSON and DER apart by their first byte. */
		ct = body[0] == '{' ? "application/json" :
		    body[0] == 0x30 ? "application/pkcs10" : "text/plain";
	}
	if (http_ctype_is(ct, "application/x-pem-file") ||
	    http_ctype_is(ct, "text/plain") ||
	    http_ctype_is(ct, "application/pkcs10") ||
	    http_ctype_is(ct, "application/octet-stream")) {
		b->csr = body;
		b->csr_len = len;
		return CA_OK;
	}
	if (!http_ctype_is(ct, "application/json"))
		return ca_error_set(err, CA_EINVAL, "send the CSR as "
		    "application/x-pem-file, text/plain, application/pkcs10 "
		    "or application/json");
	if ((b->json = json_loadb((const char *)body, len,
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return ca_error_set(err, CA_EMALF, "the body is not JSON: %s "
		    "(line %d)", jerr.text, jerr.line);
	if (!json_is_object(b->json))
		return ca_error_set(err, CA_EMALF, "the JSON body must be an "
		    "object");
	v = json_object_get(b->json, "csr");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return ca_error_set(err, CA_EMALF, "JSON field \"csr\" (a PEM "
		    "PKCS#10 request) is required");
	b->csr = (const uint8_t *)json_string_value(v);
	b->csr_len = json_string_length(v);
	if ((v = json_object_get(b->json, "profile")) != NULL) {
		if (!json_is_string(v) ||
		    json_string_length(v) >= sizeof(b->profile))
			return ca_error_set(err, CA_EMALF, "JSON field "
			    "\"profile\" must be a profile name");
		snprintf(b->profile, sizeof(b->profile), "%s",
		    json_string_value(v));
	}
	if ((v = json_object_get(b->json, "days")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100000)
			return ca_error_set(err, CA_EMALF, "JSON field \"days\" "
			    "must be a whole number from 1 to 100000");
		b->days = (unsigned)json_integer_value(v);
	}
	return CA_OK;
}
