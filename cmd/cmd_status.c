/*
 * mtlsca status: the CRL counter and, per publisher, what the store records
 * (last success, last error, CRL number published, RevocationId, entries ALB
 * reported, revoke-to-published latency). Works while `serve` runs: the
 * state is in the shared LMDB store.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/log.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"

/*
 * The CA certificate's SHA-256 fingerprint: what `mtlsca enroll
 * --ca-fingerprint` checks the server's /ca.pem against, and with ex, how
 * near its expiry is. NULL, with why in *why, when there is none.
 */
static const char *
ca_fingerprint(const struct config *cfg, char fp[65], struct ca_expiry *ex,
    const char **why)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d = { NULL, 0 }, der = { NULL, 0 };
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	const char		*ret = NULL;

	*why = "no CA certificate";
	if (file_read(cfg->ca_cert, 1024 * 1024, &buf, &len, NULL) != CA_OK)
		return NULL;
	*why = "not a PEM certificate";
	d.data = buf;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0) {
		cmd_fingerprint(der.data, der.size, fp);
		if (ex != NULL)
			ca_expiry_assess(
			    gnutls_x509_crt_get_expiration_time(crt),
			    cmd_profiles_longest_days(cfg), time_now(), ex);
		ret = fp;
	}
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	free(buf);
	return ret;
}

static int
status_json(const struct config *cfg, struct publish_set *set,
    uint64_t number, uint64_t revgen)
{
	json_t		*o = NULL, *pubs = NULL;
	char		*text = NULL, *ptext = NULL, fp[65];
	struct ca_expiry ex;
	const char	*why, *f = ca_fingerprint(cfg, fp, &ex, &why);
	struct ca_error	 err;
	int		 status = CMD_FAIL;

	ca_error_clear(&err);
	if (publish_status_json(set, &ptext, &err) != CA_OK) {
		status = cmd_fail("status: %s", err.msg);
		goto out;
	}
	if ((pubs = json_loads(ptext, 0, NULL)) == NULL ||
	    (o = json_object()) == NULL) {
		status = cmd_fail("status: out of memory");
		goto out;
	}
	json_object_set_new(o, "ca_cert", json_string(cfg->ca_cert));
	json_object_set_new(o, "ca_fingerprint", f != NULL ? json_string(f) :
	    json_null());
	if (f != NULL) {
		json_object_set_new(o, "ca_not_after",
		    json_integer((json_int_t)ex.not_after));
		json_object_set_new(o, "ca_expiry", json_string(
		    ca_expiry_level_name(ex.level)));
		json_object_set_new(o, "ca_expiry_message", json_string(ex.msg));
	}
	json_object_set_new(o, "crl_number", json_integer((json_int_t)number));
	json_object_set_new(o, "revocation_generation",
	    json_integer((json_int_t)revgen));
	json_object_set(o, "publishers", pubs);
	if ((text = json_dumps(o, JSON_INDENT(2))) == NULL) {
		status = cmd_fail("status: out of memory");
		goto out;
	}
	printf("%s\n", text);
	status = CMD_OK;
out:
	free(text);
	free(ptext);
	json_decref(pubs);
	json_decref(o);
	return status;
}

unsigned
cmd_profiles_longest_days(const struct config *cfg)
{
	return ca_profiles_longest_days(cfg->profiles, cfg->n_profiles);
}

void
cmd_ca_expiry_warn(const struct config *cfg, const struct ca *ca)
{
	struct ca_expiry ex;

	ca_expiry_check(ca, cmd_profiles_longest_days(cfg), time_now(), &ex);
	if (ex.level != CA_EXPIRY_OK)
		log_msg(LOG_LEVEL_WARNING, "%s", ex.msg);
}

int
cmd_status(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "metrics", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct publish_set	*set = NULL;
	struct store		*st = NULL;
	struct ca_error		 err;
	char			*text = NULL, fp[65];
	struct ca_expiry	 ex;
	const char		*why;
	size_t			 len;
	uint64_t		 number = 0, revgen = 0;
	bool			 metrics = false, json = false;
	int			 ch, status = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "mh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			metrics = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("status", false);
		default:
			return cmd_usage_print("status", true);
		}
	}
	if (optind != argc || (metrics && json)) {
		cmd_fail("status: %s", optind != argc ? "unexpected argument" :
		    "--metrics and --json are two formats: choose one");
		return cmd_usage_print("status", true);
	}
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    store_counter_get(st, STORE_COUNTER_CRL, &number, &err) != CA_OK ||
	    store_counter_get(st, STORE_COUNTER_REVGEN, &revgen, &err) !=
	    CA_OK || cmd_publishers_open(cfg, NULL, st, &set, &err) != CA_OK) {
		fprintf(stderr, "mtlsca: status: %s\n", err.msg);
		goto out;
	}
	if (json) {
		status = status_json(cfg, set, number, revgen);
		goto out;
	}
	if (metrics) {
		if (publish_metrics(set, &text, &len, &err) != CA_OK) {
			fprintf(stderr, "mtlsca: status: %s\n", err.msg);
			goto out;
		}
		fwrite(text, 1, len, stdout);
		status = 0;
		goto out;
	}
	if (ca_fingerprint(cfg, fp, &ex, &why) != NULL) {
		printf("CA fingerprint:      %s (SHA-256 of %s)\n", fp,
		    cfg->ca_cert);
		printf("CA expiry:           %s (%s)\n", ex.msg,
		    ca_expiry_level_name(ex.level));
	} else
		printf("CA fingerprint:      - (%s at %s)\n", why, cfg->ca_cert);
	printf("CRL number:          %llu\nrevocation generation: %llu\n",
	    (unsigned long long)number, (unsigned long long)revgen);
	if (publish_status_text(set, &text, &len, &err) != CA_OK) {
		fprintf(stderr, "mtlsca: status: %s\n", err.msg);
		goto out;
	}
	fwrite(text, 1, len, stdout);
	status = 0;
out:
	free(text);
	publish_set_free(set);
	store_close(st);
	return status;
}
