/*
 * mtlsca backup, backup --verify, restore; and the recovery from published
 * CRLs that restore and serve's start run (issue 12).
 *
 * A backup is one ustar file (common/archive.c; `tar tvf` lists it):
 *   db/data.mdb      LMDB's compacted copy of one snapshot of the store
 *                    (store_copy), taken while serve goes on
 *   ca.pem           the CA certificate
 *   public/crl.der, public/crl.pem   the last CRL written (under the CRL
 *                    lock, so the two are one CRL)
 *   private/ca.key   the CA key, only with --include-key
 *   cas/<id>/ca.pem, cas/<id>/state   each CA of the registry (after a
 *                    rotation, ca/cas.c), and cas/<id>/ca.key with
 *                    --include-key; public/ca-<id>/crl.der and crl.pem,
 *                    each retiring CA's last CRL (under the same lock),
 *                    and public/crls.pem, every live CA's CRL in one file
 *   manifest.json    last: format and version, when, the CA's subject and
 *                    SHA-256, the store's figures and CRL number, each
 *                    CA of the registry (id, state, subject, SHA-256), and
 *                    the name, size and SHA-256 of every part above
 * The file is 0600 (the store holds token hashes and the audit log; with
 * the key, everything). Written to FILE.tmp.PID, synced, renamed.
 *
 * Reading one (verify, restore) is one pass: each part is hashed as it is
 * read (and, for restore, written into a staging directory inside the data
 * directory); the manifest at the end must list exactly those parts with
 * those sizes and hashes. Only then does restore move anything into place,
 * and what it replaces (with --force) is renamed, never deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <jansson.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/archive.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"

#ifndef MTLSCA_VERSION
#define MTLSCA_VERSION "0.0.0"
#endif

#define BACKUP_FORMAT		"mtlsca-backup"
#define BACKUP_VERSION		1
#define MANIFEST_NAME		"manifest.json"
#define MANIFEST_MAX		(64 * 1024)
#define SMALL_PART_MAX		(1024 * 1024)	/* ca.pem, key */
/* The store, ca.pem, two CRL files, the key, crls.pem; then up to five
   parts for each CA of a registry (ca/cas.c holds at most 64). */
#define PARTS_MAX		(8 + 5 * 64)

/* ---- hashing sinks ---- */

struct part {
	char		name[ARCHIVE_NAME_MAX + 1];
	uint64_t	size;
	char		sha256[65];
};

struct hashing {
	gnutls_hash_hd_t	 h;
	int			 out;		/* -1: hash only */
	uint8_t			*mem;		/* keep a copy (small parts) */
	size_t			 mem_len, mem_max;
	uint64_t		 n;
};

static int
hash_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct hashing	*hs = ctx;

	if (gnutls_hash(hs->h, p, n) < 0)
		return CA_ECRYPTO;
	hs->n += n;
	if (hs->mem != NULL) {
		if (hs->mem_len + n > hs->mem_max)
			return CA_ETOOBIG;
		memcpy(hs->mem + hs->mem_len, p, n);
		hs->mem_len += n;
	}
	while (hs->out >= 0 && n > 0) {
		ssize_t w = write(hs->out, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CA_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
hash_hex(gnutls_hash_hd_t h, char out[65])
{
	uint8_t	md[32];

	gnutls_hash_deinit(h, md);
	hex_format(md, sizeof(md), out);
}

/* ---- writing ---- */

struct bk {
	int		 out;
	struct part	 parts[PARTS_MAX];
	size_t		 n;
	int64_t		 now;
};

/* Append one part from a file (in >= 0) or memory, hashing it. */
static int
bk_put(struct bk *b, const char *name, unsigned mode, int in,
    const void *buf, uint64_t size, struct ca_error *err)
{
	struct hashing	 hs;
	struct part	*p = &b->parts[b->n];
	int		 rc;

	if (b->n == PARTS_MAX)
		return ca_error_set(err, CA_EINVAL, "too many parts");
	memset(&hs, 0, sizeof(hs));
	hs.out = -1;
	if (gnutls_hash_init(&hs.h, GNUTLS_DIG_SHA256) < 0)
		return ca_error_set(err, CA_ECRYPTO, "SHA-256 unavailable");
	rc = archive_put(b->out, name, mode, b->now, in, buf, size, hash_sink,
	    &hs, err);
	hash_hex(hs.h, p->sha256);
	if (rc != CA_OK)
		return rc == CA_ECRYPTO ? ca_error_set(err, rc, "hashing %s",
		    name) : rc;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->size = size;
	b->n++;
	return CA_OK;
}

static int
bk_put_file(struct bk *b, const char *name, unsigned mode, const char *path,
    bool optional, struct ca_error *err)
{
	struct stat	sb;
	int		fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (optional && errno == ENOENT)
			return CA_OK;
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ca_error_set(err, CA_EIO, "%s: not a regular file", path);
	}
	rc = bk_put(b, name, mode, fd, NULL, (uint64_t)sb.st_size, err);
	close(fd);
	return rc;
}

static int
rm_tree(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 p[CONFIG_PATH_MAX + 300];
	struct stat	 sb;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	return rmdir(dir);
}

static char *
manifest_text(const struct config *cfg, const struct cert_record *ca,
    const char *ca_fp, const struct store_stats *ss, bool key,
    const struct ca_registry *reg, const struct bk *b)
{
	json_t	*m, *parts, *cas;
	char	 when[21], na[21];
	char	*text;

	time_format(b->now, when);
	time_format(ca->not_after, na);
	parts = json_array();
	for (size_t i = 0; i < b->n; i++)
		json_array_append_new(parts, json_pack("{s:s, s:I, s:s}",
		    "name", b->parts[i].name, "size",
		    (json_int_t)b->parts[i].size, "sha256",
		    b->parts[i].sha256));
	/* Every CA of the registry (empty: a data directory that never
	   rotated, its one CA is "ca"). */
	cas = json_array();
	for (size_t i = 0; reg != NULL && i < ca_registry_count(reg); i++) {
		const struct ca_entry *e = ca_registry_at(reg, i);

		time_format(e->not_after, na);
		json_array_append_new(cas, json_pack("{s:I, s:s, s:s, s:s, "
		    "s:s}", "id", (json_int_t)e->id, "state",
		    ca_state_name(e->state), "subject", e->subject, "sha256",
		    e->fingerprint_hex, "not_after", na));
	}
	time_format(ca->not_after, na);
	m = json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:s, s:s, s:s}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:b, s:o, s:o}",
	    "format", BACKUP_FORMAT, "version", BACKUP_VERSION,
	    "created", when, "mtlsca", MTLSCA_VERSION,
	    "data_dir", cfg->data_dir,
	    "ca", "subject", ca->subject != NULL ? ca->subject : "",
	    "sha256", ca_fp, "not_after", na,
	    "store", "schema", (json_int_t)ss->schema,
	    "certificates", (json_int_t)ss->certs,
	    "revoked", (json_int_t)ss->revoked,
	    "tokens", (json_int_t)ss->tokens,
	    "audit", (json_int_t)ss->audit,
	    "revocation_generation", (json_int_t)ss->revgen,
	    "crl_number", (json_int_t)ss->crl_number,
	    "includes_key", key, "parts", parts, "cas", cas);
	if (m == NULL)
		return NULL;
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(m);
	return text;
}

/* The CA certificate file as a record (DER, subject, notAfter). */
static int
ca_cert_read(const struct config *cfg, struct cert_record *rec,
    uint8_t **pem, size_t *pem_len, char fp[65], struct ca_error *err)
{
	int rc;

	if ((rc = file_read(cfg->ca_cert, SMALL_PART_MAX, pem, pem_len, err)) !=
	    CA_OK)
		return rc == CA_ENOENT ? ca_error_set(err, rc, "no CA "
		    "certificate at %s: nothing to back up", cfg->ca_cert) : rc;
	if ((rc = cmd_cert_load(*pem, *pem_len, NULL, rec, err)) != CA_OK) {
		free(*pem);
		*pem = NULL;
		return rc;
	}
	cmd_fingerprint(rec->der, rec->der_len, fp);
	return CA_OK;
}

/* "<prefix><id>/<tail>" (cas/2/ca.pem, public/ca-2/crl.der): the id
   (decimal, no leading zero) and the tail, or false. */
static bool
part_ca(const char *name, const char *prefix, uint32_t *id,
    const char **tail)
{
	size_t		 pl = strlen(prefix), dl;
	const char	*slash;
	char		 num[11];
	uint64_t	 v;

	if (strncmp(name, prefix, pl) != 0 ||
	    (slash = strchr(name + pl, '/')) == NULL)
		return false;
	dl = (size_t)(slash - (name + pl));
	if (dl == 0 || dl >= sizeof(num) || name[pl] == '0')
		return false;
	memcpy(num, name + pl, dl);
	num[dl] = '\0';
	if (parse_u64(num, 1, UINT32_MAX, &v) != CA_OK)
		return false;
	*id = (uint32_t)v;
	*tail = slash + 1;
	return true;
}

/* The CAs of the registry: each one's certificate and state (and key,
   when asked; a retired CA's may be gone). *reg stays NULL for a data
   directory that never rotated. */
static int
bk_put_cas(const struct config *cfg, struct bk *b,
    const struct cert_record *active, bool include_key,
    struct ca_registry **reg, struct ca_error *err)
{
	char		 cas[CONFIG_PATH_MAX], name[ARCHIVE_NAME_MAX + 1];
	char		 state[CONFIG_PATH_MAX + 32];
	struct stat	 sb;
	int		 rc;

	*reg = NULL;
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir too long");
	if (stat(cas, &sb) != 0)
		return CA_OK;
	if ((rc = ca_registry_load(cas, active->der, active->der_len, reg,
	    err)) != CA_OK)
		return rc;
	for (size_t i = 0; i < ca_registry_count(*reg); i++) {
		const struct ca_entry *e = ca_registry_at(*reg, i);

		snprintf(state, sizeof(state), "%s/%" PRIu32 "/state", cas,
		    e->id);
		snprintf(name, sizeof(name), "cas/%" PRIu32 "/ca.pem", e->id);
		if ((rc = bk_put_file(b, name, 0644, e->cert, false, err)) !=
		    CA_OK)
			return rc;
		snprintf(name, sizeof(name), "cas/%" PRIu32 "/state", e->id);
		if ((rc = bk_put_file(b, name, 0644, state, false, err)) !=
		    CA_OK)
			return rc;
		if (!include_key)
			continue;
		snprintf(name, sizeof(name), "cas/%" PRIu32 "/ca.key", e->id);
		if ((rc = bk_put_file(b, name, 0600, e->key,
		    e->state == CA_STATE_RETIRED, err)) != CA_OK)
			return rc;
	}
	return CA_OK;
}

/* Under the CRL lock: each retiring CA's public/ca-<id>/ pair and
   public/crls.pem (absent files are left out). */
static int
bk_put_ca_crls(const struct ca_registry *reg, const char *pub, struct bk *b,
    struct ca_error *err)
{
	char	path[CONFIG_PATH_MAX + 64], name[ARCHIVE_NAME_MAX + 1];
	int	rc;

	for (size_t i = 0; reg != NULL && i < ca_registry_count(reg); i++) {
		const struct ca_entry *e = ca_registry_at(reg, i);

		if (e->id == ca_registry_active_id(reg))
			continue;	/* public/crl.{der,pem} */
		for (int k = 0; k < 2; k++) {
			const char *f = k == 0 ? "crl.der" : "crl.pem";

			snprintf(path, sizeof(path), "%s/ca-%" PRIu32 "/%s",
			    pub, e->id, f);
			snprintf(name, sizeof(name), "public/ca-%" PRIu32
			    "/%s", e->id, f);
			if ((rc = bk_put_file(b, name, 0644, path, true,
			    err)) != CA_OK)
				return rc;
		}
	}
	snprintf(path, sizeof(path), "%s/crls.pem", pub);
	return bk_put_file(b, "public/crls.pem", 0644, path, true, err);
}

struct backup_made {
	int64_t			 size;
	char			 sha256[65];	/* of the whole file */
	char			 fp[65];	/* the CA's */
	char			 subject[512];
	struct store_stats	 ss;
};

/*
 * Write a backup of st (open, in this process) to out: the store copy,
 * the CA certificate, the public CRL pair (under the CRL lock), the key
 * when asked, the manifest; to out.tmp.PID first, synced, then renamed.
 * Nothing is printed: the CLI and the schedule say what they did.
 */
static int
backup_make(const struct config *cfg, struct store *st, const char *out,
    bool include_key, struct backup_made *m, struct ca_error *err)
{
	struct store		*cp = NULL;
	struct cert_record	 carec;
	struct ca_registry	*reg = NULL;
	struct bk		 b;
	uint8_t			*pem = NULL;
	size_t			 pem_len = 0;
	char			 tmpdir[CONFIG_PATH_MAX + 32];
	char			 tmp[CONFIG_PATH_MAX + 32], pub[CONFIG_PATH_MAX];
	char			 p1[CONFIG_PATH_MAX + 16], p2[CONFIG_PATH_MAX + 16];
	char			 db[CONFIG_PATH_MAX + 64];
	char			*manifest = NULL;
	bool			 have_tmpdir = false;
	int			 lock = -1, rc;

	memset(&b, 0, sizeof(b));
	memset(&carec, 0, sizeof(carec));
	memset(m, 0, sizeof(*m));
	b.out = -1;
	b.now = time_now();
	tmp[0] = '\0';
	if (include_key && strncmp(cfg->ca_key, "pkcs11:", 7) == 0)
		return ca_error_set(err, CA_EINVAL, "include the key: the CA "
		    "key is in a token (%s): it cannot be copied, back the "
		    "token up its own way", cfg->ca_key);
	if ((rc = ca_cert_read(cfg, &carec, &pem, &pem_len, m->fp, err)) !=
	    CA_OK)
		goto out;
	snprintf(m->subject, sizeof(m->subject), "%s", carec.subject != NULL ?
	    carec.subject : "");
	if (config_path(cfg, "public", pub, sizeof(pub)) != CA_OK ||
	    snprintf(tmpdir, sizeof(tmpdir), "%s.tmp-XXXXXX", out) >=
	    (int)sizeof(tmpdir) || snprintf(tmp, sizeof(tmp), "%s.tmp.%ld",
	    out, (long)getpid()) >= (int)sizeof(tmp)) {
		tmp[0] = '\0';
		rc = ca_error_set(err, CA_EINVAL, "path too long: %s", out);
		goto out;
	}
	/* The store: LMDB's copy of one snapshot, next to FILE. */
	if (mkdtemp(tmpdir) == NULL) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", tmpdir,
		    strerror(errno));
		goto out;
	}
	have_tmpdir = true;
	if ((rc = store_copy(st, tmpdir, err)) != CA_OK)
		goto out;
	/* The copy's own figures: the manifest describes what is in it. */
	{
		struct store_options o;

		memset(&o, 0, sizeof(o));
		o.dir = tmpdir;
		o.read_only = true;
		if ((rc = store_open(&o, &cp, err)) != CA_OK ||
		    (rc = store_stats(cp, &m->ss, err)) != CA_OK)
			goto out;
		store_close(cp);
		cp = NULL;
		/* A read-only open leaves a lock file beside the copy. */
		snprintf(db, sizeof(db), "%s/lock.mdb", tmpdir);
		unlink(db);
	}
	snprintf(db, sizeof(db), "%s/data.mdb", tmpdir);

	if ((b.out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = bk_put_file(&b, "db/data.mdb", 0600, db, false, err)) !=
	    CA_OK || (rc = bk_put(&b, "ca.pem", 0644, -1, pem, pem_len,
	    err)) != CA_OK || (rc = bk_put_cas(cfg, &b, &carec, include_key,
	    &reg, err)) != CA_OK)
		goto out;
	/* crl.der and crl.pem as one pair: serve and `crl` replace them
	   under this lock. */
	if ((rc = cmd_crl_lock(cfg, &lock, err)) != CA_OK)
		goto out;
	snprintf(p1, sizeof(p1), "%s/crl.der", pub);
	snprintf(p2, sizeof(p2), "%s/crl.pem", pub);
	rc = bk_put_file(&b, "public/crl.der", 0644, p1, true, err);
	if (rc == CA_OK)
		rc = bk_put_file(&b, "public/crl.pem", 0644, p2, true, err);
	if (rc == CA_OK)
		rc = bk_put_ca_crls(reg, pub, &b, err);
	file_unlock(lock);
	lock = -1;
	if (rc != CA_OK)
		goto out;
	if (include_key && (rc = bk_put_file(&b, "private/ca.key", 0600,
	    cfg->ca_key, false, err)) != CA_OK)
		goto out;
	if ((manifest = manifest_text(cfg, &carec, m->fp, &m->ss, include_key,
	    reg, &b)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	/* The manifest last: it is not one of its own parts. */
	if ((rc = archive_put(b.out, MANIFEST_NAME, 0644, b.now, -1, manifest,
	    strlen(manifest), NULL, NULL, err)) != CA_OK ||
	    (rc = archive_end(b.out, err)) != CA_OK)
		goto out;
	if (fsync(b.out) != 0 || close(b.out) != 0) {
		b.out = -1;
		rc = ca_error_set(err, CA_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	b.out = -1;
	if (rename(tmp, out) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", out, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	{
		/* The SHA-256 of the whole file, for the operator's records. */
		struct hashing	hs;
		struct stat	fs;
		int		fd = open(out, O_RDONLY | O_CLOEXEC);
		uint8_t		buf[65536];
		ssize_t		n;

		memset(&hs, 0, sizeof(hs));
		hs.out = -1;
		snprintf(m->sha256, sizeof(m->sha256), "?");
		if (fd >= 0 && gnutls_hash_init(&hs.h, GNUTLS_DIG_SHA256) >= 0) {
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				hash_sink(&hs, buf, (size_t)n);
			hash_hex(hs.h, m->sha256);
		}
		if (fd >= 0 && fstat(fd, &fs) == 0)
			m->size = (int64_t)fs.st_size;
		if (fd >= 0)
			close(fd);
	}
	{
		char detail[CONFIG_PATH_MAX + 128], who[96];

		cmd_who(who, sizeof(who));
		snprintf(detail, sizeof(detail), "file=%s certificates=%" PRIu64
		    " crl_number=%" PRIu64 "%s", out, m->ss.certs,
		    m->ss.crl_number, include_key ? " key=included" : "");
		/* A read-only open cannot write its audit entry (the CLI
		   writes it through a writable open); the schedule's store
		   is writable. A failure here loses no backup. */
		(void)store_audit_append(st, time_now(), who, "backup", detail,
		    NULL);
	}
	rc = CA_OK;
out:
	if (lock >= 0)
		file_unlock(lock);
	if (b.out >= 0)
		close(b.out);
	if (tmp[0] != '\0')
		unlink(tmp);
	if (have_tmpdir)
		rm_tree(tmpdir);
	store_close(cp);
	ca_registry_free(reg);
	cert_record_clear(&carec);
	free(pem);
	free(manifest);
	return rc;
}

static int
backup_write(struct config *cfg, const char *out, bool include_key,
    bool force)
{
	struct ca_error		 err;
	struct store		*st = NULL;
	struct backup_made	 m;
	struct stat		 sb;
	int			 status = CMD_FAIL;

	ca_error_clear(&err);
	if (!force && stat(out, &sb) == 0)
		return cmd_fail("backup: %s exists (--force replaces it)", out);
	if (cmd_ca_file_of(cfg, out) != NULL)
		return cmd_fail("backup: --out %s is the CA's own file", out);
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    backup_make(cfg, st, out, include_key, &m, &err) != CA_OK) {
		status = cmd_fail("backup: %s", err.msg);
		goto out;
	}
	printf("backup:       %s (%lld bytes, mode 0600)\n", out,
	    (long long)m.size);
	printf("sha256:       %s\n", m.sha256);
	printf("ca:           %s (SHA-256 %s)\n", m.subject, m.fp);
	printf("certificates: %" PRIu64 " (%" PRIu64 " revoked)\n", m.ss.certs,
	    m.ss.revoked);
	printf("crl number:   %" PRIu64 "\n", m.ss.crl_number);
	printf("key:          %s\n", include_key ? "included" :
	    "not included (keep ca.key safe separately)");
	/* The audit entry, through a writable open. */
	store_close(st);
	st = NULL;
	if (cmd_store_open(cfg, false, &st, &err) == CA_OK) {
		char detail[CONFIG_PATH_MAX + 128];

		snprintf(detail, sizeof(detail), "file=%s certificates=%" PRIu64
		    " crl_number=%" PRIu64 "%s", out, m.ss.certs,
		    m.ss.crl_number, include_key ? " key=included" : "");
		cmd_audit_note(st, "backup", detail);
	}
	status = CMD_OK;
out:
	store_close(st);
	return status;
}

/* ---- reading ---- */

struct bk_read {
	struct part	 parts[PARTS_MAX];	/* as read */
	size_t		 n;
	json_t		*manifest;
	/* From the manifest. */
	char		 ca_sha256[65];
	char		 created[32];
	bool		 includes_key;
	struct store_stats ss;
	/* Small parts kept in memory (ca.pem, crl files, the key). */
	uint8_t		*ca_pem;
	size_t		 ca_pem_len;
};

static void
bk_read_clear(struct bk_read *r)
{
	json_decref(r->manifest);
	free(r->ca_pem);
	memset(r, 0, sizeof(*r));
}

static bool
part_known(const char *name)
{
	static const char *known[] = { "db/data.mdb", "ca.pem",
	    "public/crl.der", "public/crl.pem", "private/ca.key",
	    "public/crls.pem" };
	const char	*tail;
	uint32_t	 id;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], name) == 0)
			return true;
	if (part_ca(name, "cas/", &id, &tail))
		return strcmp(tail, "ca.pem") == 0 ||
		    strcmp(tail, "state") == 0 || strcmp(tail, "ca.key") == 0;
	if (part_ca(name, "public/ca-", &id, &tail))
		return strcmp(tail, "crl.der") == 0 ||
		    strcmp(tail, "crl.pem") == 0;
	return false;
}

/* A key part: private/ca.key or cas/<id>/ca.key. */
static bool
part_is_key(const char *name)
{
	const char	*tail;
	uint32_t	 id;

	return strcmp(name, "private/ca.key") == 0 ||
	    (part_ca(name, "cas/", &id, &tail) && strcmp(tail, "ca.key") == 0);
}

static int
json_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* The manifest against the parts read: the same set, sizes, hashes. */
static int
manifest_check(struct bk_read *r, const uint8_t *text, size_t len,
    struct ca_error *err)
{
	json_error_t	 je;
	json_t		*m, *parts, *ca, *st, *p;
	const char	*fmt, *s;
	size_t		 i;

	if ((m = json_loadb((const char *)text, len, 0, &je)) == NULL)
		return ca_error_set(err, CA_EMALF, "the manifest is not JSON: "
		    "%s (line %d)", je.text, je.line);
	r->manifest = m;
	fmt = json_string_value(json_object_get(m, "format"));
	if (fmt == NULL || strcmp(fmt, BACKUP_FORMAT) != 0)
		return ca_error_set(err, CA_EMALF, "not an mtlsca backup "
		    "(manifest format is not \"%s\")", BACKUP_FORMAT);
	if (json_integer_value(json_object_get(m, "version")) !=
	    BACKUP_VERSION)
		return ca_error_set(err, CA_EPOLICY, "backup format version "
		    "%lld: this mtlsca reads version %d", (long long)
		    json_integer_value(json_object_get(m, "version")),
		    BACKUP_VERSION);
	ca = json_object_get(m, "ca");
	st = json_object_get(m, "store");
	parts = json_object_get(m, "parts");
	if (!json_is_object(ca) || !json_is_object(st) ||
	    !json_is_array(parts) ||
	    (s = json_string_value(json_object_get(ca, "sha256"))) == NULL ||
	    strlen(s) != 64 ||
	    json_u64(st, "certificates", &r->ss.certs) != 0 ||
	    json_u64(st, "revoked", &r->ss.revoked) != 0 ||
	    json_u64(st, "tokens", &r->ss.tokens) != 0 ||
	    json_u64(st, "audit", &r->ss.audit) != 0 ||
	    json_u64(st, "schema", &r->ss.schema) != 0 ||
	    json_u64(m, "crl_number", &r->ss.crl_number) != 0)
		return ca_error_set(err, CA_EMALF, "the manifest lacks the CA's "
		    "SHA-256, the store's figures or the list of parts");
	snprintf(r->ca_sha256, sizeof(r->ca_sha256), "%s", s);
	snprintf(r->created, sizeof(r->created), "%s",
	    json_string_value(json_object_get(m, "created")) != NULL ?
	    json_string_value(json_object_get(m, "created")) : "?");
	r->includes_key = json_is_true(json_object_get(m, "includes_key"));
	if (json_array_size(parts) != r->n)
		return ca_error_set(err, CA_EMALF, "the manifest lists %zu "
		    "parts, the file holds %zu", json_array_size(parts), r->n);
	json_array_foreach(parts, i, p) {
		const char	*name = json_string_value(json_object_get(p,
		    "name"));
		const char	*sha = json_string_value(json_object_get(p,
		    "sha256"));
		uint64_t	 size;
		bool		 found = false;

		if (name == NULL || sha == NULL ||
		    json_u64(p, "size", &size) != 0)
			return ca_error_set(err, CA_EMALF, "manifest part %zu "
			    "lacks its name, size or sha256", i);
		for (size_t k = 0; k < r->n; k++) {
			if (strcmp(r->parts[k].name, name) != 0)
				continue;
			found = true;
			if (r->parts[k].size != size ||
			    strcmp(r->parts[k].sha256, sha) != 0)
				return ca_error_set(err, CA_EMALF, "%s: its "
				    "SHA-256 is %s, the manifest says %s: the "
				    "backup is damaged", name,
				    r->parts[k].sha256, sha);
		}
		if (!found)
			return ca_error_set(err, CA_EMALF, "%s is in the "
			    "manifest, not in the file", name);
	}
	{
		bool has_key = false;

		for (size_t k = 0; k < r->n; k++) {
			if (strcmp(r->parts[k].name, "private/ca.key") == 0)
				has_key = true;
			else if (part_is_key(r->parts[k].name) &&
			    !r->includes_key)
				has_key = true;	/* a CA's key, unannounced */
		}
		if (has_key != r->includes_key)
			return ca_error_set(err, CA_EMALF, "the manifest's "
			    "includes_key disagrees with the parts");
	}
	return CA_OK;
}

/*
 * The registry in a staged backup (into/cas/) against the manifest's
 * "cas": it loads as the data directory's would (each state file, each
 * certificate, the backup's ca.pem among them), and holds exactly the CAs
 * the manifest lists, with their SHA-256. Every public/ca-<id>/ part
 * belongs to one of them.
 */
static int
staged_cas_check(const char *into, const struct bk_read *r,
    struct ca_error *err)
{
	struct ca_registry	*reg = NULL;
	struct cert_record	 rec;
	json_t			*cas, *c;
	char			 dir[CONFIG_PATH_MAX + 200];
	struct stat		 sb;
	const char		*tail;
	uint32_t		 id;
	size_t			 i, n = 0;
	int			 rc;

	memset(&rec, 0, sizeof(rec));
	cas = json_object_get(r->manifest, "cas");
	if (cas != NULL && !json_is_array(cas))
		return ca_error_set(err, CA_EMALF, "the manifest's \"cas\" is "
		    "not a list");
	snprintf(dir, sizeof(dir), "%s/cas", into);
	if (stat(dir, &sb) != 0) {
		if (json_array_size(cas) != 0)
			return ca_error_set(err, CA_EMALF, "the manifest lists "
			    "%zu CAs, the file holds none", json_array_size(cas));
		for (i = 0; i < r->n; i++)
			if (part_ca(r->parts[i].name, "public/ca-", &id, &tail))
				return ca_error_set(err, CA_EMALF, "%s: a CA "
				    "the backup does not hold",
				    r->parts[i].name);
		return CA_OK;
	}
	if ((rc = cmd_cert_load(r->ca_pem, r->ca_pem_len, NULL, &rec, err)) !=
	    CA_OK)
		return rc;
	rc = ca_registry_load(dir, rec.der, rec.der_len, &reg, err);
	cert_record_clear(&rec);
	if (rc != CA_OK)
		return ca_error_set(err, rc, "the CAs in the backup: %s",
		    err->msg);
	/* Each cas/<id>/ca.pem part is a CA of the registry. */
	for (i = 0; i < r->n; i++)
		if (part_ca(r->parts[i].name, "cas/", &id, &tail) &&
		    strcmp(tail, "ca.pem") == 0)
			n++;
	if (n != ca_registry_count(reg) ||
	    json_array_size(cas) != ca_registry_count(reg)) {
		rc = ca_error_set(err, CA_EMALF, "the backup holds %zu CA "
		    "certificates, %zu with a state, the manifest lists %zu",
		    n, ca_registry_count(reg), json_array_size(cas));
		goto out;
	}
	json_array_foreach(cas, i, c) {
		const struct ca_entry	*e;
		const char		*sha = json_string_value(
		    json_object_get(c, "sha256"));
		json_int_t		 cid = json_integer_value(
		    json_object_get(c, "id"));

		if (sha == NULL || cid < 1 || cid > (json_int_t)UINT32_MAX ||
		    (e = ca_registry_find(reg, (uint32_t)cid)) == NULL) {
			rc = ca_error_set(err, CA_EMALF, "the manifest's CA "
			    "%zu is not in the backup", i);
			goto out;
		}
		if (strcmp(e->fingerprint_hex, sha) != 0) {
			rc = ca_error_set(err, CA_EMALF, "cas/%" PRIu32
			    "/ca.pem: its SHA-256 is %s, the manifest says %s",
			    e->id, e->fingerprint_hex, sha);
			goto out;
		}
	}
	for (i = 0; i < r->n; i++)
		if (part_ca(r->parts[i].name, "public/ca-", &id, &tail) &&
		    ca_registry_find(reg, id) == NULL) {
			rc = ca_error_set(err, CA_EMALF, "%s: a CA the backup "
			    "does not hold", r->parts[i].name);
			goto out;
		}
	rc = CA_OK;
out:
	ca_registry_free(reg);
	return rc;
}

/*
 * Read a backup in one pass: each part hashed and, when into is not NULL,
 * written to into/<name> (directories made 0700, files 0600). CA_OK only
 * when the manifest (last) matches every part and the CA certificate's
 * SHA-256 is the manifest's.
 */
static int
backup_read(const char *file, const char *into, struct bk_read *r,
    struct ca_error *err)
{
	struct archive_entry	 e;
	struct hashing		 hs;
	uint8_t			*mtext = NULL;
	size_t			 mlen = 0;
	char			 path[CONFIG_PATH_MAX + 200], dir[sizeof(path)];
	char			*slash;
	int			 in, out = -1, rc;

	memset(r, 0, sizeof(*r));
	if ((in = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", file, strerror(errno));
	for (;;) {
		if ((rc = archive_next(in, &e, err)) == CA_ENOENT) {
			rc = CA_OK;
			break;
		}
		if (rc != CA_OK)
			goto out;
		if (mtext != NULL) {
			rc = ca_error_set(err, CA_EMALF, "%s follows the "
			    "manifest: not a backup mtlsca wrote", e.name);
			goto out;
		}
		if (strcmp(e.name, MANIFEST_NAME) == 0) {
			if (e.size > MANIFEST_MAX) {
				rc = ca_error_set(err, CA_ETOOBIG, "the manifest "
				    "is over %d bytes", MANIFEST_MAX);
				goto out;
			}
			memset(&hs, 0, sizeof(hs));
			hs.out = -1;
			hs.mem_max = (size_t)e.size + 1;
			if ((hs.mem = mtext = malloc(hs.mem_max)) == NULL ||
			    gnutls_hash_init(&hs.h, GNUTLS_DIG_SHA256) < 0) {
				rc = ca_error_set(err, CA_ENOMEM, "out of "
				    "memory");
				goto out;
			}
			rc = archive_data(in, &e, hash_sink, &hs, err);
			gnutls_hash_deinit(hs.h, NULL);
			mlen = hs.mem_len;
			if (rc != CA_OK)
				goto out;
			continue;
		}
		if (!part_known(e.name) || r->n == PARTS_MAX) {
			rc = ca_error_set(err, CA_EMALF, "%s: not a part of an "
			    "mtlsca backup", e.name);
			goto out;
		}
		for (size_t k = 0; k < r->n; k++)
			if (strcmp(r->parts[k].name, e.name) == 0) {
				rc = ca_error_set(err, CA_EMALF, "%s appears "
				    "twice", e.name);
				goto out;
			}
		memset(&hs, 0, sizeof(hs));
		hs.out = -1;
		if (into != NULL) {
			snprintf(path, sizeof(path), "%s/%s", into, e.name);
			snprintf(dir, sizeof(dir), "%s", path);
			if ((slash = strrchr(dir, '/')) != NULL)
				*slash = '\0';
			if ((rc = dir_make(dir, 0700, err)) != CA_OK)
				goto out;
			if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0600)) < 0) {
				rc = ca_error_set(err, CA_EIO, "%s: %s", path,
				    strerror(errno));
				goto out;
			}
			hs.out = out;
		}
		if (strcmp(e.name, "ca.pem") == 0) {
			if (e.size > SMALL_PART_MAX) {
				rc = ca_error_set(err, CA_ETOOBIG, "ca.pem is "
				    "too large");
				goto out;
			}
			hs.mem_max = (size_t)e.size + 1;
			if ((hs.mem = malloc(hs.mem_max)) == NULL) {
				rc = ca_error_set(err, CA_ENOMEM, "out of "
				    "memory");
				goto out;
			}
		}
		if (gnutls_hash_init(&hs.h, GNUTLS_DIG_SHA256) < 0) {
			free(hs.mem);
			rc = ca_error_set(err, CA_ECRYPTO, "SHA-256");
			goto out;
		}
		rc = archive_data(in, &e, hash_sink, &hs, err);
		hash_hex(hs.h, r->parts[r->n].sha256);
		if (hs.mem != NULL) {
			free(r->ca_pem);
			r->ca_pem = hs.mem;
			r->ca_pem_len = hs.mem_len;
		}
		if (out >= 0) {
			if (rc == CA_OK && fsync(out) != 0)
				rc = ca_error_set(err, CA_EIO, "%s: %s", path,
				    strerror(errno));
			close(out);
			out = -1;
		}
		if (rc != CA_OK) {
			if (rc > 0 || rc == CA_EIO)
				rc = ca_error_set(err, CA_EIO, "writing %s",
				    path);
			goto out;
		}
		snprintf(r->parts[r->n].name, sizeof(r->parts[0].name), "%s",
		    e.name);
		r->parts[r->n].size = e.size;
		r->n++;
	}
	if (mtext == NULL) {
		rc = ca_error_set(err, CA_EMALF, "%s has no manifest: not a "
		    "backup, or cut short", file);
		goto out;
	}
	if ((rc = manifest_check(r, mtext, mlen, err)) != CA_OK)
		goto out;
	if (r->ca_pem == NULL) {
		rc = ca_error_set(err, CA_EMALF, "the backup holds no CA "
		    "certificate");
		goto out;
	}
	{
		struct cert_record	rec;
		char			fp[65];

		memset(&rec, 0, sizeof(rec));
		if ((rc = cmd_cert_load(r->ca_pem, r->ca_pem_len, NULL, &rec,
		    err)) != CA_OK)
			goto out;
		cmd_fingerprint(rec.der, rec.der_len, fp);
		cert_record_clear(&rec);
		if (strcmp(fp, r->ca_sha256) != 0) {
			rc = ca_error_set(err, CA_EMALF, "the CA certificate's "
			    "SHA-256 is %s, the manifest says %s", fp,
			    r->ca_sha256);
			goto out;
		}
	}
	if (into != NULL)
		rc = staged_cas_check(into, r, err);
out:
	if (out >= 0)
		close(out);
	close(in);
	free(mtext);
	return rc;
}

/* Open the store copy in dir (db/data.mdb) read-only and compare its
   figures with the manifest's. */
static int
staged_store_check(const char *dir, const struct bk_read *r,
    struct ca_error *err)
{
	struct store_options	 o;
	struct store		*st = NULL;
	struct store_stats	 ss;
	char			 db[CONFIG_PATH_MAX + 64];
	int			 rc;

	snprintf(db, sizeof(db), "%s/db", dir);
	memset(&o, 0, sizeof(o));
	o.dir = db;
	o.read_only = true;
	if ((rc = store_open(&o, &st, err)) != CA_OK)
		return ca_error_set(err, rc, "the store in the backup does not "
		    "open: %s", err->msg);
	rc = store_stats(st, &ss, err);
	store_close(st);
	snprintf(db, sizeof(db), "%s/db/lock.mdb", dir);
	unlink(db);
	if (rc != CA_OK)
		return rc;
	if (ss.certs != r->ss.certs || ss.revoked != r->ss.revoked ||
	    ss.tokens != r->ss.tokens || ss.audit != r->ss.audit ||
	    ss.crl_number != r->ss.crl_number)
		return ca_error_set(err, CA_EMALF, "the store in the backup "
		    "holds %" PRIu64 " certificates, %" PRIu64 " revoked, CRL "
		    "number %" PRIu64 "; the manifest says %" PRIu64 ", %"
		    PRIu64 ", %" PRIu64, ss.certs, ss.revoked, ss.crl_number,
		    r->ss.certs, r->ss.revoked, r->ss.crl_number);
	return CA_OK;
}

/* o's string k, or "" (for printing). */
static const char *
jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

static int
backup_verify(const char *file)
{
	struct bk_read	 r;
	struct ca_error	 err;
	char		 tmp[] = "/tmp/mtlsca-verify-XXXXXX";
	const char	*td = getenv("TMPDIR");
	char		 tdir[CONFIG_PATH_MAX];
	int		 status = CMD_FAIL;

	ca_error_clear(&err);
	if (td != NULL && td[0] != '\0' &&
	    snprintf(tdir, sizeof(tdir), "%s/mtlsca-verify-XXXXXX", td) <
	    (int)sizeof(tdir)) {
		if (mkdtemp(tdir) == NULL)
			return cmd_fail("backup --verify: %s: %s", tdir,
			    strerror(errno));
	} else {
		if (mkdtemp(tmp) == NULL)
			return cmd_fail("backup --verify: %s: %s", tmp,
			    strerror(errno));
		snprintf(tdir, sizeof(tdir), "%s", tmp);
	}
	if (backup_read(file, tdir, &r, &err) != CA_OK ||
	    staged_store_check(tdir, &r, &err) != CA_OK) {
		status = cmd_fail("backup --verify: %s: %s", file, err.msg);
		goto out;
	}
	printf("backup:       %s\n", file);
	printf("created:      %s\n", r.created);
	printf("ca sha256:    %s\n", r.ca_sha256);
	printf("certificates: %" PRIu64 " (%" PRIu64 " revoked)\n",
	    r.ss.certs, r.ss.revoked);
	printf("crl number:   %" PRIu64 "\n", r.ss.crl_number);
	printf("key:          %s\n", r.includes_key ? "included" :
	    "not included");
	{
		json_t	*c;
		size_t	 i;

		json_array_foreach(json_object_get(r.manifest, "cas"), i, c)
			printf("ca %-10" JSON_INTEGER_FORMAT " %-9s %s (SHA-256 "
			    "%s)\n", json_integer_value(json_object_get(c,
			    "id")), jstr(c, "state"), jstr(c, "subject"),
			    jstr(c, "sha256"));
	}
	for (size_t i = 0; i < r.n; i++)
		printf("part:         %-20s %8" PRIu64 "  sha256 %s\n",
		    r.parts[i].name, r.parts[i].size, r.parts[i].sha256);
	printf("result:       OK, every part matches the manifest and the "
	    "store opens\n");
	status = CMD_OK;
out:
	rm_tree(tdir);
	bk_read_clear(&r);
	return status;
}

static int backup_scheduled_cli(struct config *cfg);

int
cmd_backup(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "include-key", no_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "verify", required_argument, NULL, 'v' },
		{ "scheduled", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*out = NULL, *verify = NULL;
	bool		 key = false, force = false, sched = false;
	int		 ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'k':
			key = true;
			break;
		case 'f':
			force = true;
			break;
		case 'v':
			verify = optarg;
			break;
		case 's':
			sched = true;
			break;
		case 'h':
			return cmd_usage_print("backup", false);
		default:
			cmd_fail("backup: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("backup", true);
		}
	}
	if (sched && optind == argc && out == NULL && verify == NULL && !key &&
	    !force)
		return backup_scheduled_cli(cfg);
	if (optind != argc || sched || (out == NULL) == (verify == NULL) ||
	    (verify != NULL && (key || force))) {
		cmd_fail("backup: give --out FILE, --verify FILE or "
		    "--scheduled");
		return cmd_usage_print("backup", true);
	}
	if (verify != NULL)
		return backup_verify(verify);
	return backup_write(cfg, out, key, force);
}

/* ---- recovery from what was published ---- */

struct recover_ctx {
	struct store	*st;
	const uint8_t	*ca_der;
	size_t		 ca_len;
	uint32_t	 ca_id;		/* the store's id of that CA */
	/* The data directory's other CAs (CA rotation; may be NULL): a CRL
	   that is not ca_der's may be one of theirs (the plain S3 keys
	   hold the old CA's CRL until the new CA's first publish). */
	const struct ca_registry *reg;
	char		 who[128];
	uint64_t	 recovered;
	uint64_t	 newest;
};

static int
recover_one(void *arg, const char *source, const uint8_t *der, size_t len,
    struct ca_error *err)
{
	struct recover_ctx	*c = arg;
	struct crl_recovery	 r;
	int			 rc;

	rc = crl_recover(c->st, c->ca_der, c->ca_len, c->ca_id, der, len,
	    source, c->who, &r, err);
	for (size_t i = 0; rc == CA_EPOLICY && c->reg != NULL &&
	    i < ca_registry_count(c->reg); i++) {
		const struct ca_entry	*e = ca_registry_at(c->reg, i);
		struct cert_record	 rec;
		uint8_t			*pem = NULL;
		size_t			 plen;
		struct ca_error		 e2;

		if (e->id == c->ca_id)
			continue;
		memset(&rec, 0, sizeof(rec));
		if (file_read(e->cert, SMALL_PART_MAX, &pem, &plen, &e2) ==
		    CA_OK && cmd_cert_load(pem, plen, NULL, &rec, &e2) == CA_OK &&
		    crl_recover(c->st, rec.der, rec.der_len, e->id, der, len,
		    source, c->who, &r, &e2) == CA_OK) {
			ca_error_clear(err);
			rc = CA_OK;
		}
		cert_record_clear(&rec);
		free(pem);
	}
	if (rc != CA_OK)
		return rc;
	c->recovered += r.recovered;
	if (r.number > c->newest)
		c->newest = r.number;
	if (r.recovered > 0)
		fprintf(stderr, "mtlsca: recovered %" PRIu64 " revocation(s) "
		    "the store lacked from CRL %" PRIu64 " (%s)\n",
		    r.recovered, r.number, source);
	return CA_OK;
}

/* The registry of cfg's data directory for the active CA's DER; *reg NULL
   when it never rotated. */
static int
registry_of(const struct config *cfg, const uint8_t *der, size_t len,
    struct ca_registry **reg, struct ca_error *err)
{
	char		cas[CONFIG_PATH_MAX];
	struct stat	sb;

	*reg = NULL;
	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir too long");
	if (stat(cas, &sb) != 0)
		return CA_OK;
	return ca_registry_load(cas, der, len, reg, err);
}

/*
 * Each retiring (or retired) CA's last local CRL, public/ca-<id>/crl.der
 * (with stamp: the one a restore set aside, public/.ca-<id>.before-
 * restore-STAMP/crl.der), checked with that CA's certificate: what it
 * lists goes back under that CA's id, so that its own CRL lists it again.
 */
static int
recover_retiring(const struct config *cfg, const struct ca_registry *reg,
    const char *stamp, struct recover_ctx *c, struct ca_error *err)
{
	struct cert_record	 rec;
	uint8_t			*pem = NULL, *buf = NULL;
	size_t			 plen, len;
	char			 path[CONFIG_PATH_MAX + 64], name[80];
	int			 rc = CA_OK;

	for (size_t i = 0; reg != NULL && i < ca_registry_count(reg); i++) {
		const struct ca_entry *e = ca_registry_at(reg, i);

		if (e->id == ca_registry_active_id(reg))
			continue;
		if (stamp != NULL)
			snprintf(name, sizeof(name), "public/.ca-%" PRIu32
			    ".before-restore-%s/crl.der", e->id, stamp);
		else
			snprintf(name, sizeof(name), "public/ca-%" PRIu32
			    "/crl.der", e->id);
		if (config_path(cfg, name, path, sizeof(path)) != CA_OK)
			return ca_error_set(err, CA_EINVAL, "data_dir too "
			    "long");
		rc = file_read(path, CRL_ALB_MAX_BYTES, &buf, &len, err);
		if (rc == CA_ENOENT) {
			ca_error_clear(err);
			rc = CA_OK;
			continue;
		}
		if (rc != CA_OK)
			break;
		memset(&rec, 0, sizeof(rec));
		if ((rc = file_read(e->cert, SMALL_PART_MAX, &pem, &plen,
		    err)) == CA_OK)
			rc = cmd_cert_load(pem, plen, NULL, &rec, err);
		if (rc == CA_OK) {
			c->ca_der = rec.der;
			c->ca_len = rec.der_len;
			c->ca_id = e->id;
			rc = recover_one(c, path, buf, len, err);
		}
		cert_record_clear(&rec);
		free(pem);
		free(buf);
		pem = buf = NULL;
		if (rc != CA_OK)
			break;
	}
	return rc;
}

/* Each retiring CA's s3 publishers' latest CRL (PREFIX/ca-<id>/crl/...). */
static int
recover_retiring_s3(const struct config *cfg, struct ca *ca, struct store *st,
    const struct recover_ctx *c, struct ca_error *err)
{
	struct cmd_cas		 cas;
	struct publish_set	*pubs = NULL;
	struct recover_ctx	 ci;
	char			 ns[32];
	int			 rc;

	if ((rc = cmd_cas_open(cfg, ca, time_now(), &cas, err)) != CA_OK)
		return rc;
	for (size_t i = 1; i < cas.n && rc == CA_OK; i++) {
		ci = *c;
		ci.ca_der = ca_cert_der(cas.ca[i], &ci.ca_len);
		ci.ca_id = cas.id[i];
		cmd_cas_ns(&cas, i, ns, sizeof(ns));
		if ((rc = cmd_publishers_open_dry_ns(cfg, cas.ca[i], st, ns,
		    &pubs, err)) == CA_OK)
			rc = publish_latest_crls(pubs, recover_one, &ci, err);
		publish_set_free(pubs);
		pubs = NULL;
	}
	cmd_cas_close(&cas);
	return rc;
}

int
cmd_recover_published(const struct config *cfg, struct ca *ca,
    const uint8_t *ca_der, size_t ca_len, struct store *st,
    uint64_t *newest, struct ca_error *err)
{
	struct recover_ctx	 c;
	struct publish_set	*pubs = NULL;
	struct ca_registry	*reg = NULL;
	uint8_t			*buf = NULL;
	size_t			 len;
	char			 path[CONFIG_PATH_MAX + 16];
	int			 rc;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.ca_der = ca != NULL ? ca_cert_der(ca, &c.ca_len) : ca_der;
	if (ca == NULL)
		c.ca_len = ca_len;
	if (c.ca_der == NULL)
		return ca_error_set(err, CA_EINVAL, "no CA certificate");
	if ((rc = registry_of(cfg, c.ca_der, c.ca_len, &reg, err)) != CA_OK)
		return rc;
	c.ca_id = ca != NULL ? ca_get_id(ca) : reg != NULL ?
	    ca_registry_active_id(reg) : STORE_CA_FIRST;
	c.reg = reg;
	cmd_who(c.who, sizeof(c.who));
	/* The local CRL first: public/crl.der, unless it is the file this
	   store recorded when it wrote it (crl/trust.c): built from this
	   store's revoked index, it lists nothing the store lacks, and
	   looking up its 500,000 serials was most of serve's start. */
	if (config_path(cfg, "public", path, sizeof(path)) != CA_OK) {
		rc = ca_error_set(err, CA_EINVAL, "data_dir too long");
		goto out;
	}
	if (ca != NULL && crl_der_recorded(st, ca, path))
		rc = CA_ENOENT;
	else if (config_path(cfg, "public/crl.der", path, sizeof(path)) !=
	    CA_OK) {
		rc = ca_error_set(err, CA_EINVAL, "data_dir too long");
		goto out;
	} else
		rc = file_read(path, CRL_ALB_MAX_BYTES, &buf, &len, err);
	if (rc == CA_OK) {
		rc = recover_one(&c, path, buf, len, err);
		free(buf);
		if (rc != CA_OK)
			goto out;
	} else if (rc != CA_ENOENT)
		goto out;
	ca_error_clear(err);
	/* Then each retiring CA's, from its own directory. */
	{
		struct recover_ctx rc2 = c;

		rc = recover_retiring(cfg, reg, NULL, &rc2, err);
		c.recovered = rc2.recovered;
		c.newest = rc2.newest;
		if (rc != CA_OK)
			goto out;
	}
	/* Then each s3 publisher's latest. */
	if (cfg->n_publishers > 0 && ca != NULL) {
		if ((rc = cmd_publishers_open_dry(cfg, ca, st, &pubs, err)) !=
		    CA_OK)
			goto out;
		rc = publish_latest_crls(pubs, recover_one, &c, err);
		publish_set_free(pubs);
		pubs = NULL;
		if (rc != CA_OK)
			goto out;
		/* And each retiring CA's, from its namespace's keys. */
		if ((rc = recover_retiring_s3(cfg, ca, st, &c, err)) != CA_OK)
			goto out;
	}
	if (newest != NULL)
		*newest = c.newest;
	rc = CA_OK;
out:
	ca_registry_free(reg);
	return rc;
}

/* ---- restore ---- */

/* Does the target hold a CA or a store a restore would replace? Names it
   in what. A key alone is welcome: a backup without one needs it there. */
static bool
target_in_use(const struct config *cfg, char *what, size_t size)
{
	struct stat	sb;
	const char	*names[] = { "db", "public/crl.der", "cas" };

	if (stat(cfg->ca_cert, &sb) == 0) {
		snprintf(what, size, "%s", cfg->ca_cert);
		return true;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (config_path(cfg, names[i], what, size) == CA_OK &&
		    stat(what, &sb) == 0)
			return true;
	what[0] = '\0';
	return false;
}

/* The restored active CA's id in the store (its registry's, when the CA
   did not open). */
static uint32_t
restored_active_id(const struct config *cfg, const struct ca *ca,
    const struct cert_record *rec)
{
	struct ca_registry	*reg = NULL;
	struct ca_error		 e2;
	uint32_t		 id = STORE_CA_FIRST;

	if (ca != NULL)
		return ca_get_id(ca);
	if (registry_of(cfg, rec->der, rec->der_len, &reg, &e2) == CA_OK &&
	    reg != NULL)
		id = ca_registry_active_id(reg);
	ca_registry_free(reg);
	return id;
}

/* Rename path to path.before-restore-STAMP when it exists. */
static int
set_aside(const char *path, const char *stamp, struct ca_error *err)
{
	char		to[CONFIG_PATH_MAX + 64];
	struct stat	sb;

	if (lstat(path, &sb) != 0)
		return CA_OK;
	snprintf(to, sizeof(to), "%s.before-restore-%s", path, stamp);
	if (rename(path, to) != 0)
		return ca_error_set(err, CA_EIO, "%s: %s", path,
		    strerror(errno));
	fprintf(stderr, "mtlsca: restore: kept the replaced %s as %s\n", path,
	    to);
	return CA_OK;
}

/* Install a staged small file at dst (atomically, with mode). */
static int
install_file(const char *src, const char *dst, mode_t mode,
    struct ca_error *err)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	char	 dir[CONFIG_PATH_MAX];
	char	*slash;
	int	 rc;

	if ((rc = file_read(src, CRL_ALB_MAX_BYTES, &buf, &len, err)) !=
	    CA_OK)
		return rc;
	snprintf(dir, sizeof(dir), "%s", dst);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = dir_make(dir, mode == 0600 ? 0700 : 0755, err)) !=
		    CA_OK)
			goto out;
	}
	rc = file_write_atomic(dst, buf, len, mode, 0, err);
out:
	if (buf != NULL) {
		gnutls_memset(buf, 0, len);
		free(buf);
	}
	return rc;
}

/*
 * The registry and the retiring CAs' public files. What the data
 * directory held is set aside first: cas/ as cas.before-restore-STAMP,
 * each public/ca-<id>/ as public/.ca-<id>.before-restore-STAMP (out of
 * crl_files_combine's sight, which takes every public/ca-*), crls.pem as
 * crls.pem.before-restore-STAMP. Then the backup's parts go in: cas/ and
 * cas/<id>/ 0700, keys 0600, the rest 0644.
 */
static int
restore_cas(const struct config *cfg, const char *stage,
    const struct bk_read *r, const char *stamp, struct ca_error *err)
{
	char		 cas[CONFIG_PATH_MAX], pub[CONFIG_PATH_MAX];
	char		 from[CONFIG_PATH_MAX + 300], to[CONFIG_PATH_MAX + 350];
	char		 src[CONFIG_PATH_MAX + 300], dst[CONFIG_PATH_MAX + 300];
	DIR		*d;
	struct dirent	*de;
	const char	*tail, *name;
	uint32_t	 id;
	bool		 in_cas;
	int		 rc;

	if (cmd_cas_dir(cfg, cas, sizeof(cas)) != CA_OK ||
	    config_path(cfg, "public", pub, sizeof(pub)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir too long");
	if ((rc = set_aside(cas, stamp, err)) != CA_OK)
		return rc;
	if ((d = opendir(pub)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "ca-", 3) != 0)
				continue;
			snprintf(from, sizeof(from), "%s/%s", pub, de->d_name);
			snprintf(to, sizeof(to), "%s/.%s.before-restore-%s",
			    pub, de->d_name, stamp);
			if (rename(from, to) != 0) {
				rc = ca_error_set(err, CA_EIO, "%s: %s", from,
				    strerror(errno));
				closedir(d);
				return rc;
			}
			fprintf(stderr, "mtlsca: restore: kept the replaced "
			    "%s as %s\n", from, to);
		}
		closedir(d);
	}
	snprintf(dst, sizeof(dst), "%s/crls.pem", pub);
	if ((rc = set_aside(dst, stamp, err)) != CA_OK)
		return rc;
	for (size_t i = 0; i < r->n; i++) {
		name = r->parts[i].name;
		in_cas = part_ca(name, "cas/", &id, &tail);
		if (!in_cas && !part_ca(name, "public/ca-", &id, &tail) &&
		    strcmp(name, "public/crls.pem") != 0)
			continue;
		if (in_cas) {
			snprintf(dst, sizeof(dst), "%s/%" PRIu32, cas, id);
			if ((rc = dir_make(cas, 0700, err)) != CA_OK ||
			    (rc = dir_make(dst, 0700, err)) != CA_OK)
				return rc;
		}
		if (config_path(cfg, name, dst, sizeof(dst)) != CA_OK)
			return ca_error_set(err, CA_EINVAL, "data_dir too "
			    "long");
		snprintf(src, sizeof(src), "%s/%s", stage, name);
		if ((rc = install_file(src, dst, part_is_key(name) ? 0600 :
		    0644, err)) != CA_OK)
			return rc;
	}
	return CA_OK;
}

int
cmd_restore(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_read	 r;
	struct ca_error	 err, kerr;
	struct store	*st = NULL;
	struct ca	*ca = NULL;
	struct stat	 sb;
	const char	*file;
	char		 stage[CONFIG_PATH_MAX + 32], what[CONFIG_PATH_MAX + 300];
	char		 src[CONFIG_PATH_MAX + 64], dst[CONFIG_PATH_MAX + 64];
	char		 stamp[21], detail[CONFIG_PATH_MAX + 200];
	bool		 force = false, staged = false;
	uint64_t	 newest = 0, published = 0, before = 0, after = 0;
	uint8_t		*prev_crl = NULL;
	size_t		 prev_len = 0;
	int		 ch, status = CMD_FAIL;

	optind = 1;
	opterr = 0;
	memset(&r, 0, sizeof(r));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = true;
			break;
		case 'h':
			return cmd_usage_print("restore", false);
		default:
			cmd_fail("restore: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("restore", true);
		}
	}
	if (optind + 1 != argc) {
		cmd_fail("restore: give one backup FILE");
		return cmd_usage_print("restore", true);
	}
	file = argv[optind];
	ca_error_clear(&err);
	if (target_in_use(cfg, what, sizeof(what)) && !force)
		return cmd_fail("restore: the data directory %s is not empty "
		    "(%s): restore never mixes a backup into a CA; restore "
		    "into an empty --data-dir, or stop serve and use --force "
		    "(what is replaced is kept as NAME.before-restore-TIME)",
		    cfg->data_dir, what);
	if (dir_make(cfg->data_dir, 0700, &err) != CA_OK)
		goto fail;
	/* Staged inside the data directory: the moves below are renames
	   within one file system. */
	if (snprintf(stage, sizeof(stage), "%s/.restore-XXXXXX",
	    cfg->data_dir) >= (int)sizeof(stage) || mkdtemp(stage) == NULL) {
		ca_error_set(&err, CA_EIO, "%s: %s", cfg->data_dir,
		    strerror(errno));
		goto fail;
	}
	staged = true;
	if (backup_read(file, stage, &r, &err) != CA_OK ||
	    staged_store_check(stage, &r, &err) != CA_OK) {
		ca_error_set(&err, err.code, "nothing was changed: %s",
		    err.msg);
		goto fail;
	}

	/* Verified: now into place, setting aside what is replaced. */
	time_format(time_now(), stamp);
	if (config_path(cfg, "db", dst, sizeof(dst)) != CA_OK ||
	    set_aside(dst, stamp, &err) != CA_OK)
		goto fail;
	snprintf(src, sizeof(src), "%s/db", stage);
	if (rename(src, dst) != 0) {
		ca_error_set(&err, CA_EIO, "%s: %s", dst, strerror(errno));
		goto fail;
	}
	if (set_aside(cfg->ca_cert, stamp, &err) != CA_OK)
		goto fail;
	snprintf(src, sizeof(src), "%s/ca.pem", stage);
	if (install_file(src, cfg->ca_cert, 0644, &err) != CA_OK)
		goto fail;
	for (int i = 0; i < 2; i++) {
		const char *n = i == 0 ? "public/crl.der" : "public/crl.pem";

		if (config_path(cfg, n, dst, sizeof(dst)) != CA_OK) {
			ca_error_set(&err, CA_EINVAL, "data_dir too long");
			goto fail;
		}
		/* The CRL being replaced may be newer than the backup's:
		   kept, in memory, for the recovery below (and aside). */
		if (i == 0 && file_read(dst, CRL_ALB_MAX_BYTES, &prev_crl,
		    &prev_len, NULL) != CA_OK)
			prev_crl = NULL;
		if (set_aside(dst, stamp, &err) != CA_OK)
			goto fail;
		snprintf(src, sizeof(src), "%s/%s", stage, n);
		if (stat(src, &sb) != 0)
			continue;
		if (install_file(src, dst, 0644, &err) != CA_OK)
			goto fail;
	}
	if (r.includes_key) {
		if (strncmp(cfg->ca_key, "pkcs11:", 7) == 0) {
			ca_error_set(&err, CA_EINVAL, "the backup holds a key "
			    "file but ca.key names a token (%s)", cfg->ca_key);
			goto fail;
		}
		if (set_aside(cfg->ca_key, stamp, &err) != CA_OK)
			goto fail;
		snprintf(src, sizeof(src), "%s/private/ca.key", stage);
		if (install_file(src, cfg->ca_key, 0600, &err) != CA_OK)
			goto fail;
	}
	if (restore_cas(cfg, stage, &r, stamp, &err) != CA_OK)
		goto fail;
	rm_tree(stage);
	staged = false;

	/* What was published since the backup. */
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK)
		goto fail;
	store_counter_get(st, STORE_COUNTER_CRL, &before, NULL);
	ca_error_clear(&kerr);
	if (cmd_ca_open(cfg, &ca, &kerr) != CA_OK)
		fprintf(stderr, "mtlsca: restore: warning: the CA does not open "
		    "with its key (%s)%s: the s3 publishers' CRLs are read at "
		    "serve's start instead\n", kerr.msg, r.includes_key ? "" :
		    "; the backup holds no key: put it at ca.key, mode 0600");
	{
		struct cert_record	rec;

		memset(&rec, 0, sizeof(rec));
		if (cmd_cert_load(r.ca_pem, r.ca_pem_len, NULL, &rec, &err) !=
		    CA_OK)
			goto fail;
		if (prev_crl != NULL) {
			struct crl_recovery	cr;
			char			who[128];

			cmd_who(who, sizeof(who));
			if (crl_recover(st, rec.der, rec.der_len,
			    restored_active_id(cfg, ca, &rec), prev_crl,
			    prev_len, "the replaced public/crl.der", who, &cr,
			    &kerr) != CA_OK)
				fprintf(stderr, "mtlsca: restore: warning: %s\n",
				    kerr.msg);
			else {
				newest = cr.number;
				if (cr.recovered > 0)
					fprintf(stderr, "mtlsca: recovered %"
					    PRIu64 " revocation(s) the store "
					    "lacked from CRL %" PRIu64 " (the "
					    "replaced public/crl.der)\n",
					    cr.recovered, cr.number);
			}
		}
		{
			/* The retiring CAs' CRLs it replaced, likewise. */
			struct ca_registry	*reg = NULL;
			struct recover_ctx	 c;

			memset(&c, 0, sizeof(c));
			c.st = st;
			cmd_who(c.who, sizeof(c.who));
			if (registry_of(cfg, rec.der, rec.der_len, &reg,
			    &kerr) != CA_OK || recover_retiring(cfg, reg,
			    stamp, &c, &kerr) != CA_OK)
				fprintf(stderr, "mtlsca: restore: warning: %s\n",
				    kerr.msg);
			else if (c.newest > newest)
				newest = c.newest;
			ca_registry_free(reg);
		}
		if (cmd_recover_published(cfg, ca, rec.der, rec.der_len, st,
		    &published, &err) != CA_OK) {
			cert_record_clear(&rec);
			ca_error_set(&err, err.code, "the backup is restored, "
			    "but the published CRLs could not be read: %s "
			    "(serve reads them again at its start)", err.msg);
			goto fail;
		}
		cert_record_clear(&rec);
		if (published > newest)
			newest = published;
	}
	store_counter_get(st, STORE_COUNTER_CRL, &after, NULL);
	snprintf(detail, sizeof(detail), "from=%s created=%s crl_number=%"
	    PRIu64 " now=%" PRIu64, file, r.created, before, after);
	cmd_audit_note(st, "restore", detail);
	printf("restored:     %s (created %s) into %s\n", file, r.created,
	    cfg->data_dir);
	printf("certificates: %" PRIu64 " (%" PRIu64 " revoked in the "
	    "backup)\n", r.ss.certs, r.ss.revoked);
	printf("crl number:   %" PRIu64 " in the backup, %" PRIu64 " now "
	    "(newest published: %" PRIu64 "): the next CRL is %" PRIu64 "\n",
	    before, after, newest, after + 1);
	printf("key:          %s\n", r.includes_key ? "restored" : ca != NULL ?
	    "not in the backup; the one at ca.key matches" :
	    "not in the backup: put it at ca.key (mode 0600)");
	status = CMD_OK;
	goto out;
fail:
	status = cmd_fail("restore: %s", err.msg);
out:
	if (staged)
		rm_tree(stage);
	ca_free(ca);
	store_close(st);
	bk_read_clear(&r);
	free(prev_crl);
	return status;
}

/* ---- the schedule (config "backup"; serve, and `backup --scheduled`) ---- */

#define BACKUP_SUFFIX	".mtlsca-backup"
#define META_LAST	"backup_last"		/* counter: time of the last */
#define META_S3_KEPT	"backup/s3-kept"	/* the names put, oldest first */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A name the schedule makes: 20261205T031500Z.mtlsca-backup. */
static bool
sched_name(const char *n)
{
	size_t l = strlen(n);

	if (l != 16 + strlen(BACKUP_SUFFIX) ||
	    strcmp(n + 16, BACKUP_SUFFIX) != 0 || n[8] != 'T' || n[15] != 'Z')
		return false;
	for (size_t i = 0; i < 15; i++)
		if (i != 8 && (n[i] < '0' || n[i] > '9'))
			return false;
	return true;
}

/* Keep the newest keep scheduled backups in dir; the others go. */
static void
prune_dir(const char *dir, unsigned keep)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, **grown, p[CONFIG_PATH_MAX + 300];
	size_t		 n = 0, cap = 0;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!sched_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				break;
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (names != NULL)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + keep < n) {
			snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
			if (unlink(p) == 0)
				fprintf(stderr, "mtlsca: backup: removed %s "
				    "(keep = %u)\n", p, keep);
		}
		free(names[i]);
	}
	free(names);
}

/* The s3 copies: put, remember (oldest first), delete beyond keep. */
static int
s3_store(const struct config *cfg, struct ca *ca, struct store *st,
    const char *name, const char *path, char *where, size_t wsize,
    struct ca_error *err)
{
	struct publish_set	*pubs = NULL;
	uint8_t			*buf = NULL, *kept = NULL;
	size_t			 len, klen = 0;
	char			 list[16384], *line, *save;
	char			*names[1024];
	size_t			 n = 0, o = 0;
	int			 rc;

	if ((rc = file_read(path, (size_t)1 << 34, &buf, &len, err)) != CA_OK)
		return rc;
	if ((rc = cmd_publishers_open(cfg, ca, st, &pubs, err)) != CA_OK ||
	    (rc = publish_s3_backup_put(pubs, cfg->backup_s3, name, buf, len,
	    where, wsize, err)) != CA_OK)
		goto out;
	list[0] = '\0';
	if (store_meta_get(st, META_S3_KEPT, &kept, &klen, NULL) == CA_OK &&
	    klen < sizeof(list)) {
		memcpy(list, kept, klen);
		list[klen] = '\0';
	}
	for (line = strtok_r(list, "\n", &save); line != NULL && n < 1023;
	    line = strtok_r(NULL, "\n", &save))
		if (strcmp(line, name) != 0)
			names[n++] = line;
	names[n++] = (char *)name;
	/* Beyond keep: deleted, and forgotten once gone. */
	while (n > cfg->backup_keep) {
		struct ca_error e2;

		if (publish_s3_backup_delete(pubs, cfg->backup_s3, names[0],
		    &e2) != CA_OK) {
			fprintf(stderr, "mtlsca: backup: warning: %s\n", e2.msg);
			break;
		}
		fprintf(stderr, "mtlsca: backup: removed %s from s3 publisher "
		    "'%s' (keep = %u)\n", names[0], cfg->backup_s3,
		    cfg->backup_keep);
		memmove(names, names + 1, (n - 1) * sizeof(names[0]));
		n--;
	}
	{
		char out[16384];

		for (size_t i = 0; i < n && o + strlen(names[i]) + 2 <
		    sizeof(out); i++)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s\n",
			    names[i]);
		rc = store_meta_put(st, META_S3_KEPT, out, o, err);
	}
out:
	publish_set_free(pubs);
	free(kept);
	free(buf);
	return rc;
}

/*
 * One scheduled backup: made in the data directory, then moved to
 * backup.dir and/or put in the s3 publisher's bucket, each pruned to
 * backup.keep; the time recorded (META_LAST) so that a restart does not
 * make one early.
 */
static int
backup_scheduled(const struct config *cfg, struct ca *ca, struct store *st,
    struct ca_error *err)
{
	struct backup_made	 m;
	char			 stamp[21], name[64], tmp[CONFIG_PATH_MAX + 80];
	char			 dst[CONFIG_PATH_MAX + 80], where[700];
	int64_t			 now = time_now();
	int			 rc;

	time_format(now, stamp);
	/* 2026-12-05T03:15:00Z -> 20261205T031500Z */
	snprintf(name, sizeof(name), "%.4s%.2s%.2sT%.2s%.2s%.2sZ%s", stamp,
	    stamp + 5, stamp + 8, stamp + 11, stamp + 14, stamp + 17,
	    BACKUP_SUFFIX);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s", cfg->data_dir, name) >=
	    (int)sizeof(tmp))
		return ca_error_set(err, CA_EINVAL, "data_dir too long");
	if ((rc = backup_make(cfg, st, tmp, cfg->backup_include_key, &m,
	    err)) != CA_OK)
		return rc;
	if (cfg->backup_s3[0] != '\0') {
		if ((rc = s3_store(cfg, ca, st, name, tmp, where,
		    sizeof(where), err)) != CA_OK)
			goto out;
		fprintf(stderr, "mtlsca: backup: %s (%lld bytes, sha256 %s, "
		    "%" PRIu64 " certificates, CRL %" PRIu64 ")\n", where,
		    (long long)m.size, m.sha256, m.ss.certs, m.ss.crl_number);
	}
	if (cfg->backup_dir[0] != '\0') {
		snprintf(dst, sizeof(dst), "%s/%s", cfg->backup_dir, name);
		if ((rc = dir_make(cfg->backup_dir, 0700, err)) != CA_OK ||
		    (rc = install_file(tmp, dst, 0600, err)) != CA_OK)
			goto out;
		fprintf(stderr, "mtlsca: backup: %s (%lld bytes, sha256 %s, "
		    "%" PRIu64 " certificates, CRL %" PRIu64 ")\n", dst,
		    (long long)m.size, m.sha256, m.ss.certs, m.ss.crl_number);
		prune_dir(cfg->backup_dir, cfg->backup_keep);
	}
	rc = store_counter_raise(st, META_LAST, (uint64_t)now, NULL, err);
out:
	unlink(tmp);
	return rc;
}

struct cmd_backup_sched {
	const struct config	*cfg;
	struct ca		*ca;
	struct store		*st;
	pthread_t		 th;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	bool			 stop;
};

static void *
sched_run(void *arg)
{
	struct cmd_backup_sched	*b = arg;
	struct ca_error		 err;
	struct timespec		 ts;
	uint64_t		 last;
	int64_t			 due, wait;

	for (;;) {
		last = 0;
		store_counter_get(b->st, META_LAST, &last, NULL);
		due = (int64_t)last + b->cfg->backup_every;
		wait = due - time_now();
		if (wait <= 0) {
			ca_error_clear(&err);
			if (backup_scheduled(b->cfg, b->ca, b->st, &err) !=
			    CA_OK) {
				fprintf(stderr, "mtlsca: backup: error: %s "
				    "(tried again in 5 minutes)\n", err.msg);
				wait = 300;
			} else
				wait = b->cfg->backup_every;
		}
		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait > 3600 ? 3600 : wait;	/* re-read hourly */
		while (!b->stop && pthread_cond_timedwait(&b->cond, &b->mu,
		    &ts) == 0)
			;
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			return NULL;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

int
cmd_backup_sched_start(const struct config *cfg, struct ca *ca,
    struct store *st, struct cmd_backup_sched **out, struct ca_error *err)
{
	struct cmd_backup_sched *b;

	*out = NULL;
	if (cfg->backup_every <= 0)
		return CA_OK;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	b->cfg = cfg;
	b->ca = ca;
	b->st = st;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (pthread_create(&b->th, NULL, sched_run, b) != 0) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cond);
		free(b);
		return ca_error_set(err, CA_ENOMEM, "cannot start the backup "
		    "thread");
	}
	*out = b;
	return CA_OK;
}

void
cmd_backup_sched_stop(struct cmd_backup_sched *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cond);
	free(b);
}

/* `backup --scheduled`: one run of the configured schedule, now. */
static int
backup_scheduled_cli(struct config *cfg)
{
	struct ca_error	 err;
	struct store	*st = NULL;
	struct ca	*ca = NULL;
	int		 status = CMD_FAIL;

	ca_error_clear(&err);
	if (cfg->backup_every <= 0)
		return cmd_fail("backup --scheduled: the configuration has no "
		    "backup schedule (backup = { every = \"24h\"; dir = ...; "
		    "})");
	if ((cfg->backup_s3[0] != '\0' && cmd_ca_open(cfg, &ca, &err) !=
	    CA_OK) || cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    backup_scheduled(cfg, ca, st, &err) != CA_OK)
		status = cmd_fail("backup: %s", err.msg);
	else
		status = CMD_OK;
	store_close(st);
	ca_free(ca);
	return status;
}
