/*
 * Request parsing that needs no socket: the route of a path in a table
 * (routes.c) with its parameter, and the enrollment body (its Content-Type,
 * the CSR as PEM, DER or JSON, the profile and days parameters). Pure
 * functions of their input, so that a fuzz target
 * (tests/fuzz/fuzz_http_request.c) can drive them.
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

/* A profile name in a URL (EST's /.well-known/est/<profile>/...). */
static bool
name_chars(const char *p, size_t n)
{
	if (n == 0 || n >= STORE_PROFILE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' ||
		    ch == '.'))
			return false;
	}
	return !(n <= 2 && p[0] == '.' && p[n - 1] == '.');	/* . and .. */
}

/* Does path fit pattern (routes.c: literal segments, one "{serial}" or
   "{name}")? The parameter's text goes to param (size bytes) if so. */
static bool
pattern_fits(const char *pat, const char *path, char *param, size_t size)
{
	char got[HTTP_PARAM_MAX] = "";

	while (*pat != '\0' || *path != '\0') {
		const char	*pe, *se;
		size_t		 pn, sn;

		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		pe = strchr(pat, '/');
		se = strchr(path, '/');
		pn = pe != NULL ? (size_t)(pe - pat) : strlen(pat);
		sn = se != NULL ? (size_t)(se - path) : strlen(path);
		if (pn == 8 && strncmp(pat, "{serial}", 8) == 0) {
			if (!serial_chars(path, sn) || sn >= sizeof(got))
				return false;
			memcpy(got, path, sn);
			got[sn] = '\0';
		} else if (pn == 6 && strncmp(pat, "{name}", 6) == 0) {
			if (!name_chars(path, sn) || sn >= sizeof(got))
				return false;
			memcpy(got, path, sn);
			got[sn] = '\0';
		} else if (pn != sn || strncmp(pat, path, pn) != 0) {
			return false;
		}
		pat += pn;
		path += sn;
	}
	if (strlen(got) >= size)
		return false;
	memcpy(param, got, strlen(got) + 1);
	return true;
}

unsigned
http_method_bit(const char *method)
{
	/* RFC 9110 §9.1: method names are case-sensitive. */
	if (method == NULL)
		return 0;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return HTTP_GET;
	if (strcmp(method, "POST") == 0)
		return HTTP_POST;
	return 0;
}

void
http_route_match(const struct http_route *routes, size_t n, const char *path,
    const char *method, struct http_match *m)
{
	unsigned	bit = http_method_bit(method);
	bool		public_path = false;
	char		param[HTTP_PARAM_MAX];

	memset(m, 0, sizeof(*m));
	m->row = m->path_row = -1;
	for (size_t i = 0; i < n; i++) {
		if (!pattern_fits(routes[i].pattern, path, param,
		    sizeof(param)))
			continue;
		m->allow |= routes[i].methods;
		/* EST is defined over TLS only (RFC 7030 section 3.3). */
		public_path |= routes[i].auth == HTTP_AUTH_PUBLIC &&
		    routes[i].proto != HTTP_PROTO_EST;
		if (m->path_row < 0) {
			m->path_row = (int)i;
			memcpy(m->param, param, sizeof(param));
		}
		if (m->row < 0 && (routes[i].methods & bit) != 0) {
			m->row = (int)i;
			memcpy(m->param, param, sizeof(param));
		}
	}
	m->https_only = m->path_row >= 0 && !public_path;
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
