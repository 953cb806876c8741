/*
 * `mtlsca serve`: wire the CA, the store, the CRL schedule, the publishers
 * and the HTTP server together, print what a first start needs, and run
 * until SIGTERM or SIGINT. With no configuration it runs on the embedded
 * defaults: a demo CA in ./mtlsca-data is created if there is none, HTTPS
 * on 127.0.0.1:8443, plain HTTP (public files) on 127.0.0.1:8080. With a
 * configuration it never creates a CA (ca_ensure).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "cmd/config.h"
#include "cmd/notify.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"
#include "store/store.h"

#ifdef MTLSCA_HAVE_HTTP
#include "http/http.h"

/* meta names */
#define META_BOOTSTRAP		"serve_bootstrap"
#define META_ADMIN_TOKEN	"serve_admin_token_sha256"

/* The first start's enrollment token: a week, a hundred enrollments. */
#define BOOT_TOKEN_TTL		(7 * 86400)
#define BOOT_TOKEN_USES		100
/* Re-issue the server certificate when it has less than this left. */
#define SERVER_CERT_MIN_LEFT	(30 * 86400)
#define PEM_MAX			(256 * 1024)
/* Where the first start's tokens go when stdout is not a terminal. */
#define FIRST_START_FILE	"first-start-tokens.txt"

static void
usage(void)
{
	fprintf(stderr, "usage: mtlsca serve [--config FILE] [--listen ADDR] "
	    "[--https-port N] [--http-port N] [--verify-port N]\n");
}

static int
port_arg(const char *text, unsigned *out)
{
	uint64_t v;

	if (parse_u64(text, 0, 65535, &v) != CA_OK)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static bool
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/*
 * The CA, or the demo CA of the embedded default's first start. Only the
 * embedded default (no --config, so no publishers) may create one: with a
 * configuration, a data_dir without a CA is a typo or a volume that is not
 * mounted, and a brand-new CA published over the real one's trust store
 * would refuse every client. Nothing is created before this check.
 */
static int
ca_ensure(const struct config *cfg, bool *created, struct ca_error *err)
{
	struct ca_paths		paths = { cfg->ca_cert, cfg->ca_key };
	struct ca_init_options	io;
	int			rc;
	bool			have_cert = exists(cfg->ca_cert);
	bool			have_key = strncmp(cfg->ca_key, "pkcs11:", 7) == 0
	    || exists(cfg->ca_key);
	bool			demo = strcmp(cfg->source, "(defaults)") == 0 &&
	    cfg->n_publishers == 0;

	*created = false;
	if (have_cert && have_key)
		return CA_OK;
	if (have_cert != have_key)
		return ca_error_set(err, CA_ENOENT, "found %s but not %s: "
		    "restore the missing file or point the configuration at "
		    "both", have_cert ? cfg->ca_cert : cfg->ca_key,
		    have_cert ? cfg->ca_key : cfg->ca_cert);
	if (!demo)
		return ca_error_set(err, CA_ENOENT, "no CA in %s: run `mtlsca "
		    "init` (a new CA) or `mtlsca import` (an existing one) "
		    "with this configuration; serve makes a demo CA only "
		    "without --config", cfg->data_dir);
	if ((rc = dir_make(cfg->data_dir, 0700, err)) != CA_OK)
		return rc;
	/* A store left by another CA is not inherited (as `init`). */
	if ((rc = cmd_store_refuse_records(cfg, err)) != CA_OK)
		return rc;
	memset(&io, 0, sizeof(io));
	io.subject = cfg->ca_subject[0] ? cfg->ca_subject : NULL;
	io.key_type = cfg->ca_key_type;
	io.days = cfg->ca_days;
	*created = true;
	return ca_init(&paths, &io, err);
}

/*
 * The operator's HTTPS certificate is theirs to renew: say so at start when
 * it has expired or has under SERVER_CERT_MIN_LEFT to go (the service
 * still starts: /crl must stay up). /metrics has
 * mtlsca_https_cert_expiry_seconds for alerts.
 */
static void
warn_expiry(const char *path, const char *pem)
{
	char	when[32];
	int64_t	not_after, left;

	if (ca_cert_pem_not_after(pem, &not_after, NULL) != CA_OK)
		return;		/* the HTTPS listener says what is wrong */
	left = not_after - time_now();
	time_format(not_after, when);
	if (left <= 0)
		fprintf(stderr, "mtlsca: warning: the HTTPS certificate %s "
		    "expired on %s: clients will refuse it; replace "
		    "http.tls_cert\n", path, when);
	else if (left < SERVER_CERT_MIN_LEFT)
		fprintf(stderr, "mtlsca: warning: the HTTPS certificate %s "
		    "expires on %s, in %lld day(s): replace http.tls_cert\n",
		    path, when, (long long)(left / 86400));
}

/* The server's own certificate: from files, or issued by the CA. */
static int
tls_material(const struct config *cfg, struct ca *ca, struct store *st,
    char **cert, char **key, struct ca_error *err)
{
	const char	*names[CONFIG_LIST_MAX];
	char		 dir[CONFIG_PATH_MAX], cpath[CONFIG_PATH_MAX + 16];
	char		 kpath[CONFIG_PATH_MAX + 16];
	uint8_t		*c = NULL, *k = NULL;
	size_t		 clen, klen, n = cfg->n_server_names;
	struct ca_error	 e;
	int		 rc;

	if (cfg->tls_cert[0] != '\0') {
		/* The key as strictly as the CA's, except that a group
		   (ssl-cert, say) may read it, as web servers allow. */
		if ((rc = file_read(cfg->tls_cert, PEM_MAX, &c, &clen, err)) !=
		    CA_OK ||
		    (rc = ca_key_file_read(cfg->tls_key, "HTTPS key", 027, &k,
		    &klen, err)) != CA_OK) {
			free(c);
			return rc;
		}
		/* One this CA revoked is not presented to anyone: the
		   service's own takes its place until it is replaced. */
		if (ca_server_cert_revoked(ca, st, (char *)c, &e) == CA_OK) {
			*cert = (char *)c;
			*key = (char *)k;
			warn_expiry(cfg->tls_cert, *cert);
			return CA_OK;
		}
		fprintf(stderr, "mtlsca: warning: %s: %s: serving a "
		    "certificate mtlsca issues itself until http.tls_cert is "
		    "replaced\n", cfg->tls_cert, e.msg);
		free(c);
		gnutls_memset(k, 0, klen);
		free(k);
		c = k = NULL;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = cfg->server_names[i];
	if (n == 0) {
		names[n++] = "localhost";
		names[n++] = "127.0.0.1";
	}
	if (config_path(cfg, "private", dir, sizeof(dir)) != 0 ||
	    path_join(cpath, sizeof(cpath), dir, "server.pem") != CA_OK ||
	    path_join(kpath, sizeof(kpath), dir, "server.key") != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "data_dir path too long");
	/* Keep the one issued before while it is good: no new serial per
	   restart. */
	ca_error_clear(&e);
	if (file_read(cpath, PEM_MAX, &c, &clen, NULL) == CA_OK &&
	    file_read(kpath, PEM_MAX, &k, &klen, NULL) == CA_OK &&
	    ca_server_cert_check(ca, st, (char *)c, names, n, time_now(),
	    SERVER_CERT_MIN_LEFT, &e) == CA_OK) {
		*cert = (char *)c;
		*key = (char *)k;
		return CA_OK;
	}
	if (e.msg[0] != '\0')
		fprintf(stderr, "mtlsca: %s: %s: issuing a new one\n", cpath,
		    e.msg);
	free(c);
	if (k != NULL) {
		gnutls_memset(k, 0, klen);
		free(k);
	}
	if ((rc = dir_make(dir, 0700, err)) != CA_OK ||
	    (rc = ca_issue_server(ca, st, names, n, 365, cert, key, err)) !=
	    CA_OK)
		return rc;
	if ((rc = file_write_atomic(kpath, *key, strlen(*key), 0600, 0,
	    err)) != CA_OK ||
	    (rc = file_write_atomic(cpath, *cert, strlen(*cert), 0644, 0,
	    err)) != CA_OK) {
		free(*cert);
		gnutls_memset(*key, 0, strlen(*key));
		free(*key);
		*cert = *key = NULL;
		return rc;
	}
	fprintf(stderr, "mtlsca: issued the HTTPS certificate %s for", cpath);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fprintf(stderr, "\n");
	return CA_OK;
}

struct boot {
	bool	first;
	char	admin[CA_TOKEN_TEXT_MAX];
	char	enroll[CA_TOKEN_TEXT_MAX];
	int64_t	enroll_expires;
};

/*
 * First start: an admin token (its hash in meta) and an enrollment token for
 * the default profile (a store token), printed once, never stored in clear.
 */
static int
bootstrap(const struct config *cfg, struct store *st, struct boot *b,
    struct ca_error *err)
{
	struct store_token	tok;
	uint8_t			h[CA_HASH_LEN], *v = NULL;
	size_t			len;
	int64_t			now = time_now();
	int			rc;

	memset(b, 0, sizeof(*b));
	rc = store_meta_get(st, META_BOOTSTRAP, &v, &len, err);
	free(v);
	if (rc == CA_OK)
		return CA_OK;
	if (rc != CA_ENOENT)
		return rc;
	ca_error_clear(err);
	if ((rc = ca_token_generate(b->admin, err)) != CA_OK ||
	    (rc = ca_token_generate(b->enroll, err)) != CA_OK)
		return rc;
	ca_token_hash(b->admin, h);
	if ((rc = store_meta_put(st, META_ADMIN_TOKEN, h, sizeof(h), err)) !=
	    CA_OK)
		return rc;
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "%s",
	    cfg->n_profiles ? cfg->profiles[0].name : "client");
	tok.created_at = now;
	tok.expires_at = b->enroll_expires = now + BOOT_TOKEN_TTL;
	tok.uses_left = BOOT_TOKEN_USES;
	ca_token_hash(b->enroll, h);
	if ((rc = store_token_put(st, h, &tok, err)) != CA_OK)
		return rc;
	b->first = true;
	return CA_OK;
}

/*
 * Once the tokens are printed. Until then a failed start (a port in use)
 * leaves no bootstrap mark, and the next start makes and prints new ones.
 */
static void
bootstrap_done(struct store *st)
{
	struct ca_error err;

	ca_error_clear(&err);
	if (store_meta_put(st, META_BOOTSTRAP, "1", 1, &err) != CA_OK)
		fprintf(stderr, "mtlsca: %s\n", err.msg);
	(void)store_audit_append(st, time_now(), "serve", "bootstrap",
	    "created the admin token and a first enrollment token", NULL);
}

static void
first_start_text(FILE *f, const struct config *cfg, const struct boot *b,
    const char *host, unsigned https_port, unsigned http_port,
    const char *fp)
{
	char exp[21];

	time_format(b->enroll_expires, exp);
	fprintf(f, "\nmtlsca: first start. These tokens are shown once; only "
	    "their hashes are stored.\n\n");
	fprintf(f, "  admin token:      %s\n", b->admin);
	fprintf(f, "  enrollment token: %s  (profile %s, %d uses, until %s)\n\n",
	    b->enroll, cfg->n_profiles ? cfg->profiles[0].name : "client",
	    BOOT_TOKEN_USES, exp);
	fprintf(f, "CA certificate SHA-256 fingerprint: %s\n\n", fp);
	if (https_port == 0)
		return;
	fprintf(f, "Enroll a client (a key and a CSR, then the certificate):\n\n");
	fprintf(f, "  openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout client.key "
	    "-subj \"/CN=client1\" -out client.csr\n");
	fprintf(f, "  curl --fail-with-body --cacert %s "
	    "-H \"Authorization: Bearer %s\" "
	    "-H \"Content-Type: application/x-pem-file\" "
	    "-H \"Accept: application/pem-certificate-chain\" "
	    "--data-binary @client.csr -o client.pem "
	    "https://%s:%u/v1/certificates\n\n", cfg->ca_cert, b->enroll, host,
	    https_port);
	/* Or with mtlsca itself: the fingerprint bootstraps the trust. */
	fprintf(f, "Or, with mtlsca on the client (key, certificate, chain "
	    "and CA in ./client1):\n\n  mtlsca enroll --server https://%s:%u "
	    "--ca-fingerprint %s --token %s --cn client1 --out-dir client1"
	    "\n\n", host, https_port, fp, b->enroll);
	fprintf(f, "Revoke it (admin):\n\n");
	fprintf(f, "  curl --fail-with-body --cacert %s "
	    "-H \"Authorization: Bearer %s\" "
	    "-H \"Content-Type: application/json\" "
	    "-d '{\"reason\": \"keyCompromise\"}' "
	    "https://%s:%u/v1/certificates/$(openssl x509 -in client.pem "
	    "-noout -serial | cut -d= -f2)/revoke\n\n", cfg->ca_cert,
	    b->admin, host, https_port);
	if (http_port != 0) {
		fprintf(f, "The CRL and the CA bundle (plain HTTP):\n\n");
		fprintf(f, "  curl --fail-with-body -o crl.pem "
		    "http://%s:%u/crl.pem\n", host, http_port);
		fprintf(f, "  curl --fail-with-body -o ca-bundle.pem "
		    "http://%s:%u/ca.pem\n\n", host, http_port);
	}
}

/*
 * The first start's tokens go to a terminal only: under systemd, stdout is
 * the journal, which keeps them for anyone who may read it. Otherwise they
 * go to a 0600 file in the data directory, and its path to the log.
 */
static int
print_first_start(const struct config *cfg, const struct boot *b,
    const char *host, unsigned https_port, unsigned http_port,
    const char *fp, struct ca_error *err)
{
	char	 path[CONFIG_PATH_MAX];
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 rc;

	if (isatty(STDOUT_FILENO)) {
		first_start_text(stdout, cfg, b, host, https_port, http_port,
		    fp);
		fflush(stdout);
		return CA_OK;
	}
	if (config_path(cfg, FIRST_START_FILE, path, sizeof(path)) != 0)
		return ca_error_set(err, CA_ETOOBIG, "data_dir path too long");
	if ((f = open_memstream(&text, &len)) == NULL)
		return ca_error_set(err, CA_ENOMEM, "out of memory");
	first_start_text(f, cfg, b, host, https_port, http_port, fp);
	fclose(f);
	rc = file_write_atomic(path, text, len, 0600, 0, err);
	gnutls_memset(text, 0, len);
	free(text);
	if (rc == CA_OK)
		fprintf(stderr, "mtlsca: first start: the admin and enrollment "
		    "tokens, with the commands to enroll and revoke, are in %s "
		    "(mode 0600, shown once: delete it once read)\n", path);
	return rc;
}

/*
 * The ALB bundle next to the CRL: what /ca.pem serves, as a file. Written
 * only when its bytes change, so that a start on a full disk, with the CA,
 * the store and the CRL intact, writes nothing and goes on serving.
 */
static int
write_public_ca(const char *public_dir, struct ca *ca, struct ca_error *err)
{
	char		 path[CONFIG_PATH_MAX + 16];
	const char	*pem = ca_cert_pem(ca);
	uint8_t		*old = NULL;
	size_t		 len, n = strlen(pem);
	bool		 same;

	if (path_join(path, sizeof(path), public_dir, "ca.pem") != CA_OK)
		return ca_error_set(err, CA_ETOOBIG, "path too long");
	same = file_read(path, PEM_MAX, &old, &len, NULL) == CA_OK &&
	    len == n && memcmp(old, pem, n) == 0;
	free(old);
	if (same)
		return CA_OK;
	return file_write_atomic(path, pem, n, 0644, 0, err);
}

/* Blocks from this size up are mmap'd (see cmd_serve). */
#define SERVE_MMAP_THRESHOLD	(1 << 20)

int
cmd_serve(int argc, char **argv, struct config *cfg)
{
	struct ca_paths			 paths;
	struct crl_schedule_options	 cso;
	struct http_options		 ho;
	struct ca_static_token		*toks = NULL;
	uint8_t				(*fps)[CA_HASH_LEN] = NULL;
	uint8_t				(*admin_h)[CA_HASH_LEN] = NULL;
	const char			*subjects[CONFIG_LIST_MAX];
	const char			*proxies[CONFIG_LIST_MAX];
	char				 served[CA_PROFILE_DENY_MAX][CA_NAME_MAX];
	size_t				 n_served = 0;
	struct ca			*ca = NULL;
	struct store			*st = NULL;
	struct crl_schedule		*sched = NULL;
	struct publish_set		*pubs = NULL;
	struct http_server		*srv = NULL;
	struct ca_error			 err;
	struct boot			 boot;
	struct cmd_notify		 notify;
	char				 pub[CONFIG_PATH_MAX];
	char				 lockpath[CONFIG_PATH_MAX];
	char				*tcert = NULL, *tkey = NULL;
	const char			*host;
	const uint8_t			*der;
	size_t				 der_len;
	char				 fp[65];
	uint8_t				*mv = NULL;
	size_t				 mlen, n_toks = 0, n_admin = 0;
	sigset_t			 sigs;
	bool				 created;
	int				 sig, ret = 1, rc;

	ca_error_clear(&err);
	/*
	 * The service's heap returns to its baseline after each CRL build
	 * (issue 15). glibc raises its mmap threshold to the size of the
	 * largest mmap'd block freed (up to 32 MiB), so after the first CRL
	 * of 500k entries is freed the next ones come from the heap, which
	 * the snapshot still in use keeps from shrinking: 53 -> 217 MB over
	 * successive builds. A fixed threshold (which also turns the dynamic
	 * one off) keeps every block of 1 MiB and more mmap'd, given back to
	 * the kernel when freed. serve owns its process, so it sets this.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
	memset(&boot, 0, sizeof(boot));
	/* Every option takes a value: two arguments a step. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			return 0;
		}
		if (v == NULL) {
			usage();
			return 2;
		}
		if (strcmp(a, "--config") == 0) {
			if (config_load(v, cfg, &err) != CA_OK) {
				fprintf(stderr, "mtlsca: %s\n", err.msg);
				return 1;
			}
		} else if (strcmp(a, "--listen") == 0) {
			uint8_t addr[16];

			/* As http.listen in the file: an address, never a
			   silently shortened one. */
			if (strlen(v) >= sizeof(cfg->listen) ||
			    (inet_pton(AF_INET, v, addr) != 1 &&
			    inet_pton(AF_INET6, v, addr) != 1)) {
				fprintf(stderr, "mtlsca: serve: --listen %s: "
				    "expected an IPv4 or IPv6 address\n", v);
				usage();
				return 2;
			}
			snprintf(cfg->listen, sizeof(cfg->listen), "%s", v);
		} else if (strcmp(a, "--https-port") == 0) {
			if (port_arg(v, &cfg->https_port) != 0) {
				usage();
				return 2;
			}
		} else if (strcmp(a, "--http-port") == 0) {
			if (port_arg(v, &cfg->http_port) != 0) {
				usage();
				return 2;
			}
		} else if (strcmp(a, "--verify-port") == 0) {
			if (port_arg(v, &cfg->verify_port) != 0) {
				usage();
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}

	/*
	 * Signals: SIGPIPE ignored (a client that goes away must not kill
	 * the CA); SIGTERM/SIGINT blocked in every thread and taken by
	 * sigwait() below, so the shutdown runs in plain code, not in a
	 * handler. Blocked before any thread starts, so all inherit it.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);	/* systemctl reload: see below */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if ((rc = ca_ensure(cfg, &created, &err)) != CA_OK)
		goto fail;
	if ((rc = dir_make(cfg->data_dir, 0700, &err)) != CA_OK)
		goto fail;
	if (created)
		fprintf(stderr, "mtlsca: created a new CA: %s (key %s)\n",
		    cfg->ca_cert, cfg->ca_key);
	paths.cert = cfg->ca_cert;
	paths.key = cfg->ca_key;
	if ((rc = ca_open(&paths, &ca, &err)) != CA_OK)
		goto fail;
	if (config_path(cfg, "public", pub, sizeof(pub)) != 0 ||
	    config_path(cfg, CMD_CRL_LOCK, lockpath, sizeof(lockpath)) != 0) {
		ca_error_set(&err, CA_ETOOBIG, "data_dir path too long");
		goto fail;
	}
	if ((rc = cmd_store_open(cfg, false, &st, &err)) != CA_OK)
		goto fail;
	if ((rc = bootstrap(cfg, st, &boot, &err)) != CA_OK)
		goto fail;
	if ((rc = tls_material(cfg, ca, st, &tcert, &tkey, &err)) != CA_OK)
		goto fail;
	if ((rc = dir_make(pub, 0755, &err)) != CA_OK ||
	    (rc = write_public_ca(pub, ca, &err)) != CA_OK)
		goto fail;

	/* The CRL schedule, its files, and the publishers. */
	memset(&cso, 0, sizeof(cso));
	cso.validity = cfg->crl_validity;
	cso.keep_expired = cfg->crl_keep_expired;
	cso.warn_entries = cfg->crl_warn_entries;
	cso.max_entries = cfg->crl_max_entries;
	cso.refresh = cfg->crl_refresh;
	/* 0 in the config means at once; 0 here would mean the default. */
	cso.debounce_ms = cfg->crl_debounce > 0 ? cfg->crl_debounce * 1000 : 1;
	cso.public_dir = pub;
	cso.lock_path = lockpath;	/* take turns with `crl` */
	if ((rc = crl_schedule_new(ca, st, &cso, &sched, &err)) != CA_OK)
		goto fail;
	/* The configured publishers, on a thread of their own: after each
	   CRL, at once for whatever is behind, and again after a failure. */
	if (cfg->n_publishers > 0 &&
	    ((rc = cmd_publishers_open(cfg, ca, st, &pubs, &err)) != CA_OK ||
	    (rc = publish_start(pubs, sched, &err)) != CA_OK))
		goto fail;
	if ((rc = crl_schedule_start(sched, &err)) != CA_OK)
		goto fail;

	/* Credentials, as hashes. */
	toks = calloc(CONFIG_PROFILES_MAX * CONFIG_LIST_MAX + 1, sizeof(*toks));
	fps = calloc(cfg->n_admin_fingerprints + 1, sizeof(*fps));
	admin_h = calloc(cfg->n_admin_token_hashes + 2, sizeof(*admin_h));
	if (toks == NULL || fps == NULL || admin_h == NULL) {
		ca_error_set(&err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t p = 0; p < cfg->n_profiles; p++)
		for (size_t j = 0; j < cfg->n_profile_tokens[p]; j++) {
			if (hex_parse_exact(cfg->profile_tokens[p][j],
			    toks[n_toks].hash, CA_HASH_LEN) != CA_OK) {
				ca_error_set(&err, CA_EINVAL, "profile %s: "
				    "token hash %zu is not 64 hex digits "
				    "(use `mtlsca token hash`)",
				    cfg->profiles[p].name, j + 1);
				goto fail;
			}
			snprintf(toks[n_toks].profile,
			    sizeof(toks[n_toks].profile), "%s",
			    cfg->profiles[p].name);
			n_toks++;
		}
	for (size_t i = 0; i < cfg->n_admin_fingerprints; i++)
		if (hex_parse_exact(cfg->admin_fingerprints[i], fps[i],
		    CA_HASH_LEN) != CA_OK) {
			ca_error_set(&err, CA_EINVAL, "admin fingerprint %zu is "
			    "not a SHA-256 (64 hex digits)", i + 1);
			goto fail;
		}
	for (size_t i = 0; i < cfg->n_admin_token_hashes; i++)
		if (hex_parse_exact(cfg->admin_token_hashes[i],
		    admin_h[n_admin++], CA_HASH_LEN) != CA_OK) {
			ca_error_set(&err, CA_EINVAL, "admin token hash %zu is "
			    "not 64 hex digits (use `mtlsca token hash`)",
			    i + 1);
			goto fail;
		}
	if (store_meta_get(st, META_ADMIN_TOKEN, &mv, &mlen, NULL) == CA_OK &&
	    mlen == CA_HASH_LEN)
		memcpy(admin_h[n_admin++], mv, CA_HASH_LEN);
	free(mv);
	for (size_t i = 0; i < cfg->n_admin_subjects; i++)
		subjects[i] = cfg->admin_subjects[i];

	/* No enrollment may obtain a certificate for the service's own names
	   (http.server_names, and every name of the certificate it actually
	   serves): with the runbook's serverAuth EKU it would impersonate this
	   service to every client that trusts the CA (the CLI's `sign` is an
	   admin act and keeps the profiles as configured). */
	if ((rc = ca_cert_pem_names(tcert, served, CA_PROFILE_DENY_MAX,
	    &n_served, &err)) != CA_OK)
		goto fail;
	for (size_t p = 0; p < cfg->n_profiles; p++)
		for (size_t i = 0; i < cfg->n_server_names + n_served; i++) {
			const char *name = i < cfg->n_server_names ?
			    cfg->server_names[i] :
			    served[i - cfg->n_server_names];

			if (ca_profile_deny(&cfg->profiles[p], name) != CA_OK) {
				ca_error_set(&err, CA_EINVAL, "profile %s: "
				    "cannot add the server name %s to its "
				    "deny list (at most %d names)",
				    cfg->profiles[p].name, name,
				    CA_PROFILE_DENY_MAX);
				goto fail;
			}
		}

	memset(&ho, 0, sizeof(ho));
	ho.listen = cfg->listen;
	ho.https_port = cfg->https_port;
	ho.http_port = cfg->http_port;
	ho.tls_cert_pem = tcert;
	ho.tls_key_pem = tkey;
	ho.body_max = cfg->body_max;
	ho.max_connections = cfg->max_connections;
	ho.per_ip_connections = cfg->per_ip_connections;
	ho.timeout = cfg->timeout;
	ho.request_timeout = cfg->request_timeout;
	ho.request_timeout_busy = cfg->request_timeout_busy;
	ho.per_ip_pending = cfg->per_ip_pending;
	ho.threads = cfg->threads;
	ho.threading = cfg->thread_pool ? HTTP_THREADING_POOL :
	    HTTP_THREADING_PER_CONNECTION;
	ho.profiles = cfg->profiles;
	ho.n_profiles = cfg->n_profiles;
	ho.tokens = toks;
	ho.n_tokens = n_toks;
	ho.admin_fingerprints = (const uint8_t (*)[CA_HASH_LEN])fps;
	ho.n_admin_fingerprints = cfg->n_admin_fingerprints;
	ho.admin_subjects = subjects;
	ho.n_admin_subjects = cfg->n_admin_subjects;
	ho.admin_token_hashes = (const uint8_t (*)[CA_HASH_LEN])admin_h;
	ho.n_admin_token_hashes = n_admin;
	ho.publishers = pubs;
	/* The verifier behind the load balancer. */
	for (size_t i = 0; i < cfg->n_verify_proxies; i++)
		proxies[i] = cfg->verify_proxies[i];
	ho.verify.port = cfg->verify_port;
	ho.verify.listen = cfg->verify_listen;
	ho.verify.path = cfg->verify_path;
	ho.verify.source = (enum http_verify_source)cfg->verify_source;
	ho.verify.header = cfg->verify_header;
	ho.verify.serial_header = cfg->verify_serial_header;
	ho.verify.issuer_header = cfg->verify_issuer_header;
	ho.verify.trusted_proxies = proxies;
	ho.verify.n_trusted_proxies = cfg->n_verify_proxies;
	ho.verify.cache_entries = (size_t)cfg->verify_cache;
	ho.verify.threads = cfg->verify_threads;
	if ((rc = http_server_start(&ho, ca, st, sched, &srv, &err)) != CA_OK)
		goto fail;

	host = cfg->listen;
	for (size_t i = 0; i < cfg->n_server_names; i++)
		if (strcmp(cfg->server_names[i], "localhost") == 0)
			host = "localhost";
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		host = cfg->n_server_names ? cfg->server_names[0] : "localhost";
	der = ca_cert_der(ca, &der_len);
	cmd_fingerprint(der, der_len, fp);
	if (boot.first) {
		if ((rc = print_first_start(cfg, &boot, host,
		    http_server_port(srv, true), http_server_port(srv, false),
		    fp, &err)) != CA_OK)
			goto fail;
		bootstrap_done(st);
	}
	if (http_server_port(srv, true))
		fprintf(stderr, "mtlsca: serving HTTPS on %s:%u\n", cfg->listen,
		    http_server_port(srv, true));
	if (http_server_port(srv, false))
		fprintf(stderr, "mtlsca: serving HTTP (public files) on "
		    "%s:%u\n", cfg->listen, http_server_port(srv, false));
	if (http_server_verify_port(srv))
		fprintf(stderr, "mtlsca: serving the verifier (GET /v1/verify"
		    "%s%s) on %s:%u\n", cfg->verify_path[0] ? ", " : "",
		    cfg->verify_path, cfg->verify_listen,
		    http_server_verify_port(srv));
	fprintf(stderr, "mtlsca: ready (data in %s; CA fingerprint SHA-256 "
	    "%s)\n", cfg->data_dir, fp);
	/* systemd (Type=notify): started now; the watchdog from this loop. */
	cmd_notify_ready(&notify, "serving on %s: HTTPS port %u, HTTP port %u",
	    cfg->listen, http_server_port(srv, true),
	    http_server_port(srv, false));

	for (;;) {
		if (cmd_notify_sigwait(&notify, &sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* SIGHUP (mtlsca.service's ExecReload=) must not stop a CA,
		   as its default action would. */
		fprintf(stderr, "mtlsca: SIGHUP: reloading the configuration "
		    "is not supported yet: restart to apply it\n");
	}
	cmd_notify_stopping();
	fprintf(stderr, "mtlsca: %s: finishing requests in flight\n",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "mtlsca: serve: %s\n", err.msg[0] ? err.msg :
	    ca_strerror(err.code));
out:
	http_server_stop(srv);
	/* The publishers read the schedule's CRL: they stop first. */
	publish_stop(pubs);
	crl_schedule_free(sched);
	publish_set_free(pubs);
	store_close(st);
	ca_free(ca);
	free(toks);
	free(fps);
	free(admin_h);
	free(tcert);
	if (tkey != NULL) {
		gnutls_memset(tkey, 0, strlen(tkey));
		free(tkey);
	}
	gnutls_memset(&boot, 0, sizeof(boot));
	if (ret == 0)
		fprintf(stderr, "mtlsca: stopped\n");
	return ret;
}

#else /* !MTLSCA_HAVE_HTTP */

int
cmd_serve(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: serve: this build has no HTTP server "
	    "(libmicrohttpd was not found)\n");
	return 1;
}

#endif
