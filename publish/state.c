/*
 * Publisher state in the store: "key=value" lines in meta
 * "publisher/<name>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "publish/publish_int.h"

#define STATE_PREFIX	"publisher/"

/* "1,2,3\n" */
static int
ids_format(struct awsbuf *b, const uint64_t *ids, size_t n)
{
	int	 rc = CA_OK;

	for (size_t i = 0; rc == CA_OK && i < n; i++)
		rc = awsbuf_printf(b, "%s%" PRIu64, i ? "," : "", ids[i]);
	return rc == CA_OK ? awsbuf_puts(b, "\n") : rc;
}

/* The inverse; at most max ids, the rest (and anything not a number) is
   dropped. */
static size_t
ids_parse(const char *v, uint64_t *ids, size_t max)
{
	size_t	 n = 0;

	while (*v != '\0' && n < max) {
		char	 tok[24];
		size_t	 len = strcspn(v, ",");
		uint64_t u;

		if (len < sizeof(tok)) {
			memcpy(tok, v, len);
			tok[len] = '\0';
			if (parse_u64(tok, 0, UINT64_MAX, &u) == CA_OK)
				ids[n++] = u;
		}
		v += len;
		if (*v == ',')
			v++;
	}
	return n;
}

int
publish_state_write(struct publish_set *set, const struct publisher *p,
    const struct publish_state *s, struct ca_error *err)
{
	struct awsbuf	 b = { 0 };
	char		 key[PUBLISH_NAME_MAX + 16];
	char		 errl[sizeof(s->last_error)];
	int		 rc;

	/* One line per field: no newline may hide in the error text. */
	snprintf(errl, sizeof(errl), "%s", s->last_error);
	for (char *q = errl; *q != '\0'; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	rc = awsbuf_printf(&b, "type=%s\nlast_attempt=%" PRId64
	    "\nlast_success=%" PRId64 "\npublished_number=%" PRIu64
	    "\nsuccesses=%" PRIu64 "\nfailures=%" PRIu64 "\nlast_error=%s"
	    "\nobject_key=%s\nbundle_sha256=%s\nalb_entries=%" PRIu64
	    "\nnewest_revocation=%" PRId64 "\nlatency=%" PRId64 "\nids=",
	    p->ops->name, s->last_attempt, s->last_success,
	    s->published_number, s->successes, s->failures, errl,
	    s->object_key, s->bundle_sha256, s->alb_entries,
	    s->newest_revocation, s->latency);
	if (rc == CA_OK)
		rc = ids_format(&b, s->revocation_ids, s->n_ids);
	if (rc == CA_OK && s->pending_number != 0) {
		rc = awsbuf_printf(&b, "pending=%" PRIu64 ",%" PRIu64 ",%"
		    PRId64 "\npending_known=", s->pending_number,
		    s->pending_entries, s->pending_since);
		if (rc == CA_OK)
			rc = ids_format(&b, s->pending_known,
			    s->n_pending_known);
	}
	if (rc != CA_OK) {
		rc = ca_error_set(err, rc, "out of memory");
		goto out;
	}
	snprintf(key, sizeof(key), STATE_PREFIX "%s", p->conf.name);
	rc = store_meta_put(set->st, key, b.data, b.len, err);
out:
	awsbuf_free(&b);
	return rc;
}

static void
state_field(struct publish_state *s, const char *k, const char *v)
{
	uint64_t	 u;
	int64_t		 i;

	if (strcmp(k, "type") == 0)
		snprintf(s->type, sizeof(s->type), "%s", v);
	else if (strcmp(k, "last_error") == 0)
		snprintf(s->last_error, sizeof(s->last_error), "%s", v);
	else if (strcmp(k, "object_key") == 0)
		snprintf(s->object_key, sizeof(s->object_key), "%s", v);
	else if (strcmp(k, "bundle_sha256") == 0)
		snprintf(s->bundle_sha256, sizeof(s->bundle_sha256), "%s", v);
	else if (strcmp(k, "ids") == 0)
		s->n_ids = ids_parse(v, s->revocation_ids, PUBLISH_IDS_MAX);
	else if (strcmp(k, "pending_known") == 0)
		s->n_pending_known = ids_parse(v, s->pending_known,
		    PUBLISH_KNOWN_MAX);
	else if (strcmp(k, "pending") == 0) {
		uint64_t f[3];
		/* number,entries,since: all three, or nothing in doubt */
		if (ids_parse(v, f, 3) == 3 && f[2] <= INT64_MAX) {
			s->pending_number = f[0];
			s->pending_entries = f[1];
			s->pending_since = (int64_t)f[2];
		}
	} else {
		bool neg = v[0] == '-';
		if (parse_u64(neg ? v + 1 : v, 0, INT64_MAX, &u) != CA_OK)
			return;
		i = neg ? -(int64_t)u : (int64_t)u;
		if (strcmp(k, "last_attempt") == 0)
			s->last_attempt = i;
		else if (strcmp(k, "last_success") == 0)
			s->last_success = i;
		else if (strcmp(k, "published_number") == 0)
			s->published_number = u;
		else if (strcmp(k, "successes") == 0)
			s->successes = u;
		else if (strcmp(k, "failures") == 0)
			s->failures = u;
		else if (strcmp(k, "alb_entries") == 0)
			s->alb_entries = u;
		else if (strcmp(k, "newest_revocation") == 0)
			s->newest_revocation = i;
		else if (strcmp(k, "latency") == 0)
			s->latency = i;
	}
}

int
publish_state_read(struct publish_set *set, const struct publisher *p,
    struct publish_state *out, struct ca_error *err)
{
	struct publish_state s;
	char		 key[PUBLISH_NAME_MAX + 16];
	uint8_t		*buf = NULL;
	size_t		 len;
	char		*line, *save = NULL;
	int		 rc;

	memset(&s, 0, sizeof(s));
	s.latency = -1;
	snprintf(s.name, sizeof(s.name), "%s", p->conf.name);
	snprintf(s.type, sizeof(s.type), "%s", p->ops->name);
	snprintf(key, sizeof(key), STATE_PREFIX "%s", p->conf.name);
	rc = store_meta_get(set->st, key, &buf, &len, err);
	if (rc == CA_ENOENT) {
		ca_error_clear(err);
		*out = s;
		return CA_OK;
	}
	if (rc != CA_OK)
		return rc;
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		state_field(&s, line, eq + 1);
	}
	free(buf);
	*out = s;
	return CA_OK;
}

struct publisher *
publish_find(struct publish_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->pub[i].conf.name, name) == 0)
			return &set->pub[i];
	return NULL;
}

int
publish_state_get(struct publish_set *set, const char *name,
    struct publish_state *out, struct ca_error *err)
{
	struct publisher *p = publish_find(set, name);

	if (p == NULL)
		return ca_error_set(err, CA_ENOENT, "no publisher '%s'", name);
	return publish_state_read(set, p, out, err);
}
