/*
 * The route table: every path the service answers, with its methods, who
 * may call it, its handler and its label in /metrics. Adding a route is one
 * row here and a handler. server.c dispatches on it, metrics.c labels by
 * it, parse.c matches against it (and tests/fuzz/fuzz_http_request.c
 * fuzzes that matching).
 *
 * The order is the order of the series in /metrics; labels must stay as
 * they are (dashboards and alerts name them).
 */
#include "http/http_int.h"

const struct http_route http_routes[] = {
	/* public files, on both listeners */
	{ "/crl", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API, http_serve_crl,
	    "/crl", NULL },
	{ "/crl.pem", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API,
	    http_serve_crl_pem, "/crl.pem", NULL },
	{ "/crls.pem", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API,
	    http_serve_crls_pem, "/crls.pem", NULL },
	{ "/ca.pem", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API, http_serve_ca,
	    "/ca.pem", NULL },
	{ "/healthz", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API,
	    http_serve_healthz, "/healthz", NULL },
	{ "/metrics", HTTP_GET, HTTP_AUTH_PUBLIC, HTTP_PROTO_API,
	    http_metrics_render, "/metrics", NULL },
	/* the API, over HTTPS only */
	{ "/v1/certificates", HTTP_POST, HTTP_AUTH_ENROLL, HTTP_PROTO_API,
	    http_enroll, "/v1/certificates", NULL },
	{ "/v1/certificates/renew", HTTP_POST, HTTP_AUTH_RENEW, HTTP_PROTO_API,
	    http_enroll, "/v1/certificates/renew", NULL },
	{ "/v1/certificates", HTTP_GET, HTTP_AUTH_ADMIN, HTTP_PROTO_API,
	    http_cert_list, "/v1/certificates (list)", NULL },
	{ "/v1/certificates/{serial}", HTTP_GET, HTTP_AUTH_ADMIN,
	    HTTP_PROTO_API, http_cert_get, "/v1/certificates/{serial}", NULL },
	{ "/v1/certificates/{serial}/revoke", HTTP_POST, HTTP_AUTH_ADMIN,
	    HTTP_PROTO_API, http_cert_revoke,
	    "/v1/certificates/{serial}/revoke", NULL },
	{ "/v1/crl", HTTP_POST, HTTP_AUTH_ADMIN, HTTP_PROTO_API, http_crl_run,
	    "/v1/crl", "see /v1/crl/status" },
	{ "/v1/crl/status", HTTP_GET, HTTP_AUTH_ADMIN, HTTP_PROTO_API,
	    http_crl_status, "/v1/crl/status", NULL },
	/*
	 * EST (RFC 7030 section 3.2.2), over HTTPS only: each operation
	 * under /.well-known/est/ for the default profile, and under the
	 * optional CA label, /.well-known/est/{name}/, for the profile of
	 * that name (est.c).
	 */
	{ "/.well-known/est/cacerts", HTTP_GET, HTTP_AUTH_PUBLIC,
	    HTTP_PROTO_EST, http_est_cacerts, "/.well-known/est/cacerts",
	    NULL },
	{ "/.well-known/est/{name}/cacerts", HTTP_GET, HTTP_AUTH_PUBLIC,
	    HTTP_PROTO_EST, http_est_cacerts,
	    "/.well-known/est/{name}/cacerts", NULL },
	{ "/.well-known/est/simpleenroll", HTTP_POST, HTTP_AUTH_ENROLL_BASIC,
	    HTTP_PROTO_EST, http_est_enroll, "/.well-known/est/simpleenroll",
	    NULL },
	{ "/.well-known/est/{name}/simpleenroll", HTTP_POST,
	    HTTP_AUTH_ENROLL_BASIC, HTTP_PROTO_EST, http_est_enroll,
	    "/.well-known/est/{name}/simpleenroll", NULL },
	{ "/.well-known/est/simplereenroll", HTTP_POST, HTTP_AUTH_RENEW,
	    HTTP_PROTO_EST, http_est_enroll,
	    "/.well-known/est/simplereenroll", NULL },
	{ "/.well-known/est/{name}/simplereenroll", HTTP_POST,
	    HTTP_AUTH_RENEW, HTTP_PROTO_EST, http_est_enroll,
	    "/.well-known/est/{name}/simplereenroll", NULL },
	{ "/.well-known/est/csrattrs", HTTP_GET, HTTP_AUTH_PUBLIC,
	    HTTP_PROTO_EST, http_est_csrattrs, "/.well-known/est/csrattrs",
	    NULL },
	{ "/.well-known/est/{name}/csrattrs", HTTP_GET, HTTP_AUTH_PUBLIC,
	    HTTP_PROTO_EST, http_est_csrattrs,
	    "/.well-known/est/{name}/csrattrs", NULL },
	/* the verifier, on the verify listener only (verify.c) */
	{ "/v1/verify", HTTP_GET, HTTP_AUTH_PROXY, HTTP_PROTO_API, http_verify,
	    "/v1/verify", NULL },
};

const size_t http_n_routes = sizeof(http_routes) / sizeof(http_routes[0]);

_Static_assert(sizeof(http_routes) / sizeof(http_routes[0]) <=
    HTTP_ROUTES_MAX, "HTTP_ROUTES_MAX: the metrics count every row");
