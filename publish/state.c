/*
 * Publisher state in the store, one JSON object per destination.
 *
 * Keyed by destination, not by publisher name: a dir publisher pointed at
 * another path, or an s3 publisher at another bucket or prefix, under the
 * same name is a new destination that has had nothing yet, and gets the
 * current CRL at once. The meta name is "publish/" and the SHA-256 of the
 * destination's text ("s3:https://s3.eu-west-1.amazonaws.com/bucket/p/"),
 * which is also kept in the object for people to read.
 *
 * Stores written before (meta "publisher/<name>", "key=value" lines) are
 * carried over once (migrate): the state moves to the destination's key in
 * one transaction when it can only be this destination's, so that an
 * upgrade neither publishes again nor forgets the RevocationIds it
 * recorded in a trust store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "publish/publish_int.h"

#define STATE_PREFIX	"publish/"
#define LEGACY_PREFIX	"publisher/"
#define STATE_VERSION	1

static void
state_init(const struct publisher *p, struct publish_state *s)
{
	memset(s, 0, sizeof(*s));
	s->latency = -1;
	snprintf(s->name, sizeof(s->name), "%s", p->conf.name);
	snprintf(s->type, sizeof(s->type), "%s", p->ops->name);
}

int
publish_state_key(const char *destination, char out[PUBLISH_KEY_MAX])
{
	char	 hex[65];
	int	 rc;

	if ((rc = sigv4_sha256_hex(destination, strlen(destination), hex)) !=
	    CA_OK)
		return rc;
	snprintf(out, PUBLISH_KEY_MAX, STATE_PREFIX "%s", hex);
	return CA_OK;
}

/* ---- JSON ---- */

static json_t *
ids_json(const uint64_t *ids, size_t n)
{
	json_t	*a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_integer((json_int_t)ids[i])) !=
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static size_t
ids_from_json(json_t *a, uint64_t *ids, size_t max)
{
	size_t	 n = 0, i;
	json_t	*v;

	json_array_foreach(a, i, v) {
		if (n == max)
			break;
		if (json_is_integer(v))
			ids[n++] = (uint64_t)json_integer_value(v);
	}
	return n;
}

static int
state_encode(const struct publisher *p, const struct publish_state *s,
    char **out)
{
	json_t	*o = NULL, *pend = NULL;
	int	 rc = CA_ENOMEM;

	o = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, "
	    "s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
	    "v", STATE_VERSION,
	    "type", p->ops->name,
	    "name", p->conf.name,
	    "destination", p->dest,
	    "last_attempt", (json_int_t)s->last_attempt,
	    "last_success", (json_int_t)s->last_success,
	    "published_number", (json_int_t)s->published_number,
	    "successes", (json_int_t)s->successes,
	    "failures", (json_int_t)s->failures,
	    "last_error", s->last_error,
	    "object_key", s->object_key,
	    "bundle_sha256", s->bundle_sha256,
	    "alb_entries", (json_int_t)s->alb_entries,
	    "newest_revocation", (json_int_t)s->newest_revocation,
	    "latency", (json_int_t)s->latency,
	    "failing_since", (json_int_t)s->failing_since,
	    "ids", ids_json(s->revocation_ids, s->n_ids));
	if (o == NULL)
		goto out;
	{
		json_t *h = json_pack("{s:o, s:I, s:f}",
		    "buckets", ids_json(s->enforced, PUBLISH_LATENCY_BUCKETS),
		    "count", (json_int_t)s->enforced_count,
		    "sum", s->enforced_sum);

		if (h == NULL || json_object_set_new(o, "enforced", h) != 0)
			goto out;
	}
	if (s->pending_number != 0) {
		pend = json_pack("{s:I, s:I, s:I, s:o}",
		    "number", (json_int_t)s->pending_number,
		    "entries", (json_int_t)s->pending_entries,
		    "since", (json_int_t)s->pending_since,
		    "known", ids_json(s->pending_known, s->n_pending_known));
		if (pend == NULL || json_object_set_new(o, "pending", pend) !=
		    0)
			goto out;
	}
	if ((*out = json_dumps(o, JSON_COMPACT)) != NULL)
		rc = CA_OK;
out:
	json_decref(o);
	return rc;
}

static int64_t
get_i(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void
get_s(json_t *o, const char *k, char *out, size_t size)
{
	json_t *v = json_object_get(o, k);

	snprintf(out, size, "%s", json_is_string(v) ?
	    json_string_value(v) : "");
}

static int
state_decode(const struct publisher *p, const uint8_t *buf, size_t len,
    struct publish_state *s, struct ca_error *err)
{
	json_t		*o, *pend;
	json_error_t	 je;

	state_init(p, s);
	if ((o = json_loadb((const char *)buf, len, 0, &je)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		return ca_error_set(err, CA_EMALF, "the state of publisher "
		    "'%s' in the store is not a JSON object", p->conf.name);
	}
	s->last_attempt = get_i(o, "last_attempt");
	s->last_success = get_i(o, "last_success");
	s->published_number = (uint64_t)get_i(o, "published_number");
	s->successes = (uint64_t)get_i(o, "successes");
	s->failures = (uint64_t)get_i(o, "failures");
	get_s(o, "last_error", s->last_error, sizeof(s->last_error));
	get_s(o, "object_key", s->object_key, sizeof(s->object_key));
	get_s(o, "bundle_sha256", s->bundle_sha256, sizeof(s->bundle_sha256));
	s->alb_entries = (uint64_t)get_i(o, "alb_entries");
	s->newest_revocation = get_i(o, "newest_revocation");
	s->latency = json_object_get(o, "latency") != NULL ?
	    get_i(o, "latency") : -1;
	s->failing_since = get_i(o, "failing_since");
	if (json_is_object(pend = json_object_get(o, "enforced"))) {
		json_t *sum = json_object_get(pend, "sum");

		(void)ids_from_json(json_object_get(pend, "buckets"),
		    s->enforced, PUBLISH_LATENCY_BUCKETS);
		s->enforced_count = (uint64_t)get_i(pend, "count");
		s->enforced_sum = json_is_number(sum) ?
		    json_number_value(sum) : 0;
	}
	s->n_ids = ids_from_json(json_object_get(o, "ids"),
	    s->revocation_ids, PUBLISH_IDS_MAX);
	if (json_is_object(pend = json_object_get(o, "pending")) &&
	    get_i(pend, "number") > 0) {
		s->pending_number = (uint64_t)get_i(pend, "number");
		s->pending_entries = (uint64_t)get_i(pend, "entries");
		s->pending_since = get_i(pend, "since");
		s->n_pending_known = ids_from_json(json_object_get(pend,
		    "known"), s->pending_known, PUBLISH_KNOWN_MAX);
	}
	json_decref(o);
	return CA_OK;
}

/* ---- the name-keyed state of earlier versions ---- */

/* "1,2,3": at most max ids; anything not a number is dropped. */
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

static void
legacy_field(struct publish_state *s, const char *k, const char *v)
{
	uint64_t	 u;
	int64_t		 i;
	bool		 neg = v[0] == '-';

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
	} else if (parse_u64(neg ? v + 1 : v, 0, INT64_MAX, &u) == CA_OK) {
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

/*
 * Can the state an earlier version kept under p's name be this
 * destination's? It did not record the destination, so: an alb publisher's
 * is (the ids it holds are the only record of lists this CA added; ids a
 * trust store does not hold are forgotten by the next reconcile); an s3
 * publisher's when its last key is this prefix's key for that CRL; a dir
 * publisher's when the directory holds that CRL. Otherwise the destination
 * changed with the upgrade, and gets a fresh start.
 */
static bool
legacy_is_ours(const struct publisher *p, const struct publish_state *s)
{
	struct crl_snapshot	*snap = NULL;
	char			 want[600], path[1100];
	bool			 ok;

	if (strcmp(s->type, p->ops->name) != 0)
		return false;
	if (s->published_number == 0)
		return true;
	switch (p->conf.type) {
	case PUBLISH_ALB:
		return true;
	case PUBLISH_S3:
		snprintf(want, sizeof(want), "%scrl/%" PRIu64 ".pem",
		    p->prefix, s->published_number);
		return strcmp(s->object_key, want) == 0;
	case PUBLISH_DIR:
		if (path_join(path, sizeof(path), p->conf.path, "crl.pem") !=
		    CA_OK || crl_snapshot_load(path, &snap, NULL) != CA_OK)
			return false;
		ok = snap->number == s->published_number;
		crl_snapshot_release(snap);
		return ok;
	default:
		return false;
	}
}

/* CA_OK with *s when an earlier version's state is p's; CA_ENOENT when
   there is none or it is not this destination's. */
static int
legacy_read(struct publish_set *set, const struct publisher *p,
    struct publish_state *s, struct ca_error *err)
{
	char		 key[PUBLISH_NAME_MAX + 16];
	uint8_t		*buf = NULL;
	size_t		 len;
	char		*line, *save = NULL;
	int		 rc;

	state_init(p, s);
	s->type[0] = '\0';
	snprintf(key, sizeof(key), LEGACY_PREFIX "%s", p->conf.name);
	if ((rc = store_meta_get(set->st, key, &buf, &len, err)) != CA_OK) {
		if (rc == CA_ENOENT)
			ca_error_clear(err);
		return rc;
	}
	for (line = strtok_r((char *)buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		legacy_field(s, line, eq + 1);
	}
	free(buf);
	if (!legacy_is_ours(p, s))
		return CA_ENOENT;
	snprintf(s->type, sizeof(s->type), "%s", p->ops->name);
	return CA_OK;
}

/* ---- reading and writing ---- */

int
publish_state_read(struct publish_set *set, const struct publisher *p,
    struct publish_state *out, struct ca_error *err)
{
	struct publish_state	 s;
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 rc;

	rc = store_meta_get(set->st, p->key, &buf, &len, err);
	if (rc == CA_OK) {
		rc = state_decode(p, buf, len, &s, err);
		free(buf);
	} else if (rc == CA_ENOENT) {
		/* Not carried over yet (`mtlsca status` on a store no
		   publisher has run on since the upgrade): read it where an
		   earlier version left it. */
		ca_error_clear(err);
		/* (Only the active CA's: a retiring CA's set is newer.) */
		if (set->ns[0] != '\0' ||
		    (rc = legacy_read(set, p, &s, err)) == CA_ENOENT) {
			state_init(p, &s);
			rc = CA_OK;
		}
	}
	if (rc == CA_OK)
		*out = s;
	return rc;
}

int
publish_state_write(struct publish_set *set, const struct publisher *p,
    const struct publish_state *s, struct ca_error *err)
{
	char	*text = NULL;
	int	 rc;

	if (state_encode(p, s, &text) != CA_OK)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	rc = store_meta_put(set->st, p->key, text, strlen(text), err);
	free(text);
	return rc;
}

int
publish_state_migrate(struct publish_set *set, struct publisher *p,
    struct ca_error *err)
{
	struct publish_state	 s;
	char			 legacy[PUBLISH_NAME_MAX + 16], *text = NULL;
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 rc;

	snprintf(legacy, sizeof(legacy), LEGACY_PREFIX "%s", p->conf.name);
	if ((rc = store_meta_get(set->st, legacy, &buf, &len, NULL)) != CA_OK)
		return rc == CA_ENOENT ? CA_OK : ca_error_set(err, rc,
		    "reading the state of publisher '%s'", p->conf.name);
	free(buf);
	/* Already carried over, or this destination has state of its own:
	   the old record only goes. */
	if (store_meta_get(set->st, p->key, &buf, &len, NULL) == CA_OK) {
		free(buf);
		return store_meta_delete(set->st, legacy, err);
	}
	if ((rc = legacy_read(set, p, &s, err)) == CA_ENOENT) {
		publish_log(set, PUBLISH_INFO, "%s: the state an earlier "
		    "version recorded was for another destination; %s starts "
		    "afresh", p->conf.name, p->dest);
		return store_meta_delete(set->st, legacy, err);
	}
	if (rc != CA_OK)
		return rc;
	if (state_encode(p, &s, &text) != CA_OK)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	rc = store_meta_move(set->st, legacy, p->key, text, strlen(text),
	    err);
	free(text);
	if (rc == CA_OK)
		publish_log(set, PUBLISH_INFO, "%s: state carried over to %s "
		    "(CRL %" PRIu64 " published%s)", p->conf.name, p->dest,
		    s.published_number, s.n_ids ? ", RevocationIds kept" : "");
	return rc;
}

int
publish_state_forget(struct publish_set *set, const struct publisher *p,
    struct ca_error *err)
{
	return store_meta_delete(set->st, p->key, err);
}

/* ---- rotation: a CA's state into its namespace ---- */

/* A read-only set of conf under ns: the publishers' destinations and state
   keys, with no CA and no network. */
static int
names_of(struct store *st, const struct publish_conf *conf, size_t n,
    const char *ns, struct publish_set **out, struct ca_error *err)
{
	struct publish_options	 o;

	memset(&o, 0, sizeof(o));
	o.read_only = true;
	o.ca_ns = ns;
	return publish_set_new(NULL, st, conf, n, &o, out, err);
}

/* Move p's state (JSON at from_key) to q's destination. */
static int
move_one(struct publish_set *to, const struct publisher *q,
    const char *from_key, const struct publish_state *s,
    struct ca_error *err)
{
	char	*text = NULL;
	int	 rc;

	if (state_encode(q, s, &text) != CA_OK)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	rc = store_meta_move(to->st, from_key, q->key, text, strlen(text),
	    err);
	free(text);
	return rc;
}

int
publish_state_move(struct store *st, const struct publish_conf *conf,
    size_t n, const char *from_ns, const char *to_ns, struct ca_error *err)
{
	struct publish_set	*from = NULL, *to = NULL;
	struct publish_state	 s;
	struct ca_error		 e2;
	uint8_t			*buf = NULL;
	size_t			 len;
	int			 rc;

	if (st == NULL || (conf == NULL && n > 0))
		return ca_error_set(err, CA_EINVAL, "no store or publishers");
	if (strcmp(from_ns != NULL ? from_ns : "", to_ns != NULL ? to_ns :
	    "") == 0)
		return ca_error_set(err, CA_EINVAL, "the state would move onto "
		    "itself (namespace '%s')", from_ns != NULL ? from_ns : "");
	if ((rc = names_of(st, conf, n, from_ns, &from, err)) != CA_OK ||
	    (rc = names_of(st, conf, n, to_ns, &to, err)) != CA_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct publisher	*p = &from->pub[i], *q = &to->pub[i];
		char			 legacy[PUBLISH_NAME_MAX + 16];

		snprintf(legacy, sizeof(legacy), LEGACY_PREFIX "%s",
		    p->conf.name);
		ca_error_clear(&e2);
		rc = store_meta_get(st, p->key, &buf, &len, &e2);
		if (rc == CA_OK) {
			rc = state_decode(p, buf, len, &s, &e2);
			free(buf);
			buf = NULL;
			if (rc == CA_OK)
				rc = move_one(to, q, p->key, &s, &e2);
		} else if (rc == CA_ENOENT && from->ns[0] == '\0') {
			/* Not carried over since an upgrade yet: what an
			   earlier version recorded is the old CA's too. */
			rc = legacy_read(from, p, &s, &e2);
			if (rc == CA_OK)
				rc = move_one(to, q, legacy, &s, &e2);
			else if (rc == CA_ENOENT)
				rc = CA_OK;
		} else if (rc == CA_ENOENT)
			rc = CA_OK;	/* nothing recorded: nothing to move */
		/* An earlier version's record left behind must not be taken
		   for the new active CA's (its ids are the old CA's lists). */
		if (rc == CA_OK && from->ns[0] == '\0')
			rc = store_meta_delete(st, legacy, &e2);
		if (rc != CA_OK) {
			ca_error_set(err, rc, "publisher '%s': moving its state "
			    "to %s: %s", p->conf.name, q->dest, e2.msg);
			goto out;
		}
	}
out:
	publish_set_free(from);
	publish_set_free(to);
	return rc;
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
