/*
 * The AWS client against real peers on 127.0.0.1: OpenStack Swift's S3 API
 * (tests/aws/swift_s3.py), the ELBv2 stand-in that checks every signature
 * with botocore (tests/aws/elbv2.py) and the IMDSv2 stand-in
 * (tests/aws/imds.py). The servers are started here on free ports and
 * killed at the end. The group setup fails when /usr/bin/python3 lacks
 * the Debian modules (python3-swift, python3-botocore, python3-cryptography).
 */
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

#include "aws/aws.h"

#define ARN "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/ts/abc"

static char	tmpdir[256];
#define ROLE "arn:aws:iam::123456789012:role/mtlsca-publisher"

static pid_t	pids[5];
static int	s3_port, elb_port, imds_port;
static char	s3_ep[64], elb_ep[64], imds_ep[64], sts_ep[64], cont_ep[80];
static char	token_file[300], ctoken_file[300];

static const char *
aws_dir(void)
{
	static char d[1024];
	const char *data = getenv("MTLSCA_TEST_DATA");

	snprintf(d, sizeof(d), "%s/../aws", data ? data : "tests/data");
	return d;
}

static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Die with the test, even when it aborts. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		FILE *f = freopen(log, "w", stdout);
		(void)f;
		dup2(fileno(stdout), 2);
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int
wait_port(const char *file)
{
	for (int i = 0; i < 600; i++) {
		FILE *f = fopen(file, "r");
		int port = 0;
		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
			if (port > 0)
				return port;
		}
		usleep(100000);
	}
	return 0;
}

static void
stop_all(void)
{
	for (size_t i = 0; i < 5; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGTERM);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

/*
 * Start tests/aws/NAME.py with args (then --port-file) in pids[slot], its
 * output in tmpdir/NAME.log; the port it listens on, 0 on failure.
 */
static int
start_server(size_t slot, const char *name, const char *const *args)
{
	char	 script[1100], pf[300], log[300];
	char	*argv[32];
	size_t	 n = 0;

	snprintf(script, sizeof(script), "%s/%s.py", aws_dir(), name);
	snprintf(pf, sizeof(pf), "%s/%s.port", tmpdir, name);
	snprintf(log, sizeof(log), "%s/%s.log", tmpdir, name);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = script;
	for (; *args != NULL && n < 28; args++)
		argv[n++] = (char *)*args;
	argv[n++] = "--port-file";
	argv[n++] = pf;
	argv[n] = NULL;
	pids[slot] = spawn(argv, log);
	return wait_port(pf);
}

/* A file holding text (a token). */
static int
write_file(char *path, size_t size, const char *name, const char *text)
{
	FILE	*f;

	snprintf(path, size, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int
setup(void **state)
{
	char	 data[300], cmd[1200];
	int	 port;
	(void)state;

	if (access("/usr/bin/python3", X_OK) != 0 ||
	    system("/usr/bin/python3 -c 'import swift, botocore, cryptography'"
	    " 2>/dev/null") != 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtlsca-aws-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	atexit(stop_all);
	snprintf(data, sizeof(data), "%s/swift", tmpdir);
	{
		const char *args[] = { "--dir", data, NULL };

		if ((s3_port = start_server(0, "swift_s3", args)) == 0)
			return -1;
	}
	snprintf(s3_ep, sizeof(s3_ep), "http://127.0.0.1:%d", s3_port);
	{
		/* Swift's key with each source's session token. */
		const char *args[] = { "--s3-endpoint", s3_ep, "--trust-store",
		    ARN, "--cred", "test:tester,testing", "--cred",
		    "ASIAROLE,rolesecret,roletoken", "--cred",
		    "ASIASTS,stssecret,ststoken", "--cred",
		    "ASIACONT,contsecret,conttoken", NULL };

		if ((elb_port = start_server(1, "elbv2", args)) == 0)
			return -1;
	}
	snprintf(elb_ep, sizeof(elb_ep), "http://127.0.0.1:%d", elb_port);
	{
		const char *args[] = { "--access-key", "ASIAROLE",
		    "--secret-key", "rolesecret", "--token", "roletoken",
		    "--expires", "3600", NULL };

		if ((imds_port = start_server(2, "imds", args)) == 0)
			return -1;
	}
	snprintf(imds_ep, sizeof(imds_ep), "http://127.0.0.1:%d", imds_port);
	/* STS for web identity, expecting the token in token_file. */
	if (write_file(token_file, sizeof(token_file), "web-identity-token",
	    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtdGxzY2EifQ.c2ln\n") != 0)
		return -1;
	{
		const char *args[] = { "--role-arn", ROLE, "--token-file",
		    token_file, "--access-key", "ASIASTS", "--secret-key",
		    "stssecret", "--session-token", "ststoken", NULL };

		if ((port = start_server(3, "sts", args)) == 0)
			return -1;
	}
	snprintf(sts_ep, sizeof(sts_ep), "http://127.0.0.1:%d", port);
	/* The container credentials endpoint, expecting "cont-auth". */
	if (write_file(ctoken_file, sizeof(ctoken_file), "container-token",
	    "cont-auth\n") != 0)
		return -1;
	{
		const char *args[] = { "--token", "cont-auth", "--access-key",
		    "ASIACONT", "--secret-key", "contsecret",
		    "--session-token", "conttoken", NULL };

		if ((port = start_server(4, "container_creds", args)) == 0)
			return -1;
	}
	snprintf(cont_ep, sizeof(cont_ep),
	    "http://127.0.0.1:%d/v1/credentials", port);

	/* The bucket, made with botocore (independent of our client). */
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/s3cli.py %s mb crls "
	    "--versioning", aws_dir(), s3_ep);
	return system(cmd) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];
	(void)state;

	stop_all();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (tmpdir[0] != '\0' && system(cmd) != 0)
		return -1;
	return 0;
}

static void
env_creds(const char *ak, const char *sk, const char *token)
{
	static const char *const others[] = { "AWS_WEB_IDENTITY_TOKEN_FILE",
	    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS",
	    "AWS_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_EC2_METADATA_DISABLED" };

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		unsetenv(others[i]);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	unsetenv("AWS_PROFILE");
	if (ak != NULL) {
		setenv("AWS_ACCESS_KEY_ID", ak, 1);
		setenv("AWS_SECRET_ACCESS_KEY", sk, 1);
	} else {
		unsetenv("AWS_ACCESS_KEY_ID");
		unsetenv("AWS_SECRET_ACCESS_KEY");
	}
	if (token != NULL)
		setenv("AWS_SESSION_TOKEN", token, 1);
	else
		unsetenv("AWS_SESSION_TOKEN");
}

static struct aws_client *
client(unsigned attempts, const char *imds)
{
	struct aws_client_options o;
	struct aws_client *c = NULL;

	memset(&o, 0, sizeof(o));
	o.max_attempts = attempts;
	o.base_delay_ms = 50;
	o.max_delay_ms = 200;
	o.timeout_s = 10;
	o.imds_endpoint = imds;
	assert_int_equal(aws_client_new(&o, &c, NULL), CA_OK);
	return c;
}

static void
t_s3_put_get(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	struct ca_error		 err;
	const char		*body = "-----BEGIN X509 CRL-----\nAAAA\n"
	    "-----END X509 CRL-----\n";
	(void)state;

	env_creds("test:tester", "testing", NULL);
	c = client(2, imds_ep);
	memset(&r, 0, sizeof(r));
	assert_int_equal(aws_s3_put(c, s3_ep, "us-east-1", "crls",
	    "pfx/crl/7.pem", body, strlen(body), "application/x-pem-file", &r,
	    &err), CA_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 1);
	aws_response_clear(&r);
	assert_int_equal(aws_s3_get(c, s3_ep, "us-east-1", "crls",
	    "pfx/crl/7.pem", &r, &err), CA_OK);
	assert_int_equal(r.body.len, strlen(body));
	assert_memory_equal(r.body.data, body, strlen(body));
	aws_response_clear(&r);
	/* Keys with characters SigV4 must encode. */
	assert_int_equal(aws_s3_put(c, s3_ep, "us-east-1", "crls",
	    "odd key/a+b=c$d.pem", "x", 1, "text/plain", &r, &err), CA_OK);
	aws_response_clear(&r);
	assert_int_equal(aws_s3_get(c, s3_ep, "us-east-1", "crls",
	    "odd key/a+b=c$d.pem", &r, &err), CA_OK);
	assert_int_equal(r.body.len, 1);
	aws_response_clear(&r);
	assert_int_equal(aws_s3_get(c, s3_ep, "us-east-1", "crls",
	    "absent.pem", &r, &err), CA_ENOENT);
	aws_response_clear(&r);
	aws_client_free(c);
}

/* A wrong secret fails loudly, once (no retry on 4xx), secret unsaid. */
static void
t_s3_wrong_secret(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	struct ca_error		 err;
	(void)state;

	env_creds("test:tester", "not-the-secret", NULL);
	c = client(4, imds_ep);
	memset(&r, 0, sizeof(r));
	assert_int_equal(aws_s3_put(c, s3_ep, "us-east-1", "crls", "w.pem",
	    "x", 1, "text/plain", &r, &err), CA_EAUTH);
	assert_int_equal(r.status, 403);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.error_code, "SignatureDoesNotMatch");
	assert_non_null(strstr(err.msg, "SignatureDoesNotMatch"));
	assert_null(strstr(err.msg, "not-the-secret"));
	aws_response_clear(&r);
	aws_client_free(c);
}

/* Nobody listening: retried with backoff, then CA_EIO. */
static void
t_s3_down(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	struct ca_error		 err;
	struct timespec		 a, b;
	double			 ms;
	(void)state;

	env_creds("test:tester", "testing", NULL);
	c = client(3, imds_ep);
	memset(&r, 0, sizeof(r));
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* Port 9 (discard) is closed on the test machine. */
	assert_int_equal(aws_s3_put(c, "http://127.0.0.1:9", "us-east-1",
	    "crls", "x.pem", "x", 1, "text/plain", &r, &err), CA_EIO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	assert_int_equal(r.attempts, 3);
	/* Two waits of at least 25 and 50 ms (half of 50 and 100). */
	assert_true(ms >= 75.0);
	assert_non_null(strstr(err.msg, "after 3 attempts"));
	aws_response_clear(&r);
	aws_client_free(c);
}

static void
fault(const char *action, int status, int count, const char *code)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import urllib."
	    "request as u; u.urlopen(u.Request('%s/_fault?action=%s&status=%d"
	    "&count=%d%s%s', data=b'', method='POST')).read()\"", elb_ep,
	    action, status, count, code ? "&code=" : "", code ? code : "");
	assert_int_equal(system(cmd), 0);
}

static void
describe(struct aws_client *c, struct aws_response *r, int want)
{
	struct sigv4_kv	 kv[1] = { { "TrustStoreArn", ARN } };
	struct ca_error	 err;

	memset(r, 0, sizeof(*r));
	assert_int_equal(aws_elbv2_call(c, elb_ep, "us-east-1",
	    "DescribeTrustStoreRevocations", kv, 1, r, &err), want);
}

static void
t_elbv2_retries(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	struct aws_revocation	 rev[4];
	size_t			 n = 9;
	(void)state;

	env_creds("test:tester", "testing", NULL);
	c = client(4, imds_ep);
	/* Two 500s, then the real answer: three attempts. */
	fault("DescribeTrustStoreRevocations", 500, 2, NULL);
	describe(c, &r, CA_OK);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(aws_elbv2_parse_revocations(r.body.data, r.body.len,
	    rev, 4, &n, NULL, 0, NULL), CA_OK);
	assert_int_equal(n, 0);
	aws_response_clear(&r);
	/* A 400 is not retried, and its code reaches the caller... */
	fault("DescribeTrustStoreRevocations", 400, 1, "ValidationError");
	describe(c, &r, CA_EPOLICY);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.error_code, "ValidationError");
	aws_response_clear(&r);
	/* ...unless it says "throttled": nothing was done, try again. */
	fault("DescribeTrustStoreRevocations", 400, 2, "Throttling");
	describe(c, &r, CA_OK);
	assert_int_equal(r.attempts, 3);
	aws_response_clear(&r);
	fault("DescribeTrustStoreRevocations", 400, 4, "Throttling");
	describe(c, &r, CA_EPOLICY);
	assert_int_equal(r.attempts, 4);
	assert_string_equal(r.error_code, "Throttling");
	aws_response_clear(&r);
	/* Four 503s exhaust four attempts: the 5xx is the answer. */
	fault("DescribeTrustStoreRevocations", 503, 4, NULL);
	describe(c, &r, CA_EIO);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(r.status, 503);
	aws_response_clear(&r);
	aws_client_free(c);
}

static void
t_elbv2_errors(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	struct ca_error		 err;
	struct sigv4_kv		 kv[4] = {
		{ "TrustStoreArn", ARN },
		{ "RevocationContents.member.1.S3Bucket", "crls" },
		{ "RevocationContents.member.1.S3Key", "odd key/a+b=c$d.pem" },
		{ "RevocationContents.member.1.RevocationType", "CRL" },
	};
	(void)state;

	env_creds("test:tester", "testing", NULL);
	c = client(2, imds_ep);
	memset(&r, 0, sizeof(r));
	/* The object is "x": not a PEM CRL. */
	assert_int_equal(aws_elbv2_call(c, elb_ep, "us-east-1",
	    "AddTrustStoreRevocations", kv, 4, &r, &err), CA_EPOLICY);
	assert_string_equal(r.error_code, "InvalidRevocationContent");
	assert_non_null(strstr(err.msg, "InvalidRevocationContent"));
	assert_non_null(strstr(err.msg, "not exactly one PEM"));
	aws_response_clear(&r);
	/* Signature checked by botocore: a wrong secret is refused. */
	env_creds("test:tester", "wrong", NULL);
	describe(c, &r, CA_EAUTH);
	assert_string_equal(r.error_code, "SignatureDoesNotMatch");
	aws_response_clear(&r);
	aws_client_free(c);
}

static int
imds_count(const char *what)
{
	char	 cmd[512];
	FILE	*p;
	int	 n = -1;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import json,urllib."
	    "request as u; print(json.load(u.urlopen('%s/_state'))['%s'])\"",
	    imds_ep, what);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* A margin above the credentials' lifetime (1 h) renews them at each use:
   two calls, two fetches from the source the environment names. */
static void
renewed_at_each_use(void)
{
	struct aws_client_options o;
	struct aws_client	*c;
	struct aws_response	 r;

	memset(&o, 0, sizeof(o));
	o.imds_endpoint = imds_ep;
	o.refresh_margin = 7200;
	assert_int_equal(aws_client_new(&o, &c, NULL), CA_OK);
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	assert_int_equal(aws_client_credential_fetches(c), 2);
	aws_client_free(c);
}

static void
t_imds_chain(void **state)
{
	struct aws_client	*c;
	struct aws_credentials	 cr;
	struct aws_response	 r;
	int			 before;
	(void)state;

	env_creds(NULL, NULL, NULL);
	before = imds_count("creds_get");
	c = client(2, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "instance role");
	assert_string_equal(cr.access_key, "ASIAROLE");
	assert_string_equal(cr.session_token, "roletoken");
	assert_true(cr.expires > time(NULL) + 3000);
	aws_credentials_wipe(&cr);
	/* The ELBv2 stand-in wants the session token with these keys. */
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	/* Cached: one fetch for both. */
	assert_int_equal(aws_client_credential_fetches(c), 1);
	assert_int_equal(imds_count("creds_get"), before + 1);
	aws_client_free(c);

	/* Renewed before expiry: a margin above the lifetime renews every
	 * time. */
	renewed_at_each_use();
	assert_true(imds_count("token_put") >= 3);

	/* No metadata service: CA_EAUTH naming the chain. */
	c = client(1, "http://127.0.0.1:9");
	{
		struct ca_error err;
		assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
		assert_non_null(strstr(err.msg, "instance role: "
		    "no answer from http://127.0.0.1:9"));
	}
	aws_client_free(c);
}

static void
t_shared_file(void **state)
{
	struct aws_client	*c;
	struct aws_credentials	 cr;
	struct aws_response	 r;
	struct ca_error		 err;
	char			 path[300];
	FILE			*f;
	(void)state;

	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[default]\naws_access_key_id = nobody\n"
	    "aws_secret_access_key = nothing\n\n[ci]\n"
	    "aws_access_key_id = test:tester\naws_secret_access_key = "
	    "testing\n");
	fclose(f);
	env_creds(NULL, NULL, NULL);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "ci", 1);
	c = client(1, "http://127.0.0.1:9");
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	assert_string_equal(cr.source, "shared file");
	assert_string_equal(cr.access_key, "test:tester");
	aws_credentials_wipe(&cr);
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	/* The environment comes first. */
	setenv("AWS_ACCESS_KEY_ID", "envkey", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	assert_string_equal(cr.source, "environment");
	assert_string_equal(cr.access_key, "envkey");
	aws_credentials_wipe(&cr);
	/* A profile that is not in the file falls through to IMDS. */
	env_creds(NULL, NULL, NULL);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "absent", 1);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	aws_client_free(c);
	unsetenv("AWS_PROFILE");
}

static int
server_count(const char *ep, const char *what)
{
	char	 cmd[600];
	FILE	*p;
	int	 n = -1;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import json,urllib."
	    "request as u, urllib.parse as up; e=up.urlsplit('%s'); print(json."
	    "load(u.urlopen(e.scheme+'://'+e.netloc+'/_state'))['%s'])\"", ep,
	    what);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void
web_identity_env(void)
{
	env_creds(NULL, NULL, NULL);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token_file, 1);
	setenv("AWS_ROLE_ARN", ROLE, 1);
	setenv("AWS_ENDPOINT_URL_STS", sts_ep, 1);
}

/*
 * Web identity: the token file exchanged with STS (the stand-in checks the
 * request against botocore's model of AssumeRoleWithWebIdentity), the
 * credentials cached, renewed before they expire, and accepted by the
 * ELBv2 stand-in (botocore checks the signature and the session token).
 * A refusal stops the chain: no other identity is used.
 */
static void
t_web_identity(void **state)
{
	struct aws_client	*c;
	struct aws_credentials	 cr;
	struct aws_response	 r;
	struct ca_error		 err;
	int			 issued;
	FILE			*f;
	(void)state;

	web_identity_env();
	issued = server_count(sts_ep, "issued");
	c = client(2, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	assert_string_equal(cr.source, "web identity");
	assert_string_equal(cr.access_key, "ASIASTS");
	assert_string_equal(cr.session_token, "ststoken");
	assert_true(cr.expires > time(NULL) + 3000);
	aws_credentials_wipe(&cr);
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	assert_int_equal(server_count(sts_ep, "issued"), issued + 1);
	assert_int_equal(aws_client_credential_fetches(c), 1);
	aws_client_free(c);

	/* Renewed before it expires (a margin above the lifetime renews at
	   each use); the file is read again each time. */
	renewed_at_each_use();

	/* A token STS refuses: the chain stops there, the instance role
	   (which would answer) is not asked. */
	{
		char wrong[320];

		snprintf(wrong, sizeof(wrong), "%s.wrong", token_file);
		f = fopen(wrong, "w");
		assert_non_null(f);
		fputs("eyJXXXXXXXXXXXXXXXXXXX.not.this\n", f);
		fclose(f);
		setenv("AWS_WEB_IDENTITY_TOKEN_FILE", wrong, 1);
	}
	issued = imds_count("creds_get");
	c = client(1, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	assert_non_null(strstr(err.msg, "web identity"));
	assert_non_null(strstr(err.msg, "InvalidIdentityToken"));
	assert_null(strstr(err.msg, "eyJ"));
	assert_int_equal(imds_count("creds_get"), issued);
	aws_client_free(c);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token_file, 1);

	/* No role: said so. A session name STS would refuse: said so. */
	unsetenv("AWS_ROLE_ARN");
	c = client(1, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	assert_non_null(strstr(err.msg, "AWS_ROLE_ARN"));
	setenv("AWS_ROLE_ARN", ROLE, 1);
	setenv("AWS_ROLE_SESSION_NAME", "has space", 1);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	assert_non_null(strstr(err.msg, "AWS_ROLE_SESSION_NAME"));
	setenv("AWS_ROLE_SESSION_NAME", "ci@mtlsca", 1);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	aws_credentials_wipe(&cr);
	aws_client_free(c);
	env_creds(NULL, NULL, NULL);
}

/*
 * Container credentials (ECS task role, EKS Pod Identity): the full URI
 * with the authorization token from a file or the environment; a wrong
 * token is a 401 that stops the chain; a full URI over plain http to
 * anything but loopback or the agents' link-local addresses is refused
 * before any request.
 */
static void
t_container(void **state)
{
	struct aws_client	*c;
	struct aws_credentials	 cr;
	struct aws_response	 r;
	struct ca_error		 err;
	int			 served;
	(void)state;

	env_creds(NULL, NULL, NULL);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", cont_ep, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", ctoken_file, 1);
	served = server_count(cont_ep, "served");
	c = client(2, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	assert_string_equal(cr.source, "container");
	assert_string_equal(cr.access_key, "ASIACONT");
	assert_string_equal(cr.session_token, "conttoken");
	aws_credentials_wipe(&cr);
	describe(c, &r, CA_OK);
	aws_response_clear(&r);
	assert_int_equal(server_count(cont_ep, "served"), served + 1);
	aws_client_free(c);

	/* The token in the environment instead. */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "cont-auth", 1);
	c = client(1, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_OK);
	aws_credentials_wipe(&cr);
	aws_client_free(c);

	/* A wrong one: 401, and no other identity. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-it", 1);
	c = client(1, imds_ep);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	assert_non_null(strstr(err.msg, "container"));
	assert_non_null(strstr(err.msg, "HTTP 401"));
	assert_null(strstr(err.msg, "not-it"));
	aws_client_free(c);

	/* Where a full URI may point over plain http. */
	{
		static const char *const refused[] = {
		    "http://example.com/creds", "http://10.0.0.1/creds",
		    "http://127.0.0.1.example.com/creds",
		    "http://169.254.169.254/creds", "ftp://127.0.0.1/creds" };

		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]);
		    i++) {
			setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i],
			    1);
			c = client(1, imds_ep);
			assert_int_equal(aws_credentials_get(c, &cr, &err),
			    CA_EAUTH);
			assert_non_null(strstr(err.msg, "must be https"));
			aws_client_free(c);
		}
	}
	env_creds(NULL, NULL, NULL);
}

/*
 * The order the SDKs document: environment, web identity, shared file,
 * container, instance role; each configured source wins over the ones
 * after it. With none, the error lists every source, in that order, and
 * why it was skipped.
 */
static void
t_chain_order(void **state)
{
	struct aws_client	*c;
	struct aws_credentials	 cr;
	struct ca_error		 err;
	char			 path[300];
	const char		*a, *b, *d, *e, *f;
	FILE			*fp;
	(void)state;

	snprintf(path, sizeof(path), "%s/order-credentials", tmpdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "[default]\naws_access_key_id = FILEKEY\n"
	    "aws_secret_access_key = filesecret\n");
	fclose(fp);
	c = client(1, imds_ep);

	env_creds("ENVKEY", "envsecret", NULL);
	web_identity_env();
	setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", cont_ep, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "cont-auth", 1);
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "environment");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "web identity");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "shared file");
	assert_string_equal(cr.access_key, "FILEKEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "container");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	assert_int_equal(aws_credentials_get(c, &cr, NULL), CA_OK);
	assert_string_equal(cr.source, "instance role");
	aws_credentials_wipe(&cr);
	aws_client_free(c);

	/* Nothing anywhere: every source, in order, and why. */
	env_creds(NULL, NULL, NULL);
	c = client(1, "http://127.0.0.1:9");
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	printf("[ chain ] %s\n", err.msg);
	assert_non_null(strstr(err.msg, "no AWS credentials"));
	a = strstr(err.msg, "environment: no AWS_ACCESS_KEY_ID");
	b = strstr(err.msg, "web identity: no AWS_WEB_IDENTITY_TOKEN_FILE");
	d = strstr(err.msg, "shared file: no /nonexistent/credentials");
	e = strstr(err.msg, "container: no AWS_CONTAINER_CREDENTIALS_*_URI");
	f = strstr(err.msg, "instance role: no answer from http://127.0.0.1:9");
	assert_true(a != NULL && b != NULL && d != NULL && e != NULL &&
	    f != NULL);
	assert_true(a < b && b < d && d < e && e < f);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(aws_credentials_get(c, &cr, &err), CA_EAUTH);
	assert_non_null(strstr(err.msg, "instance role: "
	    "AWS_EC2_METADATA_DISABLED"));
	aws_client_free(c);
	env_creds(NULL, NULL, NULL);
}

/* One client, one connection: requests reuse it (keep-alive). */
static void
t_connection_reuse(void **state)
{
	struct aws_client	*c;
	struct aws_response	 r;
	char			 cmd[400];
	FILE			*p;
	int			 before = -1, after = -1;
	(void)state;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"import json,urllib."
	    "request as u; print(json.load(u.urlopen('%s/_state'))"
	    "['connections'])\"", elb_ep);
	env_creds("test:tester", "testing", NULL);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &before), 1);
	pclose(p);
	c = client(1, imds_ep);
	for (int i = 0; i < 5; i++) {
		describe(c, &r, CA_OK);
		aws_response_clear(&r);
	}
	aws_client_free(c);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &after), 1);
	pclose(p);
	assert_int_equal(after, before + 1);
}

static void
t_parsers(void **state)
{
	const char *xml = "<AddTrustStoreRevocationsResponse xmlns=\"x\">"
	    "<AddTrustStoreRevocationsResult><TrustStoreRevocations><member>"
	    "<TrustStoreArn>a</TrustStoreArn><RevocationId>42</RevocationId>"
	    "<RevocationType>CRL</RevocationType><NumberOfRevokedEntries>7"
	    "</NumberOfRevokedEntries></member></TrustStoreRevocations>"
	    "</AddTrustStoreRevocationsResult></AddTrustStoreRevocationsResponse>";
	struct aws_revocation	 rev[1];
	struct aws_credentials	 cr;
	size_t			 n;
	const char		*good = "{ \"Code\" : \"Success\", \"AccessKeyId\""
	    ": \"AK\", \"SecretAccessKey\": \"S\\/K\", \"Token\": \"T\", "
	    "\"Expiration\": \"2030-01-02T03:04:05Z\" }";
	(void)state;

	assert_int_equal(aws_elbv2_parse_revocations(xml, strlen(xml), rev, 1,
	    &n, NULL, 0, NULL), CA_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rev[0].id, 42);
	assert_int_equal(rev[0].entries, 7);
	assert_int_equal(aws_elbv2_parse_revocations("<a>", 3, rev, 1, &n,
	    NULL, 0, NULL), CA_EMALF);
	/* AWS never sends a DTD: one is refused, so no entity (internal,
	   external or nested) can shape what is read. */
	{
		const char *dtd = "<?xml version=\"1.0\"?>"
		    "<!DOCTYPE r [<!ENTITY n \"42\">]>"
		    "<r><TrustStoreRevocations><member><RevocationId>&n;"
		    "</RevocationId></member></TrustStoreRevocations></r>";

		assert_int_equal(aws_elbv2_parse_revocations(dtd, strlen(dtd),
		    rev, 1, &n, NULL, 0, NULL), CA_EMALF);
	}
	assert_int_equal(aws_imds_parse(good, strlen(good), &cr, NULL), CA_OK);
	assert_string_equal(cr.secret_key, "S/K");
	assert_int_equal(cr.expires, 1893553445);
	assert_int_equal(aws_imds_parse("{\"Code\":\"Failure\"}", 18, &cr,
	    NULL), CA_EAUTH);
	/* jansson, not a scanner: the key must be a key, escapes work,
	   duplicates and trailing garbage are refused. */
	{
		static const char *const bad[] = {
		    "{\"Note\":\"\\\"Code\\\" : \\\"Success\\\"\"}",
		    "{\"Code\":\"Success\",\"Code\":\"Success\"}",
		    "{\"Code\":\"Success\",\"AccessKeyId\":\"A\","
		    "\"SecretAccessKey\":\"S\",\"Token\":\"T\","
		    "\"Expiration\":\"2030-01-02T03:04:05Z\"} x",
		    "[\"Code\",\"Success\"]", "" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(aws_imds_parse(bad[i], strlen(bad[i]),
			    &cr, NULL), CA_EAUTH);
	}
	{
		const char *u = "{\"Code\":\"Success\",\"AccessKeyId\":"
		    "\"A\\u004B\",\"SecretAccessKey\":\"S\",\"Token\":"
		    "\"T\",\"Expiration\":\"2030-01-02T03:04:05.123Z\"}";

		assert_int_equal(aws_imds_parse(u, strlen(u), &cr, NULL),
		    CA_OK);
		assert_string_equal(cr.access_key, "AK");
		assert_int_equal(cr.expires, 1893553445);
	}
	/* The container endpoint's document has no Code. */
	{
		const char *j = "{\"AccessKeyId\":\"CK\",\"SecretAccessKey\":"
		    "\"CS\",\"Token\":\"CT\",\"Expiration\":"
		    "\"2030-01-02T03:04:05+00:00\",\"RoleArn\":\"r\"}";

		assert_int_equal(aws_container_parse(j, strlen(j), &cr, NULL),
		    CA_OK);
		assert_string_equal(cr.source, "container");
		assert_int_equal(cr.expires, 1893553445);
		assert_int_equal(aws_container_parse("{\"AccessKeyId\":\"CK"
		    "\"}", 20, &cr, NULL), CA_EAUTH);
	}
	/* STS's XML answer. */
	{
		const char *x = "<AssumeRoleWithWebIdentityResponse><Assume"
		    "RoleWithWebIdentityResult><Credentials><SessionToken>ST"
		    "</SessionToken><SecretAccessKey>SS</SecretAccessKey>"
		    "<Expiration>2030-01-02T03:04:05Z</Expiration><AccessKeyId>"
		    "SK</AccessKeyId></Credentials></AssumeRoleWithWebIdentity"
		    "Result></AssumeRoleWithWebIdentityResponse>";

		assert_int_equal(aws_sts_parse_credentials(x, strlen(x), &cr,
		    NULL), CA_OK);
		assert_string_equal(cr.access_key, "SK");
		assert_string_equal(cr.session_token, "ST");
		assert_string_equal(cr.source, "web identity");
		assert_int_equal(cr.expires, 1893553445);
		assert_int_equal(aws_sts_parse_credentials("<a>", 3, &cr,
		    NULL), CA_EMALF);
		assert_int_equal(aws_sts_parse_credentials("<r><AccessKeyId>A"
		    "</AccessKeyId></r>", 32, &cr, NULL), CA_EMALF);
	}
	assert_int_equal(aws_imds_parse("{\"Code\":\"Success\","
	    "\"AccessKeyId\":\"A\"}", 34, &cr, NULL), CA_EAUTH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parsers),
		cmocka_unit_test(t_s3_put_get),
		cmocka_unit_test(t_s3_wrong_secret),
		cmocka_unit_test(t_s3_down),
		cmocka_unit_test(t_elbv2_retries),
		cmocka_unit_test(t_elbv2_errors),
		cmocka_unit_test(t_imds_chain),
		cmocka_unit_test(t_shared_file),
		cmocka_unit_test(t_web_identity),
		cmocka_unit_test(t_container),
		cmocka_unit_test(t_chain_order),
		cmocka_unit_test(t_connection_reuse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
