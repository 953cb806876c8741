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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "cmd/config.h"
#include "cmd/notify.h"
#include "common/log.h"
#include "common/pem.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"
#include "store/store.h"

#ifdef MTLSCA_HAVE_HTTP
#include "http/http.h"

/* meta names */
#define META_BOOTSTRAP		"serve_bootstrap"

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
	(void)cmd_usage_print("serve", true);
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
	bool			demo = strcmp(cfg->source, CONFIG_SOURCE_DEFAULTS) == 0 &&
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
		log_msg(LOG_LEVEL_WARNING, "the HTTPS certificate %s "
		    "expired on %s: clients will refuse it; replace "
		    "http.tls_cert", path, when);
	else if (left < SERVER_CERT_MIN_LEFT)
		log_msg(LOG_LEVEL_WARNING, "the HTTPS certificate %s "
		    "expires on %s, in %lld day(s): replace http.tls_cert",
		    path, when, (long long)(left / 86400));
}

/* The issuance of the service's own certificate, once, as any other. */
static void
server_cert_log(const char *path, const char *pem, const char **names,
    size_t n)
{
	char			 list[512], hex[SERIAL_HEX_MAX + 2] = "";
	size_t			 o = 0;
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d = { (unsigned char *)(uintptr_t)pem,
	    (unsigned)strlen(pem) };
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 slen = sizeof(serial);
	struct log_field	 f[] = { { "serial", hex }, { "profile",
	    "server" } };

	list[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, " %s",
		    names[i]);
	if (gnutls_x509_crt_init(&crt) == 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0 &&
	    gnutls_x509_crt_get_serial(crt, serial, &slen) == 0)
		serial_format(serial, slen, hex);
	gnutls_x509_crt_deinit(crt);
	log_event(LOG_LEVEL_NOTICE, "issue", LOG_FIELDS(f), "issued the HTTPS "
	    "certificate %s (serial %s) for%s", path, hex[0] ? hex : "?",
	    list);
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
		log_msg(LOG_LEVEL_WARNING, "%s: %s: serving a certificate "
		    "mtlsca issues itself until http.tls_cert is replaced",
		    cfg->tls_cert, e.msg);
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
		log_msg(LOG_LEVEL_NOTICE, "%s: %s: issuing a new one", cpath,
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
	server_cert_log(cpath, *cert, names, n);
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
	if ((rc = store_meta_put(st, CA_META_ADMIN_TOKEN, h, sizeof(h), err)) !=
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
		log_msg(LOG_LEVEL_ERROR, "%s", err.msg);
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
		log_msg(LOG_LEVEL_NOTICE, "first start: the admin and "
		    "enrollment tokens, with the commands to enroll and "
		    "revoke, are in %s (mode 0600, shown once: delete it once "
		    "read)", path);
	return rc;
}

/*
 * The ALB bundle next to the CRL: what /ca.pem serves, as a file. Written
 * only when its bytes change, so that a start on a full disk, with the CA,
 * the store and the CRL intact, writes nothing and goes on serving.
 */
static int
write_public_ca(const char *public_dir, const struct cmd_cas *cas,
    struct ca_error *err)
{
	char		 path[CONFIG_PATH_MAX + 16], *pem = NULL;
	uint8_t		*old = NULL;
	size_t		 len, n = 0;
	bool		 same;
	int		 rc;

	/* The active CA first, then each retiring one: a client of either
	   verifies, and so does a TLS terminator given this file. */
	for (size_t i = 0; i < cas->n; i++) {
		const char *p = ca_cert_pem(cas->ca[i]);

		if (pem_cat(&pem, &n, p, strlen(p)) != CA_OK) {
			free(pem);
			return ca_error_set(err, CA_ENOMEM, "out of memory");
		}
	}
	if (path_join(path, sizeof(path), public_dir, "ca.pem") != CA_OK) {
		free(pem);
		return ca_error_set(err, CA_ETOOBIG, "path too long");
	}
	same = file_read(path, PEM_MAX, &old, &len, NULL) == CA_OK &&
	    len == n && memcmp(old, pem, n) == 0;
	free(old);
	rc = same ? CA_OK : file_write_atomic(path, pem, n, 0644, 0, err);
	free(pem);
	return rc;
}

/* ---- what a reload may change ---- */

/* serve's own options, which win over the file at start and at reloads. */
struct serve_overrides {
	const char	*listen;	/* NULL: the file's */
	int		 https_port, http_port, verify_port;	/* -1: the file's */
};

static void
overrides_apply(const struct serve_overrides *ov, struct config *cfg)
{
	if (ov->listen != NULL)
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", ov->listen);
	if (ov->https_port >= 0)
		cfg->https_port = (unsigned)ov->https_port;
	if (ov->http_port >= 0)
		cfg->http_port = (unsigned)ov->http_port;
	if (ov->verify_port >= 0)
		cfg->verify_port = (unsigned)ov->verify_port;
}

/* The hashes and lists serve hands the HTTP server (it copies them). */
struct serve_policy {
	struct ca_profile	 profiles[CONFIG_PROFILES_MAX];
	size_t			 n_profiles;
	struct ca_static_token	*toks;
	size_t			 n_toks;
	uint8_t			(*fps)[CA_HASH_LEN];
	size_t			 n_fps;
	uint8_t			(*admin_h)[CA_HASH_LEN];
	size_t			 n_admin;
	const char		*subjects[CONFIG_LIST_MAX];
	size_t			 n_subjects;
};

static void
policy_free(struct serve_policy *p)
{
	free(p->toks);
	free(p->fps);
	free(p->admin_h);
	memset(p, 0, sizeof(*p));
}

/*
 * The configuration's credentials as hashes, and its profiles with the
 * service's own names on their deny lists: no enrollment may obtain a
 * certificate for http.server_names or a name of the certificate actually
 * served (tcert): with the runbook's serverAuth EKU it would impersonate
 * this service to every client that trusts the CA (the CLI's `sign` is an
 * admin act and keeps the profiles as configured). cfg->profiles stay as
 * configured. On failure nothing is left to free.
 */
static int
policy_build(const struct config *cfg, const char *tcert,
    struct serve_policy *p, struct ca_error *err)
{
	char	served[CA_PROFILE_DENY_MAX][CA_NAME_MAX];
	size_t	n_served = 0;
	int	rc;

	memset(p, 0, sizeof(*p));
	p->toks = calloc(CONFIG_PROFILES_MAX * CONFIG_LIST_MAX + 1,
	    sizeof(*p->toks));
	p->fps = calloc(cfg->n_admin_fingerprints + 1, sizeof(*p->fps));
	p->admin_h = calloc(cfg->n_admin_token_hashes + 2,
	    sizeof(*p->admin_h));
	if (p->toks == NULL || p->fps == NULL || p->admin_h == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_profiles; i++)
		for (size_t j = 0; j < cfg->n_profile_tokens[i]; j++) {
			struct ca_static_token *t = &p->toks[p->n_toks];

			if (hex_parse_exact(cfg->profile_tokens[i][j], t->hash,
			    CA_HASH_LEN) != CA_OK) {
				rc = ca_error_set(err, CA_EINVAL, "profile %s: "
				    "token hash %zu is not 64 hex digits (use "
				    "`mtlsca token hash`)",
				    cfg->profiles[i].name, j + 1);
				goto fail;
			}
			snprintf(t->profile, sizeof(t->profile), "%s",
			    cfg->profiles[i].name);
			p->n_toks++;
		}
	for (size_t i = 0; i < cfg->n_admin_fingerprints; i++)
		if (hex_parse_exact(cfg->admin_fingerprints[i],
		    p->fps[p->n_fps++], CA_HASH_LEN) != CA_OK) {
			rc = ca_error_set(err, CA_EINVAL, "admin fingerprint "
			    "%zu is not a SHA-256 (64 hex digits)", i + 1);
			goto fail;
		}
	for (size_t i = 0; i < cfg->n_admin_token_hashes; i++)
		if (hex_parse_exact(cfg->admin_token_hashes[i],
		    p->admin_h[p->n_admin++], CA_HASH_LEN) != CA_OK) {
			rc = ca_error_set(err, CA_EINVAL, "admin token hash %zu "
			    "is not 64 hex digits (use `mtlsca token hash`)",
			    i + 1);
			goto fail;
		}
	/* The store's admin token (CA_META_ADMIN_TOKEN) is not copied here:
	   ca/ reads it on every admin check, so a rotation needs no reload. */
	for (size_t i = 0; i < cfg->n_admin_subjects; i++)
		p->subjects[p->n_subjects++] = cfg->admin_subjects[i];

	if ((rc = ca_cert_pem_names(tcert, served, CA_PROFILE_DENY_MAX,
	    &n_served, err)) != CA_OK)
		goto fail;
	memcpy(p->profiles, cfg->profiles, cfg->n_profiles *
	    sizeof(p->profiles[0]));
	p->n_profiles = cfg->n_profiles;
	for (size_t i = 0; i < p->n_profiles; i++)
		for (size_t k = 0; k < cfg->n_server_names + n_served; k++) {
			const char *name = k < cfg->n_server_names ?
			    cfg->server_names[k] :
			    served[k - cfg->n_server_names];

			if (ca_profile_deny(&p->profiles[i], name) != CA_OK) {
				rc = ca_error_set(err, CA_EINVAL, "profile %s: "
				    "cannot add the server name %s to its deny "
				    "list (at most %d names)",
				    p->profiles[i].name, name,
				    CA_PROFILE_DENY_MAX);
				goto fail;
			}
		}
	return CA_OK;
fail:
	policy_free(p);
	return rc;
}

/* The HTTP server's options from cfg and p (borrowed). */
static void
options_fill(const struct config *cfg, const struct serve_policy *p,
    const char *tcert, const char *tkey, struct publish_set *pubs,
    const char **proxies, struct http_options *ho)
{
	memset(ho, 0, sizeof(*ho));
	ho->listen = cfg->listen;
	ho->https_port = cfg->https_port;
	ho->http_port = cfg->http_port;
	ho->tls_cert_pem = tcert;
	ho->tls_key_pem = tkey;
	ho->body_max = cfg->body_max;
	ho->max_connections = cfg->max_connections;
	ho->per_ip_connections = cfg->per_ip_connections;
	ho->timeout = cfg->timeout;
	ho->request_timeout = cfg->request_timeout;
	ho->request_timeout_busy = cfg->request_timeout_busy;
	ho->per_ip_pending = cfg->per_ip_pending;
	ho->threads = cfg->threads;
	ho->threading = cfg->thread_pool ? HTTP_THREADING_POOL :
	    HTTP_THREADING_PER_CONNECTION;
	ho->profiles = p->profiles;
	ho->n_profiles = p->n_profiles;
	ho->tokens = p->toks;
	ho->n_tokens = p->n_toks;
	ho->admin_fingerprints = (const uint8_t (*)[CA_HASH_LEN])p->fps;
	ho->n_admin_fingerprints = p->n_fps;
	ho->admin_subjects = p->subjects;
	ho->n_admin_subjects = p->n_subjects;
	ho->admin_token_hashes = (const uint8_t (*)[CA_HASH_LEN])p->admin_h;
	ho->n_admin_token_hashes = p->n_admin;
	ho->publishers = pubs;
	/* The verifier behind the load balancer. */
	for (size_t i = 0; i < cfg->n_verify_proxies; i++)
		proxies[i] = cfg->verify_proxies[i];
	ho->verify.port = cfg->verify_port;
	ho->verify.listen = cfg->verify_listen;
	ho->verify.path = cfg->verify_path;
	ho->verify.source = (enum http_verify_source)cfg->verify_source;
	ho->verify.header = cfg->verify_header;
	ho->verify.serial_header = cfg->verify_serial_header;
	ho->verify.issuer_header = cfg->verify_issuer_header;
	ho->verify.trusted_proxies = proxies;
	ho->verify.n_trusted_proxies = cfg->n_verify_proxies;
	ho->verify.cache_entries = (size_t)cfg->verify_cache;
	ho->verify.threads = cfg->verify_threads;
}

/*
 * Settings read at start only (listeners, TLS, the store, the CA, the CRL
 * schedule, the verifier's listener): a reload that changes one says so
 * and keeps the running value, so that cfg stays true to what runs.
 */
#define KEEP(field, what) keep(nc, old, offsetof(struct config, field), \
	sizeof(old->field), what)

static void
keep(struct config *nc, const struct config *old, size_t off, size_t size,
    const char *what)
{
	if (memcmp((const char *)nc + off, (const char *)old + off, size) ==
	    0)
		return;
	log_msg(LOG_LEVEL_WARNING, "SIGHUP: %s changed: it takes effect on "
	    "restart", what);
	memcpy((char *)nc + off, (const char *)old + off, size);
}

static void
keep_start_only(struct config *nc, const struct config *old)
{
	KEEP(map_size, "store.map_size");
	KEEP(max_readers, "store.max_readers");
	KEEP(ca_cert, "ca.cert");
	KEEP(ca_key, "ca.key");
	KEEP(crl_validity, "crl.validity");
	KEEP(crl_keep_expired, "crl.keep_expired");
	KEEP(crl_refresh, "crl.refresh");
	KEEP(crl_debounce, "crl.debounce");
	KEEP(crl_warn_entries, "crl.warn_entries");
	KEEP(crl_max_entries, "crl.max_entries");
	KEEP(listen, "http.listen");
	KEEP(https_port, "http.https_port");
	KEEP(http_port, "http.http_port");
	KEEP(server_names, "http.server_names");
	KEEP(n_server_names, "http.server_names");
	KEEP(tls_cert, "http.tls_cert");
	KEEP(tls_key, "http.tls_key");
	KEEP(max_connections, "http.max_connections");
	KEEP(per_ip_connections, "http.per_ip_connections");
	KEEP(timeout, "http.timeout");
	KEEP(thread_pool, "http.threading");
	KEEP(threads, "http.threads");
	KEEP(verify_listen, "verify.listen");
	KEEP(verify_port, "verify.port");
	KEEP(verify_path, "verify.path");
	KEEP(verify_source, "verify.source");
	KEEP(verify_header, "verify.header");
	KEEP(verify_serial_header, "verify.serial_header");
	KEEP(verify_issuer_header, "verify.issuer_header");
	KEEP(verify_proxies, "verify.trusted_proxies");
	KEEP(n_verify_proxies, "verify.trusted_proxies");
	KEEP(verify_cache, "verify.cache");
	KEEP(verify_threads, "verify.threads");
	/* The backup thread reads these without a lock. */
	KEEP(backup_every, "backup.every");
	KEEP(backup_dir, "backup.dir");
	KEEP(backup_s3, "backup.s3_publisher");
	KEEP(backup_keep, "backup.keep");
	KEEP(backup_include_key, "backup.include_key");
}

#undef KEEP

/* The publishers a reload would run, the same as running? */
static bool
publishers_same(const struct config *a, const struct config *b)
{
	if (a->n_publishers != b->n_publishers ||
	    a->publish_retry_min != b->publish_retry_min ||
	    a->publish_retry_max != b->publish_retry_max ||
	    a->publish_max_lag != b->publish_max_lag)
		return false;
	/* Both were built from zeroed memory by config_defaults and
	   config_load, padding included. */
	return memcmp(a->publishers, b->publishers,
	    a->n_publishers * sizeof(a->publishers[0])) == 0;
}

/*
 * SIGHUP: read the configuration file again and put in place what may
 * change while serving — profiles, static tokens, admins, publishers,
 * body_max and the request deadlines (http_server_reconfigure). A file
 * that does not load, or a change that cannot be made, is refused with
 * the reason and the running configuration stays, all of it.
 */
static void
reload(struct config *cfg, const struct serve_overrides *ov, struct ca *ca,
    struct store *st, struct crl_schedule *sched, struct http_server *srv,
    const char *tcert, struct publish_set **pubs)
{
	struct config		*nc = NULL;
	struct serve_policy	 pol;
	struct http_options	 ho;
	struct publish_set	*np = NULL, *old;
	struct ca_error		 err;
	const char		*proxies[CONFIG_LIST_MAX];
	bool			 new_pubs;

	memset(&pol, 0, sizeof(pol));
	ca_error_clear(&err);
	if (strcmp(cfg->source, CONFIG_SOURCE_DEFAULTS) == 0) {
		log_msg(LOG_LEVEL_WARNING, "SIGHUP: no configuration file to "
		    "read again (serve runs on the embedded defaults)");
		return;
	}
	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		ca_error_set(&err, CA_ENOMEM, "out of memory");
		goto refused;
	}
	config_defaults(nc);
	if (config_load(cfg->source, nc, &err) != CA_OK ||
	    config_set_data_dir(nc, cfg->data_dir, &err) != CA_OK)
		goto refused;
	overrides_apply(ov, nc);
	keep_start_only(nc, cfg);
	if (policy_build(nc, tcert, &pol, &err) != CA_OK)
		goto refused;
	new_pubs = !publishers_same(nc, cfg);
	if (new_pubs && nc->n_publishers > 0 &&
	    cmd_publishers_open(nc, ca, st, &np, &err) != CA_OK)
		goto refused;
	options_fill(nc, &pol, tcert, NULL, new_pubs ? np : *pubs, proxies,
	    &ho);
	if (http_server_reconfigure(srv, &ho, &err) != CA_OK)
		goto refused;
	if (new_pubs) {
		/* The new set catches up at once with the current CRL. */
		publish_stop(*pubs);
		if (np != NULL && publish_start(np, sched, &err) != CA_OK)
			log_msg(LOG_LEVEL_ERROR, "SIGHUP: the publishers did "
			    "not start: %s", err.msg);
		old = http_server_publishers(srv, np);
		publish_set_free(old);
		*pubs = np;
		np = NULL;
	}
	/* The log's level and format first: the line below is in the new
	   shape. */
	log_setup(STDERR_FILENO, nc->log_level, nc->log_format);
	log_msg(LOG_LEVEL_NOTICE, "SIGHUP: reloaded %s: %zu profile(s), %zu "
	    "static token(s), %zu admin(s), %zu publisher(s)%s", nc->source,
	    nc->n_profiles, pol.n_toks, pol.n_fps + pol.n_subjects +
	    pol.n_admin, nc->n_publishers, new_pubs ? " (restarted)" : "");
	*cfg = *nc;
	goto out;
refused:
	log_msg(LOG_LEVEL_ERROR, "SIGHUP: %s is refused: %s; the running "
	    "configuration stays", cfg->source, err.msg[0] ? err.msg :
	    ca_strerror(err.code));
out:
	publish_set_free(np);
	policy_free(&pol);
	free(nc);
}

/* Blocks from this size up are mmap'd (see cmd_serve). */
#define SERVE_MMAP_THRESHOLD	(1 << 20)

int
cmd_serve(int argc, char **argv, struct config *cfg)
{
	struct crl_schedule_options	 cso;
	struct http_options		 ho;
	struct serve_policy		 pol;
	struct serve_overrides		 ov = { NULL, -1, -1, -1 };
	unsigned			 port;
	const char			*proxies[CONFIG_LIST_MAX];
	struct ca			*ca = NULL;
	struct store			*st = NULL;
	struct crl_schedule		*sched = NULL;
	struct publish_set		*pubs = NULL;
	struct cmd_cas			 cas;
	struct cmd_retiring		 retiring;
	int				 serve_lock = -1;
	struct cmd_backup_sched		*backups = NULL;
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
	memset(&cas, 0, sizeof(cas));
	memset(&retiring, 0, sizeof(retiring));
	memset(&pol, 0, sizeof(pol));
	/* Every option takes a value: two arguments a step. */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return cmd_usage_print("serve", false);
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
			ov.listen = v;
		} else if (strcmp(a, "--https-port") == 0) {
			if (port_arg(v, &port) != 0) {
				usage();
				return 2;
			}
			ov.https_port = (int)port;
		} else if (strcmp(a, "--http-port") == 0) {
			if (port_arg(v, &port) != 0) {
				usage();
				return 2;
			}
			ov.http_port = (int)port;
		} else if (strcmp(a, "--verify-port") == 0) {
			if (port_arg(v, &port) != 0) {
				usage();
				return 2;
			}
			ov.verify_port = (int)port;
		} else {
			usage();
			return 2;
		}
	}

	overrides_apply(&ov, cfg);
	/* From here on, what serve says is a log line (common/log.h). */
	log_setup(STDERR_FILENO, cfg->log_level, cfg->log_format);

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
		log_msg(LOG_LEVEL_NOTICE, "created a new CA: %s (key %s)",
		    cfg->ca_cert, cfg->ca_key);
	/* The active CA (finishing a rotation cut short), then the
	   retiring ones (CA rotation, cmd_ca.c). */
	if ((rc = cmd_ca_open(cfg, &ca, &err)) != CA_OK ||
	    (rc = cmd_cas_open(cfg, ca, time_now(), &cas, &err)) != CA_OK)
		goto fail;
	cmd_ca_expiry_warn(cfg, ca);
	if (config_path(cfg, "public", pub, sizeof(pub)) != 0 ||
	    config_path(cfg, CMD_CRL_LOCK, lockpath, sizeof(lockpath)) != 0) {
		ca_error_set(&err, CA_ETOOBIG, "data_dir path too long");
		goto fail;
	}
	if ((rc = cmd_store_open(cfg, false, &st, &err)) != CA_OK)
		goto fail;
	if ((rc = bootstrap(cfg, st, &boot, &err)) != CA_OK)
		goto fail;
	/* Held shared while serve runs: `ca rotate` tells a restart is due. */
	serve_lock = cmd_serve_lock_hold(cfg);
	if ((rc = tls_material(cfg, ca, st, &tcert, &tkey, &err)) != CA_OK ||
	    (cfg->tls_cert[0] == '\0' &&
	    (rc = cmd_cas_cross_chain(cfg, &cas, &tcert, &err)) != CA_OK))
		goto fail;
	if ((rc = dir_make(pub, 0755, &err)) != CA_OK ||
	    (rc = write_public_ca(pub, &cas, &err)) != CA_OK)
		goto fail;

	/* Never number a CRL the world has seen, nor drop a revocation it
	   lists (a restored store): issue 12, cmd_backup.c. */
	if (cmd_recover_published(cfg, ca, NULL, 0, st, NULL, &err) != CA_OK)
		fprintf(stderr, "mtlsca: warning: the published CRLs could not "
		    "be read: %s\n", err.msg);

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
	cso.combine_root = pub;		/* crls.pem: every CA's CRL */
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
	/* Each retiring CA: retired when its last certificate has expired,
	   else its own CRL schedule and publishers. */
	if ((rc = cmd_retiring_start(cfg, st, &cas, &cso, pub, &retiring,
	    &err)) != CA_OK)
		goto fail;
	/* ca.pem again: a CA that just retired leaves it. */
	if ((rc = write_public_ca(pub, &cas, &err)) != CA_OK)
		goto fail;
	/* The configured backup schedule (issue 12), on its own thread. */
	if ((rc = cmd_backup_sched_start(cfg, ca, st, &backups, &err)) !=
	    CA_OK)
		goto fail;

	/* What a reload may change: profiles (with the service's names on
	   their deny lists), tokens, admins, limits. */
	if ((rc = policy_build(cfg, tcert, &pol, &err)) != CA_OK)
		goto fail;
	options_fill(cfg, &pol, tcert, tkey, pubs, proxies, &ho);
	ho.retiring_cas = &cas.ca[1];
	ho.n_retiring_cas = cas.n - 1;
	ho.retiring_scheds = &retiring.sched[1];
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
		log_msg(LOG_LEVEL_NOTICE, "serving HTTPS on %s:%u",
		    cfg->listen, http_server_port(srv, true));
	if (http_server_port(srv, false))
		log_msg(LOG_LEVEL_NOTICE, "serving HTTP (public files) on "
		    "%s:%u", cfg->listen, http_server_port(srv, false));
	if (http_server_verify_port(srv))
		log_msg(LOG_LEVEL_NOTICE, "serving the verifier (GET "
		    "/v1/verify%s%s) on %s:%u", cfg->verify_path[0] ? ", " : "",
		    cfg->verify_path, cfg->verify_listen,
		    http_server_verify_port(srv));
	log_msg(LOG_LEVEL_NOTICE, "ready (data in %s; CA fingerprint SHA-256 "
	    "%s)", cfg->data_dir, fp);
	/* systemd (Type=notify): started now; the watchdog from this loop. */
	cmd_notify_ready(&notify, "serving on %s: HTTPS port %u, HTTP port %u",
	    cfg->listen, http_server_port(srv, true),
	    http_server_port(srv, false));

	for (;;) {
		if (cmd_notify_sigwait(&notify, &sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* SIGHUP (mtlsca.service's ExecReload=): re-read the file;
		   a bad one changes nothing. */
		reload(cfg, &ov, ca, st, sched, srv, tcert, &pubs);
	}
	cmd_notify_stopping();
	log_msg(LOG_LEVEL_NOTICE, "%s: finishing requests in flight",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	ret = 0;
	goto out;
fail:
	log_msg(LOG_LEVEL_ERROR, "serve: %s", err.msg[0] ? err.msg :
	    ca_strerror(err.code));
out:
	http_server_stop(srv);
	cmd_backup_sched_stop(backups);
	/* The publishers read the schedule's CRL: they stop first. */
	publish_stop(pubs);
	cmd_retiring_stop(&retiring);
	crl_schedule_free(sched);
	publish_set_free(pubs);
	store_close(st);
	cmd_cas_close(&cas);
	ca_free(ca);
	if (serve_lock >= 0)
		close(serve_lock);
	policy_free(&pol);
	free(tcert);
	if (tkey != NULL) {
		gnutls_memset(tkey, 0, strlen(tkey));
		free(tkey);
	}
	gnutls_memset(&boot, 0, sizeof(boot));
	if (ret == 0)
		log_msg(LOG_LEVEL_NOTICE, "stopped");
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
