/*
 * mtlsca publish: run every configured publisher once on the current CRL
 * (the public directory's crl.pem, as `mtlsca crl` writes it). The exit
 * status says whether every publisher succeeded.
 *
 * Also the wiring `serve` and `status` use: cmd_publishers_open() turns the
 * config's publishers into publish/'s publisher set.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"

static void
log_stderr(void *ctx, enum publish_log level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "mtlsca: publish: %s%s\n",
	    level == PUBLISH_ERR ? "error: " :
	    level == PUBLISH_WARN ? "warning: " : "", msg);
}

/* The config's publishers as publish/'s plain structs. */
static void
publishers_conf(const struct config *cfg, struct publish_conf *out,
    size_t *n)
{
	for (size_t i = 0; i < cfg->n_publishers; i++) {
		const struct config_publisher *c = &cfg->publishers[i];
		struct publish_conf *o = &out[i];

		memset(o, 0, sizeof(*o));
		o->type = c->type == PUBLISHER_DIR ? PUBLISH_DIR :
		    c->type == PUBLISHER_S3 ? PUBLISH_S3 :
		    c->type == PUBLISHER_ALB ? PUBLISH_ALB : PUBLISH_EXEC;
		for (size_t k = 0; k < c->n_command; k++)
			snprintf(o->argv[k], sizeof(o->argv[k]), "%s",
			    c->command[k]);
		o->argc = c->n_command;
		o->timeout = c->timeout;
		for (size_t k = 0; k < c->n_extra_ca_files; k++)
			snprintf(o->extra_ca_files[k],
			    sizeof(o->extra_ca_files[k]), "%s",
			    c->extra_ca_files[k]);
		o->n_extra_ca_files = c->n_extra_ca_files;
		for (size_t k = 0; k < c->n_remove_ca_fingerprints; k++)
			memcpy(o->remove_ca_fingerprints[k],
			    c->remove_ca_fingerprints[k], 65);
		o->n_remove_ca_fingerprints = c->n_remove_ca_fingerprints;
		snprintf(o->name, sizeof(o->name), "%s", c->name);
		snprintf(o->path, sizeof(o->path), "%s", c->path);
		snprintf(o->bucket, sizeof(o->bucket), "%s", c->bucket);
		snprintf(o->prefix, sizeof(o->prefix), "%s", c->prefix);
		snprintf(o->region, sizeof(o->region), "%s", c->region);
		snprintf(o->endpoint, sizeof(o->endpoint), "%s", c->endpoint);
		snprintf(o->imds_endpoint, sizeof(o->imds_endpoint), "%s",
		    c->imds_endpoint);
		snprintf(o->trust_store_arn, sizeof(o->trust_store_arn), "%s",
		    c->trust_store_arn);
		snprintf(o->s3_publisher, sizeof(o->s3_publisher), "%s",
		    c->s3_publisher);
	}
	*n = cfg->n_publishers;
}

static int
publishers_open(const struct config *cfg, struct ca *ca, struct store *st,
    bool dry_run, bool quick, bool sink, const char *ns,
    struct publish_set **out, struct ca_error *err)
{
	struct publish_conf	*conf;
	char			*bundle = NULL;
	struct publish_options	 opt;
	char			 lock[CONFIG_PATH_MAX];
	size_t			 n;
	int			 rc;

	if (config_path(cfg, CMD_PUBLISH_LOCK, lock, sizeof(lock)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if ((conf = calloc(CONFIG_PUBLISHERS_MAX, sizeof(*conf))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	publishers_conf(cfg, conf, &n);
	memset(&opt, 0, sizeof(opt));
	opt.max_entries = cfg->crl_max_entries;
	opt.read_only = ca == NULL;
	opt.dry_run = dry_run;
	opt.retry_min_ms = cfg->publish_retry_min * 1000;
	opt.retry_max_ms = cfg->publish_retry_max * 1000;
	opt.max_lag = cfg->publish_max_lag;
	if (quick) {
		/* Read at serve's start: an S3 that hangs must not hold the
		   service back for minutes (2 tries of 10 s at most). */
		opt.timeout_s = 10;
		opt.max_attempts = 2;
	}
	/* Take turns with `serve` and other `publish` runs. */
	opt.lock_path = lock;
	/* serve's publishers speak through its log (common/log.h); the
	   publish command prints plain messages. */
	opt.log = sink ? NULL : log_stderr;
	opt.ca_ns = ns;		/* a retiring CA's (cmd_ca.c) */
	/* The active CA's set publishes every live CA in ca.pem, so that a
	   relying party given that file keeps trusting a retiring CA's
	   clients. */
	if (ca != NULL && (ns == NULL || ns[0] == '\0'))
		opt.bundle_pem = bundle = cmd_cas_bundle_pem(cfg, ca);
	rc = publish_set_new(ca, st, conf, n, &opt, out, err);
	free(bundle);
	free(conf);
	return rc;
}

int
cmd_publishers_open(const struct config *cfg, struct ca *ca,
    struct store *st, struct publish_set **out, struct ca_error *err)
{
	return publishers_open(cfg, ca, st, false, false, true, NULL, out,
	    err);
}

int
cmd_publishers_open_ns(const struct config *cfg, struct ca *ca,
    struct store *st, const char *ns, struct publish_set **out,
    struct ca_error *err)
{
	return publishers_open(cfg, ca, st, false, false, true, ns, out, err);
}

int
cmd_publish_state_move(const struct config *cfg, struct store *st,
    const char *from_ns, const char *to_ns, struct ca_error *err)
{
	struct publish_conf	*conf;
	size_t			 n;
	int			 rc;

	char			 lock[CONFIG_PATH_MAX];
	int			 fd = -1;

	if (cfg->n_publishers == 0)
		return CA_OK;
	if (config_path(cfg, CMD_PUBLISH_LOCK, lock, sizeof(lock)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if ((conf = calloc(CONFIG_PUBLISHERS_MAX, sizeof(*conf))) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	publishers_conf(cfg, conf, &n);
	/* Not between a running serve's publish and its state. */
	if ((rc = file_lock(lock, NULL, NULL, &fd, err)) == CA_OK)
		rc = publish_state_move(st, conf, n, from_ns, to_ns, err);
	file_unlock(fd);
	free(conf);
	return rc;
}

int
cmd_publishers_open_dry(const struct config *cfg, struct ca *ca,
    struct store *st, struct publish_set **out, struct ca_error *err)
{
	return publishers_open(cfg, ca, st, true, true, true, NULL, out, err);
}

int
cmd_publishers_open_dry_ns(const struct config *cfg, struct ca *ca,
    struct store *st, const char *ns, struct publish_set **out,
    struct ca_error *err)
{
	return publishers_open(cfg, ca, st, true, true, true, ns, out, err);
}

/* `mtlsca publish`: each retiring CA's public/ca-<id>/crl.pem through its
   namespaced publishers; CA_OK when all went out. */
static int
publish_retiring(const struct config *cfg, struct ca *ca, struct store *st,
    const char *pub, bool quiet)
{
	struct cmd_cas		 cas;
	struct publish_set	*set = NULL;
	struct crl_snapshot	*snap = NULL;
	struct ca_error		 err;
	char			 dir[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 16],
				 ns[32];
	int			 rc;

	ca_error_clear(&err);
	if ((rc = cmd_cas_open(cfg, ca, time_now(), &cas, &err)) != CA_OK) {
		fprintf(stderr, "mtlsca: publish: %s\n", err.msg);
		return rc;
	}
	cmd_retire_due(cfg, st, &cas, pub);
	for (size_t i = 1; i < cas.n && rc == CA_OK; i++) {
		cmd_cas_public_dir(pub, &cas, i, dir, sizeof(dir));
		cmd_cas_ns(&cas, i, ns, sizeof(ns));
		snprintf(path, sizeof(path), "%s/crl.pem", dir);
		if ((rc = crl_snapshot_load(path, &snap, &err)) != CA_OK ||
		    (rc = publishers_open(cfg, cas.ca[i], st, false, false,
		    false, ns, &set, &err)) != CA_OK ||
		    (rc = publish_run(set, snap, &err)) != CA_OK)
			fprintf(stderr, "mtlsca: publish: retiring CA %" PRIu32
			    ": %s\n", cas.id[i], err.msg);
		else if (!quiet)
			printf("retiring CA %" PRIu32 ": CRL %llu (%llu "
			    "entries) published\n", cas.id[i],
			    (unsigned long long)snap->number,
			    (unsigned long long)snap->entries);
		publish_set_free(set);
		set = NULL;
		crl_snapshot_release(snap);
		snap = NULL;
	}
	cmd_cas_close(&cas);
	return rc;
}

static void
usage(void)
{
	(void)cmd_usage_print("publish", true);
}

int
cmd_publish(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "crl", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store		*st = NULL;
	struct ca		*ca = NULL;
	struct publish_set	*pubs = NULL;
	struct crl_snapshot	*crl = NULL;
	struct ca_error		 err;
	char			 pub[CONFIG_PATH_MAX];
	char			 crlpath[CONFIG_PATH_MAX + 16];
	const char		*file = NULL;
	char			*plan = NULL;
	size_t			 plan_len;
	bool			 dry_run = false, json = false;
	json_t			*o = NULL;
	char			*text = NULL;
	int			 ch, status = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:nh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("publish", false);
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (cfg->n_publishers == 0) {
		fprintf(stderr, "mtlsca: publish: no publishers in the "
		    "configuration (%s)\n", cfg->source);
		return 1;
	}
	if (config_path(cfg, "public", pub, sizeof(pub)) != CA_OK) {
		fprintf(stderr, "mtlsca: publish: data_dir path too long\n");
		return 1;
	}
	if (file == NULL) {
		snprintf(crlpath, sizeof(crlpath), "%s/crl.pem", pub);
		file = crlpath;
	}
	/* The publish lock (CMD_PUBLISH_LOCK) is taken by publish_run();
	   crl.pem is replaced by rename, so it is read whole. */
	if (cmd_ca_open(cfg, &ca, &err) != CA_OK ||
	    cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    crl_snapshot_load(file, &crl, &err) != CA_OK ||
	    publishers_open(cfg, ca, st, dry_run, false, false, NULL, &pubs,
	    &err)
	    != CA_OK) {
		fprintf(stderr, "mtlsca: publish: %s\n", err.msg);
		goto out;
	}
	if (dry_run) {
		/* Read-only calls only: nothing put, added, removed,
		   modified, run or recorded. */
		int rc = publish_dry_run(pubs, crl, &plan, &plan_len, &err);

		if (plan != NULL && !json)
			fwrite(plan, 1, plan_len, stdout);
		if (rc != CA_OK) {
			fprintf(stderr, "mtlsca: publish: dry run: %s\n",
			    err.msg);
			goto out;
		}
		status = 0;
		if (json)
			goto report;
		goto out;
	}
	if (publish_run(pubs, crl, &err) != CA_OK) {
		fprintf(stderr, "mtlsca: publish: CRL %llu: %s\n",
		    (unsigned long long)crl->number, err.msg);
		goto out;
	}
	if (!json)
		printf("CRL %llu (%llu entries) published by %zu "
		    "publisher(s)\n", (unsigned long long)crl->number,
		    (unsigned long long)crl->entries, cfg->n_publishers);
	/* The retiring CAs' CRLs (CA rotation), each in its namespace;
	   one whose last certificate has expired retires instead. */
	if (file == crlpath && publish_retiring(cfg, ca, st, pub, json) !=
	    CA_OK)
		goto out;
	if (!json) {
		status = 0;
		goto out;
	}
report:
	/* {crl_number, entries, crl, publishers, dry_run, plan}: plan is the
	   dry run's text (null after a real run). */
	o = json_pack("{s:I, s:I, s:s, s:I, s:b, s:s%}", "crl_number",
	    (json_int_t)crl->number, "entries", (json_int_t)crl->entries,
	    "crl", file, "publishers", (json_int_t)cfg->n_publishers,
	    "dry_run", dry_run, "plan", plan != NULL ? plan : "",
	    plan != NULL ? plan_len : (size_t)0);
	if (o != NULL && !dry_run)
		json_object_set_new(o, "plan", json_null());
	if (o == NULL || (text = json_dumps(o, JSON_INDENT(2))) == NULL) {
		status = cmd_fail("publish: out of memory");
		goto out;
	}
	printf("%s\n", text);
	status = 0;
out:
	json_decref(o);
	free(text);
	free(plan);
	publish_set_free(pubs);
	crl_snapshot_release(crl);
	ca_free(ca);
	store_close(st);
	return status;
}
