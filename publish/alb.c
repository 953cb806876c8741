/*
 * The alb publisher.
 *
 * ALB copies a CRL from S3 only when AddTrustStoreRevocations is called
 * (overwriting the object changes nothing), so every CRL gets its own key
 * and a refresh is Add(new key) -> record the new RevocationId -> Remove the
 * ids this CA added before. Both lists count against the trust store's quota
 * (500,000 entries, 30 lists) while one replaces the other.
 *
 * Add is the one call that is not idempotent: sent twice, it adds two lists.
 * Its answer can be lost after ALB acted on it (a timeout, a 5xx, a crash of
 * this process), and a list nobody recorded would hold quota forever and
 * never be replaced. So before each Add the state records it as pending,
 * with the ids the trust store holds at that moment; an Add without an
 * answer is settled by looking (Describe): a new list with the entry count
 * sent is this CA's and is adopted, no new list means it never ran and it
 * is sent again. The aws client never retries Add itself (aws/aws.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "publish/publish_int.h"

/* ---- alb ---- */

static int
alb_call(struct publisher *p, const char *action, const struct sigv4_kv *kv,
    size_t n, struct aws_response *r, struct ca_error *err)
{
	int	 rc;

	memset(r, 0, sizeof(*r));
	rc = aws_elbv2_call(p->aws, p->conf.endpoint, p->conf.region, action,
	    kv, n, r, err);
	/* A failure says so in its error (logged once by runner.c). */
	if (rc == CA_OK && r->attempts > 1)
		publish_log(p->set, PUBLISH_INFO, "%s: %s took %u attempts",
		    p->conf.name, action, r->attempts);
	return rc;
}

static void
ids_drop(struct publish_state *s, uint64_t id)
{
	size_t	 o = 0;

	for (size_t i = 0; i < s->n_ids; i++)
		if (s->revocation_ids[i] != id)
			s->revocation_ids[o++] = s->revocation_ids[i];
	s->n_ids = o;
}

static void
ids_push(struct publish_state *s, uint64_t id)
{
	if (s->n_ids == PUBLISH_IDS_MAX) {
		memmove(s->revocation_ids, s->revocation_ids + 1,
		    (PUBLISH_IDS_MAX - 1) * sizeof(s->revocation_ids[0]));
		s->n_ids--;
	}
	s->revocation_ids[s->n_ids++] = id;
}

/*
 * Remove one id. CA_OK when gone (RevocationIdNotFound counts as gone);
 * the state forgets it then.
 */
static int
alb_remove(struct publisher *p, struct publish_state *s, uint64_t id,
    struct ca_error *err)
{
	struct aws_response	 r;
	struct sigv4_kv		 kv[2];
	char			 ids[24];
	int			 rc;

	snprintf(ids, sizeof(ids), "%" PRIu64, id);
	kv[0].name = "TrustStoreArn";
	kv[0].value = p->conf.trust_store_arn;
	kv[1].name = "RevocationIds.member.1";
	kv[1].value = ids;
	rc = alb_call(p, "RemoveTrustStoreRevocations", kv, 2, &r, err);
	if (rc != CA_OK && strcmp(r.error_code, "RevocationIdNotFound") == 0) {
		publish_log(p->set, PUBLISH_INFO, "%s: RevocationId %s was "
		    "already gone", p->conf.name, ids);
		ca_error_clear(err);
		rc = CA_OK;
	}
	if (rc == CA_OK)
		ids_drop(s, id);
	aws_response_clear(&r);
	return rc;
}

/* Add s3://bucket/key; *id and *entries from ALB's answer. */
static int
alb_add(struct publisher *p, const char *bucket, const char *key,
    const char *version, uint64_t *id, uint64_t *entries, bool *too_many,
    struct ca_error *err)
{
	struct aws_response	 r;
	struct aws_revocation	 rev[2];
	struct sigv4_kv		 kv[5];
	size_t			 n = 0, nrev = 0;
	int			 rc;

	*too_many = false;
	kv[n].name = "TrustStoreArn";
	kv[n++].value = p->conf.trust_store_arn;
	kv[n].name = "RevocationContents.member.1.S3Bucket";
	kv[n++].value = bucket;
	kv[n].name = "RevocationContents.member.1.S3Key";
	kv[n++].value = key;
	kv[n].name = "RevocationContents.member.1.RevocationType";
	kv[n++].value = "CRL";
	if (version != NULL && version[0] != '\0') {
		kv[n].name = "RevocationContents.member.1.S3ObjectVersion";
		kv[n++].value = version;
	}
	if ((rc = alb_call(p, "AddTrustStoreRevocations", kv, n, &r, err)) !=
	    CA_OK) {
		*too_many = strcmp(r.error_code,
		    "TooManyTrustStoreRevocationEntries") == 0;
		goto out;
	}
	if ((rc = aws_elbv2_parse_revocations(r.body.data, r.body.len, rev, 2,
	    &nrev, NULL, 0, err)) != CA_OK)
		goto out;
	if (nrev != 1) {
		rc = ca_error_set(err, CA_EMALF, "AddTrustStoreRevocations "
		    "answered %zu revocations for one CRL", nrev);
		goto out;
	}
	*id = rev[0].id;
	*entries = rev[0].entries;
out:
	aws_response_clear(&r);
	return rc;
}

/* ---- the CA bundle: merged, never replaced ---- */

/* The trust store's bundle as it is: GetTrustStoreCaCertificatesBundle
   answers a presigned URL (Location), fetched unsigned. */
static int
alb_bundle_get(struct publisher *p, struct bundle *out, struct ca_error *err)
{
	struct aws_response	 r;
	struct sigv4_kv		 kv[1] = { { "TrustStoreArn",
	    p->conf.trust_store_arn } };
	char			 url[4096];
	int			 rc;

	memset(&r, 0, sizeof(r));
	if ((rc = alb_call(p, "GetTrustStoreCaCertificatesBundle", kv, 1, &r,
	    err)) != CA_OK) {
		if (rc == CA_EAUTH) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			ca_error_set(err, rc, "%.160s (the role needs elastic"
			    "loadbalancing:GetTrustStoreCaCertificatesBundle)",
			    why);
		}
		goto out;
	}
	if ((rc = aws_elbv2_parse_location(r.body.data, r.body.len, url,
	    sizeof(url), err)) != CA_OK)
		goto out;
	if ((rc = aws_http_get(p->aws, url, 2 * 1024 * 1024, &r, err)) !=
	    CA_OK)
		goto out;
	rc = bundle_add_pem(out, r.body.data != NULL ? r.body.data : "",
	    r.body.len, "the trust store's CA bundle", err);
out:
	aws_response_clear(&r);
	return rc;
}

/*
 * What the bundle should be: what the trust store holds, in its order,
 * less remove_ca_fingerprints; then this CA and the extra_ca_files it
 * lacks. A CA certificate leaves the trust store only when the operator
 * names it: another team's CA, or the old root during a migration, stays.
 */
int
publish_alb_bundle_plan(struct publisher *p, struct bundle *current,
    struct bundle *want, struct ca_error *err)
{
	int	 rc;

	if ((rc = alb_bundle_get(p, current, err)) != CA_OK ||
	    (rc = bundle_copy_without(want, current,
	    (const char (*)[65])p->conf.remove_ca_fingerprints,
	    p->conf.n_remove_ca_fingerprints, err)) != CA_OK ||
	    (rc = bundle_add_pem(want, p->set->bundle, p->set->bundle_len,
	    "this CA", err)) != CA_OK ||
	    (rc = bundle_copy_without(want, &p->extra, NULL, 0, err)) != CA_OK)
		return rc;
	return CA_OK;
}

/* "subject (sha256:0123456789abcdef...)" of the certificates of a that b
   lacks, for the log. */
static void
diff_text(const struct bundle *a, const struct bundle *b, char *out,
    size_t size)
{
	size_t	 o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < a->n && o < size; i++)
		if (!bundle_has(b, a->c[i].sha256))
			o += (size_t)snprintf(out + o, size - o, "%s%.80s "
			    "(SHA-256 %.16s...)", o ? ", " : "",
			    a->c[i].subject, a->c[i].sha256);
	if (out[0] == '\0')
		snprintf(out, size, "none");
}

/*
 * Make the trust store's bundle the planned one when its set of
 * certificates differs (and only then): the PEM put in S3 through the s3
 * publisher under PREFIX/ca-bundles/<SHA-256 of the PEM>.pem (an object
 * that never changes once a Modify names it), then ModifyTrustStore.
 */
static int
alb_bundle_sync(struct publisher *p, struct publish_state *s,
    struct ca_error *err)
{
	struct bundle		 current = { 0 }, want = { 0 };
	struct aws_response	 r;
	struct sigv4_kv		 kv[3];
	char			*pem = NULL, sha[65], key[400];
	char			 added[512], removed[512];
	size_t			 len;
	int			 rc;

	memset(&r, 0, sizeof(r));
	if ((rc = publish_alb_bundle_plan(p, &current, &want, err)) != CA_OK)
		goto out;
	if (bundle_same_set(&current, &want)) {
		bundle_set_sha256(&want, s->bundle_sha256);
		goto out;
	}
	if ((rc = bundle_check_alb(&want, err)) != CA_OK ||
	    (rc = bundle_pem(&want, &pem, &len, err)) != CA_OK)
		goto out;
	if ((rc = sigv4_sha256_hex(pem, len, sha)) != CA_OK) {
		rc = ca_error_set(err, rc, "cannot hash the bundle");
		goto out;
	}
	snprintf(key, sizeof(key), "%sca-bundles/%s.pem", p->s3->prefix, sha);
	if ((rc = aws_s3_put(p->s3->aws, p->s3->conf.endpoint,
	    p->s3->conf.region, p->s3->conf.bucket, key, pem, len,
	    "application/x-pem-file", &r, err)) != CA_OK)
		goto out;
	kv[0].name = "TrustStoreArn";
	kv[0].value = p->conf.trust_store_arn;
	kv[1].name = "CaCertificatesBundleS3Bucket";
	kv[1].value = p->s3->conf.bucket;
	kv[2].name = "CaCertificatesBundleS3Key";
	kv[2].value = key;
	aws_response_clear(&r);
	if ((rc = alb_call(p, "ModifyTrustStore", kv, 3, &r, err)) != CA_OK)
		goto out;
	bundle_set_sha256(&want, s->bundle_sha256);
	diff_text(&want, &current, added, sizeof(added));
	diff_text(&current, &want, removed, sizeof(removed));
	publish_log(p->set, PUBLISH_INFO, "%s: trust store CA bundle: %zu "
	    "certificates (s3://%s/%s); added: %s; removed: %s",
	    p->conf.name, want.n, p->s3->conf.bucket, key, added, removed);
out:
	aws_response_clear(&r);
	free(pem);
	bundle_free(&current);
	bundle_free(&want);
	return rc;
}

/*
 * Every list of the trust store, page by page. *out owns a malloc'd array
 * (NULL when *n is 0).
 */
static int
alb_describe(struct publisher *p, struct aws_revocation **out, size_t *n_out,
    struct ca_error *err)
{
	struct aws_revocation	*all = NULL;
	size_t			 n_all = 0, cap = 0;
	char			 marker[256] = "";
	int			 rc = CA_OK;

	for (int page = 0; page < 100; page++) {
		struct aws_response	 r;
		struct aws_revocation	 rev[400];
		struct sigv4_kv		 kv[3];
		size_t			 n = 0, nr = 0;

		kv[n].name = "TrustStoreArn";
		kv[n++].value = p->conf.trust_store_arn;
		kv[n].name = "PageSize";
		kv[n++].value = "400";
		if (marker[0] != '\0') {
			kv[n].name = "Marker";
			kv[n++].value = marker;
		}
		rc = alb_call(p, "DescribeTrustStoreRevocations", kv, n, &r,
		    err);
		if (rc == CA_OK)
			rc = aws_elbv2_parse_revocations(r.body.data,
			    r.body.len, rev, 400, &nr, marker, sizeof(marker),
			    err);
		aws_response_clear(&r);
		if (rc != CA_OK)
			goto out;
		if (n_all + nr > cap) {
			struct aws_revocation *na;
			cap = (n_all + nr) * 2;
			if ((na = realloc(all, cap * sizeof(*all))) == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				goto out;
			}
			all = na;
		}
		if (nr > 0)
			memcpy(all + n_all, rev, nr * sizeof(rev[0]));
		n_all += nr;
		if (marker[0] == '\0')
			break;
	}
out:
	if (rc != CA_OK) {
		free(all);
		all = NULL;
		n_all = 0;
	}
	*out = all;
	*n_out = n_all;
	return rc;
}

static bool
ids_has(const uint64_t *ids, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* An Add that got no answer, a 5xx or one that cannot be read (aws.h):
   ALB may have made the list. A 4xx refusal is an answer: it did not. */
static bool
add_in_doubt(int rc)
{
	return rc == CA_EIO || rc == CA_EMALF;
}

static void
pending_clear(struct publish_state *s)
{
	s->pending_number = s->pending_entries = 0;
	s->pending_since = 0;
	s->n_pending_known = 0;
}

/*
 * Settle an add in doubt against the trust store as it is now (all): the
 * lists that were not there before the add, are not already this CA's and
 * have the entry count the add sent. One is the add's: *adopted gets it.
 * None: the add never ran. Several: another writer added a list of the same
 * size meanwhile; they cannot be told apart, so none is touched and the
 * operator is told which ids to look at. Returns how many were found and
 * clears the mark in *s; the caller stores the state (with the adopted id
 * recorded in the same write, so that no crash can lose it).
 */
static size_t
pending_settle(struct publisher *p, struct publish_state *s,
    const struct aws_revocation *all, size_t n_all,
    struct aws_revocation *adopted)
{
	char	 ids[200] = "";
	size_t	 found = 0, len = 0;

	memset(adopted, 0, sizeof(*adopted));
	for (size_t k = 0; k < n_all; k++) {
		if (ids_has(s->pending_known, s->n_pending_known, all[k].id) ||
		    ids_has(s->revocation_ids, s->n_ids, all[k].id) ||
		    all[k].entries != s->pending_entries)
			continue;
		if (found++ == 0)
			*adopted = all[k];
		if (len < sizeof(ids))
			len += (size_t)snprintf(ids + len, sizeof(ids) - len,
			    "%s%" PRIu64, len ? ", " : "", all[k].id);
	}
	if (found == 1)
		publish_log(p->set, PUBLISH_WARN, "%s: the answer to the add of "
		    "CRL %" PRIu64 " was lost, but ALB made the list: "
		    "RevocationId %" PRIu64 " (%" PRIu64 " entries) is this "
		    "CA's", p->conf.name, s->pending_number, adopted->id,
		    adopted->entries);
	else if (found == 0)
		publish_log(p->set, PUBLISH_INFO, "%s: the add of CRL %" PRIu64
		    " got no answer and did not run", p->conf.name,
		    s->pending_number);
	else {
		memset(adopted, 0, sizeof(*adopted));
		publish_log(p->set, PUBLISH_ERR, "%s: the answer to the add of "
		    "CRL %" PRIu64 " was lost and %zu lists of %" PRIu64
		    " entries appeared since (RevocationIds %s): one may be "
		    "this CA's; check them with `aws elbv2 "
		    "describe-trust-store-revocations` and remove the one "
		    "that is not another CA's", p->conf.name,
		    s->pending_number, found, s->pending_entries, ids);
	}
	pending_clear(s);
	return found;
}

/*
 * AddTrustStoreRevocations, made safe to retry: recorded as pending first
 * (with the ids the trust store holds, from a Describe), settled by a
 * Describe when no answer comes, sent again only when that shows it did not
 * run. On CA_OK *id and *entries are the list now in the trust store and
 * *s still says "in doubt" until the caller records the id (one write).
 */
static int
alb_add_tracked(struct publisher *p, struct publish_state *s,
    const char *key, uint64_t number, uint64_t want_entries, uint64_t *id,
    uint64_t *entries, bool *too_many, struct ca_error *err)
{
	struct publish_set	*set = p->set;
	struct aws_revocation	*all = NULL, got;
	size_t			 n_all = 0, found;
	struct ca_error		 e2;
	int			 rc;

	*too_many = false;
	if ((rc = alb_describe(p, &all, &n_all, err)) != CA_OK)
		return rc;
	for (unsigned attempt = 1;; attempt++) {
		if (n_all > PUBLISH_KNOWN_MAX) {
			rc = ca_error_set(err, CA_EPOLICY, "the trust store "
			    "holds %zu lists, more than the %d this publisher "
			    "can keep track of around an add", n_all,
			    PUBLISH_KNOWN_MAX);
			goto out;
		}
		s->pending_number = number;
		s->pending_entries = want_entries;
		s->pending_since = time_now();
		s->n_pending_known = 0;
		for (size_t k = 0; k < n_all; k++)
			s->pending_known[s->n_pending_known++] = all[k].id;
		if ((rc = publish_state_write(set, p, s, &e2)) != CA_OK) {
			pending_clear(s);
			rc = ca_error_set(err, rc, "the add was not sent: it "
			    "could not be recorded first: %s", e2.msg);
			goto out;
		}
		rc = alb_add(p, p->s3->conf.bucket, key, NULL, id,
		    entries, too_many, &e2);
		if (rc == CA_OK)
			goto out;
		if (*too_many || !add_in_doubt(rc)) {
			/* Refused: an answer that says it did not run. */
			pending_clear(s);
			publish_state_write(set, p, s, NULL);
			ca_error_set(err, rc, "%s", e2.msg);
			goto out;
		}
		/* No answer, or a 5xx: look. */
		free(all);
		if (alb_describe(p, &all, &n_all, NULL) != CA_OK) {
			/* Stays pending: the next run settles it. */
			rc = ca_error_set(err, rc, "%s (the trust store could "
			    "not be read to see whether the add ran; the "
			    "next publish looks again)", e2.msg);
			goto out;
		}
		found = pending_settle(p, s, all, n_all, &got);
		if (found == 1) {
			*id = got.id;
			*entries = got.entries;
			s->pending_number = number;	/* until recorded */
			rc = CA_OK;
			goto out;
		}
		if (found > 1 || attempt >= 3) {
			publish_state_write(set, p, s, NULL);
			rc = ca_error_set(err, rc, "%s (%s)", e2.msg, found > 1 ?
			    "whether the add ran cannot be told: see the log" :
			    "the add did not run; gave up after 3 tries");
			goto out;
		}
		publish_log(set, PUBLISH_WARN, "%s: sending "
		    "AddTrustStoreRevocations again after: %s", p->conf.name,
		    e2.msg);
	}
out:
	free(all);
	return rc;
}

/*
 * Is list id of the trust store this CA's? Its content
 * (GetTrustStoreRevocationContent answers a presigned URL, fetched
 * unsigned) is a CRL whose signature verifies with this CA's key.
 * *number gets its cRLNumber.
 */
static int
alb_list_ours(struct publisher *p, uint64_t id, bool *ours, uint64_t *number,
    struct ca_error *err)
{
	struct aws_response		 r;
	struct crl_check_options	 o;
	struct crl_check_report		 rep;
	char				 ids[24], url[4096];
	struct sigv4_kv			 kv[2] = { { "RevocationId", ids },
	    { "TrustStoreArn", p->conf.trust_store_arn } };
	int				 rc;

	*ours = false;
	*number = 0;
	snprintf(ids, sizeof(ids), "%" PRIu64, id);
	memset(&r, 0, sizeof(r));
	if ((rc = alb_call(p, "GetTrustStoreRevocationContent", kv, 2, &r,
	    err)) != CA_OK)
		goto out;
	if ((rc = aws_elbv2_parse_location(r.body.data, r.body.len, url,
	    sizeof(url), err)) != CA_OK)
		goto out;
	if ((rc = aws_http_get(p->aws, url, CRL_ALB_MAX_BYTES + 1024 * 1024,
	    &r, err)) != CA_OK)
		goto out;
	memset(&o, 0, sizeof(o));
	memset(&rep, 0, sizeof(rep));
	o.ca = p->set->ca;
	o.times_after = INT64_MAX;
	/* Another CA's list, or one that does not parse: not ours. */
	if (crl_check_with((const uint8_t *)r.body.data, r.body.len, &o, &rep,
	    NULL) == CA_OK && rep.signature_ok && rep.has_number) {
		*ours = true;
		*number = rep.number;
	}
out:
	aws_response_clear(&r);
	return rc;
}

/*
 * Lists of this CA that the state does not name: after a restore of an
 * older store (or a lost state), the trust store holds a list the state
 * never recorded, which nothing would ever remove. Each unknown list's
 * content says whose it is; this CA's are adopted, in CRL-number order,
 * so that the stale-list pass below and the next publish replace them.
 */
static void
alb_adopt_orphans(struct publisher *p, struct publish_state *s,
    const struct aws_revocation *all, size_t n_all)
{
	struct ca_error	 e2;
	uint64_t	 num;
	bool		 ours;

	if (p->set->ca == NULL)
		return;
	for (size_t k = 0; k < n_all; k++) {
		if (ids_has(s->revocation_ids, s->n_ids, all[k].id))
			continue;
		if (alb_list_ours(p, all[k].id, &ours, &num, &e2) != CA_OK) {
			publish_log(p->set, PUBLISH_WARN, "%s: reconcile: whose "
			    "list RevocationId %" PRIu64 " is cannot be told: %s",
			    p->conf.name, all[k].id, e2.msg);
			continue;
		}
		if (!ours)
			continue;
		publish_log(p->set, PUBLISH_WARN, "%s: reconcile: RevocationId "
		    "%" PRIu64 " (CRL %" PRIu64 ", %" PRIu64 " entries) is this "
		    "CA's but was not recorded (a restored store?): adopted, "
		    "the next publish replaces it", p->conf.name, all[k].id,
		    num, all[k].entries);
		if (num > s->published_number || s->n_ids == 0) {
			/* The newest: the list in force until the next. */
			ids_push(s, all[k].id);
			s->alb_entries = all[k].entries;
			if (num > s->published_number)
				s->published_number = num;
		} else if (s->n_ids < PUBLISH_IDS_MAX) {
			/* Older than what is recorded: first to go. */
			memmove(s->revocation_ids + 1, s->revocation_ids,
			    s->n_ids * sizeof(s->revocation_ids[0]));
			s->revocation_ids[0] = all[k].id;
			s->n_ids++;
		}
	}
}

static int
alb_reconcile(struct publisher *p, struct publish_state *s,
    struct ca_error *err)
{
	struct aws_revocation	*all = NULL, got;
	size_t			 n_all = 0;
	int			 rc;

	if ((rc = alb_describe(p, &all, &n_all, err)) != CA_OK)
		return rc;
	/* Recorded ids the trust store no longer holds are forgotten. */
	for (size_t i = 0; i < s->n_ids;) {
		bool present = false;
		for (size_t k = 0; k < n_all; k++)
			if (all[k].id == s->revocation_ids[i]) {
				present = true;
				if (i == s->n_ids - 1)
					s->alb_entries = all[k].entries;
			}
		if (present) {
			i++;
			continue;
		}
		publish_log(p->set, PUBLISH_WARN, "%s: reconcile: RevocationId "
		    "%" PRIu64 " is no longer in the trust store", p->conf.name,
		    s->revocation_ids[i]);
		ids_drop(s, s->revocation_ids[i]);
		if (s->n_ids == 0)
			s->alb_entries = 0;
	}
	/* An add left in doubt by an earlier run: its list, if ALB made
	   it, is the newest this CA has, and its CRL the one published. */
	if (s->pending_number != 0) {
		uint64_t number = s->pending_number;

		if (pending_settle(p, s, all, n_all, &got) == 1) {
			ids_push(s, got.id);
			s->alb_entries = got.entries;
			if (number > s->published_number)
				s->published_number = number;
		}
	}
	alb_adopt_orphans(p, s, all, n_all);
	/* Stale lists this CA added (a removal that failed earlier). */
	while (s->n_ids > 1) {
		uint64_t id = s->revocation_ids[0];
		if ((rc = alb_remove(p, s, id, err)) != CA_OK)
			goto out;
		publish_log(p->set, PUBLISH_INFO, "%s: reconcile: removed "
		    "stale RevocationId %" PRIu64, p->conf.name, id);
	}
	publish_log(p->set, PUBLISH_INFO, "%s: reconciled with the trust store "
	    "(%zu lists in it, %zu of them this CA's)", p->conf.name, n_all,
	    s->n_ids);
out:
	free(all);
	return rc;
}

static int
alb_run(struct publisher *p, const struct crl_snapshot *crl,
    struct publish_state *s, struct ca_error *err)
{
	struct publish_set	*set = p->set;
	struct publish_state s3s;
	uint64_t		 old[PUBLISH_IDS_MAX];
	size_t			 n_old;
	uint64_t		 id = 0, entries = 0;
	bool			 too_many = false, removed_first = false;
	struct ca_error		 e2;
	int			 rc;

	/* The object the s3 publisher put for this very CRL (runner.c makes
	   the alb publisher wait for it): what ALB is told to copy. */
	if ((rc = publish_state_read(set, p->s3, &s3s, err)) != CA_OK)
		return rc;
	if (s3s.published_number != crl->number || s3s.object_key[0] == '\0')
		return ca_error_set(err, CA_EIO, "s3 publisher '%s' did not "
		    "put CRL %" PRIu64 ", so the trust store keeps its current "
		    "CRL", p->s3->conf.name, crl->number);
	/* The CA bundle first: the CRL's issuer must be in it. */
	if ((rc = alb_bundle_sync(p, s, err)) != CA_OK)
		return rc;
	if (s->pending_number != 0)
		return ca_error_set(err, CA_EIO, "the add of CRL %" PRIu64
		    " is still in doubt (the trust store could not be read to "
		    "settle it), so no other list is added",
		    s->pending_number);
	n_old = s->n_ids;
	memcpy(old, s->revocation_ids, n_old * sizeof(old[0]));

	/* Both lists count while one replaces the other: if they cannot fit
	 * together, go straight to remove-then-add. */
	if (n_old > 0 && crl->entries + s->alb_entries > set->opt.max_entries)
		too_many = true;
	else {
		rc = alb_add_tracked(p, s, s3s.object_key, crl->number,
		    crl->entries, &id, &entries, &too_many, &e2);
		if (rc != CA_OK && !too_many)
			return ca_error_set(err, rc, "%s", e2.msg);
	}
	if (too_many) {
		int64_t gap_start = time_now();
		char when[21];

		time_format(gap_start, when);
		publish_log(set, PUBLISH_WARN, "%s: the trust store cannot hold "
		    "the old and the new CRL together (%" PRIu64 " + %" PRIu64
		    " entries): removing the old list first; this CA has no "
		    "CRL in the trust store from %s until the add completes",
		    p->conf.name, s->alb_entries, crl->entries, when);
		for (size_t i = 0; i < n_old; i++) {
			if ((rc = alb_remove(p, s, old[i], &e2)) != CA_OK) {
				publish_state_write(set, p, s, NULL);
				return ca_error_set(err, rc, "removing the old "
				    "list before the add: %s", e2.msg);
			}
		}
		s->alb_entries = 0;
		publish_state_write(set, p, s, NULL);
		removed_first = true;
		if ((rc = alb_add_tracked(p, s, s3s.object_key, crl->number,
		    crl->entries, &id, &entries, &too_many, &e2)) != CA_OK) {
			publish_log(set, PUBLISH_ERR, "%s: the trust store now "
			    "holds no CRL of this CA: %s", p->conf.name,
			    e2.msg);
			return ca_error_set(err, rc, "%s (the old list was "
			    "removed first: the trust store holds no CRL of "
			    "this CA)", e2.msg);
		}
		publish_log(set, PUBLISH_WARN, "%s: gap closed after %" PRId64
		    " s", p->conf.name, time_now() - gap_start);
	}
	/* Record the new id before touching the old ones: a crash now leaves
	 * every id this CA added in the store, for the next reconcile. Until
	 * this write the add stays "in doubt" in the store. */
	ids_push(s, id);
	s->alb_entries = entries;
	pending_clear(s);
	if ((rc = publish_state_write(set, p, s, &e2)) != CA_OK)
		publish_log(set, PUBLISH_ERR, "%s: RevocationId %" PRIu64
		    " not recorded: %s", p->conf.name, id, e2.msg);
	publish_log(set, PUBLISH_INFO, "%s: AddTrustStoreRevocations: "
	    "RevocationId %" PRIu64 ", %" PRIu64 " entries", p->conf.name, id,
	    entries);
	if (!removed_first) {
		for (size_t i = 0; i < n_old; i++) {
			if (old[i] == id)
				continue;
			if (alb_remove(p, s, old[i], &e2) != CA_OK)
				/* The new list is in force; the stale one
				 * stays recorded and is removed next time. */
				publish_log(set, PUBLISH_WARN, "%s: old "
				    "RevocationId %" PRIu64 " not removed yet: "
				    "%s", p->conf.name, old[i], e2.msg);
		}
	}
	return CA_OK;
}

static int
alb_check(const struct publish_conf *conf, size_t i, struct ca_error *err)
{
	const struct publish_conf *c = &conf[i];

	if (c->trust_store_arn[0] == '\0' || c->region[0] == '\0' ||
	    c->s3_publisher[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "alb publisher '%s' needs "
		    "trust_store_arn, region and s3_publisher", c->name);
	for (size_t j = 0; j < i; j++)
		if (conf[j].type == PUBLISH_S3 &&
		    strcmp(conf[j].name, c->s3_publisher) == 0)
			return CA_OK;
	return ca_error_set(err, CA_EINVAL, "alb publisher '%s': s3_publisher "
	    "'%s' must name an s3 publisher listed before it (ALB reads the "
	    "CRL that publisher wrote)", c->name, c->s3_publisher);
}

static int
alb_open(struct publisher *p, struct ca_error *err)
{
	struct bundle	 ours = { 0 };
	int		 rc;

	/* check() made sure it is there, and an s3 publisher. */
	p->s3 = publish_find(p->set, p->conf.s3_publisher);
	p->alb_bound = true;
	p->s3->alb_bound = true;
	if (p->set->opt.read_only)
		return CA_OK;
	/* The extra CA files are read once, at start: a file that is not
	   there or not PEM certificates stops the start, not a publish. */
	for (size_t i = 0; i < p->conf.n_extra_ca_files; i++) {
		uint8_t	*buf = NULL;
		size_t	 len;

		if ((rc = file_read(p->conf.extra_ca_files[i], 1024 * 1024,
		    &buf, &len, err)) != CA_OK)
			return rc;
		rc = bundle_add_pem(&p->extra, (char *)buf, len,
		    p->conf.extra_ca_files[i], err);
		free(buf);
		if (rc != CA_OK)
			return rc;
		if (len > 0 && p->extra.n == 0)
			return ca_error_set(err, CA_EINVAL, "alb publisher "
			    "'%s': %s holds no certificate", p->conf.name,
			    p->conf.extra_ca_files[i]);
	}
	/* Removing what is added would make every publish a Modify. */
	if ((rc = bundle_add_pem(&ours, p->set->bundle, p->set->bundle_len,
	    "this CA", err)) != CA_OK)
		return rc;
	for (size_t k = 0; k < p->conf.n_remove_ca_fingerprints; k++) {
		const char *fp = p->conf.remove_ca_fingerprints[k];

		const char *which = bundle_has(&ours, fp) ?
		    "this CA's own certificate" : bundle_has(&p->extra, fp) ?
		    "in extra_ca_files" : NULL;

		if (which != NULL) {
			bundle_free(&ours);
			return ca_error_set(err, CA_EINVAL, "alb publisher '%s': "
			    "remove_ca_fingerprints lists %.16s..., which is "
			    "%s", p->conf.name, fp, which);
		}
	}
	bundle_free(&ours);
	return publish_aws_open(p, err);
}

/* "    subject (SHA-256 fp)" lines for the certificates of a that b has
   (or lacks, when in is false). */
static int
plan_certs(struct awsbuf *b, const char *what, const struct bundle *a,
    const struct bundle *other, bool in)
{
	int	 rc = CA_OK;
	bool	 any = false;

	for (size_t i = 0; i < a->n && rc == CA_OK; i++) {
		if (bundle_has(other, a->c[i].sha256) != in)
			continue;
		if (!any)
			rc = awsbuf_printf(b, "    %s:\n", what);
		any = true;
		if (rc == CA_OK)
			rc = awsbuf_printf(b, "      %s (SHA-256 %s)\n",
			    a->c[i].subject, a->c[i].sha256);
	}
	if (rc == CA_OK && !any)
		rc = awsbuf_printf(b, "    %s: none\n", what);
	return rc;
}

static int
alb_plan(struct publisher *p, const struct crl_snapshot *crl,
    const struct publish_state *s, struct awsbuf *b, struct ca_error *err)
{
	struct bundle		 current = { 0 }, want = { 0 };
	struct aws_revocation	*all = NULL;
	size_t			 n_all = 0;
	uint64_t		 listed = 0;
	struct ca_error		 e2;
	int			 rc;

	/* The bundle: read-only (Get + GET of the Location). */
	if ((rc = publish_alb_bundle_plan(p, &current, &want, err)) != CA_OK)
		goto out;
	if (bundle_same_set(&current, &want))
		rc = awsbuf_printf(b, "  CA bundle: unchanged (%zu certificates"
		    "), no ModifyTrustStore\n", current.n);
	else if (bundle_check_alb(&want, &e2) != CA_OK)
		rc = awsbuf_printf(b, "  CA bundle: would be refused: %s\n",
		    e2.msg);
	else
		rc = awsbuf_printf(b, "  CA bundle: would ModifyTrustStore with "
		    "%zu certificates, put in s3://%s/%sca-bundles/<its "
		    "SHA-256>.pem\n", want.n, p->s3->conf.bucket,
		    p->s3->prefix);
	if (rc == CA_OK)
		rc = plan_certs(b, "kept", &current, &want, true);
	if (rc == CA_OK)
		rc = plan_certs(b, "added", &want, &current, false);
	if (rc == CA_OK)
		rc = plan_certs(b, "removed", &current, &want, false);
	if (rc != CA_OK) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	/* The revocation lists: read-only (Describe). */
	if ((rc = alb_describe(p, &all, &n_all, err)) != CA_OK)
		goto out;
	rc = awsbuf_printf(b, "  revocation lists: the trust store holds "
	    "%zu\n    would add: CRL %" PRIu64 " (%" PRIu64 " entries) from "
	    "s3://%s/%scrl/%" PRIu64 ".pem\n", n_all, crl->number,
	    crl->entries, p->s3->conf.bucket, p->s3->crl_prefix, crl->number);
	for (size_t i = 0; rc == CA_OK && i < s->n_ids; i++) {
		bool	 there = false;

		for (size_t k = 0; k < n_all; k++)
			if (all[k].id == s->revocation_ids[i]) {
				there = true;
				rc = awsbuf_printf(b, "    would remove: "
				    "RevocationId %" PRIu64 " (%" PRIu64
				    " entries, this CA's)\n", all[k].id,
				    all[k].entries);
				listed++;
			}
		if (!there && rc == CA_OK)
			rc = awsbuf_printf(b, "    RevocationId %" PRIu64 " (this "
			    "CA's) is no longer in the trust store: would be "
			    "forgotten\n", s->revocation_ids[i]);
	}
	if (rc == CA_OK && listed == 0)
		rc = awsbuf_puts(b, "    would remove: none\n");
	if (rc == CA_OK && s->pending_number != 0)
		rc = awsbuf_printf(b, "    an add of CRL %" PRIu64 " is in doubt: "
		    "settled first\n", s->pending_number);
	if (rc != CA_OK)
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
out:
	free(all);
	bundle_free(&current);
	bundle_free(&want);
	return rc;
}

static int
alb_status(const struct publisher *p, const struct publish_state *s,
    struct awsbuf *b)
{
	int	 rc;

	rc = awsbuf_printf(b, "  trust store:      %s\n"
	    "  revocation id:    ", p->conf.trust_store_arn);
	if (rc == CA_OK && s->n_ids == 0)
		rc = awsbuf_puts(b, "-");
	for (size_t k = 0; rc == CA_OK && k < s->n_ids; k++)
		rc = awsbuf_printf(b, "%s%" PRIu64, k ? " (stale: " : "",
		    s->revocation_ids[s->n_ids - 1 - k]);
	if (rc == CA_OK && s->n_ids > 1)
		rc = awsbuf_puts(b, ")");
	if (rc == CA_OK)
		rc = awsbuf_printf(b, "\n  ALB entries:      %" PRIu64 "\n",
		    s->alb_entries);
	if (rc == CA_OK && s->pending_number != 0) {
		char when[21];

		time_format(s->pending_since, when);
		rc = awsbuf_printf(b, "  add in doubt:     CRL %" PRIu64 " (%"
		    PRIu64 " entries), sent %s without an answer; the next "
		    "publish settles it\n", s->pending_number,
		    s->pending_entries, when);
	}
	return rc;
}

/*
 * A retired CA: every list of its in the trust store goes. Reconcile first,
 * so that an add left in doubt and a list of this CA's the state never
 * recorded (a restored store) are found by their content and go too.
 */
static int
alb_retire(struct publisher *p, struct publish_state *s, struct ca_error *err)
{
	int	 rc;

	if ((rc = alb_reconcile(p, s, err)) != CA_OK)
		return rc;
	while (s->n_ids > 0) {
		uint64_t id = s->revocation_ids[s->n_ids - 1];

		/* RevocationIdNotFound counts as removed. */
		if ((rc = alb_remove(p, s, id, err)) != CA_OK)
			return rc;
		publish_log(p->set, PUBLISH_INFO, "%s: CA retired: removed "
		    "RevocationId %" PRIu64 " from the trust store",
		    p->conf.name, id);
	}
	s->alb_entries = 0;
	return CA_OK;
}

static void
alb_destination(const struct publisher *p, char *out, size_t size)
{
	snprintf(out, size, "alb:%s", p->conf.trust_store_arn);
}

const struct publish_ops publish_alb_ops = {
	.name = "alb",
	.check = alb_check,
	.open = alb_open,
	.destination = alb_destination,
	.plan = alb_plan,
	.run = alb_run,
	.reconcile = alb_reconcile,
	.status = alb_status,
	.retire = alb_retire,
};
