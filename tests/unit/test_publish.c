/*
 * Publishers end to end inside one process, with the real CA, store and CRL
 * code, against Swift's S3 API and the ELBv2 stand-in (tests/aws/): the
 * dir copy, a new S3 key per CRL, the Add -> record -> Remove swap, the
 * gate's refusals, S3 down, the quota paths, reconcile, status and metrics.
 */
#include <fcntl.h>
#include <pthread.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "crl/crl.h"
#include "aws/aws.h"
#include "publish/publish.h"
#include "publish/publish_int.h"

#define ARN "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/abc"
/* A CRL far past where GnuTLS's quadratic CRL import stalls (1.8 s at 10k
   entries, ~400 s at 100k): the gate must not go through it. */
#define BIG_ENTRIES	50000

static char		 tmp[256];
static pid_t		 pids[2];
static char		 s3_ep[64], elb_ep[64];
static struct store	*st;
static struct ca	*ca;
static struct ca	*other_ca;

static const char *
aws_dir(void)
{
	static char d[1024];
	const char *data = getenv("MTLSCA_TEST_DATA");

	snprintf(d, sizeof(d), "%s/../aws", data ? data : "tests/data");
	return d;
}

static int
start(char *const argv[], const char *portfile, char *ep, size_t size)
{
	pid_t pid = fork();
	int port = 0;

	if (pid == 0) {
		/* Die with the test, even when it aborts. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open("/dev/null", 1);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	for (size_t i = 0; i < 2; i++)
		if (pids[i] == 0) {
			pids[i] = pid;
			break;
		}
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

	snprintf(tmp, sizeof(tmp), "/tmp/mtlsca-pubt-XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	atexit(stop_all);
	snprintf(script, sizeof(script), "%s/swift_s3.py", aws_dir());
	snprintf(data, sizeof(data), "%s/swift", tmp);
	snprintf(pf, sizeof(pf), "%s/s3.port", tmp);
	{
		char *argv[] = { "/usr/bin/python3", script, "--dir", data,
		    "--port-file", pf, NULL };
		if (start(argv, pf, s3_ep, sizeof(s3_ep)) != 0)
			return -1;
	}
	snprintf(script, sizeof(script), "%s/elbv2.py", aws_dir());
	snprintf(pf, sizeof(pf), "%s/elb.port", tmp);
	{
		char *argv[] = { "/usr/bin/python3", script, "--s3-endpoint",
		    s3_ep, "--trust-store", ARN, "--cred",
		    "test:tester,testing", "--port-file", pf, NULL };
		if (start(argv, pf, elb_ep, sizeof(elb_ep)) != 0)
			return -1;
	}
	snprintf(script, sizeof(script), "/usr/bin/python3 %s/s3cli.py %s mb "
	    "crls", aws_dir(), s3_ep);
	if (system(script) != 0)
		return -1;
	setenv("AWS_ACCESS_KEY_ID", "test:tester", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	unsetenv("AWS_SESSION_TOKEN");
	if (make_ca("ca", &ca) != 0 || make_ca("other", &other_ca) != 0)
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
	ca_free(ca);
	ca_free(other_ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void
revoke_tag(uint8_t tag)
{
	uint8_t serial[16];
	int outcome;

	memset(serial, 0x40 | tag, sizeof(serial));
	serial[15] = tag;
	assert_int_equal(crl_revoke(st, serial, sizeof(serial), 1, 0, true,
	    &outcome, NULL, NULL), CA_OK);
}

static void
build(struct ca *by, struct crl_result *r)
{
	struct crl_options o;

	crl_options_default(&o);
	assert_int_equal(crl_build(by, st, &o, r, NULL), CA_OK);
}

static void
confs(struct publish_conf c[3], const char *s3_endpoint)
{
	memset(c, 0, 3 * sizeof(*c));
	c[0].type = PUBLISH_DIR;
	snprintf(c[0].name, sizeof(c[0].name), "www");
	snprintf(c[0].path, sizeof(c[0].path), "%s/www", tmp);
	c[1].type = PUBLISH_S3;
	snprintf(c[1].name, sizeof(c[1].name), "bucket");
	snprintf(c[1].bucket, sizeof(c[1].bucket), "crls");
	snprintf(c[1].prefix, sizeof(c[1].prefix), "/prod/");
	snprintf(c[1].region, sizeof(c[1].region), "us-east-1");
	snprintf(c[1].endpoint, sizeof(c[1].endpoint), "%s", s3_endpoint);
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
}

static struct publish_set *
pubs(const char *s3_endpoint, uint64_t quota)
{
	struct publish_conf	 c[3];
	struct publish_options	 o;
	struct publish_set	*p = NULL;

	confs(c, s3_endpoint);
	memset(&o, 0, sizeof(o));
	o.max_entries = quota;
	o.max_attempts = 2;
	o.base_delay_ms = 20;
	assert_int_equal(publish_set_new(ca, st, c, 3, &o, &p, NULL),
	    CA_OK);
	return p;
}

/* Publish r (borrowed into a snapshot on the stack, never released). */
static int
run(struct publish_set *p, const struct crl_result *r, struct ca_error *err)
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
	return publish_run(p, &snap, err);
}

/* A read-only set of the three publishers, as `mtlsca status` opens. */
static struct publish_set *
reader(void)
{
	struct publish_conf	 c[3];
	struct publish_options	 o;
	struct publish_set	*p = NULL;

	confs(c, s3_ep);
	memset(&o, 0, sizeof(o));
	o.read_only = true;
	assert_int_equal(publish_set_new(NULL, st, c, 3, &o, &p, NULL), CA_OK);
	return p;
}

static int
state_of(const char *name, struct publish_state *s)
{
	struct publish_set	*p = reader();
	int			 rc = publish_state_get(p, name, s, NULL);

	publish_set_free(p);
	return rc;
}

static int
status_text(char **text, size_t *len)
{
	struct publish_set	*p = reader();
	int			 rc = publish_status_text(p, text, len, NULL);

	publish_set_free(p);
	return rc;
}

static int
metrics_text(char **text, size_t *len)
{
	struct publish_set	*p = reader();
	int			 rc = publish_metrics(p, text, len, NULL);

	publish_set_free(p);
	return rc;
}

/* Evaluate a Python expression over the stand-in's state. */
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

static bool
s3_has(const char *key, const char *want, size_t len)
{
	char	 cmd[4096], out[300];
	uint8_t	*buf = NULL;
	size_t	 n = 0;
	bool	 ok;

	snprintf(out, sizeof(out), "%s/got", tmp);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/s3cli.py %s get crls "
	    "%s %s", aws_dir(), s3_ep, key, out);
	if (system(cmd) != 0)
		return false;
	if (want == NULL)
		return true;
	ok = file_read(out, 1 << 20, &buf, &n, NULL) == CA_OK && n == len &&
	    memcmp(buf, want, len) == 0;
	free(buf);
	return ok;
}

/* POST /_fault?query to the ELBv2 stand-in (tests/aws/elbv2.py). */
static void
elb_fault(const char *query)
{
	char	 cmd[1024];

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import urllib."
	    "request as u; u.urlopen(u.Request('%s/_fault?%s', data=b''))."
	    "read()\"", elb_ep, query);
	assert_int_equal(system(cmd), 0);
}

#define ADDS	"sum(1 for c in s['calls'] if c == 'AddTrustStoreRevocations')"

/*
 * Changes one base64 character of a PEM body, at `at` or the nearest one
 * before it, into another valid base64 character whose 6-bit value differs
 * in its top bit. A bit-flip of the ASCII byte is not enough: 'A' ^ 1 is '@',
 * which is not base64 at all, and a change in the low bits of the character
 * before '=' padding is discarded by the decoder.
 */
static void
flip_b64(char *pem, size_t at)
{
	static const char	 alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*c;

	for (;;) {
		c = strchr(alphabet, pem[at]);
		if (pem[at] != '\0' && c != NULL)
			break;
		assert_true(at > 0);
		at--;
	}
	pem[at] = alphabet[(size_t)(c - alphabet) ^ 0x20];
}

static void
t_invalid_conf(void **state)
{
	struct publish_conf	 c[3];
	struct publish_set	*p = NULL;
	struct ca_error		 err;
	(void)state;

	confs(c, s3_ep);
	snprintf(c[2].s3_publisher, sizeof(c[2].s3_publisher), "nope");
	assert_int_equal(publish_set_new(ca, st, c, 3, NULL, &p, &err),
	    CA_EINVAL);
	assert_non_null(strstr(err.msg, "s3_publisher"));
	confs(c, s3_ep);
	snprintf(c[1].name, sizeof(c[1].name), "www");
	assert_int_equal(publish_set_new(ca, st, c, 3, NULL, &p, &err),
	    CA_EINVAL);
	assert_null(p);
}

static void
t_publish_and_swap(void **state)
{
	struct publish_set	*p;
	struct crl_result	 r1, r2;
	struct publish_state	 s;
	char			 key[64], path[300];
	uint8_t			*buf = NULL;
	size_t			 n;
	long			 first_id;
	(void)state;

	revoke_tag(1);
	build(ca, &r1);
	p = pubs(s3_ep, 0);
	assert_int_equal(run(p, &r1, NULL), CA_OK);
	/* dir: the three files, byte for byte. */
	snprintf(path, sizeof(path), "%s/www/crl.der", tmp);
	assert_int_equal(file_read(path, 1 << 20, &buf, &n, NULL), CA_OK);
	assert_int_equal(n, r1.der_len);
	assert_memory_equal(buf, r1.der, n);
	free(buf);
	snprintf(path, sizeof(path), "%s/www/ca.pem", tmp);
	assert_int_equal(access(path, R_OK), 0);
	/* s3: the new key, latest, and the bundle. */
	snprintf(key, sizeof(key), "prod/crl/%llu.pem",
	    (unsigned long long)r1.number);
	assert_true(s3_has(key, r1.pem, r1.pem_len));
	assert_true(s3_has("prod/crl/latest.pem", r1.pem, r1.pem_len));
	assert_true(s3_has("prod/crl/latest.der", (char *)r1.der, r1.der_len));
	assert_true(s3_has("prod/ca.pem", ca_cert_pem(ca),
	    strlen(ca_cert_pem(ca))));
	/* alb: one list, one entry, bundle set once. */
	assert_int_equal(elb("len(r)"), 1);
	assert_int_equal(elb("r[0]['entries']"), 1);
	assert_int_equal(elb("ts['modify_count']"), 1);
	first_id = elb("r[0]['id']");
	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal(s.revocation_ids[0], (uint64_t)first_id);
	assert_int_equal(s.alb_entries, 1);
	assert_int_equal(s.published_number, r1.number);
	assert_true(s.latency >= 0);

	/* Three publishers, one parse and one signature check. */
	assert_int_equal(p->gate_runs, 1);
	/* Same CRL again: already published, nothing sent. */
	assert_int_equal(run(p, &r1, NULL), CA_OK);
	/* Describe (reconcile), GetTrustStoreCaCertificatesBundle, Modify,
	   Describe (before the add), Add; nothing more. */
	assert_int_equal(elb("len(s['calls'])"), 5);

	/* Two more revocations: a new key, a new list, the old id gone. */
	revoke_tag(2);
	revoke_tag(3);
	build(ca, &r2);
	assert_int_equal(run(p, &r2, NULL), CA_OK);
	snprintf(key, sizeof(key), "prod/crl/%llu.pem",
	    (unsigned long long)r2.number);
	assert_true(s3_has(key, r2.pem, r2.pem_len));
	assert_int_equal(elb("len(r)"), 1);
	assert_int_equal(elb("r[0]['entries']"), 3);
	assert_true(elb("r[0]['id']") != first_id);
	assert_int_equal(elb("ts['modify_count']"), 1);
	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal(s.alb_entries, 3);
	/* Revoke-to-enforced: the two revocations this publish brought
	   (the first publish counts none: nothing waited for it). */
	assert_int_equal(s.enforced_count, 2);
	{
		uint64_t total = 0;

		for (size_t k = 0; k < PUBLISH_LATENCY_BUCKETS; k++)
			total += s.enforced[k];
		assert_int_equal(total, 2);
		assert_true(s.enforced_sum >= 0);
	}
	publish_set_free(p);

	/* The gate: an older CRL is refused and changes nothing. */
	p = pubs(s3_ep, 0);
	{
		struct ca_error err;
		assert_int_not_equal(run(p, &r1, &err), CA_OK);
		assert_non_null(strstr(err.msg, "not greater"));
	}
	assert_int_equal(elb("r[0]['entries']"), 3);
	assert_int_equal(state_of("bucket", &s), CA_OK);
	assert_non_null(strstr(s.last_error, "not greater"));
	assert_int_equal(s.published_number, r2.number);
	publish_set_free(p);
	crl_result_clear(&r1);
	crl_result_clear(&r2);
}

static void
t_gate_refusals(void **state)
{
	struct publish_set	*p;
	struct crl_result	 r, bad;
	struct ca_error		 err;
	long			 id;
	(void)state;

	revoke_tag(4);
	id = elb("r[0]['id']");
	/* Signed by another CA: not the bundle's. */
	build(other_ca, &r);
	p = pubs(s3_ep, 0);
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_non_null(strstr(err.msg, "gate"));
	crl_result_clear(&r);
	/* A flipped signature byte. */
	build(ca, &r);
	memset(&bad, 0, sizeof(bad));
	bad = r;
	bad.pem = strdup(r.pem);
	flip_b64(bad.pem, bad.pem_len - 30);
	assert_int_not_equal(run(p, &bad, &err), CA_OK);
	assert_non_null(strstr(err.msg, "gate"));
	assert_non_null(strstr(err.msg, "signature"));
	free(bad.pem);
	/* Two CRLs in one file. */
	bad.pem = malloc(2 * r.pem_len + 1);
	memcpy(bad.pem, r.pem, r.pem_len);
	memcpy(bad.pem + r.pem_len, r.pem, r.pem_len);
	bad.pem_len = 2 * r.pem_len;
	bad.pem[bad.pem_len] = '\0';
	assert_int_not_equal(run(p, &bad, &err), CA_OK);
	assert_non_null(strstr(err.msg, "one PEM CRL"));
	free(bad.pem);
	/* Nothing reached ALB. */
	assert_int_equal(elb("r[0]['id']"), id);
	/* The good one goes through. */
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(elb("r[0]['entries']"), 4);
	publish_set_free(p);
	crl_result_clear(&r);
}

static void
t_s3_down(void **state)
{
	struct publish_set	*p;
	struct crl_result	 r;
	struct publish_state	 s;
	struct ca_error		 err;
	long			 id;
	(void)state;

	revoke_tag(5);
	build(ca, &r);
	id = elb("r[0]['id']");
	p = pubs("http://127.0.0.1:9", 0);
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_non_null(strstr(err.msg, "bucket"));
	assert_non_null(strstr(err.msg, "alb"));
	assert_int_equal(elb("r[0]['id']"), id);	/* last good stays */
	assert_int_equal(publish_state_get(p, "bucket", &s, NULL), CA_OK);
	assert_non_null(strstr(s.last_error, "after 2 attempts"));
	publish_set_free(p);
	/* S3 back: the same CRL now goes out. */
	p = pubs(s3_ep, 0);
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(elb("r[0]['entries']"), 5);
	assert_int_equal(state_of("bucket", &s), CA_OK);
	assert_string_equal(s.last_error, "");
	publish_set_free(p);
	crl_result_clear(&r);
}

static void
t_quota(void **state)
{
	struct publish_set	*p;
	struct crl_result	 r;
	struct publish_state	 s;
	char			 cmd[512];
	(void)state;

	/* ALB refuses the add: remove first, then add. */
	revoke_tag(6);
	build(ca, &r);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import urllib."
	    "request as u; u.urlopen(u.Request('%s/_fault?action="
	    "AddTrustStoreRevocations&status=400&count=1&code="
	    "TooManyTrustStoreRevocationEntries', data=b'')).read()\"",
	    elb_ep);
	assert_int_equal(system(cmd), 0);
	p = pubs(s3_ep, 0);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	assert_int_equal(elb("len(r)"), 1);
	assert_int_equal(elb("r[0]['entries']"), 6);
	publish_set_free(p);
	crl_result_clear(&r);
	/* Our own quota: 7 + 6 > 10, so remove first without asking. */
	revoke_tag(7);
	build(ca, &r);
	p = pubs(s3_ep, 10);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	assert_int_equal(elb("len(r)"), 1);
	assert_int_equal(elb("r[0]['entries']"), 7);
	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(s.n_ids, 1);
	publish_set_free(p);
	crl_result_clear(&r);
	/* Over the quota alone: the gate refuses it for ALB and for the
	   bucket ALB reads, not for the directory nginx reads. */
	revoke_tag(8);
	build(ca, &r);
	p = pubs(s3_ep, 5);
	assert_int_not_equal(run(p, &r, NULL), CA_OK);
	assert_int_equal(elb("r[0]['entries']"), 7);
	assert_int_equal(state_of("www", &s), CA_OK);
	assert_int_equal(s.published_number, r.number);
	assert_int_equal(state_of("bucket", &s), CA_OK);
	assert_int_not_equal(s.published_number, r.number);
	assert_non_null(strstr(s.last_error, "exceed the configured ALB "
	    "quota of 5"));
	publish_set_free(p);
	crl_result_clear(&r);
}

static void
t_reconcile_status_metrics(void **state)
{
	struct publish_conf	 c[3];
	struct publish_set	*p;
	struct publish_state	 s;
	char			*text = NULL, cmd[1024];
	size_t			 len;
	(void)state;

	/* Someone removes our list behind our back. */
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import urllib."
	    "request as u; u.urlopen(u.Request('%s/_drop', data=b'')).read()"
	    "\"", elb_ep);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(elb("len(r)"), 0);
	p = pubs(s3_ep, 0);
	assert_int_equal(publish_reconcile(p, NULL), CA_OK);
	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(s.n_ids, 0);
	publish_set_free(p);

	confs(c, s3_ep);
	assert_int_equal(status_text(&text, &len),
	    CA_OK);
	assert_non_null(strstr(text, "publisher alb (alb)"));
	assert_non_null(strstr(text, "publisher bucket (s3)"));
	assert_non_null(strstr(text, "exceed the configured ALB quota"));
	free(text);
	assert_int_equal(metrics_text(&text, &len),
	    CA_OK);
	assert_non_null(strstr(text, "# TYPE mtlsca_publisher_up gauge"));
	/* The last attempt (CRL 8, over the ALB quota of 5) failed for the
	   bucket ALB reads, and went through for the directory. */
	assert_non_null(strstr(text,
	    "mtlsca_publisher_up{publisher=\"bucket\",type=\"s3\"} 0"));
	assert_non_null(strstr(text,
	    "mtlsca_publisher_up{publisher=\"www\",type=\"dir\"} 1"));
	{
		const char *f = strstr(text, "mtlsca_publisher_failures_total{"
		    "publisher=\"www\",type=\"dir\"} ");
		unsigned long nf = 0;
		assert_non_null(f);
		assert_int_equal(sscanf(strchr(f, '}') + 2, "%lu", &nf), 1);
		/* An older CRL and three bad files. */
		assert_int_equal(nf, 4);
	}
	assert_non_null(strstr(text, "mtlsca_publisher_crl_number{publisher="
	    "\"bucket\",type=\"s3\"}"));
	assert_non_null(strstr(text, "mtlsca_publisher_alb_revoked_entries"));
	free(text);
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * n forced revocations in batches of 10,000, the way tests/tools/fill_store
 * does: 16-byte serials (top bits 01), varied reasons, notAfter ahead.
 * Returns the newest revocation time.
 */
static int64_t
fill(struct store *big, uint64_t n)
{
	static const uint8_t	 reasons[] = { 0, 1, 3, 4, 5 };
	struct store_txn	*txn = NULL;
	uint64_t		 x = 0x9e3779b97f4a7c15ULL;
	int64_t			 now = time_now(), newest = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct store_revocation	rv;
		uint8_t			serial[16];
		int			outcome;

		if (txn == NULL)
			assert_int_equal(store_txn_begin(big, &txn, NULL),
			    CA_OK);
		for (int k = 0; k < 16; k++) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			serial[k] = (uint8_t)((x * 2685821657736338717ULL) >>
			    56);
		}
		serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
		memset(&rv, 0, sizeof(rv));
		rv.serial = serial;
		rv.serial_len = sizeof(serial);
		rv.reason = reasons[i % sizeof(reasons)];
		rv.revoked_at = now - 86400 - (int64_t)(x % (300 * 86400));
		rv.not_after = now + 86400 + (int64_t)(x % (300 * 86400));
		rv.force = true;
		if (rv.revoked_at > newest)
			newest = rv.revoked_at;
		assert_int_equal(store_txn_cert_revoke(txn, &rv,
		    crl_entry_encode, &outcome, NULL), CA_OK);
		assert_int_equal(outcome, STORE_REVOKE_NEW);
		if ((i + 1) % 10000 == 0 || i + 1 == n) {
			assert_int_equal(store_txn_commit(txn, NULL), CA_OK);
			txn = NULL;
		}
	}
	return newest;
}

/* The trust store holds exactly one list, this CA's current one, and
   nothing is in doubt. */
static void
assert_one_list(uint64_t number)
{
	struct publish_state s;

	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(elb("len(r)"), 1);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal((long)s.revocation_ids[0], elb("r[0]['id']"));
	assert_int_equal(s.pending_number, 0);
	assert_int_equal(s.published_number, number);
}

/*
 * One CRL (revocation tag) published with an ELBv2 fault armed: the run
 * succeeds, ALB saw `sends` AddTrustStoreRevocations calls, and one list
 * of that CRL is left.
 */
static void
add_with_fault(struct publish_set *p, uint8_t tag, const char *fault,
    long sends)
{
	struct crl_result	r;
	struct ca_error		err;
	long			adds;

	revoke_tag(tag);
	build(ca, &r);
	adds = elb(ADDS);
	elb_fault(fault);
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(elb(ADDS), adds + sends);
	assert_one_list(r.number);
	crl_result_clear(&r);
}

/*
 * AddTrustStoreRevocations is not idempotent. Its answer lost after ALB
 * made the list: found and adopted in the same run, never sent twice; lost
 * and the trust store unreadable right after: the run fails with the add
 * in doubt, and the next run settles it — still one Add. An Add that failed
 * without running is sent again; a throttled one is retried by the client.
 */
static void
t_add_in_doubt(void **state)
{
	struct publish_set	*p;
	struct publish_state	 s;
	struct crl_result	 r;
	struct ca_error		 err;
	long			 adds;
	(void)state;

	p = pubs(s3_ep, 0);

	/* Lost answer, settled in the same run: one Add. */
	add_with_fault(p, 0x30,
	    "action=AddTrustStoreRevocations&status=500&lost=1", 1);

	revoke_tag(0x31);
	build(ca, &r);
	adds = elb(ADDS);
	elb_fault("action=AddTrustStoreRevocations&status=500&lost=1");
	/* The snapshot before the add passes; both tries after it fail. */
	elb_fault("action=DescribeTrustStoreRevocations&status=500&skip=1&"
	    "count=2");
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_non_null(strstr(err.msg, "next publish looks again"));
	assert_int_equal(state_of("alb", &s), CA_OK);
	assert_int_equal(s.pending_number, r.number);
	assert_int_equal(s.pending_entries, r.entries);
	assert_true(s.n_pending_known >= 1);
	assert_int_equal(elb("len(r)"), 2);	/* the old and the unknown */
	{
		struct publish_conf	 c[3];
		char				*text = NULL;
		size_t				 len;

		confs(c, s3_ep);
		assert_int_equal(status_text(&text, &len), CA_OK);
		assert_non_null(strstr(text, "add in doubt:"));
		free(text);
	}
	/* The next run: reconciled, adopted, the old list removed. */
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(elb(ADDS), adds + 1);
	assert_one_list(r.number);
	crl_result_clear(&r);

	/* Not run (503): looked, then sent again. Throttled: retried. */
	add_with_fault(p, 0x32, "action=AddTrustStoreRevocations&status=503",
	    2);
	add_with_fault(p, 0x33,
	    "action=AddTrustStoreRevocations&status=400&code=Throttling", 2);
	publish_set_free(p);
}

/*
 * A CRL of BIG_ENTRIES entries goes through the gate and the dir publisher;
 * the same CRL with one signature byte flipped does not; crl_publish_load
 * reads it back. Times are printed for the record, never asserted.
 */
static void
t_big_crl(void **state)
{
	struct publish_conf	 c;
	struct publish_options	 o;
	struct publish_set	*p = NULL;
	struct publish_state	 s;
	struct crl_result	 r, bad;
	struct crl_snapshot	*loaded = NULL;
	struct store_options	 so;
	struct store		*big = NULL;
	struct ca_error		 err;
	char			 db[300], path[300];
	uint8_t			*buf = NULL;
	size_t			 n;
	int64_t			 newest;
	double			 t0, t_bad, t_good, t_load;
	(void)state;

	snprintf(db, sizeof(db), "%s/bigdb", tmp);
	assert_int_equal(mkdir(db, 0700), 0);
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.map_size = 256 << 20;
	assert_int_equal(store_open(&so, &big, NULL), CA_OK);
	newest = fill(big, BIG_ENTRIES);
	memset(&r, 0, sizeof(r));
	{
		struct crl_options co;
		crl_options_default(&co);
		assert_int_equal(crl_build(ca, big, &co, &r, NULL), CA_OK);
	}
	assert_int_equal(r.entries, BIG_ENTRIES);

	memset(&c, 0, sizeof(c));
	c.type = PUBLISH_DIR;
	snprintf(c.name, sizeof(c.name), "bigdir");
	snprintf(c.path, sizeof(c.path), "%s/bigwww", tmp);
	memset(&o, 0, sizeof(o));
	assert_int_equal(publish_set_new(ca, big, &c, 1, &o, &p, NULL),
	    CA_OK);

	/* One flipped byte in the signature (the last base64 line holds the
	   end of the signature value): refused, nothing written. */
	bad = r;
	bad.pem = strdup(r.pem);
	assert_non_null(bad.pem);
	flip_b64(bad.pem, bad.pem_len - strlen("-----END X509 CRL-----\n") - 10);
	t0 = mono();
	assert_int_not_equal(run(p, &bad, &err), CA_OK);
	t_bad = mono() - t0;
	assert_non_null(strstr(err.msg, "gate"));
	assert_non_null(strstr(err.msg, "signature"));
	free(bad.pem);
	snprintf(path, sizeof(path), "%s/bigwww/crl.pem", tmp);
	assert_int_not_equal(access(path, F_OK), 0);

	/* The good one: published byte for byte. */
	t0 = mono();
	assert_int_equal(run(p, &r, &err), CA_OK);
	t_good = mono() - t0;
	assert_int_equal(file_read(path, 64 << 20, &buf, &n, NULL), CA_OK);
	assert_int_equal(n, r.pem_len);
	assert_memory_equal(buf, r.pem, n);
	free(buf);
	assert_int_equal(publish_state_get(p, "bigdir", &s, NULL),
	    CA_OK);
	assert_int_equal(s.published_number, r.number);
	assert_string_equal(s.last_error, "");
	/* The gate read every revocationDate: the newest one is ours. */
	assert_int_equal(s.newest_revocation, newest);

	/* crl_publish_load reads the file `mtlsca publish` is given. */
	t0 = mono();
	assert_int_equal(crl_snapshot_load(path, &loaded, &err), CA_OK);
	t_load = mono() - t0;
	assert_int_equal(loaded->number, r.number);
	assert_int_equal(loaded->entries, BIG_ENTRIES);
	assert_int_equal(loaded->this_update, r.this_update);
	assert_int_equal(loaded->next_update, r.next_update);
	assert_int_equal(loaded->der_len, r.der_len);
	assert_memory_equal(loaded->der, r.der, r.der_len);
	assert_int_equal(loaded->pem_len, r.pem_len);
	crl_snapshot_release(loaded);

	/* As gnutls_x509_crl_verify did: no CRL from the future, none
	   past its nextUpdate. */
	{
		struct crl_options	co;
		struct crl_result	d;

		crl_options_default(&co);
		co.now = time_now() + 3600;
		assert_int_equal(crl_build(ca, big, &co, &d, NULL), CA_OK);
		assert_int_not_equal(run(p, &d, &err), CA_OK);
		assert_non_null(strstr(err.msg, "thisUpdate is in the future"));
		crl_result_clear(&d);
		co.now = time_now() - 30 * 86400;
		assert_int_equal(crl_build(ca, big, &co, &d, NULL), CA_OK);
		assert_int_not_equal(run(p, &d, &err), CA_OK);
		assert_non_null(strstr(err.msg, "past its nextUpdate"));
		crl_result_clear(&d);
		assert_int_equal(publish_state_get(p, "bigdir", &s, NULL), CA_OK);
		assert_int_equal(s.published_number, r.number);
	}

	printf("[ big CRL ] %d entries, PEM %zu bytes: gate refusing a bad "
	    "signature %.3f s, gate + dir publish %.3f s, crl_publish_load "
	    "%.3f s\n", BIG_ENTRIES, r.pem_len, t_bad, t_good, t_load);
	publish_set_free(p);
	crl_result_clear(&r);
	store_close(big);
}

/*
 * State is keyed by destination: the same publisher names pointed at
 * another directory and another S3 prefix publish the current CRL there
 * at once (before, "already published" and nothing sent); ALB, which
 * already has it, gets no Add.
 */
static void
t_destinations(void **state)
{
	struct publish_conf	 c[3];
	struct publish_set	*p = NULL;
	struct publish_state	 s;
	struct crl_result	 r;
	char			 key[64], path[300];
	uint8_t			*buf = NULL;
	size_t			 n;
	long			 adds;
	(void)state;

	revoke_tag(0x40);
	build(ca, &r);
	p = pubs(s3_ep, 0);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	publish_set_free(p);
	adds = elb(ADDS);

	confs(c, s3_ep);
	snprintf(c[0].path, sizeof(c[0].path), "%s/www2/", tmp);
	snprintf(c[1].prefix, sizeof(c[1].prefix), "moved");
	assert_int_equal(publish_set_new(ca, st, c, 3, NULL, &p, NULL), CA_OK);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	snprintf(key, sizeof(key), "moved/crl/%llu.pem",
	    (unsigned long long)r.number);
	assert_true(s3_has(key, r.pem, r.pem_len));
	snprintf(path, sizeof(path), "%s/www2/crl.pem", tmp);
	assert_int_equal(file_read(path, 1 << 20, &buf, &n, NULL), CA_OK);
	assert_int_equal(n, r.pem_len);
	assert_memory_equal(buf, r.pem, n);
	free(buf);
	assert_int_equal(publish_state_get(p, "bucket", &s, NULL), CA_OK);
	assert_int_equal(s.published_number, r.number);
	assert_string_equal(s.object_key, key);
	assert_int_equal(elb(ADDS), adds);
	publish_set_free(p);

	/* Two publishers on one destination are refused. */
	confs(c, s3_ep);
	snprintf(c[0].path, sizeof(c[0].path), "%s/www2", tmp);
	c[1] = c[0];
	snprintf(c[1].name, sizeof(c[1].name), "www-again");
	assert_int_equal(publish_set_new(ca, st, c, 2, NULL, &p, NULL),
	    CA_EINVAL);
	crl_result_clear(&r);
}

/* The "key=value" state an earlier version wrote under
   "publisher/<name>" (its pub_state_put, field for field). */
static void
legacy_put(struct store *to, const char *name, const char *type,
    uint64_t number, const char *object_key, const char *ids)
{
	char	 key[80], text[1024], sha[65];
	int	 n;

	assert_int_equal(sigv4_sha256_hex(ca_cert_pem(ca),
	    strlen(ca_cert_pem(ca)), sha), CA_OK);
	n = snprintf(text, sizeof(text), "type=%s\nlast_attempt=%lld\n"
	    "last_success=%lld\npublished_number=%llu\nsuccesses=3\n"
	    "failures=1\nlast_error=\nobject_key=%s\nbundle_sha256=%s\n"
	    "alb_entries=%d\nnewest_revocation=%lld\nlatency=2\nids=%s\n",
	    type, (long long)time_now(), (long long)time_now(),
	    (unsigned long long)number, object_key, sha,
	    strcmp(type, "alb") == 0 ? (int)elb("r[0]['entries']") : 0,
	    (long long)time_now() - 10, ids);
	snprintf(key, sizeof(key), "publisher/%s", name);
	assert_int_equal(store_meta_put(to, key, text, (size_t)n, NULL),
	    CA_OK);
}

static bool
meta_has(struct store *in, const char *name)
{
	uint8_t	*v = NULL;
	size_t	 len;
	int	 rc = store_meta_get(in, name, &v, &len, NULL);

	free(v);
	return rc == CA_OK;
}

/*
 * An upgraded store: what the earlier version recorded under each name is
 * carried over to the destination when it can only be that destination's
 * (the directory holds that CRL, the S3 key is this prefix's, the trust
 * store's ids), once, and the same CRL is not published again: no PUT, no
 * Modify, no Add. A state whose destination moved with the upgrade starts
 * afresh. `mtlsca status` (a read-only set) reads the old record before
 * anything ran.
 */
static void
t_migrate(void **state)
{
	struct publish_conf	 c[3];
	struct publish_options	 o;
	struct publish_set	*p = NULL;
	struct publish_state	 s;
	struct store_options	 so;
	struct store		*mig = NULL;
	struct crl_result	 r;
	char			 db[300], www[300], ids[32], key[64];
	long			 id, calls;
	(void)state;

	/* The CRL everything already has, and the trust store's list. */
	revoke_tag(0x41);
	build(ca, &r);
	p = pubs(s3_ep, 0);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	publish_set_free(p);
	id = elb("r[0]['id']");
	snprintf(ids, sizeof(ids), "%ld", id);
	snprintf(www, sizeof(www), "%s/www", tmp);
	snprintf(key, sizeof(key), "prod/crl/%llu.pem",
	    (unsigned long long)r.number);

	snprintf(db, sizeof(db), "%s/migdb", tmp);
	assert_int_equal(mkdir(db, 0700), 0);
	memset(&so, 0, sizeof(so));
	so.dir = db;
	so.map_size = 16 << 20;
	assert_int_equal(store_open(&so, &mig, NULL), CA_OK);
	legacy_put(mig, "www", "dir", r.number, "", "");
	legacy_put(mig, "bucket", "s3", r.number, key, "");
	legacy_put(mig, "alb", "alb", r.number, "", ids);

	confs(c, s3_ep);
	memset(&o, 0, sizeof(o));
	o.read_only = true;
	assert_int_equal(publish_set_new(NULL, mig, c, 3, &o, &p, NULL),
	    CA_OK);
	assert_int_equal(publish_state_get(p, "alb", &s, NULL), CA_OK);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal((long)s.revocation_ids[0], id);
	publish_set_free(p);
	assert_true(meta_has(mig, "publisher/alb"));	/* read-only */

	calls = elb("len(s['calls'])");
	assert_int_equal(publish_set_new(ca, mig, c, 3, NULL, &p, NULL), CA_OK);
	assert_false(meta_has(mig, "publisher/www"));
	assert_false(meta_has(mig, "publisher/bucket"));
	assert_false(meta_has(mig, "publisher/alb"));
	assert_int_equal(publish_state_get(p, "www", &s, NULL), CA_OK);
	assert_int_equal(s.published_number, r.number);
	assert_int_equal(s.successes, 3);
	assert_int_equal(publish_state_get(p, "bucket", &s, NULL), CA_OK);
	assert_int_equal(s.published_number, r.number);
	assert_string_equal(s.object_key, key);
	assert_int_equal(publish_state_get(p, "alb", &s, NULL), CA_OK);
	assert_int_equal(s.n_ids, 1);
	assert_int_equal((long)s.revocation_ids[0], id);
	assert_int_equal(run(p, &r, NULL), CA_OK);
	/* Only the reconcile's look at the trust store. */
	assert_int_equal(elb("len(s['calls'])"), calls + 1);
	assert_int_equal(elb("s['calls'][-1] == "
	    "'DescribeTrustStoreRevocations'"), 1);
	assert_int_equal(elb("r[0]['id']"), id);
	publish_set_free(p);
	store_close(mig);

	/* The S3 prefix changed with the upgrade: a fresh start there. */
	snprintf(db, sizeof(db), "%s/migdb2", tmp);
	assert_int_equal(mkdir(db, 0700), 0);
	so.dir = db;
	assert_int_equal(store_open(&so, &mig, NULL), CA_OK);
	legacy_put(mig, "bucket", "s3", r.number, "old/crl/1.pem", "");
	assert_int_equal(publish_set_new(ca, mig, c, 2, NULL, &p, NULL), CA_OK);
	assert_false(meta_has(mig, "publisher/bucket"));
	assert_int_equal(publish_state_get(p, "bucket", &s, NULL), CA_OK);
	assert_int_equal(s.published_number, 0);
	publish_set_free(p);
	store_close(mig);
	(void)www;
	crl_result_clear(&r);
}

/* Log lines of the runner tests, counted. */
static pthread_mutex_t	 log_mu = PTHREAD_MUTEX_INITIALIZER;
static char		 log_text[16384];

static void
log_keep(void *ctx, enum publish_log level, const char *msg)
{
	size_t	 used;

	(void)ctx;
	(void)level;
	pthread_mutex_lock(&log_mu);
	used = strlen(log_text);
	snprintf(log_text + used, sizeof(log_text) - used, "%s\n", msg);
	pthread_mutex_unlock(&log_mu);
}

static int
log_count(const char *needle)
{
	int		 n = 0;
	const char	*q;

	pthread_mutex_lock(&log_mu);
	for (q = log_text; (q = strstr(q, needle)) != NULL; q++)
		n++;
	pthread_mutex_unlock(&log_mu);
	return n;
}

static struct publish_set *
dir_set_retry(const char *name, const char *path, int64_t retry_ms)
{
	struct publish_conf	 c;
	struct publish_options	 o;
	struct publish_set	*p = NULL;

	memset(&c, 0, sizeof(c));
	c.type = PUBLISH_DIR;
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.path, sizeof(c.path), "%s", path);
	memset(&o, 0, sizeof(o));
	o.retry_min_ms = retry_ms;
	o.retry_max_ms = retry_ms * 4;
	o.max_lag = 1;
	o.log = log_keep;
	assert_int_equal(publish_set_new(ca, st, &c, 1, &o, &p, NULL), CA_OK);
	return p;
}

static struct publish_set *
dir_set(const char *name, const char *path)
{
	return dir_set_retry(name, path, 100);
}

/* Wait up to ms for name's state to satisfy ok(). */
static bool
wait_state(struct publish_set *p, const char *name, int ms,
    bool (*ok)(const struct publish_state *, uint64_t), uint64_t arg)
{
	struct publish_state s;

	for (int i = 0; i < ms / 20; i++) {
		if (publish_state_get(p, name, &s, NULL) == CA_OK &&
		    ok(&s, arg))
			return true;
		usleep(20000);
	}
	return false;
}

static bool
failed_times(const struct publish_state *s, uint64_t n)
{
	return s->failures >= n && s->failing_since != 0;
}

static bool
published(const struct publish_state *s, uint64_t number)
{
	return s->published_number == number && s->failing_since == 0;
}

static uint64_t
file_crl_number(const char *path)
{
	struct crl_snapshot	*snap = NULL;
	uint64_t		 n;

	if (crl_snapshot_load(path, &snap, NULL) != CA_OK)
		return 0;
	n = snap->number;
	crl_snapshot_release(snap);
	return n;
}

/*
 * serve's publisher thread: a publisher that fails retries on its own
 * with backoff, its failure logged once however many retries; a
 * revocation meanwhile still gets its local CRL at once (publishing holds
 * no CRL lock); when the destination comes back the current CRL goes out
 * with no new revocation; and at start, a publisher behind the current
 * CRL publishes it without waiting for a new one.
 */
static void
t_runner(void **state)
{
	struct crl_schedule_options	 so;
	struct crl_schedule_status	 cs;
	struct crl_schedule		*sched = NULL;
	struct publish_set		*p;
	char				 pub[300], blocker[300], www[320];
	char				 www2[340], crlpem[320], wwwpem[340];
	uint64_t			 before;
	int				 fd;
	(void)state;

	log_text[0] = '\0';
	snprintf(pub, sizeof(pub), "%s/runpub", tmp);
	snprintf(crlpem, sizeof(crlpem), "%s/crl.pem", pub);
	snprintf(blocker, sizeof(blocker), "%s/blocker", tmp);
	snprintf(www, sizeof(www), "%s/www", blocker);
	snprintf(www2, sizeof(www2), "%s/runwww2", tmp);
	/* A file where the directory should be: the dir publisher fails. */
	fd = open(blocker, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	memset(&so, 0, sizeof(so));
	so.debounce_ms = 100;
	so.poll_ms = 50;
	so.public_dir = pub;
	assert_int_equal(crl_schedule_new(ca, st, &so, &sched, NULL), CA_OK);
	p = dir_set("nginx", www);
	assert_int_equal(publish_start(p, sched, NULL), CA_OK);
	assert_int_equal(crl_schedule_start(sched, NULL), CA_OK);

	/* Retried on its own, logged once; the CRL parsed and verified
	   once for all the retries. */
	assert_true(wait_state(p, "nginx", 5000, failed_times, 4));
	pthread_mutex_lock(&p->run_mu);
	assert_int_equal(p->gate_runs, 1);
	pthread_mutex_unlock(&p->run_mu);
	assert_int_equal(log_count("nginx: CRL"), 1);
	assert_int_equal(log_count("not published"), 1);
	/* Unhealthy once it has failed for longer than max_lag (1 s). */
	{
		struct publish_health h;

		for (int i = 0; i < 150; i++) {
			assert_int_equal(publish_health(p, &h, NULL), CA_OK);
			if (!h.ok)
				break;
			usleep(20000);
		}
		assert_false(h.ok);
		assert_string_equal(h.publisher, "nginx");
		assert_true(strcmp(h.reason, "publisher_failing") == 0 ||
		    strcmp(h.reason, "crl_not_enforced") == 0);
		assert_non_null(strstr(h.message, "nginx"));
	}

	/* A revocation during the outage: its CRL is local at once. */
	crl_schedule_status(sched, &cs);
	before = cs.number;
	revoke_tag(0x50);
	for (int i = 0; i < 150 && file_crl_number(crlpem) == before; i++)
		usleep(20000);
	assert_int_equal(file_crl_number(crlpem), before + 1);

	/* The destination comes back: published, no new revocation. */
	assert_int_equal(unlink(blocker), 0);
	assert_true(wait_state(p, "nginx", 3000, published, before + 1));
	snprintf(wwwpem, sizeof(wwwpem), "%s/crl.pem", www);
	assert_int_equal(file_crl_number(wwwpem), before + 1);
	assert_int_equal(log_count("after "), 1);
	{
		struct publish_health	h;
		char			*text = NULL;
		size_t			 len;

		assert_int_equal(publish_health(p, &h, NULL), CA_OK);
		assert_true(h.ok);
		assert_int_equal(publish_metrics(p, &text, &len, NULL), CA_OK);
		assert_non_null(strstr(text, "mtlsca_publisher_up{publisher="
		    "\"nginx\",type=\"dir\"} 1"));
		assert_non_null(strstr(text, "mtlsca_publisher_failing_since_"
		    "timestamp_seconds{publisher=\"nginx\",type=\"dir\"} 0"));
		free(text);
	}

	/* A publisher behind the current CRL catches up at start. */
	publish_set_free(p);
	p = dir_set("late", www2);
	assert_int_equal(publish_start(p, sched, NULL), CA_OK);
	assert_true(wait_state(p, "late", 3000, published, before + 1));
	snprintf(www2 + strlen(www2), sizeof(www2) - strlen(www2),
	    "/crl.pem");
	assert_int_equal(file_crl_number(www2), before + 1);
	crl_schedule_status(sched, &cs);
	assert_int_equal(cs.number, before + 1);	/* no new CRL for it */
	publish_stop(p);
	crl_schedule_free(sched);
	publish_set_free(p);
}

/*
 * A new CRL is tried at once by a failing publisher, not after the rest
 * of a backoff delay meant for the last one: a revocation does not wait
 * out minutes of backoff.
 */
static void
t_runner_new_crl(void **state)
{
	struct crl_schedule_options	 so;
	struct crl_schedule		*sched = NULL;
	struct publish_set		*p;
	struct publish_state		 s;
	char				 pub[300], blocker[300], www[320];
	uint64_t			 failures;
	int				 fd;
	(void)state;

	snprintf(pub, sizeof(pub), "%s/runpub2", tmp);
	snprintf(blocker, sizeof(blocker), "%s/blocker2", tmp);
	snprintf(www, sizeof(www), "%s/www", blocker);
	fd = open(blocker, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	memset(&so, 0, sizeof(so));
	so.debounce_ms = 100;
	so.poll_ms = 50;
	so.public_dir = pub;
	assert_int_equal(crl_schedule_new(ca, st, &so, &sched, NULL), CA_OK);
	/* A 30 s backoff: the second attempt would come 15 s later at best. */
	p = dir_set_retry("slow", www, 30000);
	assert_int_equal(publish_start(p, sched, NULL), CA_OK);
	assert_int_equal(crl_schedule_start(sched, NULL), CA_OK);
	assert_true(wait_state(p, "slow", 5000, failed_times, 1));
	assert_int_equal(publish_state_get(p, "slow", &s, NULL), CA_OK);
	failures = s.failures;
	revoke_tag(0x51);
	assert_true(wait_state(p, "slow", 5000, failed_times, failures + 1));
	publish_stop(p);
	crl_schedule_free(sched);
	publish_set_free(p);
	assert_int_equal(unlink(blocker), 0);
}

static struct publish_set *
exec_set(const char *const *argv, int64_t timeout, bool after_blocked)
{
	struct publish_conf	 c[2];
	struct publish_options	 o;
	struct publish_set	*p = NULL;
	size_t			 n = 0;

	memset(c, 0, sizeof(c));
	if (after_blocked) {
		c[n].type = PUBLISH_DIR;
		snprintf(c[n].name, sizeof(c[n].name), "www");
		snprintf(c[n].path, sizeof(c[n].path), "%s/exec-blocker/www",
		    tmp);
		n++;
	}
	c[n].type = PUBLISH_EXEC;
	snprintf(c[n].name, sizeof(c[n].name), "reload");
	for (; argv[c[n].argc] != NULL; c[n].argc++)
		snprintf(c[n].argv[c[n].argc], sizeof(c[n].argv[0]), "%s",
		    argv[c[n].argc]);
	c[n].timeout = timeout;
	n++;
	memset(&o, 0, sizeof(o));
	assert_int_equal(publish_set_new(ca, st, c, n, &o, &p, NULL), CA_OK);
	return p;
}

/*
 * The exec publisher: its exit status is its result (with the last line
 * it printed), no shell interprets its words, it gets a clean environment
 * with the CRL's number (no AWS secret), a timeout kills it, and it waits
 * for the publishers listed before it.
 */
static void
t_exec(void **state)
{
	struct publish_set	*p;
	struct publish_state	 s;
	struct crl_result	 r;
	struct ca_error		 err;
	char			 script[1200], envf[300], mark[300];
	uint8_t			*buf = NULL;
	size_t			 n;
	time_t			 t0;
	int			 fd;
	(void)state;

	revoke_tag(0x60);
	build(ca, &r);
	snprintf(envf, sizeof(envf), "%s/exec-env", tmp);
	snprintf(mark, sizeof(mark), "%s/exec-mark", tmp);
	snprintf(script, sizeof(script), "env > %s; echo first line; "
	    "echo 'bad things happened' >&2; exit 3", envf);
	{
		const char *argv[] = { "/bin/sh", "-c", script, NULL };

		p = exec_set(argv, 10, false);
	}
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(publish_state_get(p, "reload", &s, NULL), CA_OK);
	assert_non_null(strstr(s.last_error, "exited with status 3: bad "
	    "things happened"));
	assert_int_equal(file_read(envf, 1 << 16, &buf, &n, NULL), CA_OK);
	assert_non_null(strstr((char *)buf, "PATH=/usr/local/sbin:"));
	{
		char want[64];

		snprintf(want, sizeof(want), "MTLSCA_CRL_NUMBER=%llu\n",
		    (unsigned long long)r.number);
		assert_non_null(strstr((char *)buf, want));
	}
	assert_null(strstr((char *)buf, "AWS_"));
	assert_null(strstr((char *)buf, "testing"));
	free(buf);
	publish_set_free(p);

	/* Words are words: no shell expands them. */
	snprintf(script, sizeof(script), "$(touch %s)", mark);
	{
		const char *argv[] = { "/bin/echo", script, ";", "touch", mark,
		    NULL };

		p = exec_set(argv, 10, false);
	}
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_not_equal(access(mark, F_OK), 0);
	assert_int_equal(publish_state_get(p, "reload", &s, NULL), CA_OK);
	assert_int_equal(s.published_number, r.number);
	publish_set_free(p);

	/* A command that does not finish is killed at the timeout. */
	{
		const char *argv[] = { "/bin/sleep", "30", NULL };

		p = exec_set(argv, 1, false);
	}
	t0 = time(NULL);
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_true(time(NULL) - t0 < 10);
	assert_int_equal(publish_state_get(p, "reload", &s, NULL), CA_OK);
	assert_non_null(strstr(s.last_error, "did not finish within 1 s: "
	    "killed"));
	publish_set_free(p);

	/* A program that is not there. */
	{
		const char *argv[] = { "/nonexistent/reload", NULL };

		p = exec_set(argv, 5, false);
	}
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(publish_state_get(p, "reload", &s, NULL), CA_OK);
	assert_non_null(strstr(s.last_error, "/nonexistent/reload"));
	publish_set_free(p);

	/* After a publisher that fails: it waits, it does not reload. */
	snprintf(script, sizeof(script), "%s/exec-blocker", tmp);
	fd = open(script, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	{
		const char *argv[] = { "/usr/bin/touch", mark, NULL };

		p = exec_set(argv, 5, true);
	}
	assert_int_not_equal(run(p, &r, &err), CA_OK);
	assert_int_not_equal(access(mark, F_OK), 0);
	assert_int_equal(publish_state_get(p, "reload", &s, NULL), CA_OK);
	assert_non_null(strstr(s.last_error, "waiting for publisher 'www'"));
	assert_int_equal(s.published_number, 0);
	assert_int_equal(s.failures, 0);
	assert_int_equal(unlink(script), 0);
	assert_int_equal(run(p, &r, &err), CA_OK);
	assert_int_equal(access(mark, F_OK), 0);
	publish_set_free(p);
	crl_result_clear(&r);
}

/*
 * CA bundles as ALB reads them (bundle.c): certificates parsed out of any
 * PEM text, each once; a set compared whatever the order; written back as
 * PEM blocks only (no blank line, no text), which parses to the same set;
 * ALB's 25-certificate limit.
 */
static void
t_bundle(void **state)
{
	struct bundle	 a = { 0 }, b = { 0 }, c = { 0 };
	const char	*ours = ca_cert_pem(ca), *theirs = ca_cert_pem(other_ca);
	char		*messy, *pem = NULL, sa[65], sb[65];
	size_t		 len;
	struct ca_error	 err;
	(void)state;

	/* Text around and between, a blank line, our CA twice. */
	messy = malloc(strlen(ours) * 2 + strlen(theirs) + 100);
	assert_non_null(messy);
	sprintf(messy, "subject=CN=ours\n%s\n\n%sBag Attributes\n%s", ours,
	    theirs, ours);
	assert_int_equal(bundle_add_pem(&a, messy, strlen(messy), "messy",
	    &err), CA_OK);
	assert_int_equal(a.n, 2);
	assert_non_null(strstr(a.c[0].subject, "CN=ca"));
	assert_int_equal(strlen(a.c[0].sha256), 64);
	/* The other order: the same set, the same set hash. */
	assert_int_equal(bundle_add_pem(&b, theirs, strlen(theirs), "t", NULL),
	    CA_OK);
	assert_int_equal(bundle_add_pem(&b, ours, strlen(ours), "o", NULL),
	    CA_OK);
	assert_true(bundle_same_set(&a, &b));
	assert_int_equal(bundle_set_sha256(&a, sa), CA_OK);
	assert_int_equal(bundle_set_sha256(&b, sb), CA_OK);
	assert_string_equal(sa, sb);
	/* Written as ALB takes it, and read back the same. */
	assert_int_equal(bundle_pem(&a, &pem, &len, &err), CA_OK);
	assert_int_equal(strlen(pem), len);
	assert_null(strstr(pem, "\n\n"));
	assert_int_equal(strncmp(pem, "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_int_equal(strcmp(pem + len - 26, "-----END CERTIFICATE-----\n"),
	    0);
	assert_int_equal(bundle_add_pem(&c, pem, len, "pem", NULL), CA_OK);
	assert_true(bundle_same_set(&a, &c));
	free(pem);
	assert_int_equal(bundle_check_alb(&a, &err), CA_OK);
	/* Dropped by fingerprint. */
	{
		char	drop[1][65];

		memcpy(drop[0], a.c[1].sha256, 65);
		bundle_free(&c);
		assert_int_equal(bundle_copy_without(&c, &a,
		    (const char (*)[65])drop, 1, NULL), CA_OK);
		assert_int_equal(c.n, 1);
		assert_false(bundle_has(&c, drop[0]));
		assert_false(bundle_same_set(&a, &c));
	}
	/* Not certificates: refused; nothing at all: an empty bundle. */
	assert_int_equal(bundle_add_pem(&c, "-----BEGIN CERTIFICATE-----\n"
	    "AAAA\n-----END CERTIFICATE-----\n", 58, "junk", &err), CA_EMALF);
	assert_non_null(strstr(err.msg, "junk"));
	bundle_free(&c);
	assert_int_equal(bundle_add_pem(&c, "", 0, "empty", NULL), CA_OK);
	assert_int_equal(c.n, 0);
	assert_int_equal(bundle_check_alb(&c, &err), CA_EPOLICY);
	/* Over ALB's 25: the same two certificates, faked into 26 slots. */
	for (size_t i = 0; i < 13; i++)
		assert_int_equal(bundle_copy_without(&c, &a, NULL, 0, NULL),
		    CA_OK);
	assert_int_equal(c.n, 2);	/* each once */
	{
		struct bundle_cert *big = calloc(26, sizeof(*big));

		assert_non_null(big);
		for (size_t i = 0; i < 26; i++) {
			big[i] = a.c[i % 2];
			snprintf(big[i].sha256, sizeof(big[i].sha256), "%064zx",
			    i);
		}
		{
			struct bundle many = { big, 26 };

			assert_int_equal(bundle_check_alb(&many, &err),
			    CA_EPOLICY);
			assert_non_null(strstr(err.msg, "at most 25"));
		}
		free(big);
	}
	bundle_free(&a);
	bundle_free(&b);
	bundle_free(&c);
	free(messy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_invalid_conf),
		cmocka_unit_test(t_publish_and_swap),
		cmocka_unit_test(t_gate_refusals),
		cmocka_unit_test(t_s3_down),
		cmocka_unit_test(t_quota),
		cmocka_unit_test(t_reconcile_status_metrics),
		cmocka_unit_test(t_add_in_doubt),
		cmocka_unit_test(t_big_crl),
		cmocka_unit_test(t_destinations),
		cmocka_unit_test(t_migrate),
		cmocka_unit_test(t_runner),
		cmocka_unit_test(t_runner_new_crl),
		cmocka_unit_test(t_exec),
		cmocka_unit_test(t_bundle),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
