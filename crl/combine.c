/*
 * public/crls.pem: every live CA's CRL in one PEM file, for the TLS
 * terminators that read their CRLs from one file (nginx's ssl_crl,
 * HAProxy's crl-file, Envoy's crl). Once CRL checking is on, OpenSSL
 * refuses a client whose issuer has no CRL there ("unable to get
 * certificate CRL"), so after a CA rotation a file with the active CA's
 * CRL alone would lock out every client of the retiring CA. crl.pem stays
 * one CRL (ALB takes exactly one per file).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pem.h"
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

/* Append root/name/crl.pem (name "" for root/crl.pem) to *buf. */
static int
append(const char *root, const char *name, char **buf, size_t *len,
    struct ca_error *err)
{
	char	 path[4096];
	uint8_t	*part = NULL;
	size_t	 plen;
	int	 rc, n;

	n = name[0] == '\0' ? snprintf(path, sizeof(path), "%s/crl.pem", root) :
	    snprintf(path, sizeof(path), "%s/%s/crl.pem", root, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ca_error_set(err, CA_ETOOBIG, "path too long: %s", root);
	rc = file_read(path, CRL_ALB_MAX_BYTES * 2u, &part, &plen, err);
	if (rc == CA_ENOENT && name[0] != '\0') {
		ca_error_clear(err);
		return CA_OK;		/* a retired CA's directory, emptied */
	}
	if (rc != CA_OK)
		return rc;
	rc = pem_cat(buf, len, (const char *)part, plen);
	free(part);
	return rc != CA_OK ? ca_error_set(err, rc, "out of memory") : CA_OK;
}

int
crl_files_combine(const char *root, struct ca_error *err)
{
	DIR		*d;
	struct dirent	*de;
	char		*names[COMBINE_MAX], *buf = NULL, path[4096];
	size_t		 n = 0, len = 0;
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
	if (rc == CA_OK) {
		qsort(names, n, sizeof(names[0]), name_cmp);
		rc = append(root, "", &buf, &len, err);
		for (size_t i = 0; rc == CA_OK && i < n; i++)
			rc = append(root, names[i], &buf, &len, err);
	}
	if (rc == CA_OK) {
		if (path_join(path, sizeof(path), root, "crls.pem") != CA_OK)
			rc = ca_error_set(err, CA_ETOOBIG, "path too long: %s",
			    root);
		else
			rc = file_write_atomic(path, buf, len, 0644, 0, err);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(buf);
	return rc;
}
