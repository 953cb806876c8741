/*
 * Is this client certificate good right now? One answer for the verifier
 * behind the load balancer, `mtlsca verify` and the service's own mTLS.
 *
 * The checks, cheapest and most telling first:
 *  1. it parses (at most CA_CERT_MAX bytes);
 *  2. its key is one ALB accepts, read before any signature is verified
 *     (a 16,000-bit RSA key would cost a second per check: keypolicy.c);
 *  3. its issuer names a CA of this instance, and that CA's key verifies
 *     its signature. The anchors are ours: what else the client sent is
 *     never trusted for anything (RFC 5280 section 6.1: the path starts at
 *     the relying party's trust anchor);
 *  4. it is an end entity good for clientAuth (RFC 5280 sections 4.2.1.9,
 *     4.2.1.12);
 *  5. the store knows this very certificate (its serial, and the DER when
 *     the record keeps it) and has not revoked it;
 *  6. now is inside its validity.
 *
 * Steps 1-4 never change for a given certificate, and 3 is what costs (a
 * signature check, tens of microseconds; the rest is a parse). So their
 * outcome is cached by the leaf's SHA-256, with the identity the answer
 * carries. Step 5 is cached too, with the store's revocation counter
 * (STORE_COUNTER_REVGEN) it was read at: the counter is read on every
 * verification (one LMDB read transaction, about a microsecond), and once
 * any revocation has moved it — this process's or the CLI's — every
 * certificate's next verification reads its record again. A revocation is
 * therefore refused on the very next request, and costs the cache one
 * record read per certificate in use, not a signature check each.
 *
 * The cache is set-associative (CACHE_WAYS slots per set, least recently
 * used out): a client who makes many certificates whose fingerprints fall
 * in one set only evicts that set.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "ca/ca_int.h"
#include "common/util.h"

#define CACHE_WAYS	8
#define CACHE_LOCKS	64
#define DN_TEXT_MAX	1024

static const char *const result_names[CA_VERIFY_RESULTS] = {
	"good", "malformed", "unknown_issuer", "bad_signature", "key_policy",
	"not_client", "not_yet_valid", "expired", "not_issued_here", "revoked",
};

const char *
ca_verify_result_name(enum ca_verify_result r)
{
	return (unsigned)r < CA_VERIFY_RESULTS ? result_names[r] : "unknown";
}

/* What never changes for one certificate: steps 1-4 and its identity. */
struct vc_value {
	enum ca_verify_result	 result;
	char			 msg[200];	/* a refusal's sentence */
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 serial_len;
	int64_t			 not_before, not_after;
	char			*subject;
	char			*sans;
};

struct vc_slot {
	uint8_t		 fp[CA_HASH_LEN];
	uint64_t	 tick;		/* last use; 0: free */
	struct vc_value	*val;
	/* step 5: the store said "good" at revocation counter gen */
	bool		 store_good;
	uint64_t	 gen;
	char		 profile[STORE_PROFILE_MAX];
};

struct anchor {
	struct ca	*ca;
	const uint8_t	*subject_der;
	size_t		 subject_len;
	char		 subject[DN_TEXT_MAX];	/* normalised RFC 4514 */
};

struct ca_verifier {
	struct anchor	*anchors;
	size_t		 n_anchors;
	struct store	*st;
	struct vc_slot	*slots;		/* n_sets * CACHE_WAYS */
	size_t		 n_sets;	/* a power of two; 0: no cache */
	pthread_mutex_t	 locks[CACHE_LOCKS];
	atomic_ullong	 tick;
	atomic_ullong	 hits, misses, store_reads, entries;
};

static void
value_free(struct vc_value *val)
{
	if (val == NULL)
		return;
	free(val->subject);
	free(val->sans);
	free(val);
}

void
ca_verified_clear(struct ca_verified *v)
{
	if (v == NULL)
		return;
	free(v->subject);
	free(v->sans);
	memset(v, 0, sizeof(*v));
	v->revocation_reason = -1;
}

/*
 * RFC 4514/2253 text in one form for comparison: no spaces around the
 * separators (',', '+', '=') outside escapes, so that "CN=a, O=b" and
 * ALB's "CN=a,O=b" compare equal; case is ignored by the caller.
 */
static void
dn_normalise(const char *in, char *out, size_t size)
{
	size_t	o = 0;

	while (*in == ' ')
		in++;
	for (; *in != '\0' && o + 1 < size; in++) {
		if (*in == '\\' && in[1] != '\0') {
			out[o++] = *in++;
			if (o + 1 < size)
				out[o++] = *in;
			continue;
		}
		if (*in == ' ') {
			const char *p = in;

			while (*p == ' ')
				p++;
			/* before a separator, or trailing: dropped */
			if (*p == ',' || *p == '+' || *p == '=' || *p == '\0' ||
			    (o > 0 && (out[o - 1] == ',' || out[o - 1] == '+' ||
			    out[o - 1] == '='))) {
				in = p - 1;
				continue;
			}
		}
		out[o++] = *in;
	}
	out[o] = '\0';
}

int
ca_verifier_new(struct ca *const *cas, size_t n_cas, struct store *st,
    const struct ca_verifier_options *opt, struct ca_verifier **out,
    struct ca_error *err)
{
	struct ca_verifier	*v;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d, dn = { NULL, 0 };
	size_t			 want, len;
	int			 rc;

	if (cas == NULL || n_cas == 0 || st == NULL || out == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_verifier_new: missing "
		    "argument");
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->anchors = calloc(n_cas, sizeof(*v->anchors))) == NULL) {
		free(v);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	v->st = st;
	for (size_t i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_init(&v->locks[i], NULL);
	for (size_t i = 0; i < n_cas; i++) {
		struct anchor *a = &v->anchors[v->n_anchors++];

		a->ca = cas[i];
		a->subject_der = ca_subject_der(cas[i], &a->subject_len);
		d.data = (unsigned char *)ca_cert_der(cas[i], &len);
		d.size = (unsigned)len;
		if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
		    (rc = gnutls_x509_crt_import(crt, &d,
		    GNUTLS_X509_FMT_DER)) < 0 ||
		    (rc = gnutls_x509_crt_get_dn3(crt, &dn, 0)) < 0) {
			rc = ca_gnutls_err(err, CA_ECRYPTO, rc, "CA subject");
			goto fail;
		}
		dn_normalise((const char *)dn.data, a->subject,
		    sizeof(a->subject));
		gnutls_free(dn.data);
		dn.data = NULL;
		gnutls_x509_crt_deinit(crt);
		crt = NULL;
	}
	want = opt != NULL ? opt->cache_entries : 0;
	if (want > 0) {
		v->n_sets = 1;
		while (v->n_sets * CACHE_WAYS < want && v->n_sets < (1u << 24))
			v->n_sets <<= 1;
		if ((v->slots = calloc(v->n_sets * CACHE_WAYS,
		    sizeof(*v->slots))) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory for "
			    "a cache of %zu certificates", want);
			goto fail;
		}
	}
	*out = v;
	return CA_OK;
fail:
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	ca_verifier_free(v);
	return rc;
}

void
ca_verifier_free(struct ca_verifier *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v->slots != NULL && i < v->n_sets * CACHE_WAYS;
	    i++)
		value_free(v->slots[i].val);
	for (size_t i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_destroy(&v->locks[i]);
	free(v->slots);
	free(v->anchors);
	free(v);
}

void
ca_verifier_stats(struct ca_verifier *v, struct ca_verifier_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->hits = atomic_load(&v->hits);
	out->misses = atomic_load(&v->misses);
	out->store_reads = atomic_load(&v->store_reads);
	out->entries = atomic_load(&v->entries);
}

/* ---- the cache ---- */

static size_t
cache_set(const struct ca_verifier *v, const uint8_t fp[CA_HASH_LEN])
{
	uint64_t h = 0;

	/* A SHA-256 is uniform: its first bytes pick the set. */
	for (int i = 0; i < 8; i++)
		h = h << 8 | fp[i];
	return (size_t)(h & (v->n_sets - 1));
}

static pthread_mutex_t *
cache_lock(struct ca_verifier *v, size_t set)
{
	return &v->locks[set % CACHE_LOCKS];
}

static struct vc_slot *
cache_find(struct ca_verifier *v, size_t set, const uint8_t *fp)
{
	struct vc_slot *s = &v->slots[set * CACHE_WAYS];

	for (size_t w = 0; w < CACHE_WAYS; w++)
		if (s[w].tick != 0 && memcmp(s[w].fp, fp, CA_HASH_LEN) == 0)
			return &s[w];
	return NULL;
}

/* Copy what out needs from val (the caller holds val's lock). */
static int
value_copy(const struct vc_value *val, struct ca_verified *out)
{
	out->result = val->result;
	memcpy(out->serial, val->serial, sizeof(out->serial));
	out->serial_len = val->serial_len;
	out->not_before = val->not_before;
	out->not_after = val->not_after;
	if ((val->subject != NULL &&
	    (out->subject = strdup(val->subject)) == NULL) ||
	    (val->sans != NULL && (out->sans = strdup(val->sans)) == NULL))
		return CA_ENOMEM;
	return CA_OK;
}

/*
 * The cached outcome of steps 1-4 (and of 5 when still current) into out:
 * true when there was one. *store_good tells whether step 5 can be
 * skipped: the store said good at gen, and gen is still the counter.
 */
static bool
cache_get(struct ca_verifier *v, const uint8_t *fp, uint64_t gen,
    struct ca_verified *out, char *msg, size_t msg_size, bool *store_good,
    int *rc)
{
	size_t		 set;
	struct vc_slot	*s;
	bool		 found = false;

	*store_good = false;
	*rc = CA_OK;
	if (v->n_sets == 0)
		return false;
	set = cache_set(v, fp);
	pthread_mutex_lock(cache_lock(v, set));
	if ((s = cache_find(v, set, fp)) != NULL) {
		found = true;
		s->tick = atomic_fetch_add(&v->tick, 1) + 1;
		*rc = value_copy(s->val, out);
		snprintf(msg, msg_size, "%s", s->val->msg);
		if (s->store_good && s->gen == gen) {
			*store_good = true;
			memcpy(out->profile, s->profile, sizeof(out->profile));
		}
	}
	pthread_mutex_unlock(cache_lock(v, set));
	return found;
}

/* Keep val (owned by the cache from now on, or freed). */
static void
cache_put(struct ca_verifier *v, const uint8_t *fp, struct vc_value *val)
{
	size_t		 set;
	struct vc_slot	*s, *victim;

	if (v->n_sets == 0) {
		value_free(val);
		return;
	}
	set = cache_set(v, fp);
	pthread_mutex_lock(cache_lock(v, set));
	if (cache_find(v, set, fp) != NULL) {
		/* Another thread verified it meanwhile. */
		pthread_mutex_unlock(cache_lock(v, set));
		value_free(val);
		return;
	}
	s = &v->slots[set * CACHE_WAYS];
	victim = &s[0];
	for (size_t w = 0; w < CACHE_WAYS; w++)
		if (s[w].tick < victim->tick)
			victim = &s[w];		/* free (0), or least recent */
	if (victim->tick == 0)
		atomic_fetch_add(&v->entries, 1);
	value_free(victim->val);
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->fp, fp, CA_HASH_LEN);
	victim->val = val;
	victim->tick = atomic_fetch_add(&v->tick, 1) + 1;
	pthread_mutex_unlock(cache_lock(v, set));
}

/* Step 5's "good", read at gen. */
static void
cache_store_good(struct ca_verifier *v, const uint8_t *fp, uint64_t gen,
    const char *profile)
{
	size_t		 set;
	struct vc_slot	*s;

	if (v->n_sets == 0)
		return;
	set = cache_set(v, fp);
	pthread_mutex_lock(cache_lock(v, set));
	if ((s = cache_find(v, set, fp)) != NULL) {
		s->store_good = true;
		s->gen = gen;
		snprintf(s->profile, sizeof(s->profile), "%s", profile);
	}
	pthread_mutex_unlock(cache_lock(v, set));
}

/* ---- steps 1-4 ---- */

static int
refuse_static(struct vc_value *val, enum ca_verify_result r, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int
refuse_static(struct vc_value *val, enum ca_verify_result r, const char *fmt,
    ...)
{
	va_list ap;

	val->result = r;
	va_start(ap, fmt);
	vsnprintf(val->msg, sizeof(val->msg), fmt, ap);
	va_end(ap);
	return CA_OK;
}

/* Signed by one of the anchors whose subject is the issuer's? */
static int
check_signature(struct ca_verifier *v, gnutls_x509_crt_t crt,
    struct vc_value *val, struct ca_error *err)
{
	gnutls_datum_t	 issuer = { NULL, 0 }, text = { NULL, 0 };
	bool		 named = false;
	int		 rc;

	if ((rc = gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer)) < 0)
		return refuse_static(val, CA_VERIFY_MALFORMED, "the "
		    "certificate's issuer cannot be read: %s",
		    gnutls_strerror(rc));
	for (size_t i = 0; i < v->n_anchors; i++) {
		struct anchor		*a = &v->anchors[i];
		gnutls_x509_crt_t	 cacrt = NULL;
		gnutls_datum_t		 d;
		unsigned		 status = 1;
		size_t			 len;

		if (a->subject_len != issuer.size ||
		    memcmp(a->subject_der, issuer.data, issuer.size) != 0)
			continue;
		named = true;
		d.data = (unsigned char *)ca_cert_der(a->ca, &len);
		d.size = (unsigned)len;
		if ((rc = gnutls_x509_crt_init(&cacrt)) < 0 ||
		    (rc = gnutls_x509_crt_import(cacrt, &d,
		    GNUTLS_X509_FMT_DER)) < 0) {
			gnutls_x509_crt_deinit(cacrt);
			gnutls_free(issuer.data);
			return ca_gnutls_err(err, CA_ECRYPTO, rc,
			    "CA certificate");
		}
		/* Time is ours to check (step 6, MTLSCA_FAKE_NOW too). */
		rc = gnutls_x509_crt_verify(crt, &cacrt, 1,
		    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
		    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status);
		gnutls_x509_crt_deinit(cacrt);
		if (rc >= 0 && status == 0) {
			gnutls_free(issuer.data);
			return CA_OK;
		}
	}
	gnutls_free(issuer.data);
	if (named)
		return refuse_static(val, CA_VERIFY_BAD_SIGNATURE, "the "
		    "certificate names this CA as its issuer, but its "
		    "signature does not verify with this CA's key");
	rc = gnutls_x509_crt_get_issuer_dn3(crt, &text, 0);
	refuse_static(val, CA_VERIFY_UNKNOWN_ISSUER, "the certificate was "
	    "issued by \"%.120s\", not by a CA of this instance",
	    rc >= 0 && text.data != NULL ? (const char *)text.data : "?");
	gnutls_free(text.data);
	return CA_OK;
}

/* Subject and SANs as the answer carries them. */
static int
identity(const uint8_t *der, size_t len, struct vc_value *val)
{
	struct ca_identity	*id;
	size_t			 n = 1;
	int			 rc;

	if ((id = malloc(sizeof(*id))) == NULL)
		return CA_ENOMEM;
	if ((rc = ca_identity_of(der, len, id, NULL)) != CA_OK) {
		free(id);
		return refuse_static(val, CA_VERIFY_MALFORMED, "the "
		    "certificate's names cannot be read");
	}
	for (size_t i = 0; i < id->n_sans; i++)
		n += strlen(id->sans[i]) + 2;
	if ((val->subject = strdup(id->subject)) == NULL ||
	    (val->sans = malloc(n)) == NULL) {
		free(id);
		return CA_ENOMEM;
	}
	val->sans[0] = '\0';
	for (size_t i = 0, o = 0; i < id->n_sans; i++)
		o += (size_t)snprintf(val->sans + o, n - o, "%s%s",
		    i > 0 ? ", " : "", id->sans[i]);
	free(id);
	return CA_OK;
}

/*
 * Steps 1-4 on a leaf: *out gets a value (owned) whose result is GOOD or
 * a refusal; only a failure to check (CA_ENOMEM, a GnuTLS failure not due
 * to the certificate) is returned as an error.
 */
static int
verify_static(struct ca_verifier *v, const uint8_t *der, size_t len,
    struct vc_value **out, struct ca_error *err)
{
	struct vc_value		*val;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_pubkey_t		 pub = NULL;
	gnutls_pk_algorithm_t	 pk;
	gnutls_datum_t		 d = { (unsigned char *)der, (unsigned)len };
	struct ca_error		 e;
	size_t			 n;
	int			 rc;

	if ((val = calloc(1, sizeof(*val))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0) {
		rc = ca_gnutls_err(err, CA_ENOMEM, rc, "init");
		goto out;
	}
	rc = CA_OK;
	if (len > CA_CERT_MAX) {
		refuse_static(val, CA_VERIFY_MALFORMED, "a certificate of %zu "
		    "bytes: the limit is %d", len, CA_CERT_MAX);
		goto done;
	}
	if ((rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER)) < 0) {
		rc = refuse_static(val, CA_VERIFY_MALFORMED, "the "
		    "certificate does not parse: %s", gnutls_strerror(rc));
		goto done;
	}
	n = sizeof(val->serial);
	if (gnutls_x509_crt_get_serial(crt, val->serial, &n) < 0 || n == 0 ||
	    n > SERIAL_MAX + 1) {
		rc = refuse_static(val, CA_VERIFY_MALFORMED, "the "
		    "certificate's serial is unusable (RFC 5280 section "
		    "4.1.2.2)");
		goto done;
	}
	val->serial_len = n;
	val->not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	val->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	/* Step 2 before any signature is verified. */
	ca_error_clear(&e);
	if (gnutls_pubkey_import_x509(pub, crt, 0) < 0) {
		rc = refuse_static(val, CA_VERIFY_KEY_POLICY, "the "
		    "certificate's public key cannot be read: its type is not "
		    "one %s", CA_ALB_KEYS);
		goto done;
	}
	if (ca_pubkey_policy(pub, "the certificate's", &pk, NULL, &e) !=
	    CA_OK) {
		rc = refuse_static(val, CA_VERIFY_KEY_POLICY, "%s", e.msg);
		goto done;
	}
	if ((rc = check_signature(v, crt, val, err)) != CA_OK ||
	    val->result != CA_VERIFY_GOOD)
		goto done;
	if (ca_crt_check_client(crt, &e) != CA_OK) {
		rc = refuse_static(val, CA_VERIFY_NOT_CLIENT, "%s", e.msg);
		goto done;
	}
	rc = identity(der, len, val);
	if (rc == CA_ENOMEM)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
done:
	if (rc == CA_OK) {
		*out = val;
		val = NULL;
	}
out:
	value_free(val);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* ---- the verdict ---- */

static int
refuse(struct ca_verified *out, struct ca_error *err, enum ca_verify_result r,
    const char *msg)
{
	out->result = r;
	return ca_refuse(err, CA_EFORBIDDEN, ca_verify_result_name(r), "%s",
	    msg);
}

/* Step 5: the record of out's serial says good, now. */
static int
check_store(struct ca_verifier *v, const uint8_t *der, size_t len,
    struct ca_verified *out, struct ca_error *err)
{
	struct cert_record	rec;
	struct ca_error		e;
	char			hex[SERIAL_HEX_MAX + 2], when[21], msg[200];
	const char		*why;
	int			rc;

	memset(&rec, 0, sizeof(rec));
	ca_error_clear(&e);
	serial_format(out->serial, out->serial_len, hex);
	atomic_fetch_add(&v->store_reads, 1);
	rc = store_cert_get(v->st, out->serial, out->serial_len, &rec, &e);
	if (rc == CA_ENOENT) {
		snprintf(msg, sizeof(msg), "the certificate %s is signed by "
		    "this CA but not in its store: it was not issued here", hex);
		return refuse(out, err, CA_VERIFY_NOT_ISSUED_HERE, msg);
	}
	if (rc != CA_OK)
		return ca_error_set(err, rc, "%s", e.msg);
	/* The store keeps the certificate it issued: this must be it. */
	if (der != NULL && rec.der != NULL && (rec.der_len != len ||
	    memcmp(rec.der, der, len) != 0)) {
		cert_record_clear(&rec);
		snprintf(msg, sizeof(msg), "the store's certificate %s is "
		    "another one than this, which was not issued here", hex);
		return refuse(out, err, CA_VERIFY_NOT_ISSUED_HERE, msg);
	}
	snprintf(out->profile, sizeof(out->profile), "%s", rec.profile);
	if (rec.status == CERT_STATUS_REVOKED) {
		out->revoked_at = rec.revoked_at;
		out->revocation_reason = rec.reason;
		time_format(rec.revoked_at, when);
		why = ca_reason_name(rec.reason);
		snprintf(msg, sizeof(msg), "the certificate %s was revoked at "
		    "%s (%s)", hex, when, why != NULL ? why : "unspecified");
		cert_record_clear(&rec);
		return refuse(out, err, CA_VERIFY_REVOKED, msg);
	}
	cert_record_clear(&rec);
	return CA_OK;
}

/* Step 6. */
static int
check_time(struct ca_verified *out, int64_t now, struct ca_error *err)
{
	char	hex[SERIAL_HEX_MAX + 2], when[21], msg[200];

	serial_format(out->serial, out->serial_len, hex);
	if (now < out->not_before) {
		time_format(out->not_before, when);
		snprintf(msg, sizeof(msg), "the certificate %s is not valid "
		    "before %s", hex, when);
		return refuse(out, err, CA_VERIFY_NOT_YET_VALID, msg);
	}
	if (now > out->not_after) {
		time_format(out->not_after, when);
		snprintf(msg, sizeof(msg), "the certificate %s expired at %s",
		    hex, when);
		return refuse(out, err, CA_VERIFY_EXPIRED, msg);
	}
	return CA_OK;
}

int
ca_verify_chain(struct ca_verifier *v, const uint8_t *const *der,
    const size_t *len, size_t n, int64_t now, struct ca_verified *out,
    struct ca_error *err)
{
	struct vc_value	*val = NULL;
	char		 msg[200] = "";
	uint64_t	 gen = 0;
	bool		 store_good = false;
	int		 rc;

	memset(out, 0, sizeof(*out));
	out->revocation_reason = -1;
	if (v == NULL || der == NULL || len == NULL)
		return ca_error_set(err, CA_EINVAL, "ca_verify_chain: missing "
		    "argument");
	if (n == 0 || der[0] == NULL || len[0] == 0)
		return refuse(out, err, CA_VERIFY_MALFORMED, "no certificate");
	if ((rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, der[0], len[0],
	    out->fingerprint)) < 0)
		return ca_gnutls_err(err, CA_ECRYPTO, rc, "fingerprint");
	/* Read before the record: a revocation committed in between moves
	   it past what the cache keeps, and the next request reads again. */
	if ((rc = store_counter_get(v->st, STORE_COUNTER_REVGEN, &gen, err)) !=
	    CA_OK)
		return rc;
	if (cache_get(v, out->fingerprint, gen, out, msg, sizeof(msg),
	    &store_good, &rc)) {
		if (rc != CA_OK)
			return ca_error_set(err, rc, "out of memory");
		out->cached = true;
		atomic_fetch_add(&v->hits, 1);
	} else {
		atomic_fetch_add(&v->misses, 1);
		if ((rc = verify_static(v, der[0], len[0], &val, err)) != CA_OK)
			return rc;
		rc = value_copy(val, out);
		snprintf(msg, sizeof(msg), "%s", val->msg);
		cache_put(v, out->fingerprint, val);
		if (rc != CA_OK)
			return ca_error_set(err, rc, "out of memory");
	}
	if (out->result != CA_VERIFY_GOOD)
		return refuse(out, err, out->result, msg);
	if (!store_good) {
		if ((rc = check_store(v, der[0], len[0], out, err)) != CA_OK)
			return rc;
		cache_store_good(v, out->fingerprint, gen, out->profile);
	}
	return check_time(out, now, err);
}

int
ca_verify_serial(struct ca_verifier *v, const uint8_t *serial,
    size_t serial_len, const char *issuer, int64_t now,
    struct ca_verified *out, struct ca_error *err)
{
	struct cert_record	 rec;
	struct ca_error		 e;
	char			 norm[DN_TEXT_MAX], hex[SERIAL_HEX_MAX + 2];
	char			 msg[200];
	const uint8_t		*der;
	size_t			 dlen;
	bool			 ours = issuer == NULL;
	int			 rc;

	memset(out, 0, sizeof(*out));
	out->revocation_reason = -1;
	if (v == NULL || serial == NULL || serial_len == 0 ||
	    serial_len > SERIAL_MAX + 1)
		return refuse(out, err, CA_VERIFY_MALFORMED, "no usable serial");
	memcpy(out->serial, serial, serial_len);
	out->serial_len = serial_len;
	if (issuer != NULL) {
		dn_normalise(issuer, norm, sizeof(norm));
		for (size_t i = 0; i < v->n_anchors && !ours; i++)
			ours = strcasecmp(norm, v->anchors[i].subject) == 0;
	}
	if (!ours) {
		snprintf(msg, sizeof(msg), "the certificate was issued by "
		    "\"%.120s\", not by a CA of this instance", issuer);
		return refuse(out, err, CA_VERIFY_UNKNOWN_ISSUER, msg);
	}
	memset(&rec, 0, sizeof(rec));
	ca_error_clear(&e);
	serial_format(serial, serial_len, hex);
	atomic_fetch_add(&v->store_reads, 1);
	rc = store_cert_get(v->st, serial, serial_len, &rec, &e);
	if (rc == CA_ENOENT) {
		snprintf(msg, sizeof(msg), "the serial %s is not in this CA's "
		    "store: it was not issued here", hex);
		return refuse(out, err, CA_VERIFY_NOT_ISSUED_HERE, msg);
	}
	if (rc != CA_OK)
		return ca_error_set(err, rc, "%s", e.msg);
	if (rec.der != NULL) {
		/* The certificate itself: the same answer as its PEM gets. */
		der = rec.der;
		dlen = rec.der_len;
		rc = ca_verify_chain(v, &der, &dlen, 1, now, out, err);
		cert_record_clear(&rec);
		return rc;
	}
	/* Imported from an index.txt without its certificate: the record's
	   dates and status are all there is. */
	out->not_before = rec.not_before;
	out->not_after = rec.not_after;
	snprintf(out->profile, sizeof(out->profile), "%s", rec.profile);
	if (rec.subject != NULL && (out->subject = strdup(rec.subject)) ==
	    NULL) {
		cert_record_clear(&rec);
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	}
	cert_record_clear(&rec);
	if ((rc = check_store(v, NULL, 0, out, err)) != CA_OK)
		return rc;
	return check_time(out, now, err);
}

/* ---- the service's mTLS ---- */

int
ca_verifier_peer(struct ca_verifier *v, const uint8_t *der, size_t len,
    int64_t now, struct ca_peer *out, struct cert_record *rec,
    struct ca_error *err)
{
	struct ca_verified	 vd;
	struct ca_peer		 p;
	struct cert_record	 r;
	struct ca_error		 e;
	const char		*reason;
	int			 rc;

	ca_error_clear(&e);
	rc = ca_verify_chain(v, &der, &len, 1, now, &vd, &e);
	if (rc != CA_OK && rc != CA_EFORBIDDEN) {
		ca_verified_clear(&vd);
		return ca_error_set(err, rc, "%s", e.msg);
	}
	if (rc == CA_EFORBIDDEN) {
		/* The auth layer's three words for the verifier's reasons. */
		reason = vd.result == CA_VERIFY_REVOKED ?
		    CA_REASON_PEER_REVOKED : vd.result ==
		    CA_VERIFY_NOT_ISSUED_HERE ? CA_REASON_PEER_UNKNOWN :
		    CA_REASON_PEER_UNTRUSTED;
		ca_verified_clear(&vd);
		return ca_refuse(err, CA_EFORBIDDEN, reason, "the client "
		    "certificate is refused (%s): %s", e.reason, e.msg);
	}
	memset(&p, 0, sizeof(p));
	memcpy(p.serial, vd.serial, sizeof(p.serial));
	p.serial_len = vd.serial_len;
	memcpy(p.fingerprint, vd.fingerprint, sizeof(p.fingerprint));
	p.not_after = vd.not_after;
	if (vd.subject != NULL && strlen(vd.subject) >= sizeof(p.subject)) {
		ca_verified_clear(&vd);
		return ca_refuse(err, CA_EFORBIDDEN, CA_REASON_PEER_UNTRUSTED,
		    "client certificate subject longer than %zu bytes",
		    sizeof(p.subject) - 1);
	}
	snprintf(p.subject, sizeof(p.subject), "%s",
	    vd.subject != NULL ? vd.subject : "");
	if (rec != NULL) {
		memset(&r, 0, sizeof(r));
		if ((rc = store_cert_get(v->st, vd.serial, vd.serial_len, &r,
		    &e)) != CA_OK) {
			ca_verified_clear(&vd);
			return ca_error_set(err, rc, "%s", e.msg);
		}
		*rec = r;
	}
	ca_verified_clear(&vd);
	*out = p;
	return CA_OK;
}

int
ca_peer_verify(struct ca *ca, struct store *st, const uint8_t *der,
    size_t len, int64_t now, struct ca_peer *out, struct cert_record *rec,
    struct ca_error *err)
{
	struct ca_verifier	*v = NULL;
	int			 rc;

	if ((rc = ca_verifier_new(&ca, 1, st, NULL, &v, err)) != CA_OK)
		return rc;
	rc = ca_verifier_peer(v, der, len, now, out, rec, err);
	ca_verifier_free(v);
	return rc;
}
