/*
 * public/crls.pem: every live CA's CRL in one PEM file, for the TLS
 * terminators that read their CRLs from one file (nginx's ssl_crl,
 * HAProxy's crl-file, Envoy's crl). Once CRL checking is on, OpenSSL
 * refuses a client whose issuer has no CRL there ("unable to get
 * certificate CRL"), so after a CA rotation a file with the active CA's
 * CRL alone would lock out every client of the retiring CA. crl.pem stays
 * one CRL (ALB takes exactly one per file).
 */
#define _GNU_SOURCE	/* copy_file_range */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "crl/crl_int.h"

#define COMBINE_MAX	8	/* CAs: the active one and retiring ones */

void
crl_meta_name(const char *base, const struct ca *ca, char *out, size_t size)
{
	uint32_t id = ca != NULL ? ca_get_id(ca) : STORE_CA_FIRST;

	if (id <= STORE_CA_FIRST)
		snprintf(out, size, "%s", base);
	else
		snprintf(out, size, "%s@%" PRIu32, base, id);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Append root/name/crl.pem (name "" for root/crl.pem) to the file being
 * written, on lines of its own (as pem_cat would). The bytes go from file
 * to file in the kernel (copy_file_range), or through a small buffer: at
 * 1M entries crl.pem is 55 MB, and holding it (and a copy of it) cost
 * 110 MB of the CRL build's peak memory.
 */
static int
append(const char *root, const char *name, struct file_atomic *out,
    struct ca_error *err)
{
	char		 path[4096], buf[65536], last = '\n';
	struct stat	 sb;
	off_t		 off = 0;
	int		 fd, rc = CA_OK, n;
	bool		 in_kernel = true;

	n = name[0] == '\0' ? snprintf(path, sizeof(path), "%s/crl.pem", root) :
	    snprintf(path, sizeof(path), "%s/%s/crl.pem", root, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ca_error_set(err, CA_ETOOBIG, "path too long: %s", root);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && name[0] != '\0')
			return CA_OK;	/* a retired CA's directory, emptied */
		return ca_error_set(err, errno == ENOENT ? CA_ENOENT : CA_EIO,
		    "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)CRL_ALB_MAX_BYTES * 2) {
		rc = ca_error_set(err, CA_EIO, "%s: not a CRL file this size "
		    "(%lld bytes)", path, (long long)sb.st_size);
		goto out;
	}
	while (off < sb.st_size) {
		ssize_t got;

		if (in_kernel) {
			got = copy_file_range(fd, &off, out->fd, NULL,
			    (size_t)(sb.st_size - off), 0);
			/* Not across these file systems (or none copied,
			   as some report it): the buffer then. */
			if (got == 0 || (got < 0 && (errno == EXDEV ||
			    errno == ENOSYS || errno == EINVAL ||
			    errno == EOPNOTSUPP))) {
				in_kernel = false;
				continue;
			}
		} else {
			got = pread(fd, buf, sizeof(buf), off);
			if (got > 0 && (rc = file_atomic_write(out, buf,
			    (size_t)got, err)) != CA_OK)
				goto out;
			if (got > 0)
				off += got;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = ca_error_set(err, CA_EIO, "%s: %s", path,
			    got < 0 ? strerror(errno) : "shorter than it was");
			goto out;
		}
	}
	if (sb.st_size > 0 && pread(fd, &last, 1, sb.st_size - 1) != 1) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (last != '\n')
		rc = file_atomic_write(out, "\n", 1, err);
out:
	close(fd);
	return rc;
}

/*
 * With one CA, crls.pem is crl.pem: a second name for the same file (a
 * link, renamed over crls.pem), instead of a copy of 55 MB and its fsync
 * at 1M entries. The link changes crl.pem's ctime, so r's identity of it
 * is taken anew when r names the file linked. CA_ENOENT when crl.pem is
 * not one this can stand for (then it is copied, as with several CAs).
 */
static int
link_single(const char *root, const char *to, struct crl_result *r,
    struct ca_error *err)
{
	char		 from[4096], tmp[4096], last = 0;
	struct stat	 sb, cur;
	int		 fd, rc = CA_ENOENT;

	if (path_join(from, sizeof(from), root, "crl.pem") != CA_OK ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", to, (long)getpid()) >=
	    (int)sizeof(tmp))
		return ca_error_set(err, CA_ETOOBIG, "path too long: %s", root);
	if ((fd = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return CA_ENOENT;
	/* A regular file ending in a newline, as append() would leave it. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0 ||
	    pread(fd, &last, 1, sb.st_size - 1) != 1 || last != '\n')
		goto out;
	/* Already its second name: nothing to do (and rename() of one file
	   over itself would do nothing, leaving tmp). */
	if (stat(to, &cur) == 0 && cur.st_dev == sb.st_dev &&
	    cur.st_ino == sb.st_ino) {
		rc = CA_OK;
		goto out;
	}
	(void)unlink(tmp);
	if (link(from, tmp) != 0)
		goto out;
	if (rename(tmp, to) != 0) {
		rc = ca_error_set(err, CA_EIO, "%s: %s", to, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	if (fsync_dir_of(to) != 0) {
		rc = ca_error_set(err, CA_EIO, "fsync of the directory of %s: "
		    "%s", to, strerror(errno));
		goto out;
	}
	/* The descriptor's file is the one linked unless crl.pem was
	   replaced in between (callers hold the CRL lock): compare. */
	if (r != NULL && r->written && fstat(fd, &sb) == 0 &&
	    (uint64_t)sb.st_ino == r->pem_id.ino &&
	    (uint64_t)sb.st_dev == r->pem_id.dev &&
	    (uint64_t)sb.st_size == r->pem_id.size &&
	    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec ==
	    r->pem_id.mtime_ns)
		crl_file_id_of(&sb, &r->pem_id);
	rc = CA_OK;
out:
	close(fd);
	return rc;
}

int
crl_files_combine(const char *root, struct crl_result *r,
    struct ca_error *err)
{
	DIR		*d;
	struct dirent	*de;
	struct file_atomic out;
	char		*names[COMBINE_MAX], path[4096];
	size_t		 n = 0;
	int		 rc = CA_OK;

	if (root == NULL)
		return ca_error_set(err, CA_EINVAL, "no public directory");
	if ((d = opendir(root)) == NULL)
		return ca_error_set(err, CA_EIO, "%s: cannot read it", root);
	while ((de = readdir(d)) != NULL) {
		/* Only a retiring CA's directory: "ca-" and its id. */
		if (strncmp(de->d_name, "ca-", 3) != 0 || de->d_name[3] < '1' ||
		    de->d_name[3] > '9' || strspn(de->d_name + 3,
		    "0123456789") != strlen(de->d_name + 3) || n == COMBINE_MAX)
			continue;
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = ca_error_set(err, CA_ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == CA_OK && path_join(path, sizeof(path), root, "crls.pem") !=
	    CA_OK)
		rc = ca_error_set(err, CA_ETOOBIG, "path too long: %s", root);
	if (rc == CA_OK && n == 0) {
		if ((rc = link_single(root, path, r, err)) != CA_ENOENT)
			goto out;
		rc = CA_OK;
	}
	if (rc == CA_OK && (rc = file_atomic_open(&out, path, 0644, 0,
	    err)) == CA_OK) {
		qsort(names, n, sizeof(names[0]), name_cmp);
		rc = append(root, "", &out, err);
		for (size_t i = 0; rc == CA_OK && i < n; i++)
			rc = append(root, names[i], &out, err);
		if (rc == CA_OK)
			rc = file_atomic_commit(&out, NULL, err);
		file_atomic_abort(&out);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}
