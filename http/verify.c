/*
 * GET /v1/verify: "is the client certificate this proxy forwards good right
 * now?" for ALB (passthrough and verify mode), nginx auth_request, HAProxy
 * and Envoy ext_authz. The answer is ca_verify_chain's (ca/verify.c): the
 * same the service's own mTLS and `mtlsca verify` give.
 *
 * Served on a listener of its own (verify.port, plain HTTP, loopback by
 * default, next to the proxy), which never serves the API: the headers are
 * trusted from verify.trusted_proxies only, since anyone else can write
 * them, and a header present twice is refused (a client adding its own to
 * the proxy's, which did not strip it). 200 carries the identity in
 * X-Mtls-* headers for the application; 403 says why in JSON and in
 * X-Mtls-Result, which nginx can log with auth_request_set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>

#include "ca/ca.h"
#include "common/util.h"
#include "http/http_int.h"

#define DEFAULT_CACHE		16384
#define NAME_MAX_LEN		128
/* Refusals the handler makes before any verification, counted beside the
   verifier's results. */
enum {
	PRE_UNTRUSTED = 0,	/* untrusted_proxy */
	PRE_MISSING,		/* no_certificate */
	PRE_DUPLICATE,		/* duplicate_header */
	PRE_ERROR,		/* the store or memory failed: 500 */
	PRE_N,
};
static const char *const pre_names[PRE_N] = {
	"untrusted_proxy", "no_certificate", "duplicate_header", "error",
};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t vbucket_us[] = {
	25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000,
};
#define N_VBUCKETS	(sizeof(vbucket_us) / sizeof(vbucket_us[0]) + 1)

struct http_verify {
	char			 path[256];
	enum http_verify_source	 source;
	enum http_cert_encoding	 enc;
	char			 header[NAME_MAX_LEN];
	char			 serial_header[NAME_MAX_LEN];
	char			 issuer_header[NAME_MAX_LEN];
	struct http_cidr	 proxies[HTTP_VERIFY_PROXIES_MAX];
	size_t			 n_proxies;
	atomic_ullong		 results[CA_VERIFY_RESULTS];
	atomic_ullong		 pre[PRE_N];
	atomic_ullong		 buckets[N_VBUCKETS];
	atomic_ullong		 sum_us;
};

static int
name_copy(char *out, const char *in, const char *dflt, struct ca_error *err)
{
	const char *v = in != NULL && in[0] != '\0' ? in : dflt;

	if (strlen(v) >= NAME_MAX_LEN)
		return ca_error_set(err, CA_EINVAL, "header name %.40s... is "
		    "too long", v);
	snprintf(out, NAME_MAX_LEN, "%s", v);
	return CA_OK;
}

int
http_verify_start(struct http_server *s, const struct http_options *opt,
    struct ca_error *err)
{
	const struct http_verify_options	*vo = &opt->verify;
	struct ca_verifier_options		 cvo;
	struct http_verify			*hv;
	const char				*dflt;
	int					 rc;

	if ((hv = calloc(1, sizeof(*hv))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	s->verify = hv;
	hv->source = vo->source;
	hv->enc = vo->source == HTTP_VERIFY_HAPROXY ? HTTP_CERT_DER_BASE64 :
	    vo->source == HTTP_VERIFY_ENVOY ? HTTP_CERT_XFCC :
	    HTTP_CERT_PEM_URLENCODED;
	switch (vo->source) {
	case HTTP_VERIFY_ALB_PASSTHROUGH:
		dflt = "X-Amzn-Mtls-Clientcert";
		break;
	case HTTP_VERIFY_ALB_VERIFY:
		dflt = "X-Amzn-Mtls-Clientcert-Leaf";
		break;
	case HTTP_VERIFY_NGINX:
		dflt = "X-Ssl-Client-Cert";
		break;
	case HTTP_VERIFY_HAPROXY:
		dflt = "X-Ssl-Client-Der";
		break;
	case HTTP_VERIFY_ENVOY:
		dflt = "X-Forwarded-Client-Cert";
		break;
	default:
		return ca_error_set(err, CA_EINVAL, "unknown verify source");
	}
	if ((rc = name_copy(hv->header, vo->header, dflt, err)) != CA_OK)
		return rc;
	if (vo->source == HTTP_VERIFY_ALB_VERIFY &&
	    ((rc = name_copy(hv->serial_header, vo->serial_header,
	    "X-Amzn-Mtls-Clientcert-Serial-Number", err)) != CA_OK ||
	    (rc = name_copy(hv->issuer_header, vo->issuer_header,
	    "X-Amzn-Mtls-Clientcert-Issuer", err)) != CA_OK))
		return rc;
	if (vo->path != NULL && vo->path[0] != '\0') {
		if (vo->path[0] != '/' || strlen(vo->path) >= sizeof(hv->path))
			return ca_error_set(err, CA_EINVAL, "verify.path \"%.60s"
			    "\" must be an absolute path under %zu bytes",
			    vo->path, sizeof(hv->path));
		snprintf(hv->path, sizeof(hv->path), "%s", vo->path);
	}
	if (vo->n_trusted_proxies > HTTP_VERIFY_PROXIES_MAX)
		return ca_error_set(err, CA_EINVAL, "at most %d trusted proxy "
		    "ranges", HTTP_VERIFY_PROXIES_MAX);
	for (size_t i = 0; i < vo->n_trusted_proxies; i++)
		if ((rc = http_cidr_parse(vo->trusted_proxies[i],
		    &hv->proxies[hv->n_proxies++], err)) != CA_OK)
			return rc;
	if (vo->n_trusted_proxies == 0) {
		/* Next to the proxy: this host only. */
		(void)http_cidr_parse("127.0.0.1/32", &hv->proxies[0], NULL);
		(void)http_cidr_parse("::1/128", &hv->proxies[1], NULL);
		hv->n_proxies = 2;
	}
	memset(&cvo, 0, sizeof(cvo));
	cvo.cache_entries = vo->cache_entries ? vo->cache_entries :
	    DEFAULT_CACHE;
	if ((rc = ca_verifier_new(s->cas, s->n_cas, s->st, &cvo, &s->verifier,
	    err)) != CA_OK)
		return rc;
	if (vo->port != 0) {
		s->vlistener.verify = true;
		snprintf(s->vlistener.addr, sizeof(s->vlistener.addr), "%s",
		    vo->listen != NULL && vo->listen[0] != '\0' ? vo->listen :
		    "127.0.0.1");
	}
	return CA_OK;
}

void
http_verify_stop(struct http_server *s)
{
	ca_verifier_free(s->verifier);
	s->verifier = NULL;
	free(s->verify);
	s->verify = NULL;
}

unsigned
http_server_verify_port(const struct http_server *s)
{
	return s != NULL && s->vlistener.n ? s->vlistener.port : 0;
}

const char *
http_verify_path(const struct http_server *s, const struct listener *l,
    const char *url)
{
	size_t n;

	if (!l->verify || s->verify == NULL || s->verify->path[0] == '\0')
		return url;
	/* The path, or below it: Envoy's ext_authz asks path_prefix +
	   the request's own path. */
	n = strlen(s->verify->path);
	if (strncmp(url, s->verify->path, n) == 0 && (url[n] == '\0' ||
	    url[n] == '/' || s->verify->path[n - 1] == '/'))
		return "/v1/verify";
	return url;
}

bool
http_verify_trusted(const struct http_server *s, const struct sockaddr *sa)
{
	return s->verify != NULL && http_cidr_match(s->verify->proxies,
	    s->verify->n_proxies, sa);
}

const char *
http_listener_refuses(const struct listener *l, const struct http_req *r)
{
	bool proxy = http_routes[r->path_row].auth == HTTP_AUTH_PROXY;

	if (l->verify)
		return proxy || !r->https_only ? NULL : "the verify listener "
		    "serves /v1/verify and the public files only";
	if (proxy)
		return "the verifier is served on its own listener "
		    "(verify.port)";
	if (r->https_only && !l->https)
		return "the API is served over HTTPS only";
	return NULL;
}

/* ---- the request ---- */

#define HDR_CERT	0
#define HDR_SERIAL	1
#define HDR_ISSUER	2

struct scan {
	const char	*name[3];
	const char	*value[3];
	size_t		 len[3];
	unsigned	 count[3];
};

static enum MHD_Result
scan_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct scan *sc = cls;

	(void)kind;
	(void)key_size;
	for (int i = 0; i < 3; i++)
		if (sc->name[i] != NULL && strcasecmp(key, sc->name[i]) == 0) {
			sc->count[i]++;
			sc->value[i] = value;
			sc->len[i] = value_size;
		}
	return MHD_YES;
}

static void
observe(struct http_verify *hv, int64_t us)
{
	size_t b;

	for (b = 0; b < N_VBUCKETS - 1; b++)
		if (us <= vbucket_us[b])
			break;
	atomic_fetch_add(&hv->buckets[b], 1);
	atomic_fetch_add(&hv->sum_us, (unsigned long long)(us > 0 ? us : 0));
}

/* A JSON answer with headers (name, value, ..., NULL); obj is stolen. */
static enum MHD_Result
answer(struct http_req *r, struct MHD_Connection *c, unsigned status,
    json_t *obj, const char *const *hdrs)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	char			*text;
	size_t			 len;

	text = obj != NULL ? json_dumps(obj, JSON_COMPACT |
	    JSON_ENSURE_ASCII) : NULL;
	json_decref(obj);
	if (text == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	len = strlen(text);
	resp = MHD_create_response_from_buffer_with_free_callback(len, text,
	    free);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL &&
	    hdrs[i + 1] != NULL; i += 2)
		MHD_add_response_header(resp, hdrs[i], hdrs[i + 1]);
	r->status = status;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* 403 before any verification (no certificate, duplicate header...). */
static enum MHD_Result
refuse_pre(struct http_verify *hv, struct http_req *r,
    struct MHD_Connection *c, int pre, const char *msg)
{
	const char *hdrs[] = { "X-Mtls-Result", pre_names[pre], NULL };

	atomic_fetch_add(&hv->pre[pre], 1);
	r->reason = pre_names[pre];
	snprintf(r->refusal, sizeof(r->refusal), "%s", msg);
	return answer(r, c, 403, json_pack("{s:s, s:s, s:s}", "error",
	    "forbidden", "reason", pre_names[pre], "message", msg), hdrs);
}

/* The SANs text "dns:a, ip:b" as a JSON array. */
static json_t *
sans_array(const char *sans)
{
	json_t		*a = json_array();
	const char	*p = sans;

	while (a != NULL && p != NULL && *p != '\0') {
		const char *e = strstr(p, ", ");
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		json_array_append_new(a, json_stringn(p, n));
		p = e != NULL ? e + 2 : NULL;
	}
	return a;
}

/* The verdict as an answer. */
static enum MHD_Result
verdict(struct http_server *s, struct http_req *r, struct MHD_Connection *c,
    int rc, const struct ca_verified *vd, const struct ca_error *e)
{
	struct http_verify	*hv = s->verify;
	const char		*name = ca_verify_result_name(vd->result);
	const char		*why;
	char			 serial[SERIAL_HEX_MAX + 2] = "";
	char			 fp[2 * CA_HASH_LEN + 1], na[21], nb[21];
	char			 when[21];
	char			*subject = NULL, *sans = NULL;
	json_t			*obj;
	enum MHD_Result		 ret;

	if (rc != CA_OK && rc != CA_EFORBIDDEN) {
		atomic_fetch_add(&hv->pre[PRE_ERROR], 1);
		return http_respond_caerr(r, c, e);
	}
	atomic_fetch_add(&hv->results[vd->result], 1);
	if (vd->serial_len > 0)
		serial_format(vd->serial, vd->serial_len, serial);
	hex_format(vd->fingerprint, CA_HASH_LEN, fp);
	if (vd->serial_len > 0 || vd->subject != NULL)
		snprintf(r->presented, sizeof(r->presented), "cert:%.16s",
		    fp);
	if (rc == CA_EFORBIDDEN) {
		const char *hdrs[] = { "X-Mtls-Result", name,
		    serial[0] ? "X-Mtls-Serial" : NULL, serial, NULL };

		r->reason = name;
		snprintf(r->refusal, sizeof(r->refusal), "%s", e->msg);
		obj = json_pack("{s:s, s:s, s:s}", "error", "forbidden",
		    "reason", name, "message", e->msg);
		if (obj != NULL && serial[0] != '\0')
			json_object_set_new(obj, "serial", json_string(serial));
		if (obj != NULL && vd->result == CA_VERIFY_REVOKED) {
			time_format(vd->revoked_at, when);
			why = ca_reason_name(vd->revocation_reason);
			json_object_set_new(obj, "revoked_at",
			    json_string(when));
			json_object_set_new(obj, "revocation_reason",
			    json_string(why != NULL ? why : "unspecified"));
		}
		return answer(r, c, 403, obj, hdrs);
	}
	time_format(vd->not_after, na);
	time_format(vd->not_before, nb);
	subject = http_header_text(vd->subject, true);
	sans = http_header_text(vd->sans, false);
	if (subject == NULL || sans == NULL) {
		free(subject);
		free(sans);
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	}
	{
		const char *hdrs[] = {
			"X-Mtls-Result", "good",
			"X-Mtls-Serial", serial,
			"X-Mtls-Subject", subject,
			"X-Mtls-SAN", sans,
			"X-Mtls-Profile", vd->profile,
			"X-Mtls-Not-After", na,
			"X-Mtls-Fingerprint", fp,
			NULL,
		};

		obj = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, "
		    "s:b}", "result", "good", "serial", serial, "subject",
		    subject, "sans", sans_array(sans), "profile", vd->profile,
		    "not_before", nb, "not_after", na, "fingerprint", fp,
		    "cached", vd->cached);
		ret = answer(r, c, 200, obj, hdrs);
	}
	free(subject);
	free(sans);
	return ret;
}

enum MHD_Result
http_verify(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct http_verify	*hv = s->verify;
	const union MHD_ConnectionInfo *ci;
	struct scan		 sc;
	struct pem_certs	 pc;
	struct ca_verified	 vd;
	struct ca_error		 e;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 serial_len;
	char			*text = NULL, msg[300];
	int64_t			 t0 = http_now_us(), now = time_now();
	enum MHD_Result		 ret;
	int			 rc;

	memset(&sc, 0, sizeof(sc));
	memset(&pc, 0, sizeof(pc));
	memset(&vd, 0, sizeof(vd));
	ca_error_clear(&e);
	/* HTTP_AUTH_PROXY: anyone else can write these headers. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || !http_verify_trusted(s, ci->client_addr)) {
		char ip[64] = "?";

		if (ci != NULL)
			http_addr_text(ci->client_addr, ip, sizeof(ip));
		snprintf(msg, sizeof(msg), "%s is not in verify.trusted_proxies: "
		    "the certificate headers it sends are not trusted", ip);
		ret = refuse_pre(hv, r, c, PRE_UNTRUSTED, msg);
		goto out;
	}
	sc.name[HDR_CERT] = hv->header;
	if (hv->source == HTTP_VERIFY_ALB_VERIFY) {
		sc.name[HDR_SERIAL] = hv->serial_header;
		sc.name[HDR_ISSUER] = hv->issuer_header;
	}
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_cb, &sc);
	for (int i = 0; i < 3; i++)
		if (sc.count[i] > 1) {
			snprintf(msg, sizeof(msg), "the header %s is present %u "
			    "times: a client may have added its own beside "
			    "the proxy's", sc.name[i], sc.count[i]);
			ret = refuse_pre(hv, r, c, PRE_DUPLICATE, msg);
			goto out;
		}
	if (sc.count[HDR_CERT] > 0) {
		if ((rc = http_verify_header_decode(sc.value[HDR_CERT],
		    sc.len[HDR_CERT], hv->enc, &pc, &e)) != CA_OK) {
			if (rc == CA_ENOMEM) {
				atomic_fetch_add(&hv->pre[PRE_ERROR], 1);
				ret = http_respond_caerr(r, c, &e);
				goto out;
			}
			vd.result = CA_VERIFY_MALFORMED;
			vd.revocation_reason = -1;
			snprintf(msg, sizeof(msg), "%.255s", e.msg);
			ca_refuse(&e, CA_EFORBIDDEN, "malformed", "%.40s: %s",
			    hv->header, msg);
			ret = verdict(s, r, c, CA_EFORBIDDEN, &vd, &e);
			goto out;
		}
		rc = ca_verify_chain(s->verifier, pc.der, pc.len, pc.n, now,
		    &vd, &e);
		/* ALB verify mode sends both: they must be of one
		   certificate. */
		if (rc == CA_OK && sc.count[HDR_SERIAL] > 0 &&
		    (serial_parse(sc.value[HDR_SERIAL], serial, &serial_len,
		    NULL) != CA_OK || serial_len != vd.serial_len ||
		    memcmp(serial, vd.serial, serial_len) != 0)) {
			vd.result = CA_VERIFY_MALFORMED;
			rc = ca_refuse(&e, CA_EFORBIDDEN, "malformed", "%s does "
			    "not name the serial of the certificate in %s",
			    hv->serial_header, hv->header);
		}
	} else if (sc.count[HDR_SERIAL] > 0) {
		/* ALB verify mode without the leaf: ALB checked the chain
		   against its trust store; the store says whether the serial
		   is still good. The issuer must be ours. */
		if (serial_parse(sc.value[HDR_SERIAL], serial, &serial_len,
		    &e) != CA_OK || sc.count[HDR_ISSUER] == 0) {
			vd.result = CA_VERIFY_MALFORMED;
			vd.revocation_reason = -1;
			snprintf(msg, sizeof(msg), "%.255s",
			    sc.count[HDR_ISSUER] == 0 ? "the issuer header is "
			    "missing" : e.msg);
			rc = ca_refuse(&e, CA_EFORBIDDEN, "malformed",
			    "%.40s: %s", sc.count[HDR_ISSUER] == 0 ?
			    hv->issuer_header : hv->serial_header, msg);
		} else if ((text = strndup(sc.value[HDR_ISSUER],
		    sc.len[HDR_ISSUER])) == NULL) {
			rc = ca_error_set(&e, CA_ENOMEM, "out of memory");
		} else {
			rc = ca_verify_serial(s->verifier, serial, serial_len,
			    text, now, &vd, &e);
		}
	} else {
		snprintf(msg, sizeof(msg), "no client certificate: the %s "
		    "header is missing", hv->header);
		ret = refuse_pre(hv, r, c, PRE_MISSING, msg);
		goto out;
	}
	ret = verdict(s, r, c, rc, &vd, &e);
out:
	observe(hv, http_now_us() - t0);
	free(text);
	pem_certs_clear(&pc);
	ca_verified_clear(&vd);
	return ret;
}

/* ---- /metrics ---- */

char *
http_verify_metrics(struct http_server *s)
{
	struct http_verify		*hv = s->verify;
	struct ca_verifier_stats	 st;
	unsigned long long		 per[N_VBUCKETS], cnt = 0, cum = 0;
	char				*text = NULL;
	size_t				 len = 0;
	FILE				*f;

	if (hv == NULL || (f = open_memstream(&text, &len)) == NULL)
		return NULL;
	ca_verifier_stats(s->verifier, &st);
	fprintf(f, "# HELP mtlsca_verify_total Client certificates verified "
	    "(GET /v1/verify), by result: good, or the refusal's reason.\n"
	    "# TYPE mtlsca_verify_total counter\n");
	for (int i = 0; i < CA_VERIFY_RESULTS; i++)
		fprintf(f, "mtlsca_verify_total{result=\"%s\"} %llu\n",
		    ca_verify_result_name((enum ca_verify_result)i),
		    (unsigned long long)atomic_load(&hv->results[i]));
	for (int i = 0; i < PRE_N; i++)
		fprintf(f, "mtlsca_verify_total{result=\"%s\"} %llu\n",
		    pre_names[i], (unsigned long long)atomic_load(&hv->pre[i]));
	fprintf(f, "# HELP mtlsca_verify_cache_hits_total Verifications "
	    "whose signature check the cache spared (the service's mTLS "
	    "included).\n# TYPE mtlsca_verify_cache_hits_total counter\n"
	    "mtlsca_verify_cache_hits_total %llu\n",
	    (unsigned long long)st.hits);
	fprintf(f, "# HELP mtlsca_verify_cache_misses_total Verifications "
	    "that checked a signature.\n# TYPE mtlsca_verify_cache_misses_total"
	    " counter\nmtlsca_verify_cache_misses_total %llu\n",
	    (unsigned long long)st.misses);
	fprintf(f, "# HELP mtlsca_verify_cache_hit_ratio Hits over lookups "
	    "since start.\n# TYPE mtlsca_verify_cache_hit_ratio gauge\n"
	    "mtlsca_verify_cache_hit_ratio %.4f\n", st.hits + st.misses > 0 ?
	    (double)st.hits / (double)(st.hits + st.misses) : 0.0);
	fprintf(f, "# HELP mtlsca_verify_cache_entries Certificates in the "
	    "cache.\n# TYPE mtlsca_verify_cache_entries gauge\n"
	    "mtlsca_verify_cache_entries %llu\n",
	    (unsigned long long)st.entries);
	fprintf(f, "# HELP mtlsca_verify_store_reads_total Store records "
	    "read: a certificate's first verification, and its first after "
	    "each revocation.\n# TYPE mtlsca_verify_store_reads_total counter\n"
	    "mtlsca_verify_store_reads_total %llu\n",
	    (unsigned long long)st.store_reads);
	for (size_t i = 0; i < N_VBUCKETS; i++)
		cnt += per[i] = atomic_load(&hv->buckets[i]);
	fprintf(f, "# HELP mtlsca_verify_duration_seconds Time to decode the "
	    "headers and verify.\n# TYPE mtlsca_verify_duration_seconds "
	    "histogram\n");
	for (size_t i = 0; i < N_VBUCKETS; i++) {
		cum += per[i];
		if (i == N_VBUCKETS - 1)
			fprintf(f, "mtlsca_verify_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", cum);
		else
			fprintf(f, "mtlsca_verify_duration_seconds_bucket"
			    "{le=\"%g\"} %llu\n", (double)vbucket_us[i] / 1e6,
			    cum);
	}
	fprintf(f, "mtlsca_verify_duration_seconds_sum %.6f\n"
	    "mtlsca_verify_duration_seconds_count %llu\n",
	    (double)atomic_load(&hv->sum_us) / 1e6, cnt);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
