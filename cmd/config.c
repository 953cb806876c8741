/*
 * The configuration file (libconfig syntax, see ca.conf.example) over the
 * embedded defaults. Everything is checked here, at start, so that a typo or
 * an impossible value is refused with "FILE:LINE: what was expected" before
 * anything runs, rather than found hours later by the CRL schedule: unknown
 * keys are errors, numbers are bounded, durations go through
 * parse_duration().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include <libconfig.h>

#include "cmd/config.h"
#include "http/http.h"
#include "common/util.h"

/* data_dir is shorter than this, so derived paths always fit. */
#define DATA_DIR_MAX	(CONFIG_PATH_MAX - 32)

/* ALB's quota of revocation entries per trust store (DESIGN.md). */
#define ALB_MAX_ENTRIES		500000u
/*
 * crl.max_entries: ALB's quota is ALB's (its publisher's gate enforces it);
 * nginx, HAProxy or Envoy reading crl.pem have none. 10M entries make a
 * ~460 MB DER CRL, already more than any relying party should download.
 */
#define CRL_MAX_ENTRIES		10000000u

/* RDN short names a profile may list; the same names ca/ understands. */
static const char *const rdn_names[] = {
	"CN", "C", "L", "ST", "O", "OU", "emailAddress", "serialNumber",
	"street", "title", "postalCode", "SN", "GN", "DC", "UID", "E", "EMAIL",
	"S", "surname", "givenName",
};

struct loader {
	const char	*path;		/* the file given, for messages */
	struct config	*cfg;
	struct ca_error	*err;
};

/*
 * Refuse setting s: "FILE:LINE: <key path>: <message>". The key path is
 * rebuilt from the parents so that "crl.refresh" or "profiles[1].days" is
 * named exactly as the operator would search for it.
 */
static void
key_path(const config_setting_t *s, char *out, size_t size)
{
	char	 tmp[256];

	out[0] = '\0';
	for (; s != NULL && !config_setting_is_root(s);
	    s = config_setting_parent(s)) {
		const char *name = config_setting_name(s);

		int n;

		if (name != NULL)
			n = snprintf(tmp, sizeof(tmp), "%s%s%s", name,
			    out[0] != '\0' && out[0] != '[' ? "." : "", out);
		else
			n = snprintf(tmp, sizeof(tmp), "[%d]%s%s",
			    config_setting_index(s),
			    out[0] != '\0' && out[0] != '[' ? "." : "", out);
		if (n < 0 || (size_t)n >= size)
			return;		/* keep the shorter, exact path */
		memcpy(out, tmp, (size_t)n + 1);
	}
}

static int
bad(struct loader *l, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	char		 msg[200], key[128];
	const char	*file = NULL;
	unsigned	 line = 0;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	key[0] = '\0';
	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
		key_path(s, key, sizeof(key));
	}
	if (file == NULL)
		file = l->path;
	return ca_error_set(l->err, CA_EINVAL, "%s:%u: %s%s%s", file, line,
	    key, key[0] != '\0' ? ": " : "", msg);
}

/* Every member of group s must be one of names (NULL-terminated). */
static int
known_keys(struct loader *l, const config_setting_t *s,
    const char *const *names)
{
	char	list[300];
	size_t	o = 0;

	if (!config_setting_is_group(s))
		return bad(l, s, "expected a group { ... }");
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t	*m = config_setting_get_elem(s, (unsigned)i);
		bool			 ok = false;

		for (size_t k = 0; names[k] != NULL; k++)
			if (strcmp(config_setting_name(m), names[k]) == 0)
				ok = true;
		if (ok)
			continue;
		list[0] = '\0';
		for (size_t k = 0; names[k] != NULL && o < sizeof(list); k++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
			    k ? ", " : "", names[k]);
		return bad(l, m, "unknown key (expected one of: %s)", list);
	}
	return CA_OK;
}

static int
get_string(struct loader *l, const config_setting_t *s, char *out,
    size_t size, bool nonempty)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (v = config_setting_get_string(s)) == NULL)
		return bad(l, s, "expected a string in double quotes");
	if (strlen(v) >= size)
		return bad(l, s, "longer than %zu characters", size - 1);
	if (nonempty && v[0] == '\0')
		return bad(l, s, "must not be empty");
	snprintf(out, size, "%s", v);
	return CA_OK;
}

static int
get_u64(struct loader *l, const config_setting_t *s, uint64_t min,
    uint64_t max, uint64_t *out)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return bad(l, s, "expected a whole number between %llu and "
		    "%llu", (unsigned long long)min, (unsigned long long)max);
	v = config_setting_get_int64(s);
	if (v < 0 || (uint64_t)v < min || (uint64_t)v > max)
		return bad(l, s, "%lld is out of range: expected %llu to %llu",
		    v, (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)v;
	return CA_OK;
}

static int
get_uint(struct loader *l, const config_setting_t *s, unsigned min,
    unsigned max, unsigned *out)
{
	uint64_t	v = 0;
	int		rc;

	if ((rc = get_u64(l, s, min, max, &v)) == CA_OK)
		*out = (unsigned)v;
	return rc;
}

static int
get_bool(struct loader *l, const config_setting_t *s, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(l, s, "expected true or false");
	*out = config_setting_get_bool(s) != 0;
	return CA_OK;
}

/* A duration as the operator would write it: "3d", "1h", "90s". */
static void
duration_text(int64_t d, char *out, size_t size)
{
	if (d > 0 && d % 86400 == 0)
		snprintf(out, size, "%lldd", (long long)(d / 86400));
	else if (d > 0 && d % 3600 == 0)
		snprintf(out, size, "%lldh", (long long)(d / 3600));
	else if (d > 0 && d % 60 == 0)
		snprintf(out, size, "%lldm", (long long)(d / 60));
	else
		snprintf(out, size, "%llds", (long long)d);
}

static int
get_duration(struct loader *l, const config_setting_t *s, int64_t min,
    int64_t max, int64_t *out)
{
	const char	*v = NULL;
	int64_t		 d;

	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (v = config_setting_get_string(s)) == NULL ||
	    parse_duration(v, &d) != CA_OK)
		return bad(l, s, "expected a duration in double quotes: a "
		    "number with a unit s, m, h, d or w (\"7d\", \"1h\", "
		    "\"2s\")");
	if (d < min || d > max) {
		char a[32], b[32];

		duration_text(min, a, sizeof(a));
		duration_text(max, b, sizeof(b));
		return bad(l, s, "\"%s\" is out of range: expected %s to %s",
		    v, a, b);
	}
	*out = d;
	return CA_OK;
}

/* A size: bytes, or a string with a unit K, M, G or T (powers of 1024). */
static int
get_size(struct loader *l, const config_setting_t *s, uint64_t min,
    uint64_t max, uint64_t *out)
{
	char		 digits[32];
	const char	*v;
	uint64_t	 n, unit = 1;
	size_t		 len;

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		return get_u64(l, s, min, max, out);
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    (v = config_setting_get_string(s)) == NULL ||
	    (len = strlen(v)) == 0 || len >= sizeof(digits))
		goto fail;
	memcpy(digits, v, len + 1);
	switch (toupper((unsigned char)digits[len - 1])) {
	case 'K': unit = 1ULL << 10; break;
	case 'M': unit = 1ULL << 20; break;
	case 'G': unit = 1ULL << 30; break;
	case 'T': unit = 1ULL << 40; break;
	default: len++; break;
	}
	digits[len - 1] = '\0';
	if (parse_u64(digits, 0, UINT64_MAX / unit, &n) != CA_OK)
		goto fail;
	n *= unit;
	if (n < min || n > max)
		return bad(l, s, "\"%s\" is out of range: expected %llu to %llu "
		    "bytes", v, (unsigned long long)min,
		    (unsigned long long)max);
	*out = n;
	return CA_OK;
fail:
	return bad(l, s, "expected a size: a number of bytes or a string "
	    "with a unit K, M, G or T (\"1G\")");
}

/* An array or list of strings into out[max][size]. */
static int
get_strings(struct loader *l, const config_setting_t *s, char *out,
    size_t size, size_t max, size_t *n)
{
	int len;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return bad(l, s, "expected a list of strings [\"a\", \"b\"]");
	len = config_setting_length(s);
	if ((size_t)len > max)
		return bad(l, s, "%d entries, at most %zu are allowed", len, max);
	for (int i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc;

		if ((rc = get_string(l, e, out + (size_t)i * size, size,
		    true)) != CA_OK)
			return rc;
	}
	*n = (size_t)len;
	return CA_OK;
}

/* SHA-256 as 64 hex digits (colons allowed, as `openssl x509 -fingerprint`
 * prints them); stored lower-case without separators. */
static int
get_sha256_hex(struct loader *l, const config_setting_t *s, char out[65])
{
	char		 tmp[200];
	size_t		 o = 0;
	int		 rc;

	if ((rc = get_string(l, s, tmp, sizeof(tmp), true)) != CA_OK)
		return rc;
	for (const char *p = tmp; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || o == 64)
			return bad(l, s, "expected a SHA-256 as 64 hex digits");
		out[o++] = (char)tolower((unsigned char)*p);
	}
	if (o != 64)
		return bad(l, s, "expected a SHA-256 as 64 hex digits");
	out[64] = '\0';
	return CA_OK;
}

static bool
rdn_known(const char *name)
{
	for (size_t i = 0; i < sizeof(rdn_names) / sizeof(rdn_names[0]); i++)
		if (strcasecmp(name, rdn_names[i]) == 0)
			return true;
	return false;
}

/* ---- sections ---- */

static int
load_store(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "map_size", "max_readers", NULL };
	config_setting_t	*s;
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	/* The limit the map grows to by itself (address space, not memory:
	   up to 1 TiB is fine); unset, the disk is the limit. */
	if ((s = config_setting_get_member(g, "map_size")) != NULL &&
	    (rc = get_size(l, s, 1ULL << 20, 1ULL << 40,
	    &l->cfg->map_size)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "max_readers")) != NULL &&
	    (rc = get_uint(l, s, 16, 65536, &l->cfg->max_readers)) != CA_OK)
		return rc;
	return CA_OK;
}

static int
load_ca(struct loader *l, const config_setting_t *g, bool *cert_set,
    bool *key_set)
{
	static const char *const keys[] = { "cert", "key", "subject",
	    "key_type", "days", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s;
	char			 kt[32];
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "cert")) != NULL) {
		if ((rc = get_string(l, s, c->ca_cert, sizeof(c->ca_cert),
		    true)) != CA_OK)
			return rc;
		*cert_set = true;
	}
	if ((s = config_setting_get_member(g, "key")) != NULL) {
		if ((rc = get_string(l, s, c->ca_key, sizeof(c->ca_key),
		    true)) != CA_OK)
			return rc;
		*key_set = true;
	}
	if ((s = config_setting_get_member(g, "subject")) != NULL &&
	    (rc = get_string(l, s, c->ca_subject, sizeof(c->ca_subject),
	    false)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "key_type")) != NULL) {
		if ((rc = get_string(l, s, kt, sizeof(kt), true)) != CA_OK)
			return rc;
		if (ca_key_type_parse(kt, &c->ca_key_type) != CA_OK)
			return bad(l, s, "\"%s\" is not a key type: expected "
			    "rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 "
			    "or ecdsa-p521", kt);
	}
	/* 100 years: a root outliving that is a mistake, not a plan. */
	if ((s = config_setting_get_member(g, "days")) != NULL &&
	    (rc = get_uint(l, s, 1, 36500, &c->ca_days)) != CA_OK)
		return rc;
	return CA_OK;
}

static int
load_crl(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "validity", "keep_expired",
	    "refresh", "debounce", "warn_entries", "max_entries", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s, *refresh, *validity;
	const char		*v;
	char			 a[32], b[32];
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	/* RFC 5280 §5.1.2.5: nextUpdate is when the next CRL is due; from
	 * one hour (tests, very short caches) to one year. */
	if ((validity = config_setting_get_member(g, "validity")) != NULL &&
	    (rc = get_duration(l, validity, 60, 366 * 86400,
	    &c->crl_validity)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "keep_expired")) != NULL) {
		v = config_setting_type(s) == CONFIG_TYPE_STRING ?
		    config_setting_get_string(s) : NULL;
		if (v != NULL && strcmp(v, "forever") == 0)
			c->crl_keep_expired = INT64_MAX;
		else if (v != NULL && strcmp(v, "validity") == 0)
			c->crl_keep_expired = -1;
		else if ((rc = get_duration(l, s, 0, 100LL * 366 * 86400,
		    &c->crl_keep_expired)) != CA_OK)
			return bad(l, s, "expected a duration (\"7d\"), "
			    "\"validity\" or \"forever\"");
	}
	if ((refresh = config_setting_get_member(g, "refresh")) != NULL &&
	    (rc = get_duration(l, refresh, 1, 366 * 86400,
	    &c->crl_refresh)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "debounce")) != NULL &&
	    (rc = get_duration(l, s, 0, 3600, &c->crl_debounce)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "warn_entries")) != NULL &&
	    (rc = get_u64(l, s, 1, CRL_MAX_ENTRIES,
	    &c->crl_warn_entries)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "max_entries")) != NULL &&
	    (rc = get_u64(l, s, 1, CRL_MAX_ENTRIES,
	    &c->crl_max_entries)) != CA_OK)
		return bad(l, s, "expected 1 to %u (ALB accepts at most %u "
		    "revocation entries per trust store, and its publisher "
		    "refuses more)", CRL_MAX_ENTRIES, ALB_MAX_ENTRIES);
	/*
	 * A CRL is refreshed long before it expires, so that a publisher that
	 * fails a few times in a row still has time to succeed before relying
	 * parties hold an expired CRL (and ALB refuses every client).
	 */
	if (c->crl_refresh > c->crl_validity / 3) {
		duration_text(c->crl_refresh, a, sizeof(a));
		duration_text(c->crl_validity, b, sizeof(b));
		return bad(l, refresh != NULL ? refresh : validity != NULL ?
		    validity : g, "refresh (%s) must be at most a third of "
		    "crl.validity (%s), so that new CRLs are published well "
		    "before the current one expires", a, b);
	}
	if (c->crl_debounce >= c->crl_refresh) {
		duration_text(c->crl_debounce, a, sizeof(a));
		duration_text(c->crl_refresh, b, sizeof(b));
		return bad(l, config_setting_get_member(g, "debounce") != NULL ?
		    config_setting_get_member(g, "debounce") : g,
		    "debounce (%s) must be shorter than crl.refresh (%s)", a, b);
	}
	if (c->crl_warn_entries > c->crl_max_entries)
		return bad(l, g, "warn_entries (%llu) must not exceed "
		    "max_entries (%llu)",
		    (unsigned long long)c->crl_warn_entries,
		    (unsigned long long)c->crl_max_entries);
	return CA_OK;
}

static int
load_rdn_list(struct loader *l, const config_setting_t *s,
    char (*out)[16], size_t *n)
{
	int rc;

	if ((rc = get_strings(l, s, &out[0][0], 16, CA_PROFILE_RDN_MAX,
	    n)) != CA_OK)
		return rc;
	for (size_t i = 0; i < *n; i++)
		if (!rdn_known(out[i]))
			return bad(l, config_setting_get_elem(s, (unsigned)i),
			    "unknown subject attribute \"%s\" (expected C, ST, "
			    "L, O, OU, CN, emailAddress, serialNumber, street, "
			    "title, postalCode, SN, GN, DC or UID)", out[i]);
	return CA_OK;
}

/* The profile (up to idx) whose tokens, before token i of profile idx,
   hold the same hash as it; -1 when none does. */
static int
token_listed(const struct config *c, size_t idx, size_t i)
{
	const char *h = c->profile_tokens[idx][i];

	for (size_t q = 0; q <= idx; q++) {
		size_t n = q < idx ? c->n_profile_tokens[q] : i;

		for (size_t j = 0; j < n; j++)
			if (strcasecmp(c->profile_tokens[q][j], h) == 0)
				return (int)q;
	}
	return -1;
}

static int
load_profile(struct loader *l, const config_setting_t *g, size_t idx)
{
	static const char *const keys[] = { "name", "days", "max_days",
	    "server_auth", "client_auth", "allow_dns", "allow_email",
	    "allow_uri", "allow_ip", "max_sans", "subject_allowed",
	    "subject_required", "tokens", NULL };
	struct config		*c = l->cfg;
	struct ca_profile	*p = &c->profiles[idx];
	config_setting_t	*s;
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	/* Absent keys keep the runbook's client profile. */
	ca_profile_default(p);
	if ((s = config_setting_get_member(g, "name")) == NULL)
		return bad(l, g, "a profile needs a name");
	if ((rc = get_string(l, s, p->name, sizeof(p->name), true)) != CA_OK)
		return rc;
	for (const char *q = p->name; *q != '\0'; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_')
			return bad(l, s, "\"%s\": a profile name is letters, "
			    "digits, '-' and '_' (it appears in URLs)", p->name);
	/* `list` and `show` mark the records of this profile as the
	   service's own HTTPS certificates: no enrollment may share it. */
	if (strcmp(p->name, CA_PROFILE_SERVICE) == 0)
		return bad(l, s, "\"%s\": this profile name is reserved for "
		    "the service's own HTTPS certificate", p->name);
	for (size_t i = 0; i < idx; i++)
		if (strcmp(c->profiles[i].name, p->name) == 0)
			return bad(l, s, "profile \"%s\" is defined twice",
			    p->name);
	if ((s = config_setting_get_member(g, "max_days")) != NULL &&
	    (rc = get_uint(l, s, 1, 36500, &p->max_days)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "days")) != NULL &&
	    (rc = get_uint(l, s, 1, 36500, &p->days)) != CA_OK)
		return rc;
	if (p->days > p->max_days)
		return bad(l, config_setting_get_member(g, "days") != NULL ?
		    config_setting_get_member(g, "days") : g, "days (%u) must not exceed "
		    "max_days (%u)", p->days, p->max_days);
	if ((s = config_setting_get_member(g, "server_auth")) != NULL &&
	    (rc = get_bool(l, s, &p->server_auth)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "client_auth")) != NULL &&
	    (rc = get_bool(l, s, &p->client_auth)) != CA_OK)
		return rc;
	if (!p->server_auth && !p->client_auth)
		return bad(l, g, "profile \"%s\" has neither server_auth nor "
		    "client_auth: its certificates would be good for nothing",
		    p->name);
	if ((s = config_setting_get_member(g, "allow_dns")) != NULL &&
	    (rc = get_bool(l, s, &p->allow_dns)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "allow_email")) != NULL &&
	    (rc = get_bool(l, s, &p->allow_email)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "allow_uri")) != NULL &&
	    (rc = get_bool(l, s, &p->allow_uri)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "allow_ip")) != NULL &&
	    (rc = get_bool(l, s, &p->allow_ip)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "max_sans")) != NULL &&
	    (rc = get_uint(l, s, 0, CA_SAN_MAX, &p->max_sans)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "subject_allowed")) != NULL &&
	    (rc = load_rdn_list(l, s, p->subject_allowed,
	    &p->n_allowed)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "subject_required")) != NULL &&
	    (rc = load_rdn_list(l, s, p->subject_required,
	    &p->n_required)) != CA_OK)
		return rc;
	for (size_t i = 0; i < p->n_required; i++) {
		bool found = false;

		for (size_t k = 0; k < p->n_allowed; k++)
			if (strcasecmp(p->subject_required[i],
			    p->subject_allowed[k]) == 0)
				found = true;
		if (!found)
			return bad(l, config_setting_get_member(g,
			    "subject_allowed"), "\"%s\" is required but not in "
			    "subject_allowed", p->subject_required[i]);
	}
	if ((s = config_setting_get_member(g, "tokens")) != NULL) {
		size_t n;

		if (!config_setting_is_array(s) && !config_setting_is_list(s))
			return bad(l, s, "expected a list of SHA-256 hex "
			    "strings");
		n = (size_t)config_setting_length(s);
		if (n > CONFIG_LIST_MAX)
			return bad(l, s, "%zu tokens, at most %d are allowed",
			    n, CONFIG_LIST_MAX);
		for (size_t i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s,
			    (unsigned)i);
			int other;

			if ((rc = get_sha256_hex(l, e,
			    c->profile_tokens[idx][i])) != CA_OK)
				return rc;
			/* A token enrolls for one profile: under two, which
			   one it meant would depend on the order. */
			if ((other = token_listed(c, idx, i)) >= 0)
				return bad(l, e, "this token hash is listed "
				    "twice (also in profile %s): a token "
				    "enrolls for one profile",
				    c->profiles[other].name);
		}
		c->n_profile_tokens[idx] = n;
	}
	return CA_OK;
}

static int
load_profiles(struct loader *l, const config_setting_t *s)
{
	int	n, rc;

	if (!config_setting_is_list(s))
		return bad(l, s, "expected a list of groups ( { name = "
		    "\"client\"; ... } )");
	n = config_setting_length(s);
	if (n == 0)
		return bad(l, s, "empty: remove it to use the default "
		    "\"client\" profile");
	if (n > CONFIG_PROFILES_MAX)
		return bad(l, s, "%d profiles, at most %d are allowed", n,
		    CONFIG_PROFILES_MAX);
	memset(l->cfg->n_profile_tokens, 0, sizeof(l->cfg->n_profile_tokens));
	for (int i = 0; i < n; i++)
		if ((rc = load_profile(l, config_setting_get_elem(s,
		    (unsigned)i), (size_t)i)) != CA_OK)
			return rc;
	l->cfg->n_profiles = (size_t)n;
	return CA_OK;
}

static int
load_http(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "listen", "https_port",
	    "http_port", "server_names", "tls_cert", "tls_key", "body_max",
	    "max_connections", "per_ip_connections", "per_ip_pending",
	    "timeout", "request_timeout", "request_timeout_busy", "threading",
	    "threads", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s;
	uint8_t			 addr[16];
	uint64_t		 body;
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "listen")) != NULL) {
		if ((rc = get_string(l, s, c->listen, sizeof(c->listen),
		    true)) != CA_OK)
			return rc;
		if (inet_pton(AF_INET, c->listen, addr) != 1 &&
		    inet_pton(AF_INET6, c->listen, addr) != 1)
			return bad(l, s, "\"%s\" is not an IPv4 or IPv6 "
			    "address", c->listen);
	}
	if ((s = config_setting_get_member(g, "https_port")) != NULL &&
	    (rc = get_uint(l, s, 0, 65535, &c->https_port)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "http_port")) != NULL &&
	    (rc = get_uint(l, s, 0, 65535, &c->http_port)) != CA_OK)
		return rc;
	if (c->https_port != 0 && c->https_port == c->http_port)
		return bad(l, s != NULL ? s : g, "http_port and https_port "
		    "are both %u", c->http_port);
	if ((s = config_setting_get_member(g, "server_names")) != NULL) {
		if ((rc = get_strings(l, s, &c->server_names[0][0],
		    sizeof(c->server_names[0]), CONFIG_LIST_MAX,
		    &c->n_server_names)) != CA_OK)
			return rc;
		if (c->n_server_names == 0)
			return bad(l, s, "needs at least one name (the HTTPS "
			    "certificate's CN)");
		/* What `serve` will put in its certificate (ca/server.c):
		   RFC 1035 letters, digits, '-' and '.', ':' for IPv6, '*'
		   for a wildcard label. Said here, with the line, rather
		   than when serve starts. */
		for (size_t i = 0; i < c->n_server_names; i++)
			for (const char *q = c->server_names[i]; *q; q++)
				if (!isalnum((unsigned char)*q) && *q != '-' &&
				    *q != '.' && *q != ':' && *q != '*')
					return bad(l, config_setting_get_elem(s,
					    (unsigned)i), "\"%s\" is not a DNS "
					    "name or an IP address",
					    c->server_names[i]);
	}
	if ((s = config_setting_get_member(g, "tls_cert")) != NULL &&
	    (rc = get_string(l, s, c->tls_cert, sizeof(c->tls_cert),
	    false)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "tls_key")) != NULL &&
	    (rc = get_string(l, s, c->tls_key, sizeof(c->tls_key),
	    false)) != CA_OK)
		return rc;
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		return bad(l, g, "tls_cert and tls_key go together: give both, "
		    "or neither to have the CA issue the service's certificate");
	/* A CSR is at most 16 KiB; the JSON around it a little more. */
	if ((s = config_setting_get_member(g, "body_max")) != NULL) {
		if ((rc = get_size(l, s, 16384, 1 << 20, &body)) != CA_OK)
			return rc;
		c->body_max = (size_t)body;
	}
	if ((s = config_setting_get_member(g, "max_connections")) != NULL &&
	    (rc = get_uint(l, s, 1, 65536, &c->max_connections)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "per_ip_connections")) != NULL &&
	    (rc = get_uint(l, s, 1, 65536, &c->per_ip_connections)) != CA_OK)
		return rc;
	if (c->per_ip_connections > c->max_connections)
		return bad(l, g, "per_ip_connections (%u) must not exceed "
		    "max_connections (%u)", c->per_ip_connections,
		    c->max_connections);
	if ((s = config_setting_get_member(g, "timeout")) != NULL &&
	    (rc = get_uint(l, s, 1, 3600, &c->timeout)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "request_timeout")) != NULL &&
	    (rc = get_uint(l, s, 1, 600, &c->request_timeout)) != CA_OK)
		return rc;
	/* Unset, it follows a request_timeout below its default. */
	if ((s = config_setting_get_member(g, "request_timeout_busy")) ==
	    NULL) {
		if (c->request_timeout_busy > c->request_timeout)
			c->request_timeout_busy = c->request_timeout;
	} else if ((rc = get_uint(l, s, 1, 600,
	    &c->request_timeout_busy)) != CA_OK)
		return rc;
	else if (c->request_timeout_busy > c->request_timeout)
		return bad(l, g, "request_timeout_busy (%u) must not exceed "
		    "request_timeout (%u)", c->request_timeout_busy,
		    c->request_timeout);
	if ((s = config_setting_get_member(g, "per_ip_pending")) != NULL &&
	    (rc = get_uint(l, s, 1, 65536, &c->per_ip_pending)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "threading")) != NULL) {
		char mode[16];

		if ((rc = get_string(l, s, mode, sizeof(mode), true)) != CA_OK)
			return rc;
		if (strcmp(mode, "connection") != 0 &&
		    strcmp(mode, "pool") != 0)
			return bad(l, s, "\"%s\" is not a threading mode: "
			    "\"connection\" (a thread per connection) or "
			    "\"pool\" (one event loop per thread)", mode);
		c->thread_pool = strcmp(mode, "pool") == 0;
	}
	if ((s = config_setting_get_member(g, "threads")) != NULL &&
	    (rc = get_uint(l, s, 0, HTTP_LOOPS_MAX, &c->threads)) != CA_OK)
		return rc;
	return CA_OK;
}

/* A header name: an RFC 9110 section 5.6.2 token. */
static int
get_header_name(struct loader *l, const config_setting_t *s, char *out,
    size_t size)
{
	int rc;

	/* "": the source's own name. */
	if ((rc = get_string(l, s, out, size, false)) != CA_OK)
		return rc;
	for (const char *q = out; *q != '\0'; q++)
		if (!isalnum((unsigned char)*q) && strchr("!#$%&'*+-.^_`|~",
		    *q) == NULL)
			return bad(l, s, "\"%s\" is not a header name", out);
	return CA_OK;
}

static int
load_verify(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "listen", "port", "path",
	    "source", "header", "serial_header", "issuer_header",
	    "trusted_proxies", "cache_size", "threads", NULL };
	static const char *const sources[] = { "alb-passthrough",
	    "alb-verify", "nginx", "haproxy", "envoy", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s;
	struct ca_error		 e;
	uint8_t			 addr[16];
	char			 src[32];
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "listen")) != NULL) {
		if ((rc = get_string(l, s, c->verify_listen,
		    sizeof(c->verify_listen), true)) != CA_OK)
			return rc;
		if (inet_pton(AF_INET, c->verify_listen, addr) != 1 &&
		    inet_pton(AF_INET6, c->verify_listen, addr) != 1)
			return bad(l, s, "\"%s\" is not an IPv4 or IPv6 "
			    "address", c->verify_listen);
	}
	if ((s = config_setting_get_member(g, "port")) != NULL &&
	    (rc = get_uint(l, s, 0, 65535, &c->verify_port)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "path")) != NULL) {
		if ((rc = get_string(l, s, c->verify_path,
		    sizeof(c->verify_path), false)) != CA_OK)
			return rc;
		for (const char *q = c->verify_path; *q != '\0'; q++)
			if (*q <= ' ' || *q == '?' || *q == '#' || *q >= 0x7f)
				return bad(l, s, "a path without spaces, '?' "
				    "or '#' (\"/auth\")");
		if (c->verify_path[0] != '\0' && c->verify_path[0] != '/')
			return bad(l, s, "must start with '/' (\"/auth\")");
	}
	if ((s = config_setting_get_member(g, "source")) != NULL) {
		bool found = false;

		if ((rc = get_string(l, s, src, sizeof(src), true)) != CA_OK)
			return rc;
		for (unsigned i = 0; sources[i] != NULL; i++)
			if (strcmp(src, sources[i]) == 0) {
				c->verify_source = i;
				found = true;
			}
		if (!found)
			return bad(l, s, "\"%s\" is not a source: expected "
			    "\"alb-passthrough\", \"alb-verify\", \"nginx\", "
			    "\"haproxy\" or \"envoy\"", src);
	}
	if ((s = config_setting_get_member(g, "header")) != NULL &&
	    (rc = get_header_name(l, s, c->verify_header,
	    sizeof(c->verify_header))) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "serial_header")) != NULL &&
	    (rc = get_header_name(l, s, c->verify_serial_header,
	    sizeof(c->verify_serial_header))) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "issuer_header")) != NULL &&
	    (rc = get_header_name(l, s, c->verify_issuer_header,
	    sizeof(c->verify_issuer_header))) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "trusted_proxies")) != NULL) {
		if ((rc = get_strings(l, s, &c->verify_proxies[0][0],
		    sizeof(c->verify_proxies[0]), CONFIG_LIST_MAX,
		    &c->n_verify_proxies)) != CA_OK)
			return rc;
		if (c->n_verify_proxies == 0)
			return bad(l, s, "needs at least one range (remove it "
			    "for this host only: 127.0.0.1 and ::1)");
		for (size_t i = 0; i < c->n_verify_proxies; i++)
			if (http_verify_proxy_check(c->verify_proxies[i], &e) !=
			    CA_OK)
				return bad(l, config_setting_get_elem(s,
				    (unsigned)i), "%s", e.msg);
	}
	if ((s = config_setting_get_member(g, "cache_size")) != NULL &&
	    (rc = get_u64(l, s, 1, 1u << 24, &c->verify_cache)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "threads")) != NULL &&
	    (rc = get_uint(l, s, 0, HTTP_LOOPS_MAX, &c->verify_threads)) !=
	    CA_OK)
		return rc;
	return CA_OK;
}

static int
load_admins(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "fingerprints", "subjects",
	    "token_hashes", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s;
	int			 rc, n;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "fingerprints")) != NULL) {
		if (!config_setting_is_array(s) && !config_setting_is_list(s))
			return bad(l, s, "expected a list of SHA-256 hex "
			    "strings");
		if ((n = config_setting_length(s)) > CONFIG_LIST_MAX)
			return bad(l, s, "at most %d entries", CONFIG_LIST_MAX);
		for (int i = 0; i < n; i++)
			if ((rc = get_sha256_hex(l, config_setting_get_elem(s,
			    (unsigned)i), c->admin_fingerprints[i])) != CA_OK)
				return rc;
		c->n_admin_fingerprints = (size_t)n;
	}
	if ((s = config_setting_get_member(g, "subjects")) != NULL &&
	    (rc = get_strings(l, s, &c->admin_subjects[0][0],
	    sizeof(c->admin_subjects[0]), CONFIG_LIST_MAX,
	    &c->n_admin_subjects)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "token_hashes")) != NULL) {
		if (!config_setting_is_array(s) && !config_setting_is_list(s))
			return bad(l, s, "expected a list of SHA-256 hex "
			    "strings");
		if ((n = config_setting_length(s)) > CONFIG_LIST_MAX)
			return bad(l, s, "at most %d entries", CONFIG_LIST_MAX);
		for (int i = 0; i < n; i++)
			if ((rc = get_sha256_hex(l, config_setting_get_elem(s,
			    (unsigned)i), c->admin_token_hashes[i])) != CA_OK)
				return rc;
		c->n_admin_token_hashes = (size_t)n;
	}
	return CA_OK;
}

/* An optional string member into out. */
static int
opt_string(struct loader *l, const config_setting_t *g, const char *name,
    char *out, size_t size)
{
	config_setting_t *s = config_setting_get_member(g, name);

	return s == NULL ? CA_OK : get_string(l, s, out, size, false);
}

static int
need(struct loader *l, const config_setting_t *g, const char *value,
    const char *name, const char *type)
{
	if (value[0] == '\0')
		return bad(l, g, "a publisher of type \"%s\" needs %s", type,
		    name);
	return CA_OK;
}

static int
load_publisher(struct loader *l, const config_setting_t *g, size_t idx)
{
	static const char *const dir_keys[] = { "type", "name", "path", NULL };
	static const char *const s3_keys[] = { "type", "name", "bucket",
	    "prefix", "region", "endpoint", "imds_endpoint", NULL };
	static const char *const alb_keys[] = { "type", "name",
	    "trust_store_arn", "region", "endpoint", "s3", "s3_publisher",
	    "imds_endpoint", "extra_ca_files", "remove_ca_fingerprints",
	    NULL };
	static const char *const exec_keys[] = { "type", "name", "command",
	    "timeout", NULL };
	struct config_publisher	*p = &l->cfg->publishers[idx];
	config_setting_t	*s;
	char			 type[16];
	int			 rc;

	memset(p, 0, sizeof(*p));
	if (!config_setting_is_group(g))
		return bad(l, g, "expected a group { type = \"dir\"; ... }");
	if ((s = config_setting_get_member(g, "type")) == NULL)
		return bad(l, g, "a publisher needs a type: \"dir\", \"s3\", "
		    "\"alb\" or \"exec\"");
	if ((rc = get_string(l, s, type, sizeof(type), true)) != CA_OK)
		return bad(l, s, "expected \"dir\", \"s3\", \"alb\" or "
		    "\"exec\"");
	if (strcmp(type, "dir") == 0)
		p->type = PUBLISHER_DIR;
	else if (strcmp(type, "s3") == 0)
		p->type = PUBLISHER_S3;
	else if (strcmp(type, "alb") == 0)
		p->type = PUBLISHER_ALB;
	else if (strcmp(type, "exec") == 0)
		p->type = PUBLISHER_EXEC;
	else
		return bad(l, s, "\"%s\" is not a publisher type: expected "
		    "\"dir\", \"s3\", \"alb\" or \"exec\"", type);
	if ((rc = known_keys(l, g, p->type == PUBLISHER_DIR ? dir_keys :
	    p->type == PUBLISHER_S3 ? s3_keys : p->type == PUBLISHER_ALB ?
	    alb_keys : exec_keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "name")) == NULL)
		return bad(l, g, "a publisher needs a name");
	if ((rc = get_string(l, s, p->name, sizeof(p->name), true)) != CA_OK)
		return rc;
	for (size_t i = 0; i < idx; i++)
		if (strcmp(l->cfg->publishers[i].name, p->name) == 0)
			return bad(l, s, "publisher \"%s\" is defined twice",
			    p->name);
	if ((rc = opt_string(l, g, "path", p->path, sizeof(p->path))) ||
	    (rc = opt_string(l, g, "bucket", p->bucket, sizeof(p->bucket))) ||
	    (rc = opt_string(l, g, "prefix", p->prefix, sizeof(p->prefix))) ||
	    (rc = opt_string(l, g, "region", p->region, sizeof(p->region))) ||
	    (rc = opt_string(l, g, "endpoint", p->endpoint,
	    sizeof(p->endpoint))) ||
	    (rc = opt_string(l, g, "imds_endpoint", p->imds_endpoint,
	    sizeof(p->imds_endpoint))) ||
	    (rc = opt_string(l, g, "trust_store_arn", p->trust_store_arn,
	    sizeof(p->trust_store_arn))) ||
	    (rc = opt_string(l, g, "s3", p->s3_publisher,
	    sizeof(p->s3_publisher))))
		return rc;
	if ((s = config_setting_get_member(g, "s3_publisher")) != NULL) {
		if (p->s3_publisher[0] != '\0')
			return bad(l, s, "give s3 or s3_publisher, not both");
		if ((rc = get_string(l, s, p->s3_publisher,
		    sizeof(p->s3_publisher), true)) != CA_OK)
			return rc;
	}
	switch (p->type) {
	case PUBLISHER_EXEC:
		if ((s = config_setting_get_member(g, "command")) == NULL)
			return bad(l, g, "an exec publisher needs a command: "
			    "[ \"/usr/sbin/nginx\", \"-s\", \"reload\" ]");
		if ((rc = get_strings(l, s, &p->command[0][0],
		    sizeof(p->command[0]), CONFIG_ARGV_MAX, &p->n_command)) !=
		    CA_OK)
			return rc;
		if (p->n_command == 0)
			return bad(l, s, "needs at least the program");
		/* No shell runs it, and no PATH search finds it. */
		if (p->command[0][0] != '/')
			return bad(l, config_setting_get_elem(s, 0), "\"%s\" is "
			    "not an absolute path (the command runs without a "
			    "shell or a PATH search)", p->command[0]);
		p->timeout = 30;
		if ((s = config_setting_get_member(g, "timeout")) != NULL &&
		    (rc = get_duration(l, s, 1, 3600, &p->timeout)) != CA_OK)
			return rc;
		return CA_OK;
	case PUBLISHER_DIR:
		return need(l, g, p->path, "a path", type);
	case PUBLISHER_S3:
		if ((rc = need(l, g, p->bucket, "a bucket", type)) != CA_OK)
			return rc;
		return need(l, g, p->region, "a region", type);
	case PUBLISHER_ALB:
		if ((rc = need(l, g, p->trust_store_arn, "a trust_store_arn",
		    type)) != CA_OK ||
		    (rc = need(l, g, p->region, "a region", type)) != CA_OK ||
		    (rc = need(l, g, p->s3_publisher, "s3 (the name of the s3 "
		    "publisher that uploads the CRL)", type)) != CA_OK)
			return rc;
		if ((s = config_setting_get_member(g, "extra_ca_files")) !=
		    NULL && (rc = get_strings(l, s, &p->extra_ca_files[0][0],
		    sizeof(p->extra_ca_files[0]), 8,
		    &p->n_extra_ca_files)) != CA_OK)
			return rc;
		if ((s = config_setting_get_member(g,
		    "remove_ca_fingerprints")) != NULL) {
			int n;

			if (!config_setting_is_array(s) &&
			    !config_setting_is_list(s))
				return bad(l, s, "expected a list of SHA-256 "
				    "fingerprints");
			if ((n = config_setting_length(s)) > 25)
				return bad(l, s, "at most 25 entries (ALB's "
				    "bundle limit)");
			for (int i = 0; i < n; i++)
				if ((rc = get_sha256_hex(l,
				    config_setting_get_elem(s, (unsigned)i),
				    p->remove_ca_fingerprints[i])) != CA_OK)
					return rc;
			p->n_remove_ca_fingerprints = (size_t)n;
		}
		if (strncmp(p->trust_store_arn, "arn:", 4) != 0)
			return bad(l, config_setting_get_member(g,
			    "trust_store_arn"), "\"%s\" is not an ARN "
			    "(arn:aws:elasticloadbalancing:...)",
			    p->trust_store_arn);
		/* ALB reads the CRL the s3 publisher just uploaded, so that
		 * one must run first. */
		for (size_t i = 0; i < idx; i++)
			if (l->cfg->publishers[i].type == PUBLISHER_S3 &&
			    strcmp(l->cfg->publishers[i].name,
			    p->s3_publisher) == 0)
				return CA_OK;
		return bad(l, g, "s3 = \"%s\" does not name an s3 publisher "
		    "listed before this one", p->s3_publisher);
	}
	return CA_OK;
}

static int
load_publish(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "retry_min", "retry_max",
	    "max_lag", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s, *max;
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "retry_min")) != NULL &&
	    (rc = get_duration(l, s, 1, 3600, &c->publish_retry_min)) !=
	    CA_OK)
		return rc;
	if ((max = config_setting_get_member(g, "retry_max")) != NULL &&
	    (rc = get_duration(l, max, 1, 86400, &c->publish_retry_max)) !=
	    CA_OK)
		return rc;
	if (c->publish_retry_max < c->publish_retry_min)
		return bad(l, max != NULL ? max : g, "retry_max must not be "
		    "shorter than retry_min");
	if ((s = config_setting_get_member(g, "max_lag")) != NULL &&
	    (rc = get_duration(l, s, 1, 7 * 86400, &c->publish_max_lag)) !=
	    CA_OK)
		return rc;
	return CA_OK;
}

/* log { level = "info"; format = "text"; } (common/log.h). */
static int
load_log(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "level", "format", NULL };
	config_setting_t	*s;
	char			 v[16];
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "level")) != NULL) {
		if ((rc = get_string(l, s, v, sizeof(v), true)) != CA_OK)
			return bad(l, s, "expected \"error\", \"warning\", "
			    "\"notice\", \"info\" or \"debug\"");
		if (log_level_parse(v, &l->cfg->log_level) != CA_OK)
			return bad(l, s, "\"%s\" is not a level: \"error\", "
			    "\"warning\", \"notice\", \"info\" or \"debug\"",
			    v);
	}
	if ((s = config_setting_get_member(g, "format")) != NULL) {
		if ((rc = get_string(l, s, v, sizeof(v), true)) != CA_OK)
			return bad(l, s, "expected \"text\" or \"json\"");
		if (log_format_parse(v, &l->cfg->log_format) != CA_OK)
			return bad(l, s, "\"%s\" is not a format: \"text\" "
			    "(journald's fields under systemd) or \"json\" "
			    "(one object per line)", v);
	}
	return CA_OK;
}

static int
load_backup(struct loader *l, const config_setting_t *g)
{
	static const char *const keys[] = { "every", "dir", "s3_publisher",
	    "keep", "include_key", NULL };
	struct config		*c = l->cfg;
	config_setting_t	*s;
	int			 rc;

	if ((rc = known_keys(l, g, keys)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "every")) == NULL)
		return bad(l, g, "a backup schedule needs every = \"24h\" (or "
		    "another duration)");
	if ((rc = get_duration(l, s, 60, 366 * 86400, &c->backup_every)) !=
	    CA_OK ||
	    (rc = opt_string(l, g, "dir", c->backup_dir,
	    sizeof(c->backup_dir))) != CA_OK ||
	    (rc = opt_string(l, g, "s3_publisher", c->backup_s3,
	    sizeof(c->backup_s3))) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "keep")) != NULL &&
	    (rc = get_uint(l, s, 1, 10000, &c->backup_keep)) != CA_OK)
		return rc;
	if ((s = config_setting_get_member(g, "include_key")) != NULL &&
	    (rc = get_bool(l, s, &c->backup_include_key)) != CA_OK)
		return rc;
	if (c->backup_dir[0] == '\0' && c->backup_s3[0] == '\0')
		return bad(l, g, "a backup schedule needs a dir, an "
		    "s3_publisher, or both");
	if (c->backup_s3[0] != '\0') {
		for (size_t i = 0; i < c->n_publishers; i++)
			if (c->publishers[i].type == PUBLISHER_S3 &&
			    strcmp(c->publishers[i].name, c->backup_s3) == 0)
				return CA_OK;
		return bad(l, config_setting_get_member(g, "s3_publisher"),
		    "\"%s\" is not an s3 publisher of this configuration",
		    c->backup_s3);
	}
	return CA_OK;
}

static int
load_publishers(struct loader *l, const config_setting_t *s)
{
	int	n, rc;

	if (!config_setting_is_list(s))
		return bad(l, s, "expected a list of groups ( { type = "
		    "\"dir\"; ... } )");
	n = config_setting_length(s);
	if (n > CONFIG_PUBLISHERS_MAX)
		return bad(l, s, "%d publishers, at most %d are allowed", n,
		    CONFIG_PUBLISHERS_MAX);
	for (int i = 0; i < n; i++)
		if ((rc = load_publisher(l, config_setting_get_elem(s,
		    (unsigned)i), (size_t)i)) != CA_OK)
			return rc;
	l->cfg->n_publishers = (size_t)n;
	return CA_OK;
}

/* ---- public ---- */

static void
derive_ca_paths(struct config *cfg, bool cert, bool key)
{
	if (cert)
		(void)path_join(cfg->ca_cert, sizeof(cfg->ca_cert),
		    cfg->data_dir, "ca.pem");
	if (key)
		(void)path_join(cfg->ca_key, sizeof(cfg->ca_key),
		    cfg->data_dir, "private/ca.key");
}

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->source, sizeof(cfg->source), "%s",
	    CONFIG_SOURCE_DEFAULTS);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./mtlsca-data");
	cfg->map_size = 0;		/* grows as far as the disk allows */
	cfg->max_readers = 512;
	derive_ca_paths(cfg, true, true);
	cfg->ca_key_type = CA_KEY_RSA2048;
	cfg->ca_days = 1024;
	cfg->crl_validity = 7 * 86400;
	cfg->crl_keep_expired = -1;
	cfg->crl_refresh = 3600;
	cfg->crl_debounce = 2;
	cfg->crl_warn_entries = 250000;
	cfg->crl_max_entries = ALB_MAX_ENTRIES;
	ca_profile_default(&cfg->profiles[0]);
	cfg->n_profiles = 1;
	snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1");
	cfg->https_port = 8443;
	cfg->http_port = 8080;
	snprintf(cfg->server_names[0], sizeof(cfg->server_names[0]),
	    "localhost");
	snprintf(cfg->server_names[1], sizeof(cfg->server_names[1]),
	    "127.0.0.1");
	cfg->n_server_names = 2;
	cfg->body_max = 65536;
	cfg->max_connections = 256;
	cfg->per_ip_connections = 64;
	cfg->timeout = 30;
	cfg->request_timeout = 10;
	cfg->request_timeout_busy = 2;
	cfg->per_ip_pending = 32;
	cfg->threads = 0;
	cfg->publish_retry_min = 5;
	cfg->backup_keep = 7;
	cfg->publish_retry_max = 300;
	cfg->publish_max_lag = 900;
	snprintf(cfg->verify_listen, sizeof(cfg->verify_listen), "127.0.0.1");
	cfg->verify_cache = 16384;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->log_format = LOG_FORMAT_TEXT;
}

int
config_load(const char *path, struct config *cfg, struct ca_error *err)
{
	static const char *const keys[] = { "data_dir", "store", "ca", "crl",
	    "profiles", "http", "admins", "publishers", "publish", "verify",
	    "log", "backup", NULL };
	struct config		*c = NULL;
	struct loader		 l;
	config_t		 lc;
	config_setting_t	*root, *s;
	FILE			*f;
	struct stat		 sb;
	bool			 cert_set = false, key_set = false;
	int			 rc;

	config_init(&lc);
	/* The whole struct is built aside and copied only on success
	 * (output written only on success, STYLE.md). */
	if ((c = malloc(sizeof(*c))) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	*c = *cfg;
	l.path = path;
	l.cfg = c;
	l.err = err;
	/* Open it ourselves first: libconfig's "file I/O error" does not say
	 * which error. */
	if ((f = fopen(path, "r")) == NULL) {
		rc = ca_error_set(err, CA_EINVAL, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	/*
	 * It names the admins and holds the token hashes that grant admin
	 * and enrollment rights: whoever may write it is an admin. Refused,
	 * like a CA key others can read, rather than used silently.
	 */
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 022) != 0) {
		rc = ca_error_set(err, CA_EPOLICY, "%s is writable by %s (mode "
		    "%04o): it grants admin and enrollment rights, so only its "
		    "owner may write it; run chmod go-w %s", path,
		    (sb.st_mode & 002) ? "others" : "its group",
		    (unsigned)(sb.st_mode & 07777), path);
		fclose(f);
		goto out;
	}
	fclose(f);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		rc = ca_error_set(err, CA_EINVAL, "%s:%d: %s",
		    config_error_file(&lc) != NULL ? config_error_file(&lc) :
		    path, config_error_line(&lc),
		    config_error_text(&lc) != NULL ? config_error_text(&lc) :
		    "cannot be read");
		goto out;
	}
	root = config_root_setting(&lc);
	if ((rc = known_keys(&l, root, keys)) != CA_OK)
		goto out;
	snprintf(c->source, sizeof(c->source), "%s", path);
	if ((s = config_lookup(&lc, "data_dir")) != NULL &&
	    (rc = get_string(&l, s, c->data_dir, DATA_DIR_MAX, true)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "store")) != NULL &&
	    (rc = load_store(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "ca")) != NULL &&
	    (rc = load_ca(&l, s, &cert_set, &key_set)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "crl")) != NULL) {
		if ((rc = load_crl(&l, s)) != CA_OK)
			goto out;
	}
	if ((s = config_lookup(&lc, "profiles")) != NULL &&
	    (rc = load_profiles(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "http")) != NULL &&
	    (rc = load_http(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "admins")) != NULL &&
	    (rc = load_admins(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "verify")) != NULL &&
	    (rc = load_verify(&l, s)) != CA_OK)
		goto out;
	if (c->verify_port != 0 && (c->verify_port == c->https_port ||
	    c->verify_port == c->http_port) &&
	    strcmp(c->verify_listen, c->listen) == 0) {
		rc = bad(&l, s, "verify.port %u is also an http port",
		    c->verify_port);
		goto out;
	}
	if ((s = config_lookup(&lc, "publishers")) != NULL &&
	    (rc = load_publishers(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "publish")) != NULL &&
	    (rc = load_publish(&l, s)) != CA_OK)
		goto out;
	if ((s = config_lookup(&lc, "log")) != NULL &&
	    (rc = load_log(&l, s)) != CA_OK)
		goto out;
	/* After the publishers: it may name one. */
	if ((s = config_lookup(&lc, "backup")) != NULL &&
	    (rc = load_backup(&l, s)) != CA_OK)
		goto out;
	/* Paths not given follow data_dir (and a later --data-dir). */
	c->ca_paths_explicit = (cert_set ? 1 : 0) | (key_set ? 2 : 0);
	derive_ca_paths(c, !cert_set, !key_set);
	*cfg = *c;
	rc = CA_OK;
out:
	config_destroy(&lc);
	free(c);
	return rc;
}

int
config_set_data_dir(struct config *cfg, const char *dir,
    struct ca_error *err)
{
	if (dir == NULL || dir[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "--data-dir needs a "
		    "directory");
	if (strlen(dir) >= DATA_DIR_MAX)
		return ca_error_set(err, CA_EINVAL, "--data-dir: path longer "
		    "than %d characters", DATA_DIR_MAX - 1);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", dir);
	derive_ca_paths(cfg, !(cfg->ca_paths_explicit & 1),
	    !(cfg->ca_paths_explicit & 2));
	return CA_OK;
}

const struct ca_profile *
config_profile(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_profiles; i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

int
config_path(const struct config *cfg, const char *name, char *out,
    size_t size)
{
	return path_join(out, size, cfg->data_dir, name);
}
