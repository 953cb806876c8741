/*
 * mtlsca verify CERT [--chain FILE]: the verifier's answer on the command
 * line — the same function GET /v1/verify and the service's mTLS use
 * (ca_verify_chain), against the CA and the store (read-only; `serve` may
 * be running). Exit 0 good, 1 refused (the reason on stdout) or failed (a
 * sentence on stderr), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/pem.h"
#include "common/util.h"

#define CERT_FILE_MAX	(256 * 1024)
/* Like the HTTP verifier: a leaf and what came with it. */
#define CHAIN_MAX	10

/* CERT's certificates, then FILE's, into one list (DER). */
static int
load(const char *path, struct pem_certs *pc, bool pem_only,
    struct ca_error *err)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 rc;

	if ((rc = file_read(path, CERT_FILE_MAX, &buf, &len, err)) != CA_OK)
		return rc;
	if (!pem_only && len > 0 && buf[0] == 0x30) {
		/* DER: one certificate, as it is. */
		memset(pc, 0, sizeof(*pc));
		pc->buf = buf;
		pc->der[0] = buf;
		pc->len[0] = len;
		pc->n = 1;
		return CA_OK;
	}
	rc = pem_certs_decode((const char *)buf, len, CHAIN_MAX, CA_CERT_MAX,
	    pc, err);
	free(buf);
	if (rc != CA_OK) {
		char msg[sizeof(err->msg)];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		ca_error_set(err, rc, "%s: %s", path, msg);
	}
	return rc;
}

static void
print_text(int rc, const struct ca_verified *vd, const struct ca_error *e)
{
	char	serial[SERIAL_HEX_MAX + 2] = "-", na[21], nb[21];

	if (vd->serial_len > 0)
		serial_format(vd->serial, vd->serial_len, serial);
	if (rc != CA_OK) {
		printf("refused (%s): %s\n", e->reason != NULL ? e->reason :
		    ca_verify_result_name(vd->result), e->msg);
		return;
	}
	time_format(vd->not_before, nb);
	time_format(vd->not_after, na);
	printf("good: %s\n", serial);
	printf("  subject:    %s\n", vd->subject != NULL ? vd->subject : "");
	printf("  SANs:       %s\n", vd->sans != NULL && vd->sans[0] ?
	    vd->sans : "-");
	printf("  profile:    %s\n", vd->profile[0] ? vd->profile : "-");
	printf("  not before: %s\n  not after:  %s\n", nb, na);
}

/* The same fields as GET /v1/verify's answer. */
static void
print_json(int rc, const struct ca_verified *vd, const struct ca_error *e)
{
	char	 serial[SERIAL_HEX_MAX + 2] = "", t[21];
	json_t	*o = json_object();
	char	*text;

	if (o == NULL)
		return;
	json_object_set_new(o, "result", json_string(rc == CA_OK ? "good" :
	    ca_verify_result_name(vd->result)));
	if (vd->serial_len > 0) {
		serial_format(vd->serial, vd->serial_len, serial);
		json_object_set_new(o, "serial", json_string(serial));
	}
	if (rc != CA_OK) {
		json_object_set_new(o, "message", json_string(e->msg));
		if (vd->result == CA_VERIFY_REVOKED) {
			const char *why = ca_reason_name(vd->revocation_reason);

			time_format(vd->revoked_at, t);
			json_object_set_new(o, "revoked_at", json_string(t));
			json_object_set_new(o, "revocation_reason",
			    json_string(why != NULL ? why : "unspecified"));
		}
	} else {
		json_object_set_new(o, "subject", json_string(vd->subject !=
		    NULL ? vd->subject : ""));
		json_object_set_new(o, "sans", json_string(vd->sans != NULL ?
		    vd->sans : ""));
		json_object_set_new(o, "profile", json_string(vd->profile));
		time_format(vd->not_before, t);
		json_object_set_new(o, "not_before", json_string(t));
		time_format(vd->not_after, t);
		json_object_set_new(o, "not_after", json_string(t));
	}
	if ((text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(o);
}

int
cmd_verify(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "chain", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pem_certs	 leaf, more;
	struct ca_verified	 vd;
	struct ca_verifier	*v = NULL;
	struct ca		*ca = NULL;
	struct cmd_cas		 cas;
	struct store		*st = NULL;
	struct ca_error		 err;
	const uint8_t		*der[CHAIN_MAX];
	size_t			 len[CHAIN_MAX], n = 0;
	const char		*chain = NULL;
	bool			 json = false;
	int			 ch, rc, status = CMD_FAIL;

	memset(&leaf, 0, sizeof(leaf));
	memset(&more, 0, sizeof(more));
	memset(&vd, 0, sizeof(vd));
	memset(&cas, 0, sizeof(cas));
	ca_error_clear(&err);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			chain = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("verify", false);
		default:
			return cmd_usage_print("verify", true);
		}
	}
	if (optind != argc - 1)
		return cmd_usage_print("verify", true);
	if (load(argv[optind], &leaf, false, &err) != CA_OK ||
	    (chain != NULL && load(chain, &more, true, &err) != CA_OK)) {
		status = cmd_fail_err(&err);
		goto out;
	}
	for (size_t i = 0; i < leaf.n + more.n; i++) {
		if (n == CHAIN_MAX) {
			status = cmd_fail("more than %d certificates in the "
			    "chain", CHAIN_MAX);
			goto out;
		}
		der[n] = i < leaf.n ? leaf.der[i] : more.der[i - leaf.n];
		len[n++] = i < leaf.n ? leaf.len[i] : more.len[i - leaf.n];
	}
	/* The active CA and the retiring ones: their clients are good
	   until their certificates expire. */
	if (cmd_ca_open(cfg, &ca, &err) != CA_OK ||
	    cmd_cas_open(cfg, ca, time_now(), &cas, &err) != CA_OK ||
	    cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    ca_verifier_new(cas.ca, cas.n, st, NULL, &v, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	rc = ca_verify_chain(v, der, len, n, time_now(), &vd, &err);
	if (rc != CA_OK && rc != CA_EFORBIDDEN) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (json)
		print_json(rc, &vd, &err);
	else
		print_text(rc, &vd, &err);
	status = rc == CA_OK ? CMD_OK : CMD_FAIL;
out:
	ca_verified_clear(&vd);
	ca_verifier_free(v);
	store_close(st);
	cmd_cas_close(&cas);
	ca_free(ca);
	pem_certs_clear(&leaf);
	pem_certs_clear(&more);
	return status;
}
