/*
 * One publish set per live CA (CA rotation): namespaced destinations and
 * state, the state moving into a namespace at rotation, every CA's CRL in
 * the dir publisher's crls.pem, each CA's own list in one ALB trust store
 * (neither set removes the other's) and a retired CA's CRL taken down.
 * Real CA, store and CRL code, against Swift's S3 API and the ELBv2
 * stand-in (tests/aws/).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"
#include "publish/publish_int.h"

#define ARN "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/rot"

static char		 tmp[256];
static pid_t		 pids[2];
static char		 s3_ep[64], elb_ep[64];
static struct store	*st;
static struct ca	*old_ca, *new_ca;

static const char *
aws_dir(void)
{
	static char d[1024];
	const char *data = getenv("MTLSCA_TEST_DATA");

	snprintf(d, sizeof(d), "%s/../aws", data ? data : "tests/data");
	return d;
}

/* Start a stand-in; its port from the file it writes. */
static int
start(size_t slot, char *const argv[], const char *portfile, char *ep,
    size_t size)
{
	pid_t	 pid = fork();
	int	 port = 0;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	pids[slot] = pid;
	for (int i = 0; i < 600 && port == 0; i++) {
		FILE *f = fopen(portfile, "r");

		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port == 0)
			usleep(100000);
	}
	snprintf(ep, size, "http://127.0.0.1:%d", port);
	return port > 0 ? 0 : -1;
}

static void
stop_all(void)
{
	for (size_t i = 0; i < 2; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

static int
make_ca(const char *name, struct ca **out)
{
	struct ca_paths		 p;
	struct ca_init_options	 o;
	char			 cert[300], key[300], subj[64];

	snprintf(cert, sizeof(cert), "%s/%s.pem", tmp, name);
	snprintf(key, sizeof(key), "%s/%s.key", tmp, name);
	snprintf(subj, sizeof(subj), "CN=%s,O=mtlsca test", name);
	p.cert = cert;
	p.key = key;
	memset(&o, 0, sizeof(o));
	o.subject = subj;
	o.key_type = CA_KEY_ECDSA_P256;
	o.days = 365;
	if (ca_init(&p, &o, NULL) != CA_OK)
		return -1;
	return ca_open(&p, out, NULL) == CA_OK ? 0 : -1;
}

static int
setup(void **state)
{
	char			 script[4096], data[300], pf[300], db[300];
	struct store_options	 so;
	(void)state;

	snprintf(tmp, sizeof(tmp), "/tmp/mtlsca-rott-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	atexit(stop_all);
	snprintf(script, sizeof(script), "%s/swift_s3.py", aws_dir());
	snprintf(data, sizeof(data), "%s/swift", tmp);
	snprintf(pf, sizeof(pf), "%s/s3.port", tmp);
	{
		char *argv[] = { "/usr/bin/python3", script, "--dir", data,
		    "--port-file", pf, NULL };
		if (start(0, argv, pf, s3_ep, sizeof(s3_ep)) != 0)
			return -1;
	}
	snprintf(script, sizeof(script), "%s/elbv2.py", aws_dir());
	snprintf(pf, sizeof(pf), "%s/elb.port", tmp);
	{
		char *argv[] = { "/usr/bin/python3", script, "--s3-endpoint",
		    s3_ep, "--trust-store", ARN, "--cred",
		    "test:tester,testing", "--port-file", pf, NULL };
		if (start(1, argv, pf, elb_ep, sizeof(elb_ep)) != 0)
			return -1;
	}
	snprintf(script, sizeof(script), "/usr/bin/python3 %s/s3cli.py %s mb "
	    "crls", aws_dir(), s3_ep);
	if (system(script) != 0)
		return -1;
	setenv("AWS_ACCESS_KEY_ID", "test:tester", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	unsetenv("AWS_SESSION_TOKEN");
	if (make_ca("old", &old_ca) != 0 || make_ca("new", &new_ca) != 0)
		return -1;
	snprintf(db, sizeof(db), "%s/db", tmp);
	mkdir(db, 0700);
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.map_size = 64 << 20;
	return store_open(&so, &st, NULL) == CA_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];
	(void)state;

	stop_all();
	store_close(st);
	ca_free(old_ca);
	ca_free(new_ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* dir, s3, alb and an exec that writes $MTLSCA_CA_NS to <tmp>/ns-<X>
   (X = the namespace, "active" for none). */
#define NCONF	4
static void
confs(struct publish_conf c[NCONF])
{
	memset(c, 0, NCONF * sizeof(*c));
	c[0].type = PUBLISH_DIR;
	snprintf(c[0].name, sizeof(c[0].name), "www");
	snprintf(c[0].path, sizeof(c[0].path), "%s/www", tmp);
	c[1].type = PUBLISH_S3;
	snprintf(c[1].name, sizeof(c[1].name), "bucket");
	snprintf(c[1].bucket, sizeof(c[1].bucket), "crls");
	snprintf(c[1].prefix, sizeof(c[1].prefix), "prod");
	snprintf(c[1].region, sizeof(c[1].region), "us-east-1");
	snprintf(c[1].endpoint, sizeof(c[1].endpoint), "%s", s3_ep);
	snprintf(c[1].imds_endpoint, sizeof(c[1].imds_endpoint),
	    "http://127.0.0.1:9");
	c[2].type = PUBLISH_ALB;
	snprintf(c[2].name, sizeof(c[2].name), "alb");
	snprintf(c[2].trust_store_arn, sizeof(c[2].trust_store_arn), ARN);
	snprintf(c[2].region, sizeof(c[2].region), "us-east-1");
	snprintf(c[2].endpoint, sizeof(c[2].endpoint), "%s", elb_ep);
	snprintf(c[2].s3_publisher, sizeof(c[2].s3_publisher), "bucket");
	snprintf(c[2].imds_endpoint, sizeof(c[2].imds_endpoint),
	    "http://127.0.0.1:9");
	c[3].type = PUBLISH_EXEC;
	snprintf(c[3].name, sizeof(c[3].name), "reload");
	snprintf(c[3].argv[0], sizeof(c[3].argv[0]), "/bin/sh");
	snprintf(c[3].argv[1], sizeof(c[3].argv[1]), "-c");
	snprintf(c[3].argv[2], sizeof(c[3].argv[2]), "printf '%%s' "
	    "\"$MTLSCA_CA_NS\" > %s/ns-${MTLSCA_CA_NS:-active}", tmp);
	c[3].argc = 3;
}

static struct publish_set *
set_of(struct ca *by, const char *ns)
{
	struct publish_conf	 c[NCONF];
	struct publish_options	 o;
	struct publish_set	*p = NULL;
	struct ca_error		 err;

	confs(c);
	memset(&o, 0, sizeof(o));
	o.max_attempts = 2;
	o.base_delay_ms = 20;
	o.ca_ns = ns;
	if (publish_set_new(by, st, c, NCONF, &o, &p, &err) != CA_OK)
		fail_msg("publish_set_new: %s", err.msg);
	return p;
}

static void
build(struct ca *by, struct crl_result *r)
{
	struct crl_options o;

	crl_options_default(&o);
	assert_int_equal(crl_build(by, st, &o, r, NULL), CA_OK);
}

static struct crl_snapshot
snap_of(const struct crl_result *r)
{
	struct crl_snapshot snap;

	memset(&snap, 0, sizeof(snap));
	atomic_init(&snap.refs, 1);
	snap.der = r->der;
	snap.der_len = r->der_len;
	snap.pem = r->pem;
	snap.pem_len = r->pem_len;
	snap.number = r->number;
	snap.entries = r->entries;
	snap.this_update = r->this_update;
	snap.next_update = r->next_update;
	return snap;
}

static void
run(struct publish_set *p, const struct crl_result *r)
{
	struct crl_snapshot	 snap = snap_of(r);
	struct ca_error		 err;

	if (publish_run(p, &snap, &err) != CA_OK)
		fail_msg("publish_run: %s", err.msg);
}

/* Evaluate a Python expression over the stand-in's trust store. */
static long
elb(const char *expr)
{
	char	 cmd[1024];
	FILE	*f;
	long	 v = -999;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import json,urllib."
	    "request as u; s=json.load(u.urlopen('%s/_state')); ts=s["
	    "'trust_stores']['%s']; r=ts['revocations']; print(int(%s))\"",
	    elb_ep, ARN, expr);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &v), 1);
	pclose(f);
	return v;
}

/* Is list id in the trust store? */
static bool
elb_has(long id)
{
	char expr[128];

	snprintf(expr, sizeof(expr), "any(x['id'] == %ld for x in r)", id);
	return elb(expr) == 1;
}

/* The object at key in the bucket equals want (NULL: only is there). */
static bool
s3_has(const char *key, const void *want, size_t len)
{
	char	 cmd[4096], out[300];
	uint8_t	*buf = NULL;
	size_t	 n = 0;
	bool	 ok;

	snprintf(out, sizeof(out), "%s/got", tmp);
	unlink(out);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/s3cli.py %s get crls "
	    "%s %s 2>/dev/null", aws_dir(), s3_ep, key, out);
	if (system(cmd) != 0)
		return false;
	if (want == NULL)
		return true;
	ok = file_read(out, 1 << 20, &buf, &n, NULL) == CA_OK && n == len &&
	    memcmp(buf, want, len) == 0;
	free(buf);
	return ok;
}

/* The file at tmp/rel equals want (want NULL: is absent). */
static bool
file_is(const char *rel, const void *want, size_t len)
{
	char	 path[400];
	uint8_t	*buf = NULL;
	size_t	 n = 0;
	bool	 ok;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if (want == NULL)
		return access(path, F_OK) != 0;
	ok = file_read(path, 1 << 22, &buf, &n, NULL) == CA_OK && n == len &&
	    (len == 0 || memcmp(buf, want, len) == 0);
	free(buf);
	return ok;
}

static bool
meta_has(const char *key)
{
	uint8_t	*buf = NULL;
	size_t	 n;
	int	 rc = store_meta_get(st, key, &buf, &n, NULL);

	free(buf);
	return rc == CA_OK;
}

/* ---- the tests ---- */

static void
t_ns_check(void **state)
{
	static const char *const bad[] = { "CA-2", "ca_2", "ca/2", "ca 2",
	    "../x", "crl", "backup", "ca-bundles",
	    "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */ };
	static const char *const good[] = { "", "ca-2", "2", "-",
	    "abcdefghijklmnopqrstuvwxyz012345" /* 32 */ };
	struct publish_conf	 c[NCONF];
	struct publish_options	 o;
	struct publish_set	*p = NULL;
	struct ca_error		 err;
	(void)state;

	confs(c);
	memset(&o, 0, sizeof(o));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.ca_ns = bad[i];
		assert_int_equal(publish_set_new(old_ca, st, c, NCONF, &o, &p,
		    &err), CA_EINVAL);
		assert_null(p);
		assert_non_null(strstr(err.msg, "namespace"));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o.ca_ns = good[i];
		assert_int_equal(publish_set_new(old_ca, st, c, NCONF, &o, &p,
		    NULL), CA_OK);
		publish_set_free(p);
		p = NULL;
	}
	assert_int_equal(publish_state_move(st, c, NCONF, "ca-2", "ca-2",
	    &err), CA_EINVAL);
	assert_int_equal(publish_state_move(st, c, NCONF, NULL, "", &err),
	    CA_EINVAL);
	assert_int_equal(publish_state_move(st, c, NCONF, "", "Bad", &err),
	    CA_EINVAL);
}

static void
t_dest_keys(void **state)
{
	struct publish_set	*a = set_of(old_ca, NULL);
	struct publish_set	*z = set_of(old_ca, "");
	struct publish_set	*r = set_of(old_ca, "ca-2");
	struct publish_conf	 c[NCONF];
	char			 want[PUBLISH_DEST_MAX + 16], d[PUBLISH_DEST_MAX];
	(void)state;

	confs(c);
	/* The active CA's names are what they always were. */
	snprintf(want, sizeof(want), "dir:%s/www", tmp);
	assert_string_equal(a->pub[0].dest, want);
	snprintf(want, sizeof(want), "s3:%s/crls/prod/", s3_ep);
	assert_string_equal(a->pub[1].dest, want);
	assert_string_equal(a->pub[2].dest, "alb:" ARN);
	for (size_t i = 0; i < NCONF; i++) {
		assert_string_equal(a->pub[i].dest, z->pub[i].dest);
		assert_string_equal(a->pub[i].key, z->pub[i].key);
		snprintf(want, sizeof(want), "%s#ca-2", a->pub[i].dest);
		assert_string_equal(r->pub[i].dest, want);
		assert_string_not_equal(r->pub[i].key, a->pub[i].key);
		/* From the conf alone: what state_move computes. */
		assert_int_equal(publish_destination_of(&c[i], "ca-2", d,
		    sizeof(d), NULL), CA_OK);
		assert_string_equal(d, r->pub[i].dest);
		assert_int_equal(publish_destination_of(&c[i], NULL, d,
		    sizeof(d), NULL), CA_OK);
		assert_string_equal(d, a->pub[i].dest);
	}
	assert_string_equal(r->pub[1].crl_prefix, "prod/ca-2/");
	assert_string_equal(r->pub[1].prefix, "prod/");
	assert_string_equal(a->pub[1].crl_prefix, "prod/");
	/* Status and metrics tell the two sets' publishers apart. */
	{
		char	*t = NULL;
		size_t	 n;

		assert_int_equal(publish_metrics(r, &t, &n, NULL), CA_OK);
		assert_non_null(strstr(t, "type=\"alb\",ca_ns=\"ca-2\"}"));
		free(t);
		assert_int_equal(publish_metrics(a, &t, &n, NULL), CA_OK);
		assert_null(strstr(t, "ca_ns"));
		free(t);
		assert_int_equal(publish_status_text(r, &t, &n, NULL), CA_OK);
		assert_non_null(strstr(t, "publisher alb (alb, retiring CA "
		    "ca-2)"));
		free(t);
		assert_int_equal(publish_status_text(a, &t, &n, NULL), CA_OK);
		assert_non_null(strstr(t, "publisher alb (alb)"));
		free(t);
	}
	publish_set_free(a);
	publish_set_free(z);
	publish_set_free(r);
}

/*
 * The whole life of a rotation: the old CA publishes alone; rotation moves
 * its state into "ca-1"; both CAs publish side by side (each its own S3
 * keys, its own trust-store list, both in crls.pem and in the bundle, and
 * neither set removes the other's list, even on a reconcile); then the old
 * CA is retired.
 */
static void
t_rotation(void **state)
{
	struct publish_conf	 c[NCONF];
	struct publish_set	*act, *ret;
	struct publish_state	 s, sa;
	struct crl_result	 o1, o2, o3, n1;
	struct crl_snapshot	 snap;
	struct ca_error		 err;
	char			 key[128], *both, *text = NULL;
	size_t			 len;
	long			 old_id, new_id, old_id2;
	(void)state;

	confs(c);
	/* Before: one CA, as always. */
	build(old_ca, &o1);
	act = set_of(old_ca, NULL);
	run(act, &o1);
	publish_set_free(act);
	assert_true(file_is("www/crl.pem", o1.pem, o1.pem_len));
	assert_true(file_is("www/crls.pem", o1.pem, o1.pem_len));
	assert_true(file_is("ns-active", "", 0));
	assert_int_equal(elb("len(r)"), 1);
	old_id = elb("r[0]['id']");

	/* Rotation: the old CA's state follows it into "ca-1". */
	assert_int_equal(publish_state_move(st, c, NCONF, "", "ca-1", &err),
	    CA_OK);
	act = set_of(new_ca, NULL);
	ret = set_of(old_ca, "ca-1");
	for (size_t i = 0; i < NCONF; i++) {
		assert_false(meta_has(act->pub[i].key));
		assert_true(meta_has(ret->pub[i].key));
		assert_int_equal(publish_state_get(ret, c[i].name, &s, NULL),
		    CA_OK);
		assert_int_equal(s.published_number, o1.number);
		assert_int_equal(publish_state_get(act, c[i].name, &s, NULL),
		    CA_OK);
		assert_int_equal(s.published_number, 0);
	}
	assert_int_equal(publish_state_get(ret, "alb", &s, NULL), CA_OK);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal((long)s.revocation_ids[0], old_id);
	/* Again: nothing left to move, nothing changes. */
	assert_int_equal(publish_state_move(st, c, NCONF, "", "ca-1", &err),
	    CA_OK);
	assert_int_equal(publish_state_get(ret, "alb", &sa, NULL), CA_OK);
	assert_int_equal(sa.n_ids, 1);
	assert_int_equal((long)sa.revocation_ids[0], old_id);
	assert_int_equal(sa.published_number, o1.number);

	/* Dry run of the retiring set names its namespace. */
	build(old_ca, &o2);
	snap = snap_of(&o2);
	assert_int_equal(publish_dry_run(ret, &snap, &text, &len, &err),
	    CA_OK);
	assert_non_null(strstr(text, "ca-1"));
	snprintf(key, sizeof(key), "s3://crls/prod/ca-1/crl/%llu.pem",
	    (unsigned long long)o2.number);
	assert_non_null(strstr(text, key));
	assert_non_null(strstr(text, "MTLSCA_CA_NS=ca-1"));
	free(text);

	/* The retiring CA publishes into its namespace. */
	run(ret, &o2);
	assert_true(file_is("www/ca-1/crl.pem", o2.pem, o2.pem_len));
	assert_true(file_is("www/ca-1/crl.der", o2.der, o2.der_len));
	assert_true(file_is("www/ca-1/ca.pem", NULL, 0));
	assert_true(file_is("ns-ca-1", "ca-1", 4));
	snprintf(key, sizeof(key), "prod/ca-1/crl/%llu.pem",
	    (unsigned long long)o2.number);
	assert_true(s3_has(key, o2.pem, o2.pem_len));
	assert_true(s3_has("prod/ca-1/crl/latest.der", o2.der, o2.der_len));
	assert_false(s3_has("prod/ca-1/ca.pem", NULL, 0));
	/* Its list replaced its own old one, which it recorded. */
	assert_int_equal(elb("len(r)"), 1);
	assert_false(elb_has(old_id));
	old_id2 = elb("r[0]['id']");
	assert_int_equal(elb("r[0]['key'].startswith('prod/ca-1/crl/')"), 1);

	/* The new active CA: plain names, its own list beside the old
	   CA's, both CAs in the bundle and in crls.pem. */
	build(new_ca, &n1);
	run(act, &n1);
	assert_true(file_is("www/crl.pem", n1.pem, n1.pem_len));
	assert_true(file_is("www/ca.pem", ca_cert_pem(new_ca),
	    strlen(ca_cert_pem(new_ca))));
	assert_non_null(both = malloc(n1.pem_len + o2.pem_len));
	memcpy(both, n1.pem, n1.pem_len);
	memcpy(both + n1.pem_len, o2.pem, o2.pem_len);
	assert_true(file_is("www/crls.pem", both, n1.pem_len + o2.pem_len));
	free(both);
	snprintf(key, sizeof(key), "prod/crl/%llu.pem",
	    (unsigned long long)n1.number);
	assert_true(s3_has(key, n1.pem, n1.pem_len));
	assert_true(s3_has("prod/ca.pem", ca_cert_pem(new_ca),
	    strlen(ca_cert_pem(new_ca))));
	assert_true(file_is("ns-active", "", 0));
	assert_int_equal(elb("len(r)"), 2);
	assert_true(elb_has(old_id2));
	assert_int_equal(publish_state_get(act, "alb", &sa, NULL), CA_OK);
	assert_int_equal(sa.n_ids, 1);
	new_id = (long)sa.revocation_ids[0];
	assert_true(elb_has(new_id));
	assert_int_equal(elb("len(ts['bundle_fingerprints'])"), 2);
	publish_set_free(act);
	publish_set_free(ret);

	/* Fresh sets reconcile (orphan recognition by content): neither
	   takes the other's list for its own. */
	act = set_of(new_ca, NULL);
	ret = set_of(old_ca, "ca-1");
	assert_int_equal(publish_reconcile(ret, &err), CA_OK);
	assert_int_equal(publish_reconcile(act, &err), CA_OK);
	assert_int_equal(elb("len(r)"), 2);
	assert_true(elb_has(old_id2) && elb_has(new_id));
	/* The retiring CA's next CRL replaces only its own list. */
	build(old_ca, &o3);
	run(ret, &o3);
	assert_int_equal(elb("len(r)"), 2);
	assert_false(elb_has(old_id2));
	assert_true(elb_has(new_id));
	assert_int_equal(elb("len(ts['bundle_fingerprints'])"), 2);

	/* Retired: its list and files go, crls.pem is crl.pem again. */
	assert_int_equal(publish_retire(act, &err), CA_EINVAL);
	assert_int_equal(publish_retire(ret, &err), CA_OK);
	assert_int_equal(elb("len(r)"), 1);
	assert_true(elb_has(new_id));
	assert_true(file_is("www/ca-1", NULL, 0));
	assert_true(file_is("www/crls.pem", n1.pem, n1.pem_len));
	assert_true(file_is("www/crl.pem", n1.pem, n1.pem_len));
	snprintf(key, sizeof(key), "prod/ca-1/crl/%llu.pem",
	    (unsigned long long)o3.number);
	assert_true(s3_has(key, o3.pem, o3.pem_len));	/* history stays */
	for (size_t i = 0; i < NCONF; i++) {
		assert_false(meta_has(ret->pub[i].key));
		assert_true(meta_has(act->pub[i].key));
	}
	/* Again: nothing more to do. */
	assert_int_equal(publish_retire(ret, &err), CA_OK);
	assert_int_equal(elb("len(r)"), 1);
	assert_true(elb_has(new_id));
	assert_true(file_is("www/crls.pem", n1.pem, n1.pem_len));
	publish_set_free(act);
	publish_set_free(ret);
	crl_result_clear(&o1);
	crl_result_clear(&o2);
	crl_result_clear(&o3);
	crl_result_clear(&n1);
}

/* publish_latest_crls reads a retiring set's own latest.der. */
static int
latest_cb(void *ctx, const char *source, const uint8_t *der, size_t len,
    struct ca_error *err)
{
	struct crl_result *want = ctx;

	(void)err;
	assert_non_null(strstr(source, "prod/ca-2/crl/latest.der"));
	assert_int_equal(len, want->der_len);
	assert_memory_equal(der, want->der, len);
	want->entries = 4242;	/* seen */
	return CA_OK;
}

static void
t_latest_and_compose(void **state)
{
	struct publish_conf	 c[1];
	struct publish_options	 o;
	struct publish_set	*a = NULL, *b = NULL, *r = NULL;
	struct crl_result	 w, x, y, z;
	char			*all;
	(void)state;

	r = set_of(old_ca, "ca-2");
	build(old_ca, &w);
	run(r, &w);
	assert_int_equal(publish_latest_crls(r, latest_cb, &w, NULL), CA_OK);
	assert_int_equal(w.entries, 4242);
	assert_int_equal(publish_retire(r, NULL), CA_OK);
	publish_set_free(r);
	crl_result_clear(&w);

	/* Two namespaces into one fresh directory, named out of order:
	   crls.pem is crl.pem, then ca-a, then ca-b. */
	memset(c, 0, sizeof(c));
	c[0].type = PUBLISH_DIR;
	snprintf(c[0].name, sizeof(c[0].name), "d");
	snprintf(c[0].path, sizeof(c[0].path), "%s/two", tmp);
	memset(&o, 0, sizeof(o));
	o.ca_ns = "ca-b";
	assert_int_equal(publish_set_new(old_ca, st, c, 1, &o, &b, NULL),
	    CA_OK);
	o.ca_ns = "ca-a";
	assert_int_equal(publish_set_new(new_ca, st, c, 1, &o, &a, NULL),
	    CA_OK);
	build(old_ca, &x);
	build(new_ca, &y);
	run(b, &x);
	/* No active CRL there yet: the retiring one alone. */
	assert_true(file_is("two/crls.pem", x.pem, x.pem_len));
	run(a, &y);
	assert_non_null(all = malloc(x.pem_len + y.pem_len + 1));
	memcpy(all, y.pem, y.pem_len);
	memcpy(all + y.pem_len, x.pem, x.pem_len);
	assert_true(file_is("two/crls.pem", all, x.pem_len + y.pem_len));
	/* The active set's crl.pem goes first. */
	publish_set_free(a);
	assert_int_equal(publish_set_new(new_ca, st, c, 1, NULL, &a, NULL),
	    CA_OK);
	build(new_ca, &z);
	run(a, &z);
	assert_true(file_is("two/crl.pem", z.pem, z.pem_len));
	{
		size_t	 n = z.pem_len + y.pem_len + x.pem_len;
		char	*three = malloc(n);

		assert_non_null(three);
		memcpy(three, z.pem, z.pem_len);
		memcpy(three + z.pem_len, all, y.pem_len + x.pem_len);
		assert_true(file_is("two/crls.pem", three, n));
		free(three);
	}
	/* ca-b retired: crl.pem and ca-a's remain. */
	assert_int_equal(publish_retire(b, NULL), CA_OK);
	{
		size_t	 n = z.pem_len + y.pem_len;
		char	*two = malloc(n);

		assert_non_null(two);
		memcpy(two, z.pem, z.pem_len);
		memcpy(two + z.pem_len, y.pem, y.pem_len);
		assert_true(file_is("two/crls.pem", two, n));
		free(two);
	}
	assert_true(file_is("two/ca-b", NULL, 0));
	free(all);
	publish_set_free(a);
	publish_set_free(b);
	crl_result_clear(&x);
	crl_result_clear(&y);
	crl_result_clear(&z);
}

/* The active set given every live CA's certificates publishes them all. */
static void
t_bundle_pem(void **state)
{
	struct publish_conf	 c[1];
	struct publish_options	 o;
	struct publish_set	*a = NULL;
	struct crl_result	 x;
	struct ca_error		 err;
	char			 both[8192];
	(void)state;

	memset(c, 0, sizeof(c));
	c[0].type = PUBLISH_DIR;
	snprintf(c[0].name, sizeof(c[0].name), "d");
	snprintf(c[0].path, sizeof(c[0].path), "%s/bundle", tmp);
	memset(&o, 0, sizeof(o));
	o.bundle_pem = ca_cert_pem(old_ca);
	assert_int_equal(publish_set_new(new_ca, st, c, 1, &o, &a, &err),
	    CA_EINVAL);
	assert_non_null(strstr(err.msg, "this CA"));
	o.bundle_pem = "not PEM";
	assert_int_not_equal(publish_set_new(new_ca, st, c, 1, &o, &a, &err),
	    CA_OK);
	snprintf(both, sizeof(both), "%s%s", ca_cert_pem(new_ca),
	    ca_cert_pem(old_ca));
	o.bundle_pem = both;
	assert_int_equal(publish_set_new(new_ca, st, c, 1, &o, &a, &err),
	    CA_OK);
	build(new_ca, &x);
	run(a, &x);
	assert_true(file_is("bundle/ca.pem", both, strlen(both)));
	publish_set_free(a);
	crl_result_clear(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ns_check),
		cmocka_unit_test(t_dest_keys),
		cmocka_unit_test(t_rotation),
		cmocka_unit_test(t_latest_and_compose),
		cmocka_unit_test(t_bundle_pem),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
