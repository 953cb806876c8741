/*
 * What the publishers' state says, for people (`mtlsca status`) and for
 * Prometheus (`mtlsca status --metrics`, the service's /metrics). Read
 * from the store only, so any process can render it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		rc = awsbuf_printf(&b, "publisher %s (%s)\n"
		    "  status:           %s\n"
		    "  last success:     %s\n"
		    "  last attempt:     %s\n"
		    "  CRL published:    %" PRIu64 "\n"
		    "  successes:        %" PRIu64 "\n"
		    "  failures:         %" PRIu64 "\n"
		    "  last error:       %s\n",
		    p->conf.name, p->ops->name,
		    s.last_attempt == 0 ? "never run" :
		    s.last_error[0] ? "FAILING" : "ok", ts, ta,
		    s.published_number, s.successes, s.failures,
		    s.last_error[0] ? s.last_error : "-");
		if (rc == CA_OK && s.latency >= 0)
			rc = awsbuf_printf(&b, "  revoke-to-published: %" PRId64
			    " s\n", s.latency);
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
			case 5: if (!alb || s[i].n_ids == 0) continue;
				v = (int64_t)s[i].revocation_ids[s[i].n_ids -
				    1]; break;
			case 6: if (!alb) continue;
				v = (int64_t)s[i].alb_entries; break;
			default: if (s[i].latency < 0) continue;
				v = s[i].latency; break;
			}
			/* Names are config identifiers; quote-safe anyway. */
			rc = awsbuf_printf(&b, "%s{publisher=\"", m[k].name);
			for (const char *q = p->conf.name; rc == CA_OK && *q;
			    q++)
				rc = (*q == '"' || *q == '\\' || *q == '\n') ?
				    awsbuf_puts(&b, "_") : awsbuf_add(&b, q, 1);
			if (rc == CA_OK)
				rc = awsbuf_printf(&b, "\",type=\"%s\"} %" PRId64
				    "\n", p->ops->name, v);
		}
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
	free(s);
	return rc;
}
