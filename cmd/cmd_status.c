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

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/util.h"
#include "crl/crl.h"
#include "publish/publish.h"

/* The CA certificate's SHA-256 fingerprint: what `mtlsca enroll
   --ca-fingerprint` checks the server's /ca.pem against. */
static void
ca_fingerprint_print(const struct config *cfg)
{
	gnutls_x509_crt_t	 crt = NULL;
	gnutls_datum_t		 d = { NULL, 0 }, der = { NULL, 0 };
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	char			 fp[65];

	if (file_read(cfg->ca_cert, 1024 * 1024, &buf, &len, NULL) != CA_OK) {
		printf("CA fingerprint:      - (no CA certificate at %s)\n",
		    cfg->ca_cert);
		return;
	}
	d.data = buf;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0) {
		cmd_fingerprint(der.data, der.size, fp);
		printf("CA fingerprint:      %s (SHA-256 of %s)\n", fp,
		    cfg->ca_cert);
	} else
		printf("CA fingerprint:      - (%s is not a PEM certificate)\n",
		    cfg->ca_cert);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	free(buf);
}

int
cmd_status(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "metrics", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct publish_set	*set = NULL;
	struct store		*st = NULL;
	struct ca_error		 err;
	char			*text = NULL;
	size_t			 len;
	uint64_t		 number = 0, revgen = 0;
	bool			 metrics = false;
	int			 ch, status = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "mh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			metrics = true;
			break;
		case 'h':
			printf("usage: mtlsca status [--metrics]\n");
			return 0;
		default:
			fprintf(stderr, "usage: mtlsca status [--metrics]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: mtlsca status [--metrics]\n");
		return 2;
	}
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    store_counter_get(st, STORE_COUNTER_CRL, &number, &err) != CA_OK ||
	    store_counter_get(st, STORE_COUNTER_REVGEN, &revgen, &err) !=
	    CA_OK || cmd_publishers_open(cfg, NULL, st, &set, &err) != CA_OK) {
		fprintf(stderr, "mtlsca: status: %s\n", err.msg);
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
	ca_fingerprint_print(cfg);
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
