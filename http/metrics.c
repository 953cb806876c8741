/*
 * GET /metrics: the Prometheus text exposition format (version 0.0.4).
 * Counters are atomics bumped on the request path; the CRL and CA figures
 * are read when scraped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "ca/ca.h"
#include "common/util.h"
#include "crl/crl.h"
#include "http/http_int.h"
#include "publish/publish.h"

static const unsigned status_slots[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 503, 507,
};
#define N_STATUS	(sizeof(status_slots) / sizeof(status_slots[0]))
_Static_assert(N_STATUS < HTTP_STATUS_SLOTS, "status slots");

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[HTTP_BUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};

/* The route="..." label of a metrics slot: a row's (unique: one series
   per row), or "other". */
static const char *
slot_label(size_t slot)
{
	return slot < http_n_routes ? http_routes[slot].metric : "other";
}

int
http_metrics_init(struct http_server *s)
{
	char	names[HTTP_PROFILES_MAX][STORE_PROFILE_MAX];
	size_t	n = ca_enroller_profile_names(s->enroller, names,
	    HTTP_PROFILES_MAX);

	/* Every profile shows from the start, at 0. */
	for (size_t i = 0; i < n; i++)
		http_metrics_issued_add(s, names[i], 0);
	return CA_OK;
}

void
http_metrics_free(struct http_server *s)
{
	pthread_mutex_destroy(&s->metrics.issued_mu);
}

void
http_metrics_request(struct http_server *s, unsigned metric,
    unsigned status, int64_t duration_us)
{
	struct http_metrics	*m = &s->metrics;
	size_t			 route = metric, slot = N_STATUS;

	if (route > http_n_routes)
		route = http_n_routes;
	for (size_t i = 0; i < N_STATUS; i++)
		if (status_slots[i] == status)
			slot = i;
	size_t			 b;

	atomic_fetch_add(&m->requests[route][slot], 1);
	/*
	 * One bucket per observation, made cumulative when rendered: with
	 * cumulative counters bumped one by one, a scrape between two bumps
	 * could read le="0.5" above le="1" (not monotonic) or +Inf apart from
	 * _count, which Prometheus rejects.
	 */
	for (b = 0; b < HTTP_BUCKETS - 1; b++)
		if (duration_us <= bucket_us[b])
			break;
	atomic_fetch_add(&m->buckets[route][b], 1);
	atomic_fetch_add(&m->duration_us[route], (unsigned long long)
	    (duration_us > 0 ? duration_us : 0));
}

void
http_metrics_issued_add(struct http_server *s, const char *profile,
    unsigned long long k)
{
	struct http_metrics	*m = &s->metrics;
	size_t			 n = atomic_load(&m->n_issued), i;

	for (i = 0; i < n; i++)
		if (strcmp(m->issued[i].name, profile) == 0) {
			atomic_fetch_add(&m->issued[i].n, k);
			return;
		}
	/* A name not seen yet (a profile added by a reload): appended, the
	   count made visible only once the name is written. */
	pthread_mutex_lock(&m->issued_mu);
	n = atomic_load(&m->n_issued);
	for (i = 0; i < n; i++)
		if (strcmp(m->issued[i].name, profile) == 0)
			break;
	if (i == n && n < HTTP_PROFILES_MAX) {
		snprintf(m->issued[n].name, sizeof(m->issued[n].name), "%s",
		    profile);
		atomic_init(&m->issued[n].n, 0);
		atomic_store(&m->n_issued, n + 1);
	}
	if (i < HTTP_PROFILES_MAX)
		atomic_fetch_add(&m->issued[i].n, k);
	pthread_mutex_unlock(&m->issued_mu);
}

void
http_metrics_issued(struct http_server *s, const char *profile)
{
	http_metrics_issued_add(s, profile, 1);
}

struct buf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

static void
bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t	 cap = b->cap * 2 + (size_t)n;
			char	*np = realloc(b->p, cap);

			if (np == NULL) {
				b->oom = true;
				return;
			}
			b->p = np;
			b->cap = cap;
		}
	}
}

static void
help(struct buf *b, const char *name, const char *type, const char *text)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

enum MHD_Result
http_metrics_render(struct http_server *s, struct http_req *r,
    struct MHD_Connection *c)
{
	struct http_metrics		*m = &s->metrics;
	struct crl_schedule_status	 st;
	struct ca_enroller_stats	 es;
	struct store_map_stats		 ms;
	struct buf			 b = { NULL, 0, 8192, false };
	uint64_t			 revgen = 0;
	int64_t				 now = time_now();
	size_t				 n_prof = atomic_load(&m->n_issued);

	if ((b.p = malloc(b.cap)) == NULL)
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	memset(&st, 0, sizeof(st));
	crl_schedule_status(s->sched, &st);
	(void)store_counter_get(s->st, STORE_COUNTER_REVGEN, &revgen, NULL);
	ca_enroller_stats(s->enroller, &es);

	help(&b, "mtlsca_certificates_issued_total", "counter",
	    "Certificates issued over HTTP (enrollments and renewals), by "
	    "profile.");
	for (size_t i = 0; i < n_prof; i++)
		bprintf(&b, "mtlsca_certificates_issued_total{profile=\"%s\"} "
		    "%llu\n", m->issued[i].name,
		    (unsigned long long)atomic_load(&m->issued[i].n));
	help(&b, "mtlsca_certificates_renewed_total", "counter",
	    "Certificates issued by renewal over mTLS.");
	bprintf(&b, "mtlsca_certificates_renewed_total %llu\n",
	    (unsigned long long)atomic_load(&m->renewed));
	help(&b, "mtlsca_revocations_total", "counter",
	    "Revocations made through this server's API.");
	bprintf(&b, "mtlsca_revocations_total %llu\n",
	    (unsigned long long)atomic_load(&m->revocations));
	help(&b, "mtlsca_revocation_generation", "gauge",
	    "The store's revocation counter (every revocation, CLI included).");
	bprintf(&b, "mtlsca_revocation_generation %llu\n",
	    (unsigned long long)revgen);
	help(&b, "mtlsca_http_request_timeouts_total", "counter",
	    "Connections closed for not sending a whole request within "
	    "http.request_timeout.");
	bprintf(&b, "mtlsca_http_request_timeouts_total %llu\n",
	    (unsigned long long)atomic_load(&m->request_timeouts));
	help(&b, "mtlsca_http_tls_refused_total", "counter",
	    "TLS handshakes refused for a client certificate whose key the "
	    "load balancer would refuse, before any signature was checked.");
	bprintf(&b, "mtlsca_http_tls_refused_total %llu\n",
	    (unsigned long long)atomic_load(&m->tls_refused));
	help(&b, "mtlsca_audit_http_entries_total", "counter",
	    "Audit entries written for refusals and admin reads.");
	bprintf(&b, "mtlsca_audit_http_entries_total %llu\n",
	    (unsigned long long)atomic_load(&m->audited));
	help(&b, "mtlsca_audit_http_dropped_total", "counter",
	    "Refusals and admin reads counted but not itemized in the audit "
	    "(too many at once), or not written (the store failed).");
	bprintf(&b, "mtlsca_audit_http_dropped_total %llu\n",
	    (unsigned long long)atomic_load(&m->audit_dropped));
	help(&b, "mtlsca_http_connections_refused_total", "counter",
	    "Connections refused at accept: their address already held "
	    "http.per_ip_pending connections without a request.");
	bprintf(&b, "mtlsca_http_connections_refused_total %llu\n",
	    (unsigned long long)atomic_load(&m->refused_pending));
	help(&b, "mtlsca_http_connections_evicted_total", "counter",
	    "Connections closed at http.max_connections to admit a new one: "
	    "the one that had waited longest for a request.");
	bprintf(&b, "mtlsca_http_connections_evicted_total %llu\n",
	    (unsigned long long)atomic_load(&m->evicted));
	help(&b, "mtlsca_store_commits_total", "counter",
	    "Write transactions that recorded issued certificates.");
	bprintf(&b, "mtlsca_store_commits_total %llu\n",
	    (unsigned long long)es.commits);
	help(&b, "mtlsca_store_committed_certificates_total", "counter",
	    "Certificates recorded by those transactions.");
	bprintf(&b, "mtlsca_store_committed_certificates_total %llu\n",
	    (unsigned long long)es.committed);
	store_map_stats(s->st, &ms);
	help(&b, "mtlsca_store_used_bytes", "gauge",
	    "Bytes of the store's data file in use.");
	bprintf(&b, "mtlsca_store_used_bytes %llu\n",
	    (unsigned long long)ms.used);
	help(&b, "mtlsca_store_map_bytes", "gauge",
	    "The store's map as it is now (it grows by itself).");
	bprintf(&b, "mtlsca_store_map_bytes %llu\n",
	    (unsigned long long)ms.mapped);
	help(&b, "mtlsca_store_limit_bytes", "gauge",
	    "What the map may grow to: store.map_size, or the data plus the "
	    "disk's free space.");
	bprintf(&b, "mtlsca_store_limit_bytes %llu\n",
	    (unsigned long long)ms.limit);
	help(&b, "mtlsca_store_map_warning", "gauge",
	    "1 when the store uses 80 % or more of its limit.");
	bprintf(&b, "mtlsca_store_map_warning %d\n", ms.limit > 0 &&
	    ms.used >= ms.limit / 5 * 4 ? 1 : 0);

	help(&b, "mtlsca_crl_number", "gauge", "cRLNumber of the current CRL.");
	bprintf(&b, "mtlsca_crl_number %llu\n", (unsigned long long)st.number);
	help(&b, "mtlsca_crl_entries", "gauge", "Entries in the current CRL.");
	bprintf(&b, "mtlsca_crl_entries %llu\n",
	    (unsigned long long)st.entries);
	help(&b, "mtlsca_crl_bytes", "gauge", "Size of the current CRL (DER).");
	bprintf(&b, "mtlsca_crl_bytes %zu\n", st.der_len);
	help(&b, "mtlsca_crl_next_update_seconds", "gauge",
	    "Seconds until the current CRL's nextUpdate (negative: expired).");
	bprintf(&b, "mtlsca_crl_next_update_seconds %lld\n", st.have_crl ?
	    (long long)(st.next_update - now) : 0LL);
	help(&b, "mtlsca_crl_last_success_timestamp_seconds", "gauge",
	    "When the last CRL was generated successfully (Unix time).");
	bprintf(&b, "mtlsca_crl_last_success_timestamp_seconds %lld\n",
	    (long long)st.last_success);
	help(&b, "mtlsca_crl_failures_total", "counter",
	    "Failed CRL builds since start.");
	bprintf(&b, "mtlsca_crl_failures_total %llu\n",
	    (unsigned long long)st.failures);
	help(&b, "mtlsca_crl_publish_failures_total", "counter",
	    "Failed CRL publications since start.");
	bprintf(&b, "mtlsca_crl_publish_failures_total %llu\n",
	    (unsigned long long)st.publish_failures);
	help(&b, "mtlsca_ca_expiry_seconds", "gauge",
	    "Seconds until the CA certificate's notAfter.");
	bprintf(&b, "mtlsca_ca_expiry_seconds %lld\n",
	    (long long)(ca_not_after(s->ca) - now));
	{
		struct ca_expiry ex;

		ca_expiry_check(s->ca, atomic_load(&s->longest_days), now, &ex);
		help(&b, "mtlsca_ca_expiry_warning", "gauge",
		    "1 when the CA expires within 90 days or sooner than the "
		    "longest profile validity (new certificates are cut to "
		    "it); level: ok, shortens, 90d, 30d, 7d, expired.");
		bprintf(&b, "mtlsca_ca_expiry_warning{level=\"%s\"} %d\n",
		    ca_expiry_level_name(ex.level), ex.level != CA_EXPIRY_OK);
	}
	if (s->tls_cert != NULL) {
		help(&b, "mtlsca_https_cert_expiry_seconds", "gauge",
		    "Seconds until the HTTPS certificate's notAfter (one "
		    "mtlsca issued itself is renewed at start when under "
		    "30 days).");
		bprintf(&b, "mtlsca_https_cert_expiry_seconds %lld\n",
		    (long long)(s->tls_not_after - now));
	}

	help(&b, "mtlsca_http_requests_total", "counter",
	    "HTTP requests by route and status.");
	for (size_t rt = 0; rt <= http_n_routes; rt++)
		for (size_t i = 0; i <= N_STATUS; i++) {
			unsigned long long n = atomic_load(&m->requests[rt][i]);
			char code[8];

			if (n == 0)
				continue;
			if (i < N_STATUS)
				snprintf(code, sizeof(code), "%u",
				    status_slots[i]);
			else
				snprintf(code, sizeof(code), "other");
			bprintf(&b, "mtlsca_http_requests_total{route=\"%s\","
			    "status=\"%s\"} %llu\n", slot_label(rt), code, n);
		}
	help(&b, "mtlsca_http_request_duration_seconds", "histogram",
	    "Time from the request's headers to its completion.");
	for (size_t rt = 0; rt <= http_n_routes; rt++) {
		unsigned long long per[HTTP_BUCKETS], cnt = 0, cum = 0;

		/* One snapshot: cumulative, and +Inf is _count. */
		for (size_t i = 0; i < HTTP_BUCKETS; i++)
			cnt += per[i] = atomic_load(&m->buckets[rt][i]);
		if (cnt == 0)
			continue;
		for (size_t i = 0; i < HTTP_BUCKETS; i++) {
			char le[16];

			cum += per[i];
			if (i == HTTP_BUCKETS - 1)
				snprintf(le, sizeof(le), "+Inf");
			else
				snprintf(le, sizeof(le), "%g",
				    (double)bucket_us[i] / 1e6);
			bprintf(&b, "mtlsca_http_request_duration_seconds_bucket"
			    "{route=\"%s\",le=\"%s\"} %llu\n", slot_label(rt),
			    le, cum);
		}
		bprintf(&b, "mtlsca_http_request_duration_seconds_sum"
		    "{route=\"%s\"} %.6f\n", slot_label(rt),
		    (double)atomic_load(&m->duration_us[rt]) / 1e6);
		bprintf(&b, "mtlsca_http_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n", slot_label(rt), cnt);
	}
	/* The publishers' series, from the store (publish/report.c). */
	pthread_rwlock_rdlock(&s->pub_lock);
	if (s->publishers != NULL) {
		char	*text = NULL;
		size_t	 len;

		if (publish_metrics(s->publishers, &text, &len, NULL) == CA_OK)
			bprintf(&b, "%s", text);
		free(text);
	}
	pthread_rwlock_unlock(&s->pub_lock);
	{
		char *vm = http_verify_metrics(s);

		if (vm != NULL)
			bprintf(&b, "%s", vm);
		free(vm);
	}
	if (b.oom) {
		free(b.p);
		return http_respond_error(r, c, 500, "no_memory",
		    "out of memory");
	}
	return http_respond(r, c, 200, "text/plain; version=0.0.4", b.p, b.len,
	    true);
}
