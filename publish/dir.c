/*
 * The dir publisher: crl.pem, crl.der and ca.pem copied into a directory
 * (nginx, HAProxy or Envoy read them there), each replaced atomically.
 *
 * After a CA rotation each live CA has a set of its own: a retiring CA's
 * writes <path>/<ns>/crl.pem and crl.der (no ca.pem). Once CRL checking is
 * on, OpenSSL wants a CRL for every CA of a chain (X509_V_ERR_UNABLE_TO_
 * GET_CRL otherwise), so a relying party given the new CA's crl.pem alone
 * would refuse every client of the old one. Every set therefore rewrites
 * <path>/crls.pem, every CA's CRL in one file (crl.pem, then each
 * <path>/<ns>/crl.pem by name): what ssl_crl (nginx), crl-file (HAProxy)
 * or crl (Envoy) should name. With one CA it is crl.pem, byte for byte.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "publish/publish_int.h"

static int
dir_check(const struct publish_conf *conf, size_t i, struct ca_error *err)
{
	if (conf[i].path[0] == '\0')
		return ca_error_set(err, CA_EINVAL, "dir publisher '%s' needs "
		    "a path", conf[i].name);
	return CA_OK;
}

static int
dir_open(struct publisher *p, struct ca_error *err)
{
	(void)p;
	(void)err;
	return CA_OK;
}

static int
put(const char *dir, const char *name, const void *buf, size_t len,
    struct ca_error *err)
{
	char	 path[1100];

	if (path_join(path, sizeof(path), dir, name) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "path too long");
	return file_write_atomic(path, buf, len, 0644, 0, err);
}

/* ---- crls.pem: every live CA's CRL ---- */

/*
 * The sets of one process (one per live CA) may compose one directory's
 * crls.pem at once, and file names of a temporary file are per process:
 * this module's lock makes them take turns (the publish lock file does it
 * between processes).
 */
static pthread_mutex_t compose_mu = PTHREAD_MUTEX_INITIALIZER;

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the file at path to fd; *any and *nl say what was written so
   far. A file that is not there adds nothing. */
static int
append_file(int fd, const char *path, bool *any, bool *nl,
    struct ca_error *err)
{
	char	 buf[65536];
	ssize_t	 r;
	int	 in, rc = CA_OK;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? CA_OK : ca_error_set(err, CA_EIO,
		    "%s: %s", path, strerror(errno));
	for (;;) {
		size_t	 done = 0;

		if ((r = read(in, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = ca_error_set(err, CA_EIO, "%s: %s", path,
			    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		/* PEM blocks one after the other, each on lines of its own. */
		if (*any && !*nl && write(fd, "\n", 1) != 1) {
			rc = ca_error_set(err, CA_EIO, "writing crls.pem: %s",
			    strerror(errno));
			break;
		}
		while (done < (size_t)r) {
			ssize_t w = write(fd, buf + done, (size_t)r - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = ca_error_set(err, CA_EIO, "writing "
				    "crls.pem: %s", strerror(errno));
				goto out;
			}
			done += (size_t)w;
		}
		*any = true;
		*nl = buf[r - 1] == '\n';
	}
out:
	close(in);
	return rc;
}

/* The namespaces that have a crl.pem under dir, sorted; *names owns a
   malloc'd array of malloc'd names. A dir that is not there has none. */
static int
ns_list(const char *dir, char ***names, size_t *n, struct ca_error *err)
{
	DIR		*d;
	struct dirent	*e;
	char		**v = NULL, path[1200];
	size_t		 cap = 0;
	int		 rc = CA_OK;

	*names = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? CA_OK : ca_error_set(err, CA_EIO,
		    "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '\0' ||
		    publish_ns_check(e->d_name, NULL) != CA_OK ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s/crl.pem", dir,
		    e->d_name) >= sizeof(path) || access(path, R_OK) != 0)
			continue;
		if (*n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = ca_error_set(err, CA_ENOMEM,
				    "out of memory");
				break;
			}
			v = nv;
		}
		if ((v[*n] = strdup(e->d_name)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), name_cmp);
	*names = v;
	return rc;
}

int
publish_dir_compose(const char *path, struct ca_error *err)
{
	char		 tmp[1200], dst[1100], src[1200];
	char		**names = NULL;
	size_t		 n = 0;
	bool		 any = false, nl = true;
	int		 fd = -1, rc;

	pthread_mutex_lock(&compose_mu);
	if ((rc = ns_list(path, &names, &n, err)) != CA_OK)
		goto out;
	if (path_join(dst, sizeof(dst), path, "crls.pem") != CA_OK ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst,
	    (long)getpid()) >= sizeof(tmp)) {
		rc = ca_error_set(err, CA_ETOOBIG, "path too long");
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) < 0) {
		/* No directory: no CRL to put together. */
		rc = errno == ENOENT ? CA_OK : ca_error_set(err, CA_EIO,
		    "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (path_join(src, sizeof(src), path, "crl.pem") != CA_OK) {
		rc = ca_error_set(err, CA_ETOOBIG, "path too long");
		goto out;
	}
	if ((rc = append_file(fd, src, &any, &nl, err)) != CA_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(src, sizeof(src), "%s/%s/crl.pem", path, names[i]);
		if ((rc = append_file(fd, src, &any, &nl, err)) != CA_OK)
			goto out;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	/* No CRL at all (yet): no crls.pem, rather than an empty one that
	   a relying party would refuse to load. */
	if (!any)
		goto out;
	if (rename(tmp, dst) != 0)
		rc = ca_error_set(err, CA_EIO, "%s: %s", dst, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (fd >= 0 || rc != CA_OK || !any)
		(void)unlink(tmp);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	pthread_mutex_unlock(&compose_mu);
	return rc;
}

/* ---- the publisher ---- */

/* Where this set's files go: path, or path/<ns> for a retiring CA. */
static int
own_dir(const struct publisher *p, char *out, size_t size,
    struct ca_error *err)
{
	if (p->set->ns[0] == '\0') {
		snprintf(out, size, "%s", p->conf.path);
		return CA_OK;
	}
	if (path_join(out, size, p->conf.path, p->set->ns) != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "path too long");
	return CA_OK;
}

static int
dir_run(struct publisher *p, const struct crl_snapshot *crl,
    struct publish_state *s, struct ca_error *err)
{
	char	 dir[1100];
	int	 rc;

	(void)s;
	if ((rc = own_dir(p, dir, sizeof(dir), err)) != CA_OK ||
	    (rc = dir_make(p->conf.path, 0755, err)) != CA_OK ||
	    (rc = dir_make(dir, 0755, err)) != CA_OK)
		return rc;
	/* Each file replaced by rename: readers see old or new, whole.
	 * The DER first, the PEM (what ALB-style readers take) last. The
	 * CA bundle is the active CA's set's. */
	if ((p->set->ns[0] == '\0' && (rc = put(dir, "ca.pem",
	    p->set->bundle, p->set->bundle_len, err)) != CA_OK) ||
	    (rc = put(dir, "crl.der", crl->der, crl->der_len, err)) != CA_OK ||
	    (rc = put(dir, "crl.pem", crl->pem, crl->pem_len, err)) != CA_OK)
		return rc;
	return publish_dir_compose(p->conf.path, err);
}

static int
dir_plan(struct publisher *p, const struct crl_snapshot *crl,
    const struct publish_state *s, struct awsbuf *b, struct ca_error *err)
{
	char	 dir[1100];
	int	 rc;

	(void)s;
	if ((rc = own_dir(p, dir, sizeof(dir), err)) != CA_OK)
		return rc;
	if (p->set->ns[0] == '\0')
		rc = awsbuf_printf(b, "  would write %s/ca.pem, ", dir);
	else
		rc = awsbuf_printf(b, "  would write (CA namespace %s) ",
		    p->set->ns);
	if (rc == CA_OK)
		rc = awsbuf_printf(b, "%s/crl.der and %s/crl.pem (CRL %" PRIu64
		    ", %" PRIu64 " entries), then %s/crls.pem (every CA's "
		    "CRL)\n", dir, dir, crl->number, crl->entries,
		    p->conf.path);
	return rc;
}

/* A retired CA: its files go, and crls.pem no longer holds its CRL. */
static int
dir_retire(struct publisher *p, struct publish_state *s,
    struct ca_error *err)
{
	static const char *const files[] = { "crl.pem", "crl.der" };
	char	 dir[1100], path[1200];
	int	 rc;

	(void)s;
	if ((rc = own_dir(p, dir, sizeof(dir), err)) != CA_OK)
		return rc;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (path_join(path, sizeof(path), dir, files[i]) != CA_OK)
			return ca_error_set(err, CA_ETOOBIG, "path too long");
		if (unlink(path) != 0 && errno != ENOENT)
			return ca_error_set(err, CA_EIO, "%s: %s", path,
			    strerror(errno));
	}
	/* Files of someone else's in it: they stay, and so does it. */
	if (rmdir(dir) != 0 && errno != ENOENT)
		publish_log(p->set, PUBLISH_WARN, "%s: %s stays: %s",
		    p->conf.name, dir, strerror(errno));
	return publish_dir_compose(p->conf.path, err);
}

static void
dir_destination(const struct publisher *p, char *out, size_t size)
{
	size_t	 l = strlen(p->conf.path);

	/* "/var/www/pki/" and "/var/www/pki" are one place. */
	while (l > 1 && p->conf.path[l - 1] == '/')
		l--;
	snprintf(out, size, "dir:%.*s", (int)l, p->conf.path);
}

const struct publish_ops publish_dir_ops = {
	.name = "dir",
	.check = dir_check,
	.open = dir_open,
	.destination = dir_destination,
	.plan = dir_plan,
	.run = dir_run,
	.retire = dir_retire,
};
