/*
 * The dir publisher: crl.pem, crl.der and ca.pem copied into a directory
 * (nginx, HAProxy or Envoy read them there), each replaced atomically.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

static int
dir_run(struct publisher *p, const struct crl_snapshot *crl,
    struct publish_state *s, struct ca_error *err)
{
	int	 rc;

	(void)s;
	if ((rc = dir_make(p->conf.path, 0755, err)) != CA_OK)
		return rc;
	/* Each file replaced by rename: readers see old or new, whole.
	 * The DER first, the PEM (what ALB-style readers take) last. */
	if ((rc = put(p->conf.path, "ca.pem", p->set->bundle,
	    p->set->bundle_len, err)) != CA_OK ||
	    (rc = put(p->conf.path, "crl.der", crl->der, crl->der_len,
	    err)) != CA_OK)
		return rc;
	return put(p->conf.path, "crl.pem", crl->pem, crl->pem_len, err);
}

static int
dir_plan(struct publisher *p, const struct crl_snapshot *crl,
    const struct publish_state *s, struct awsbuf *b, struct ca_error *err)
{
	(void)s;
	(void)err;
	return awsbuf_printf(b, "  would write %s/ca.pem, %s/crl.der and "
	    "%s/crl.pem (CRL %" PRIu64 ", %" PRIu64 " entries)\n",
	    p->conf.path, p->conf.path, p->conf.path, crl->number,
	    crl->entries);
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
};
