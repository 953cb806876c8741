/*
 * `mtlsca ca rotate` and `mtlsca ca list`, and the CAs of a data directory
 * for the commands that need more than the active one (serve, crl,
 * verify): see ca/cas.c for the registry's files.
 *
 * A rotation, in an order that a crash at any point leaves recoverable:
 *   1. the active CA's files are copied to cas/<A>/ (it keeps signing
 *      CRLs from there), unless they are there already;
 *   2. the new CA is made in cas/<B>/ (key 0600), with no state file yet
 *      (a rotation that stops here is ignored and redone);
 *   3. cas/<B>/state = active, then cas/<A>/state = retiring with its
 *      last certificate's notAfter: from here the rotation has happened;
 *   4. the store's active CA counter is raised to B (forced revocations
 *      of serials it never saw go to B's CRL), audited;
 *   5. cas/<B>/'s files replace the configured ca.cert and ca.key.
 * Every command opens the CA through cmd_ca_open, which finishes step 5
 * when it finds a CA marked active that is not the configured one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <getopt.h>
#include <gnutls/gnutls.h>
#include <jansson.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "common/pem.h"
#include "crl/crl.h"
#include "publish/publish.h"
#include "cmd/cmd_int.h"
#include "common/util.h"
#include "store/store.h"

int
cmd_serve_lock_hold(const struct config *cfg)
{
	char	path[CONFIG_PATH_MAX];
	int	fd;

	if (config_path(cfg, CMD_SERVE_LOCK, path, sizeof(path)) != CA_OK ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool
cmd_serve_running(const struct config *cfg)
{
	char	path[CONFIG_PATH_MAX];
	bool	running = false;
	int	fd;

	if (config_path(cfg, CMD_SERVE_LOCK, path, sizeof(path)) != CA_OK ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		running = errno == EWOULDBLOCK;
	close(fd);
	return running;
}

int
cmd_cas_dir(const struct config *cfg, char *out, size_t size)
{
	return config_path(cfg, "cas", out, size);
}

/* Copy src to dst atomically with mode (a CA file: at most 64 KiB). */
static int
copy_file(const char *src, const char *dst, mode_t mode, struct ca_error *err)
{
	uint8_t	*buf = NULL;
	size_t	 len = 0;
	int	 rc;

	if ((rc = file_read(src, 64 * 1024, &buf, &len, err)) != CA_OK)
		return rc;
	rc = file_write_atomic(dst, buf, len, mode, 0, err);
	gnutls_memset(buf, 0, len);
	free(buf);
	return rc;
}

/* Step 5: the active CA's files at the configured paths. Key first: a
   crash between the two leaves a pair that does not match, which the
   next cmd_ca_open repairs the same way. */
static int
install_active(const struct config *cfg, const struct ca_entry *e,
    struct ca_error *err)
{
	int rc;

	if ((rc = copy_file(e->key, cfg->ca_key, 0600, err)) != CA_OK ||
	    (rc = copy_file(e->cert, cfg->ca_cert, 0644, err)) != CA_OK)
		return ca_error_set(err, rc, "installing CA %" PRIu32 " as the "
		    "active CA: %s", e->id, err->msg);
	return CA_OK;
}

/* The registry for the configured CA's certificate file (read as is, so
   that a half-installed pair is still found). */
static int
registry_for(const struct config *cfg, const char *cas, struct ca_registry **reg,
    struct ca_error *err)
{
	uint8_t		*pem = NULL;
	size_t		 len;
	gnutls_datum_t	 in, der = { NULL, 0 };
	int		 rc;

	if ((rc = file_read(cfg->ca_cert, 64 * 1024, &pem, &len, err)) != CA_OK)
		return rc;
	in.data = pem;
	in.size = (unsigned)len;
	if (gnutls_pem_base64_decode2("CERTIFICATE", &in, &der) < 0) {
		free(pem);
		return ca_error_set(err, CA_EMALF, "%s: no PEM certificate",
		    cfg->ca_cert);
	}
	rc = ca_registry_load(cas, der.data, der.size, reg, err);
	gnutls_free(der.data);
	free(pem);
	return rc;
}

int
cmd_ca_open(const struct config *cfg, struct ca **out, struct ca_error *err)
{
	struct ca_registry	*reg = NULL;
	const struct ca_entry	*pending;
	struct ca_paths		 paths;
	struct stat		 sb;
	char			 cas[CONFIG_PATH_MAX];
	int			 rc;

	/* Say what to do, not only that a file is missing. */
	if (stat(cfg->ca_cert, &sb) != 0)
		return ca_error_set(err, CA_ENOENT, "no CA certificate at %s: "
		    "create a CA with 'mtlsca init' or adopt one with 'mtlsca "
		    "import' (data directory %s)", cfg->ca_cert, cfg->data_dir);
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if (stat(cas, &sb) == 0) {
		/* A data directory that rotated: finish a rotation that
		   stopped before its files were in place (step 5). */
		if ((rc = registry_for(cfg, cas, &reg, err)) != CA_OK)
			return rc;
		if ((pending = ca_registry_pending(reg)) != NULL) {
			fprintf(stderr, "mtlsca: finishing the rotation to CA %"
			    PRIu32 ": installing it as %s\n", pending->id,
			    cfg->ca_cert);
			if ((rc = install_active(cfg, pending, err)) != CA_OK)
				goto out;
		}
		ca_registry_free(reg);
		reg = NULL;
	}
	paths.cert = cfg->ca_cert;
	paths.key = cfg->ca_key;
	if ((rc = ca_open(&paths, out, err)) != CA_OK)
		goto out;
	if (stat(cas, &sb) == 0) {
		size_t		 len;
		const uint8_t	*der = ca_cert_der(*out, &len);

		if ((rc = ca_registry_load(cas, der, len, &reg, err)) != CA_OK) {
			ca_free(*out);
			*out = NULL;
			goto out;
		}
		ca_set_id(*out, ca_registry_active_id(reg));
	}
	rc = CA_OK;
out:
	ca_registry_free(reg);
	return rc;
}

void
cmd_cas_close(struct cmd_cas *c)
{
	if (c == NULL)
		return;
	for (size_t i = 1; i < c->n; i++)
		ca_free(c->ca[i]);
	ca_registry_free(c->reg);
	memset(c, 0, sizeof(*c));
}

int
cmd_cas_open(const struct config *cfg, struct ca *active, int64_t now,
    struct cmd_cas *out, struct ca_error *err)
{
	const struct ca_entry	*e;
	struct ca_paths		 paths;
	char			 cas[CONFIG_PATH_MAX];
	size_t			 len;
	const uint8_t		*der = ca_cert_der(active, &len);
	int			 rc;

	memset(out, 0, sizeof(*out));
	out->ca[0] = active;
	out->id[0] = ca_get_id(active);
	out->n = 1;
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if ((rc = ca_registry_load(cas, der, len, &out->reg, err)) != CA_OK)
		return rc;
	for (size_t i = 0; i < ca_registry_count(out->reg); i++) {
		e = ca_registry_at(out->reg, i);
		if (e->state != CA_STATE_RETIRING || e->id == out->id[0])
			continue;
		if (out->n == CMD_CAS_MAX) {
			rc = ca_error_set(err, CA_ETOOBIG, "more than %d "
			    "retiring CAs", CMD_CAS_MAX - 1);
			goto fail;
		}
		paths.cert = e->cert;
		paths.key = e->key;
		if ((rc = ca_open(&paths, &out->ca[out->n], err)) != CA_OK) {
			rc = ca_error_set(err, rc, "retiring CA %" PRIu32 ": %s",
			    e->id, err->msg);
			goto fail;
		}
		ca_set_id(out->ca[out->n], e->id);
		out->id[out->n] = e->id;
		out->last_expiry[out->n] = e->last_expiry;
		out->due[out->n] = now > e->last_expiry;
		out->n++;
	}
	return CA_OK;
fail:
	cmd_cas_close(out);
	return rc;
}

int
cmd_cas_retire(const struct config *cfg, const struct cmd_cas *c, size_t i,
    int64_t now, struct ca_error *err)
{
	char cas[CONFIG_PATH_MAX];

	if (i == 0 || i >= c->n)
		return ca_error_set(err, CA_EINVAL, "only a retiring CA "
		    "retires");
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir %s: path too "
		    "long", cfg->data_dir);
	return ca_registry_state_write(cas, c->id[i], CA_STATE_RETIRED,
	    c->last_expiry[i], now, err);
}

void
cmd_cas_public_dir(const char *pub, const struct cmd_cas *c, size_t i,
    char *out, size_t size)
{
	if (i == 0)
		snprintf(out, size, "%s", pub);
	else
		snprintf(out, size, "%s/ca-%" PRIu32, pub, c->id[i]);
}

void
cmd_cas_ns(const struct cmd_cas *c, size_t i, char *out, size_t size)
{
	if (i == 0)
		snprintf(out, size, "%s", "");
	else
		snprintf(out, size, "ca-%" PRIu32, c->id[i]);
}

/* The registry, with ca (opened) as the configured CA. */
static int
registry_of(const struct config *cfg, struct ca *ca, struct ca_registry **reg,
    struct ca_error *err)
{
	char		 cas[CONFIG_PATH_MAX];
	size_t		 len;
	const uint8_t	*der = ca_cert_der(ca, &len);

	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir %s: path too "
		    "long", cfg->data_dir);
	return ca_registry_load(cas, der, len, reg, err);
}

/* ---- ca list ---- */

struct ca_count {
	uint32_t	id;
	uint64_t	certs, valid, revoked;
	int64_t		last_expiry;
};

/*
 * Whether rec keeps its CA retiring until it expires: every certificate
 * the CA issued, except the service's own HTTPS certificates (profile
 * "server"), which serve replaces with one of the new CA at its first
 * start after the rotation and never presents again, and the cross
 * certificate of the next CA (profile "cross"), only sent while it
 * retires. One of unknown
 * notAfter (revoked with --force) is listed until then anyway.
 */
static bool
counts_for_expiry(const struct cert_record *rec)
{
	return rec->not_after != STORE_NOT_AFTER_UNKNOWN &&
	    strcmp(rec->profile, CA_PROFILE_SERVICE) != 0 &&
	    strcmp(rec->profile, CMD_PROFILE_CROSS) != 0;
}

struct count_ctx {
	struct ca_count	*c;
	size_t		 n;
	int64_t		 now;
};

static int
count_cb(const struct cert_record *rec, void *arg)
{
	struct count_ctx	*x = arg;
	uint32_t		 id = rec->ca_id > STORE_CA_FIRST ? rec->ca_id :
	    STORE_CA_FIRST;

	for (size_t i = 0; i < x->n; i++) {
		struct ca_count *c = &x->c[i];

		if (c->id != id)
			continue;
		c->certs++;
		if (rec->status == CERT_STATUS_REVOKED)
			c->revoked++;
		else if (rec->not_after > x->now)
			c->valid++;
		if (counts_for_expiry(rec) && rec->not_after > c->last_expiry)
			c->last_expiry = rec->not_after;
	}
	return 0;
}

/* Certificates per CA, by one walk of the store. */
static int
count_certs(struct store *st, struct ca_count *c, size_t n, int64_t now,
    struct ca_error *err)
{
	struct count_ctx x = { c, n, now };

	return store_cert_foreach(st, NULL, 0, count_cb, &x, err);
}

static int
ca_list(struct config *cfg, bool json)
{
	struct ca_registry	*reg = NULL;
	struct store		*st = NULL;
	struct ca_count		*cnt = NULL;
	struct ca_entry		 single;
	struct ca_error		 err;
	char			 t1[21], t2[21], cas[CONFIG_PATH_MAX];
	size_t			 n;
	int64_t			 now = time_now();
	json_t			*arr = NULL;
	int			 status = CMD_FAIL;

	/* Certificates only, never a key: a data directory restored
	   without its keys still lists its CAs. */
	ca_error_clear(&err);
	memset(&single, 0, sizeof(single));
	single.id = STORE_CA_FIRST;
	single.state = CA_STATE_ACTIVE;
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK ||
	    registry_for(cfg, cas, &reg, &err) != CA_OK ||
	    cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    (ca_registry_count(reg) == 0 && ca_cert_file_facts(cfg->ca_cert,
	    &single, &err) != CA_OK)) {
		status = cmd_fail_err(&err);
		goto out;
	}
	n = ca_registry_count(reg);
	if ((cnt = calloc(n > 0 ? n : 1, sizeof(*cnt))) == NULL) {
		status = cmd_fail("out of memory");
		goto out;
	}
	if (n == 0)
		cnt[0].id = STORE_CA_FIRST;
	for (size_t i = 0; i < n; i++)
		cnt[i].id = ca_registry_at(reg, i)->id;
	if (count_certs(st, cnt, n > 0 ? n : 1, now, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (json && (arr = json_array()) == NULL) {
		status = cmd_fail("out of memory");
		goto out;
	}
	if (!json)
		printf("%-4s %-9s %-20s %-20s %7s %7s %7s  %s\n", "ID", "STATE",
		    "EXPIRES", "LAST CERT EXPIRES", "CERTS", "VALID",
		    "REVOKED", "SUBJECT / SHA-256");
	for (size_t i = 0; i < (n > 0 ? n : 1); i++) {
		const struct ca_entry	*e = n > 0 ? ca_registry_at(reg, i) :
		    &single;
		const char		*fp = e->fingerprint_hex, *subj = e->subject;
		const char		*state = ca_state_name(e->state);

		cmd_time(e->not_after, t1);
		cmd_time(cnt[i].last_expiry, t2);
		if (json) {
			if (json_array_append_new(arr, json_pack("{s:I, s:s, "
			    "s:s, s:s, s:s, s:s?, s:I, s:I, s:I}", "id",
			    (json_int_t)cnt[i].id, "state", state, "subject",
			    subj, "sha256", fp, "not_after", t1,
			    "last_certificate_expires", cnt[i].last_expiry > 0 ?
			    t2 : NULL, "certificates", (json_int_t)cnt[i].certs,
			    "valid", (json_int_t)cnt[i].valid, "revoked",
			    (json_int_t)cnt[i].revoked)) != 0) {
				status = cmd_fail("out of memory");
				goto out;
			}
			continue;
		}
		printf("%-4" PRIu32 " %-9s %-20s %-20s %7" PRIu64 " %7" PRIu64
		    " %7" PRIu64 "  %s\n%56s%s\n", cnt[i].id, state, t1, t2,
		    cnt[i].certs, cnt[i].valid, cnt[i].revoked, subj, "", fp);
	}
	status = json ? cmd_json_print(arr) : CMD_OK;
	arr = NULL;
out:
	json_decref(arr);
	free(cnt);
	ca_registry_free(reg);
	store_close(st);
	return status;
}

/* ---- ca rotate ---- */

/* The new CA's default subject: the old one's, its CN followed by the new
   id ("CN=mtlsca demo CA" -> "CN=mtlsca demo CA 2", and "... CA 2" ->
   "... CA 3"), so that the two are told apart in every tool; without a CN
   first, one is put first. */
static void
default_subject(const char *old, uint32_t old_id, uint32_t id, char *out,
    size_t size)
{
	char	suffix[16];
	size_t	i, cn_end, sl;

	if (strncmp(old, "CN=", 3) != 0) {
		snprintf(out, size, "CN=mtlsca CA %" PRIu32 "%s%.500s", id,
		    old[0] != '\0' ? "," : "", old);
		return;
	}
	/* The end of the first RDN: the first comma not escaped. */
	for (i = 3; old[i] != '\0' && old[i] != ',' && old[i] != '+'; i++)
		if (old[i] == '\\' && old[i + 1] != '\0')
			i++;
	/* The old CA's own number goes: "CA 2" becomes "CA 3". */
	cn_end = i;
	snprintf(suffix, sizeof(suffix), " %" PRIu32, old_id);
	sl = strlen(suffix);
	if (old_id > STORE_CA_FIRST && cn_end > 3 + sl &&
	    strncmp(old + cn_end - sl, suffix, sl) == 0)
		cn_end -= sl;
	snprintf(out, size, "%.*s %" PRIu32 "%.500s", (int)(cn_end > 500 ? 500 :
	    cn_end), old, id, old + i);
}

/* cas/<new>/cross-<old>.pem, recorded in the store as the old CA's
   (profile "cross"). */
static int
cross_make(const struct config *cfg, struct store *st, struct ca *old,
    struct ca *nca, uint32_t old_id, const char *ndir, struct ca_error *err)
{
	struct cert_record	 rec;
	char			*pem = NULL, path[CONFIG_PATH_MAX + 32];
	int			 rc;

	(void)cfg;
	memset(&rec, 0, sizeof(rec));
	snprintf(path, sizeof(path), "%s/cross-%" PRIu32 ".pem", ndir, old_id);
	if ((rc = ca_cross_sign(old, nca, &pem, err)) != CA_OK ||
	    (rc = cmd_cert_load((const uint8_t *)pem, strlen(pem), old, &rec,
	    err)) != CA_OK)
		goto out;
	snprintf(rec.profile, sizeof(rec.profile), "%s", CMD_PROFILE_CROSS);
	rec.ca_id = old_id;
	rec.issued_at = time_now();
	if ((rc = store_cert_put(st, &rec, err)) != CA_OK ||
	    (rc = file_write_atomic(path, pem, strlen(pem), 0644, 0, err)) !=
	    CA_OK)
		goto out;
out:
	cert_record_clear(&rec);
	free(pem);
	return rc;
}

int
cmd_cas_cross_chain(const struct config *cfg, const struct cmd_cas *c,
    char **chain, struct ca_error *err)
{
	char	 cas[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 64];
	uint8_t	*buf = NULL;
	size_t	 len, n = strlen(*chain);
	int	 rc;

	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir too long");
	for (size_t i = 1; i < c->n; i++) {
		if (c->due[i])
			continue;
		snprintf(path, sizeof(path), "%s/%" PRIu32 "/cross-%" PRIu32
		    ".pem", cas, c->id[0], c->id[i]);
		rc = file_read(path, 64 * 1024, &buf, &len, err);
		if (rc == CA_ENOENT) {
			ca_error_clear(err);
			continue;
		}
		if (rc != CA_OK)
			return rc;
		rc = pem_cat(chain, &n, (const char *)buf, len);
		free(buf);
		buf = NULL;
		if (rc != CA_OK)
			return ca_error_set(err, rc, "out of memory");
	}
	return CA_OK;
}

char *
cmd_cas_bundle_pem(const struct config *cfg, struct ca *active)
{
	struct ca_registry	*reg = NULL;
	const struct ca_entry	*e;
	char			 cas[CONFIG_PATH_MAX], *out;
	const uint8_t		*der;
	uint8_t			*pem = NULL;
	size_t			 len, n = 0;

	der = ca_cert_der(active, &len);
	if ((out = strdup(ca_cert_pem(active))) == NULL)
		return NULL;
	n = strlen(out);
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK ||
	    ca_registry_load(cas, der, len, &reg, NULL) != CA_OK) {
		ca_registry_free(reg);
		return out;
	}
	for (size_t i = 0; i < ca_registry_count(reg); i++) {
		e = ca_registry_at(reg, i);
		if (e->state != CA_STATE_RETIRING ||
		    e->id == ca_registry_active_id(reg) ||
		    file_read(e->cert, 64 * 1024, &pem, &len, NULL) != CA_OK)
			continue;
		/* Out of memory: the bundle without this CA. */
		(void)pem_cat(&out, &n, (const char *)pem, len);
		free(pem);
		pem = NULL;
	}
	ca_registry_free(reg);
	return out;
}

static void
move_public_crl(const struct config *cfg, uint32_t old_id)
{
	static const char *const names[] = { "crl.der", "crl.pem" };
	char	pub[CONFIG_PATH_MAX], dir[CONFIG_PATH_MAX + 16];
	char	from[CONFIG_PATH_MAX + 16], to[CONFIG_PATH_MAX + 32];

	if (config_path(cfg, "public", pub, sizeof(pub)) != CA_OK ||
	    snprintf(dir, sizeof(dir), "%s/ca-%" PRIu32, pub, old_id) >=
	    (int)sizeof(dir) || dir_make(dir, 0755, NULL) != CA_OK)
		return;
	for (size_t i = 0; i < 2; i++) {
		snprintf(from, sizeof(from), "%s/%s", pub, names[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, names[i]);
		(void)rename(from, to);
	}
}

struct last_ctx {
	uint32_t	id;
	int64_t		last;
	uint64_t	n;
};

static int
last_cb(const struct cert_record *rec, void *arg)
{
	struct last_ctx *x = arg;

	if ((rec->ca_id > STORE_CA_FIRST ? rec->ca_id : STORE_CA_FIRST) !=
	    x->id)
		return 0;
	x->n++;
	if (counts_for_expiry(rec) && rec->not_after > x->last)
		x->last = rec->not_after;
	return 0;
}

static int
ca_rotate(struct config *cfg, const char *key_type, const char *subject,
    unsigned days, bool json)
{
	struct ca		*ca = NULL, *nca = NULL;
	struct ca_registry	*reg = NULL;
	struct store		*st = NULL;
	struct ca_init_options	 io;
	struct ca_paths		 np;
	struct ca_error		 err;
	struct last_ctx		 last;
	const struct ca_entry	*ne;
	char			 cas[CONFIG_PATH_MAX], odir[CONFIG_PATH_MAX],
				 ndir[CONFIG_PATH_MAX], ocert[CONFIG_PATH_MAX],
				 okey[CONFIG_PATH_MAX], ncert[CONFIG_PATH_MAX],
				 nkey[CONFIG_PATH_MAX], subj[1100], detail[512],
				 ofp[65], nfp[65], t1[21], t2[21], ns[32];
	struct ca_identity	 idn;
	struct stat		 sb;
	const uint8_t		*der;
	size_t			 len;
	uint32_t		 old_id, new_id;
	int64_t			 now = time_now();
	int			 lock = -1, status = CMD_FAIL;

	ca_error_clear(&err);
	memset(&io, 0, sizeof(io));
	if (strncmp(cfg->ca_key, "pkcs11:", 7) == 0)
		return cmd_fail("ca rotate: the CA key is in a token (%s): "
		    "rotation makes a key file; make the new CA with the "
		    "token's tools and `mtlsca import` it into a new data "
		    "directory instead", cfg->ca_key);
	if (cmd_ca_open(cfg, &ca, &err) != CA_OK ||
	    cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    cmd_crl_lock(cfg, &lock, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK ||
	    registry_of(cfg, ca, &reg, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	der = ca_cert_der(ca, &len);
	old_id = ca_get_id(ca);
	new_id = ca_registry_next_id(reg);
	io.key_type = ca_key_type_of_ca(ca);
	if (key_type != NULL && ca_key_type_parse(key_type, &io.key_type) !=
	    CA_OK) {
		status = cmd_fail("ca rotate: --key-type %s: expected rsa2048, "
		    "rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 or ecdsa-p521",
		    key_type);
		goto out;
	}
	if (subject == NULL) {
		if (ca_identity_of(der, len, &idn, &err) != CA_OK) {
			status = cmd_fail_err(&err);
			goto out;
		}
		default_subject(idn.subject, old_id, new_id, subj,
		    sizeof(subj));
		subject = subj;
	}
	io.subject = subject;
	io.days = days;

	if (snprintf(odir, sizeof(odir), "%s/%" PRIu32, cas, old_id) >=
	    (int)sizeof(odir) ||
	    snprintf(ndir, sizeof(ndir), "%s/%" PRIu32, cas, new_id) >=
	    (int)sizeof(ndir) ||
	    path_join(ocert, sizeof(ocert), odir, "ca.pem") != CA_OK ||
	    path_join(okey, sizeof(okey), odir, "ca.key") != CA_OK ||
	    path_join(ncert, sizeof(ncert), ndir, "ca.pem") != CA_OK ||
	    path_join(nkey, sizeof(nkey), ndir, "ca.key") != CA_OK) {
		status = cmd_fail("data_dir %s: path too long", cfg->data_dir);
		goto out;
	}

	/* Its last certificate's notAfter: the retiring CA's CRL is
	   published until then. */
	memset(&last, 0, sizeof(last));
	last.id = old_id;
	if (store_cert_foreach(st, NULL, 0, last_cb, &last, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (last.last < now)
		last.last = now;

	/* 1. The active CA's files where it will live as a retiring CA. */
	if (dir_make(odir, 0700, &err) != CA_OK ||
	    (stat(ocert, &sb) != 0 && (copy_file(cfg->ca_key, okey, 0600,
	    &err) != CA_OK || copy_file(cfg->ca_cert, ocert, 0644, &err) !=
	    CA_OK))) {
		status = cmd_fail("ca rotate: %s", err.msg);
		goto out;
	}
	/* 2. The new CA (a directory an earlier attempt left is redone). */
	if (dir_make(ndir, 0700, &err) != CA_OK) {
		status = cmd_fail("ca rotate: %s", err.msg);
		goto out;
	}
	unlink(ncert);
	unlink(nkey);
	np.cert = ncert;
	np.key = nkey;
	if (ca_init(&np, &io, &err) != CA_OK ||
	    ca_open(&np, &nca, &err) != CA_OK) {
		status = cmd_fail("ca rotate: making the new CA: %s", err.msg);
		goto out;
	}
	/* The old CA vouches for the new one (ca_cross_sign): clients that
	   trust only the old CA still verify the service and renew. */
	if (cross_make(cfg, st, ca, nca, old_id, ndir, &err) != CA_OK) {
		status = cmd_fail("ca rotate: %s", err.msg);
		goto out;
	}
	/* 3. The rotation happens here. */
	if (ca_registry_state_write(cas, new_id, CA_STATE_ACTIVE, 0, now,
	    &err) != CA_OK ||
	    ca_registry_state_write(cas, old_id, CA_STATE_RETIRING, last.last,
	    now, &err) != CA_OK) {
		status = cmd_fail("ca rotate: %s", err.msg);
		goto out;
	}
	/* The CRL files in public/ are the old CA's: they move to its
	   directory, where its CRL is kept from now on (and where a restart's
	   recovery reads them with its certificate). */
	move_public_crl(cfg, old_id);
	/* 4. The old CA's publishing state goes with it into its
	   namespace (its recorded trust-store list is replaced, never
	   orphaned); the new CA starts afresh under the plain names. */
	snprintf(ns, sizeof(ns), "ca-%" PRIu32, old_id);
	if (store_counter_raise(st, STORE_COUNTER_CA_ACTIVE, new_id, NULL,
	    &err) != CA_OK ||
	    cmd_publish_state_move(cfg, st, "", ns, &err) != CA_OK) {
		status = cmd_fail("ca rotate: %s", err.msg);
		goto out;
	}
	cmd_fingerprint(der, len, ofp);
	der = ca_cert_der(nca, &len);
	cmd_fingerprint(der, len, nfp);
	snprintf(detail, sizeof(detail), "ca %" PRIu32 " (sha256 %.16s) "
	    "active, ca %" PRIu32 " (sha256 %.16s) retiring until its last "
	    "certificate expires", new_id, nfp, old_id, ofp);
	cmd_audit_note(st, "ca-rotate", detail);
	/* 5. */
	ca_registry_free(reg);
	reg = NULL;
	if (ca_registry_load(cas, der, len, &reg, &err) != CA_OK ||
	    (ne = ca_registry_find(reg, new_id)) == NULL ||
	    install_active(cfg, ne, &err) != CA_OK) {
		status = cmd_fail("ca rotate: the rotation is recorded but the "
		    "new CA is not installed yet (%s): the next mtlsca command "
		    "finishes it", err.msg);
		goto out;
	}
	cmd_time(ca_not_after(nca), t1);
	cmd_time(last.last, t2);
	if (json) {
		status = cmd_json_print(json_pack("{s:{s:I, s:s, s:s, s:s}, "
		    "s:{s:I, s:s, s:s, s:I}}", "active", "id",
		    (json_int_t)new_id, "subject", subject, "sha256", nfp,
		    "not_after", t1, "retiring", "id", (json_int_t)old_id,
		    "sha256", ofp, "until", t2, "certificates",
		    (json_int_t)last.n));
	} else {
		printf("CA %" PRIu32 " is active: %s\n  SHA-256 %s, expires "
		    "%s\n", new_id, subject, nfp, t1);
		printf("CA %" PRIu32 " is retiring: it signs nothing new; its "
		    "CRL is built and published until its last certificate "
		    "expires (%s, %" PRIu64 " certificate%s)\n", old_id, t2,
		    last.n, last.n == 1 ? "" : "s");
		printf("Restart serve (systemctl restart mtlsca) so that it "
		    "signs with CA %" PRIu32 ", publishes both CRLs and serves "
		    "both CAs in /ca.pem.\n", new_id);
	}
	if (cmd_serve_running(cfg))
		fprintf(stderr, "mtlsca: warning: serve is running on %s and "
		    "still signs with CA %" PRIu32 ": restart it now "
		    "(systemctl restart mtlsca)\n", cfg->data_dir, old_id);
	status = CMD_OK;
out:
	file_unlock(lock);
	ca_registry_free(reg);
	ca_free(nca);
	ca_free(ca);
	store_close(st);
	return status;
}

int
cmd_ca(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, 'k' },
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*key_type = NULL, *subject = NULL, *what;
	uint64_t	 days = 0;
	bool		 json = false;
	int		 c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_type = optarg;
			break;
		case 's':
			subject = optarg;
			break;
		case 'd':
			if (parse_u64(optarg, 1, 100 * 366, &days) != CA_OK) {
				cmd_fail("ca: --days %s: expected 1 to 36600",
				    optarg);
				return cmd_usage_print("ca", true);
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("ca", false);
		default:
			return cmd_usage_print("ca", true);
		}
	}
	if (optind + 1 != argc) {
		cmd_fail("ca: expected one of: rotate, list");
		return cmd_usage_print("ca", true);
	}
	what = argv[optind];
	if (strcmp(what, "list") == 0) {
		if (key_type != NULL || subject != NULL || days != 0) {
			cmd_fail("ca list: --key-type, --subject and --days "
			    "are for rotate");
			return cmd_usage_print("ca", true);
		}
		return ca_list(cfg, json);
	}
	if (strcmp(what, "rotate") == 0)
		return ca_rotate(cfg, key_type, subject, (unsigned)days, json);
	cmd_fail("ca: unknown action '%s' (rotate, list)", what);
	return cmd_usage_print("ca", true);
}

/* ---- serve: the retiring CAs' CRL schedules and publishers ---- */

/* Take a retired CA's files out of public/ (crls.pem is rewritten). */
static void
public_retire(const char *dir)
{
	char path[CONFIG_PATH_MAX + 16];

	if (path_join(path, sizeof(path), dir, "crl.pem") == CA_OK)
		(void)unlink(path);
	if (path_join(path, sizeof(path), dir, "crl.der") == CA_OK)
		(void)unlink(path);
	(void)rmdir(dir);
}

/* Retire CA i of c (its last certificate has expired): its revocation
   lists leave the trust stores, its files public/, and its state says
   so. A failure leaves it retiring, to try again at the next start. */
static int
retire_one(const struct config *cfg, struct store *st, struct cmd_cas *c,
    size_t i, const char *pub, int64_t now, struct ca_error *err)
{
	struct publish_set	*set = NULL;
	char			 ns[32], dir[CONFIG_PATH_MAX], detail[128];
	int			 rc;

	cmd_cas_ns(c, i, ns, sizeof(ns));
	if (cfg->n_publishers > 0 &&
	    ((rc = cmd_publishers_open_ns(cfg, c->ca[i], st, ns, &set, err)) !=
	    CA_OK || (rc = publish_retire(set, err)) != CA_OK)) {
		publish_set_free(set);
		return rc;
	}
	publish_set_free(set);
	cmd_cas_public_dir(pub, c, i, dir, sizeof(dir));
	public_retire(dir);
	if ((rc = cmd_cas_retire(cfg, c, i, now, err)) != CA_OK)
		return rc;
	snprintf(detail, sizeof(detail), "ca %" PRIu32 " retired: its last "
	    "certificate has expired", c->id[i]);
	cmd_audit_note(st, "ca-retire", detail);
	return CA_OK;
}

void
cmd_retire_due(const struct config *cfg, struct store *st, struct cmd_cas *c,
    const char *pub)
{
	struct ca_error	 e;
	struct ca_error	*err = &e;
	int64_t		 now = time_now();
	bool		 retired = false;

	ca_error_clear(err);
	/* Retire what is due first: its CRL is then neither built nor
	   published again. */
	for (size_t i = 1; i < c->n; ) {
		if (!c->due[i]) {
			i++;
			continue;
		}
		if (retire_one(cfg, st, c, i, pub, now, err) != CA_OK) {
			log_msg(LOG_LEVEL_WARNING, "CA %" PRIu32 " is due to "
			    "retire but stays retiring for now (serve's next "
			    "start or `mtlsca publish` tries again): %s",
			    c->id[i], err->msg);
			ca_error_clear(err);
			c->due[i] = false;
			i++;
			continue;
		}
		log_msg(LOG_LEVEL_NOTICE, "CA %" PRIu32 " retired: its last "
		    "certificate has expired; its revocation lists are "
		    "removed", c->id[i]);
		ca_free(c->ca[i]);
		memmove(&c->ca[i], &c->ca[i + 1], (c->n - i - 1) *
		    sizeof(c->ca[0]));
		memmove(&c->id[i], &c->id[i + 1], (c->n - i - 1) *
		    sizeof(c->id[0]));
		memmove(&c->last_expiry[i], &c->last_expiry[i + 1],
		    (c->n - i - 1) * sizeof(c->last_expiry[0]));
		memmove(&c->due[i], &c->due[i + 1], (c->n - i - 1) *
		    sizeof(c->due[0]));
		c->n--;
		retired = true;
	}
	if (retired)
		(void)crl_files_combine(pub, NULL, NULL);
}

int
cmd_retiring_start(const struct config *cfg, struct store *st,
    struct cmd_cas *c, const struct crl_schedule_options *cso,
    const char *pub, struct cmd_retiring *out, struct ca_error *err)
{
	struct crl_schedule_options	 o;
	char				 dir[CONFIG_PATH_MAX], ns[32];
	int				 rc;

	memset(out, 0, sizeof(*out));
	cmd_retire_due(cfg, st, c, pub);
	(void)crl_files_combine(pub, NULL, NULL);
	for (size_t i = 1; i < c->n; i++) {
		o = *cso;
		cmd_cas_public_dir(pub, c, i, dir, sizeof(dir));
		o.public_dir = dir;
		o.combine_root = pub;
		if ((rc = crl_schedule_new(c->ca[i], st, &o, &out->sched[i],
		    err)) != CA_OK)
			goto fail;
		cmd_cas_ns(c, i, ns, sizeof(ns));
		if (cfg->n_publishers > 0 &&
		    ((rc = cmd_publishers_open_ns(cfg, c->ca[i], st, ns,
		    &out->pubs[i], err)) != CA_OK ||
		    (rc = publish_start(out->pubs[i], out->sched[i], err)) !=
		    CA_OK))
			goto fail;
		if ((rc = crl_schedule_start(out->sched[i], err)) != CA_OK)
			goto fail;
		log_msg(LOG_LEVEL_NOTICE, "retiring CA %" PRIu32 ": its CRL is "
		    "kept in %s and published until its last certificate "
		    "expires", c->id[i], dir);
	}
	out->n = c->n;
	return CA_OK;
fail:
	out->n = c->n;
	cmd_retiring_stop(out);
	return ca_error_set(err, rc, "retiring CA: %s", err->msg);
}

void
cmd_retiring_stop(struct cmd_retiring *r)
{
	for (size_t i = 1; i < r->n && i < CMD_CAS_MAX; i++) {
		publish_stop(r->pubs[i]);
		crl_schedule_free(r->sched[i]);
		publish_set_free(r->pubs[i]);
		r->pubs[i] = NULL;
		r->sched[i] = NULL;
	}
	r->n = 0;
}
