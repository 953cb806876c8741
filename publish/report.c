/*
 * What the publishers' state says, for people (`mtlsca status`) and for
 * Prometheus (`mtlsca status --metrics`, the service's /metrics). Read
 * from the store only, so any process can render it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "publish/publish_int.h"

static void
fmt_time(int64_t t, char out[21])
{
	if (t == 0)
		snprintf(out, 21, "never");
	else
		time_format(t, out);
}

int
publish_status_text(struct publish_set *set, char **out, size_t *len,
    struct ca_error *err)
{
	struct awsbuf	 b = { 0 };
	int		 rc = CA_OK;

	if (set->n == 0)
		rc = awsbuf_puts(&b, "publishers: none configured\n");
	for (size_t i = 0; i < set->n && rc == CA_OK; i++) {
		const struct publisher	*p = &set->pub[i];
		struct publish_state	 s;
		char			 ts[21], ta[21];

		if ((rc = publish_state_read(set, p, &s, err)) != CA_OK)
			goto out;
		fmt_time(s.last_success, ts);
		fmt_time(s.last_attempt, ta);
		rc = awsbuf_printf(&b, "publisher %s (%s%s%s)\n"
		    "  status:           %s\n"
		    "  last success:     %s\n"
		    "  last attempt:     %s\n"
		    "  CRL published:    %" PRIu64 "\n"
		    "  successes:        %" PRIu64 "\n"
		    "  failures:         %" PRIu64 "\n"
		    "  last error:       %s\n",
		    p->conf.name, p->ops->name, set->ns[0] ? ", retiring CA " :
		    "", set->ns, s.last_attempt == 0 ? "never run" :
		    s.last_error[0] ? "FAILING" : "ok", ts, ta,
		    s.published_number, s.successes, s.failures,
		    s.last_error[0] ? s.last_error : "-");
		if (rc == CA_OK && s.failing_since != 0) {
			char tf[21];

			time_format(s.failing_since, tf);
			rc = awsbuf_printf(&b, "  failing since:    %s\n", tf);
		}
		if (rc == CA_OK && s.latency >= 0)
			rc = awsbuf_printf(&b, "  revoke-to-published: %" PRId64
			    " s\n", s.latency);
		if (rc == CA_OK && s.enforced_count > 0)
			rc = awsbuf_printf(&b, "  revocations enforced: %" PRIu64
			    " (mean %.1f s from revocation)\n",
			    s.enforced_count, s.enforced_sum /
			    (double)s.enforced_count);
		if (rc == CA_OK && p->ops->status != NULL)
			rc = p->ops->status(p, &s, &b);
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	*len = b.len;
	if ((*out = awsbuf_take(&b)) == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&b);
	return rc;
}

/* An RFC 3339 time, or JSON null for "never" (0). */
static json_t *
json_time(int64_t t)
{
	char ts[21];

	if (t == 0)
		return json_null();
	time_format(t, ts);
	return json_string(ts);
}

int
publish_status_json(struct publish_set *set, char **out,
    struct ca_error *err)
{
	json_t	*a = json_array(), *o;
	int	 rc = CA_OK;

	if (a == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (size_t i = 0; i < set->n; i++) {
		const struct publisher	*p = &set->pub[i];
		struct publish_state	 s;

		if ((rc = publish_state_read(set, p, &s, err)) != CA_OK)
			goto out;
		o = json_object();
		if (o == NULL || json_array_append_new(a, o) != 0) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			goto out;
		}
		json_object_set_new(o, "name", json_string(p->conf.name));
		json_object_set_new(o, "type", json_string(p->ops->name));
		json_object_set_new(o, "status", json_string(
		    s.last_attempt == 0 ? "never run" :
		    s.last_error[0] ? "failing" : "ok"));
		json_object_set_new(o, "last_success",
		    json_time(s.last_success));
		json_object_set_new(o, "last_attempt",
		    json_time(s.last_attempt));
		json_object_set_new(o, "failing_since",
		    json_time(s.failing_since));
		json_object_set_new(o, "crl_number",
		    json_integer((json_int_t)s.published_number));
		json_object_set_new(o, "successes",
		    json_integer((json_int_t)s.successes));
		json_object_set_new(o, "failures",
		    json_integer((json_int_t)s.failures));
		json_object_set_new(o, "last_error", s.last_error[0] ?
		    json_string(s.last_error) : json_null());
		json_object_set_new(o, "revoke_to_published_seconds",
		    s.latency >= 0 ? json_integer((json_int_t)s.latency) :
		    json_null());
		json_object_set_new(o, "revocation_id", s.n_ids > 0 ?
		    json_integer((json_int_t)s.revocation_ids[s.n_ids - 1]) :
		    json_null());
	}
	if ((*out = json_dumps(a, JSON_COMPACT)) == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	json_decref(a);
	return rc;
}

/* {publisher="NAME",type="TYPE"[,le="LE"]} */
static int
labels(struct awsbuf *b, const struct publisher *p, const char *le)
{
	int	 rc = awsbuf_puts(b, "{publisher=\"");

	/* Names are config identifiers; quote-safe anyway. */
	for (const char *q = p->conf.name; rc == CA_OK && *q; q++)
		rc = (*q == '"' || *q == '\\' || *q == '\n') ?
		    awsbuf_puts(b, "_") : awsbuf_add(b, q, 1);
	if (rc == CA_OK)
		rc = awsbuf_printf(b, "\",type=\"%s\"", p->ops->name);
	/* A retiring CA's publishers (after a rotation): the same names. */
	if (rc == CA_OK && p->set->ns[0] != '\0')
		rc = awsbuf_printf(b, ",ca_ns=\"%s\"", p->set->ns);
	if (rc == CA_OK && le != NULL)
		rc = awsbuf_printf(b, ",le=\"%s\"", le);
	return rc == CA_OK ? awsbuf_puts(b, "}") : rc;
}

/* The revoke-to-enforced histogram, cumulative as Prometheus wants it. */
static int
histogram(struct awsbuf *b, struct publish_set *set,
    const struct publish_state *s)
{
	static const int64_t	 bounds[] = PUBLISH_LATENCY_BOUNDS;
	static const char	 name[] =
	    "mtlsca_publisher_revoke_to_enforced_seconds";
	int			 rc;

	rc = awsbuf_printf(b, "# HELP %s From a revocation to the end of the "
	    "publish that brought it to the destination\n# TYPE %s "
	    "histogram\n", name, name);
	for (size_t i = 0; i < set->n && rc == CA_OK; i++) {
		const struct publisher	*p = &set->pub[i];
		uint64_t		 cum = 0;

		for (size_t k = 0; k < PUBLISH_LATENCY_BUCKETS && rc == CA_OK;
		    k++) {
			char le[24];

			cum += s[i].enforced[k];
			if (k < sizeof(bounds) / sizeof(bounds[0]))
				snprintf(le, sizeof(le), "%lld",
				    (long long)bounds[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			if ((rc = awsbuf_printf(b, "%s_bucket", name)) ==
			    CA_OK && (rc = labels(b, p, le)) == CA_OK)
				rc = awsbuf_printf(b, " %" PRIu64 "\n", cum);
		}
		if (rc == CA_OK && (rc = awsbuf_printf(b, "%s_sum", name)) ==
		    CA_OK && (rc = labels(b, p, NULL)) == CA_OK)
			rc = awsbuf_printf(b, " %.0f\n", s[i].enforced_sum);
		if (rc == CA_OK && (rc = awsbuf_printf(b, "%s_count", name)) ==
		    CA_OK && (rc = labels(b, p, NULL)) == CA_OK)
			rc = awsbuf_printf(b, " %" PRIu64 "\n",
			    s[i].enforced_count);
	}
	return rc;
}

int
publish_metrics(struct publish_set *set, char **out, size_t *len,
    struct ca_error *err)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "mtlsca_publisher_up", "gauge",
		  "1 if the publisher's last attempt succeeded" },
		{ "mtlsca_publisher_last_success_timestamp_seconds", "gauge",
		  "Time of the last successful publish" },
		{ "mtlsca_publisher_last_attempt_timestamp_seconds", "gauge",
		  "Time of the last publish attempt" },
		{ "mtlsca_publisher_crl_number", "gauge",
		  "CRL number last published" },
		{ "mtlsca_publisher_failures_total", "counter",
		  "Failed publish attempts" },
		{ "mtlsca_publisher_failing_since_timestamp_seconds", "gauge",
		  "When the current run of failures began (0: not failing)" },
		{ "mtlsca_publisher_alb_revocation_id", "gauge",
		  "Current ALB RevocationId of this CA's CRL" },
		{ "mtlsca_publisher_alb_revoked_entries", "gauge",
		  "NumberOfRevokedEntries ALB reported" },
		{ "mtlsca_publisher_latency_seconds", "gauge",
		  "Newest revocation to its CRL being published" },
	};
	struct publish_state	*s = NULL;
	struct awsbuf		 b = { 0 };
	size_t			 n = set->n;
	int			 rc = CA_OK;

	if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if ((rc = publish_state_read(set, &set->pub[i], &s[i], err)) !=
		    CA_OK)
			goto out;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]) && rc == CA_OK; k++) {
		rc = awsbuf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n",
		    m[k].name, m[k].help, m[k].name, m[k].type);
		for (size_t i = 0; i < n && rc == CA_OK; i++) {
			const struct publisher *p = &set->pub[i];
			bool alb = p->conf.type == PUBLISH_ALB;
			int64_t v;


			switch (k) {
			case 0: v = s[i].last_attempt != 0 &&
				    s[i].last_error[0] == '\0'; break;
			case 1: v = s[i].last_success; break;
			case 2: v = s[i].last_attempt; break;
			case 3: v = (int64_t)s[i].published_number; break;
			case 4: v = (int64_t)s[i].failures; break;
			case 5: v = s[i].failing_since; break;
			case 6: if (!alb || s[i].n_ids == 0) continue;
				v = (int64_t)s[i].revocation_ids[s[i].n_ids -
				    1]; break;
			case 7: if (!alb) continue;
				v = (int64_t)s[i].alb_entries; break;
			default: if (s[i].latency < 0) continue;
				v = s[i].latency; break;
			}
			if ((rc = awsbuf_puts(&b, m[k].name)) == CA_OK &&
			    (rc = labels(&b, p, NULL)) == CA_OK)
				rc = awsbuf_printf(&b, " %" PRId64 "\n", v);
		}
	}
	if (rc == CA_OK)
		rc = histogram(&b, set, s);
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	*len = b.len;
	if ((*out = awsbuf_take(&b)) == NULL)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	awsbuf_free(&b);
	free(s);
	return rc;
}

int
publish_health(struct publish_set *set, struct publish_health *out,
    struct ca_error *err)
{
	struct publish_health	 h;
	struct crl_snapshot	*snap = NULL;
	int64_t			 now = time_now(), lag = set->opt.max_lag;
	int			 rc = CA_OK;

	memset(&h, 0, sizeof(h));
	h.ok = true;
	if (set->sched != NULL)
		snap = crl_schedule_current(set->sched);
	for (size_t i = 0; i < set->n && h.ok; i++) {
		const struct publisher	*p = &set->pub[i];
		struct publish_state	 s;
		char			 since[21];

		if ((rc = publish_state_read(set, p, &s, err)) != CA_OK)
			goto out;
		if (s.failing_since != 0 && now - s.failing_since > lag) {
			time_format(s.failing_since, since);
			h.ok = false;
			snprintf(h.reason, sizeof(h.reason),
			    "publisher_failing");
			snprintf(h.message, sizeof(h.message), "publisher %s "
			    "has failed for %lld s (since %s, publish.max_lag "
			    "is %lld s): %.300s", p->conf.name,
			    (long long)(now - s.failing_since), since,
			    (long long)lag, s.last_error);
		} else if (snap != NULL && s.published_number < snap->number &&
		    now - snap->this_update > lag) {
			time_format(snap->this_update, since);
			h.ok = false;
			snprintf(h.reason, sizeof(h.reason),
			    "crl_not_enforced");
			snprintf(h.message, sizeof(h.message), "CRL %" PRIu64
			    " (made %s) has waited %lld s for publisher %s "
			    "(publish.max_lag is %lld s), which holds CRL %"
			    PRIu64 "%s%.300s", snap->number, since,
			    (long long)(now - snap->this_update),
			    p->conf.name, (long long)lag, s.published_number,
			    s.last_error[0] ? ": " : "", s.last_error);
		}
		if (!h.ok)
			snprintf(h.publisher, sizeof(h.publisher), "%s",
			    p->conf.name);
	}
	*out = h;
out:
	crl_snapshot_release(snap);
	return rc;
}
