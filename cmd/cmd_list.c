/*
 * mtlsca list and mtlsca show: what the store knows, read in one snapshot
 * from a read-only environment (works while `serve` runs). Serials print as
 * ALB forwards them: upper-case hex without separators.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"

enum list_filter { FILTER_ALL, FILTER_VALID, FILTER_REVOKED, FILTER_EXPIRED };

struct list_ctx {
	enum list_filter	 filter;
	bool			 json;
	int64_t			 now;
	size_t			 count;
	int			 failed;
};

/*
 * One element of the --json array, written as it is read: the array is
 * never held whole (at 1M records it was 3 GB of heap). The bytes are those
 * json_dumps(array, JSON_INDENT(2)) writes: each element's lines indented
 * by two more spaces, elements separated by ",\n".
 */
static int
json_element_print(json_t *o, size_t index)
{
	char	*text = json_dumps(o, JSON_INDENT(2));
	int	 rc = CA_OK;

	if (text == NULL)
		return CA_ENOMEM;
	if (fputs(index == 0 ? "[\n  " : ",\n  ", stdout) == EOF)
		rc = CA_EIO;
	for (const char *p = text; rc == CA_OK && *p != '\0'; p++)
		if (putchar(*p) == EOF || (*p == '\n' &&
		    fputs("  ", stdout) == EOF))
			rc = CA_EIO;
	free(text);
	return rc;
}

static int
pem_of(const struct cert_record *rec, char **out)
{
	gnutls_datum_t	in = { rec->der, (unsigned)rec->der_len };
	gnutls_datum_t	pem = { NULL, 0 };
	char		*s;

	if (gnutls_pem_base64_encode2("CERTIFICATE", &in, &pem) < 0)
		return CA_ECRYPTO;
	if ((s = malloc(pem.size + 1)) == NULL) {
		gnutls_free(pem.data);
		return CA_ENOMEM;
	}
	memcpy(s, pem.data, pem.size);
	s[pem.size] = '\0';
	gnutls_free(pem.data);
	*out = s;
	return CA_OK;
}

/* One of the service's own HTTPS certificates (ca_issue_server)? */
static bool
service_cert(const struct cert_record *rec)
{
	return strcmp(rec->profile, CA_PROFILE_SERVICE) == 0;
}

/* The record as a JSON object; with_pem adds the certificate. */
static json_t *
record_json(const struct cert_record *rec, int64_t now, bool with_pem)
{
	char		 serial[SERIAL_HEX_MAX + 2], t[21];
	char		*pem = NULL;
	const char	*reason;
	json_t		*o = json_object();

	if (o == NULL)
		return NULL;
	serial_format(rec->serial, rec->serial_len, serial);
	json_object_set_new(o, "serial", json_string(serial));
	json_object_set_new(o, "status",
	    json_string(cmd_status_word(rec, now)));
	json_object_set_new(o, "subject", rec->subject != NULL ?
	    json_string(rec->subject) : json_null());
	cmd_time(rec->not_before, t);
	json_object_set_new(o, "not_before", rec->not_before != 0 ?
	    json_string(t) : json_null());
	cmd_time(rec->not_after, t);
	json_object_set_new(o, "not_after",
	    rec->not_after != STORE_NOT_AFTER_UNKNOWN ? json_string(t) :
	    json_null());
	cmd_time(rec->issued_at, t);
	json_object_set_new(o, "issued_at", rec->issued_at != 0 ?
	    json_string(t) : json_null());
	json_object_set_new(o, "profile", json_string(rec->profile));
	/* The issuing CA's id (`mtlsca ca list`): 1 until a rotation. */
	json_object_set_new(o, "ca_id", json_integer(rec->ca_id >
	    STORE_CA_FIRST ? rec->ca_id : STORE_CA_FIRST));
	json_object_set_new(o, "service_https",
	    json_boolean(service_cert(rec)));
	if (rec->status == CERT_STATUS_REVOKED) {
		cmd_time(rec->revoked_at, t);
		json_object_set_new(o, "revoked_at", json_string(t));
		reason = ca_reason_name(rec->reason);
		json_object_set_new(o, "reason", json_string(reason != NULL ?
		    reason : "unspecified"));
	}
	json_object_set_new(o, "has_certificate",
	    json_boolean(rec->der != NULL && rec->der_len > 0));
	if (with_pem && rec->der != NULL && rec->der_len > 0 &&
	    pem_of(rec, &pem) == CA_OK) {
		json_object_set_new(o, "pem", json_string(pem));
		free(pem);
	}
	return o;
}

/* The issuer's name as RFC 4514 text, from the recorded certificate;
   "" without one. */
static void
issuer_of(const struct cert_record *rec, char *out, size_t size)
{
	gnutls_x509_crt_t	crt = NULL;
	gnutls_datum_t		d, dn = { NULL, 0 };

	out[0] = '\0';
	if (rec->der == NULL || rec->der_len == 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		return;
	d.data = rec->der;
	d.size = (unsigned)rec->der_len;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) >= 0)
		snprintf(out, size, "%.*s", (int)dn.size,
		    (const char *)dn.data);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
}

static int
list_cb(const struct cert_record *rec, void *arg)
{
	struct list_ctx	*ctx = arg;
	const char	*word = cmd_status_word(rec, ctx->now);
	char		 serial[SERIAL_HEX_MAX + 2], t[21];
	json_t		*o;

	if ((ctx->filter == FILTER_VALID && strcmp(word, "valid") != 0) ||
	    (ctx->filter == FILTER_REVOKED && strcmp(word, "revoked") != 0) ||
	    (ctx->filter == FILTER_EXPIRED && strcmp(word, "expired") != 0))
		return 0;
	if (ctx->json) {
		int rc;

		if ((o = record_json(rec, ctx->now, false)) == NULL)
			return CA_ENOMEM;
		rc = json_element_print(o, ctx->count++);
		json_decref(o);
		return rc;
	}
	ctx->count++;
	serial_format(rec->serial, rec->serial_len, serial);
	cmd_time(rec->not_after, t);
	if (printf("%-40s  %-7s  %-20s  %s%s", serial, word, t,
	    rec->subject != NULL ? rec->subject : "",
	    service_cert(rec) ? "  [service HTTPS]" : "") < 0 ||
	    (rec->ca_id > STORE_CA_FIRST && printf("  [CA %" PRIu32 "]",
	    rec->ca_id) < 0) || putchar('\n') == EOF)
		return CA_EIO;
	return 0;
}

int
cmd_list(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "cn", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_ctx	 ctx;
	struct ca_error	 err;
	struct store	*st = NULL;
	const char	*cn = NULL;
	int		 ch, rc, status = CMD_FAIL;

	memset(&ctx, 0, sizeof(ctx));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (strcmp(optarg, "valid") == 0)
				ctx.filter = FILTER_VALID;
			else if (strcmp(optarg, "revoked") == 0)
				ctx.filter = FILTER_REVOKED;
			else if (strcmp(optarg, "expired") == 0)
				ctx.filter = FILTER_EXPIRED;
			else {
				cmd_fail("--status %s: expected valid, revoked "
				    "or expired", optarg);
				return CMD_USAGE;
			}
			break;
		case 'c':
			if (*optarg == '\0') {
				cmd_fail("--cn: expected a CN, not an empty "
				    "string");
				return CMD_USAGE;
			}
			cn = optarg;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			return cmd_usage_print("list", false);
		default:
			cmd_fail("list: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("list", true);
		}
	}
	if (optind != argc) {
		cmd_fail("list: unexpected argument '%s'", argv[optind]);
		return cmd_usage_print("list", true);
	}
	ctx.now = time_now();
	ca_error_clear(&err);
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (!ctx.json)
		printf("%-40s  %-7s  %-20s  %s\n", "SERIAL", "STATUS",
		    "NOT_AFTER", "SUBJECT");
	/* --cn seeks the store's CN index; --status alone reads its status's
	   index. */
	if (cn != NULL)
		rc = store_cert_foreach_cn(st, cn, NULL, 0, list_cb, &ctx,
		    &err);
	else if (ctx.filter != FILTER_ALL)
		rc = store_cert_foreach_status(st, ctx.filter == FILTER_VALID ?
		    STORE_FILTER_VALID : ctx.filter == FILTER_REVOKED ?
		    STORE_FILTER_REVOKED : STORE_FILTER_EXPIRED, ctx.now, NULL,
		    0, 0, list_cb, &ctx, &err);
	else
		rc = store_cert_foreach(st, NULL, 0, list_cb, &ctx, &err);
	if (rc != CA_OK) {
		status = cmd_fail("listing the store: %s", err.msg[0] ?
		    err.msg : "output failed");
		goto out;
	}
	if (ctx.json && fputs(ctx.count == 0 ? "[]\n" : "\n]\n", stdout) ==
	    EOF) {
		status = cmd_fail("listing the store: output failed");
		goto out;
	}
	if (fflush(stdout) == EOF) {
		status = cmd_fail("listing the store: output failed");
		goto out;
	}
	status = CMD_OK;
out:
	store_close(st);
	return status;
}

int
cmd_show(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
		{ "pem", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ca_error		 err;
	struct store		*st = NULL;
	struct cert_record	 rec;
	uint8_t			 serial[SERIAL_MAX + 1];
	size_t			 serial_len;
	char			 hex[SERIAL_HEX_MAX + 2], t[21], issuer[512];
	char			*pem = NULL, *text = NULL;
	const char		*reason;
	json_t			*o = NULL;
	bool			 want_pem = false, json = false;
	int64_t			 now = time_now();
	int			 ch, status = CMD_FAIL;

	memset(&rec, 0, sizeof(rec));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			want_pem = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_usage_print("show", false);
		default:
			cmd_fail("show: unknown option or missing value: %s",
			    argv[optind - 1]);
			return cmd_usage_print("show", true);
		}
	}
	if (argc - optind != 1) {
		cmd_fail("show: expected one SERIAL");
		return cmd_usage_print("show", true);
	}
	ca_error_clear(&err);
	if (serial_parse(argv[optind], serial, &serial_len, &err) != CA_OK) {
		cmd_fail_err(&err);
		return CMD_USAGE;
	}
	serial_format(serial, serial_len, hex);
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK) {
		status = cmd_fail_err(&err);
		goto out;
	}
	if (store_cert_get(st, serial, serial_len, &rec, &err) != CA_OK) {
		status = err.code == CA_ENOENT ? cmd_fail("serial %s is not in "
		    "the store", hex) : cmd_fail_err(&err);
		goto out;
	}
	if (json) {
		if ((o = record_json(&rec, now, true)) == NULL ||
		    (text = json_dumps(o, JSON_INDENT(2))) == NULL) {
			status = cmd_fail("out of memory");
			goto out;
		}
		printf("%s\n", text);
		status = CMD_OK;
		goto out;
	}
	if (want_pem) {
		if (rec.der == NULL || rec.der_len == 0) {
			status = cmd_fail("serial %s: the store has no "
			    "certificate for it (imported from index.txt "
			    "without --certs, or revoked with --force)", hex);
			goto out;
		}
		if (pem_of(&rec, &pem) != CA_OK) {
			status = cmd_fail("serial %s: cannot encode the "
			    "certificate as PEM", hex);
			goto out;
		}
		fputs(pem, stdout);
		status = CMD_OK;
		goto out;
	}
	printf("serial:      %s\n", hex);
	printf("status:      %s\n", cmd_status_word(&rec, now));
	printf("subject:     %s\n", rec.subject != NULL ? rec.subject : "-");
	cmd_time(rec.not_before, t);
	printf("not before:  %s\n", t);
	cmd_time(rec.not_after, t);
	printf("not after:   %s\n", t);
	cmd_time(rec.issued_at, t);
	printf("issued:      %s\n", t);
	printf("profile:     %s\n", rec.profile[0] != '\0' ? rec.profile :
	    "(imported)");
	issuer_of(&rec, issuer, sizeof(issuer));
	printf("issuer:      CA %" PRIu32 "%s%s%s\n", rec.ca_id >
	    STORE_CA_FIRST ? rec.ca_id : STORE_CA_FIRST, issuer[0] ? " (" : "",
	    issuer, issuer[0] ? ")" : "");
	if (service_cert(&rec))
		printf("role:        this service's own HTTPS certificate "
		    "(issued by serve)\n");
	if (rec.status == CERT_STATUS_REVOKED) {
		cmd_time(rec.revoked_at, t);
		reason = ca_reason_name(rec.reason);
		printf("revoked:     %s (%s)\n", t, reason != NULL ? reason :
		    "unspecified");
	}
	printf("certificate: %s\n", rec.der != NULL && rec.der_len > 0 ?
	    "recorded (show --pem prints it)" : "not recorded");
	status = CMD_OK;
out:
	json_decref(o);
	free(text);
	free(pem);
	cert_record_clear(&rec);
	store_close(st);
	return status;
}
