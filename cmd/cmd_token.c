/*
 * `mtlsca token`: enrollment tokens.
 *   token hash [TOKEN]      SHA-256 hex of TOKEN (or of stdin's first line),
 *                           for the configuration's static tokens and
 *                           admin token hashes
 *   token generate          a new random token and its hash (static tokens)
 *   token create --profile P [--cn CN] [--san dns:NAME]... [--ttl 24h]
 *       [--uses 1]
 *                           a one-time token, kept in the store by its hash
 * A token is printed once and never stored or logged in clear.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "cmd/config.h"
#include "common/util.h"
#include "store/store.h"

static const char token_usage[] =
    "usage: mtlsca token hash [TOKEN]\n"
    "       mtlsca token generate\n"
    "       mtlsca token create --profile P [--cn CN] "
    "[--san dns:NAME|ip:ADDR|email:ADDR|uri:URI]... [--ttl 24h] "
    "[--uses 1]\n"
    "  A token made with --cn or --san is bound: it enrolls only that CN "
    "and\n  those subjectAltNames (none when only --cn is given).\n";

static void
usage(void)
{
	fputs(token_usage, stderr);
}

static int
token_hash(int argc, char **argv)
{
	char	line[1024];
	uint8_t	h[CA_HASH_LEN];
	char	hex[2 * CA_HASH_LEN + 1];
	size_t	n;

	if (argc > 3) {
		usage();
		return 2;
	}
	/* A longer token is refused, not cut: the hash of a prefix would
	   never match the token a client sends. */
	if (argc == 3) {
		if (strlen(argv[2]) >= sizeof(line)) {
			fprintf(stderr, "mtlsca: token hash: the token is "
			    "longer than %zu bytes\n", sizeof(line) - 1);
			return 1;
		}
		snprintf(line, sizeof(line), "%s", argv[2]);
	} else {
		if (fgets(line, sizeof(line), stdin) == NULL) {
			fprintf(stderr, "mtlsca: token hash: no token on "
			    "standard input\n");
			return 1;
		}
		n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int c = getc(stdin);

			if (c != EOF && c != '\n' && c != '\r') {
				gnutls_memset(line, 0, sizeof(line));
				fprintf(stderr, "mtlsca: token hash: the token "
				    "on standard input is longer than %zu "
				    "bytes\n", sizeof(line) - 1);
				return 1;
			}
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
	}
	if (line[0] == '\0') {
		fprintf(stderr, "mtlsca: token hash: empty token\n");
		return 1;
	}
	ca_token_hash(line, h);
	gnutls_memset(line, 0, sizeof(line));
	hex_format(h, sizeof(h), hex);
	printf("%s\n", hex);
	return 0;
}

static int
token_generate(void)
{
	char		tok[CA_TOKEN_TEXT_MAX], hex[2 * CA_HASH_LEN + 1];
	uint8_t		h[CA_HASH_LEN];
	struct ca_error	err;

	ca_error_clear(&err);
	if (ca_token_generate(tok, &err) != CA_OK) {
		fprintf(stderr, "mtlsca: token generate: %s\n", err.msg);
		return 1;
	}
	ca_token_hash(tok, h);
	hex_format(h, sizeof(h), hex);
	printf("token:  %s\nsha256: %s\n", tok, hex);
	gnutls_memset(tok, 0, sizeof(tok));
	return 0;
}

static int
token_create(int argc, char **argv, struct config *cfg)
{
	struct store_token	 tok;
	struct store		*st = NULL;
	char			 sans[STORE_TOKEN_SANS_MAX][STORE_CN_MAX];
	size_t			 n_sans = 0;
	struct ca_error		 err;
	struct passwd		*pw;
	const char		*profile = NULL, *cn = "";
	char			 text[CA_TOKEN_TEXT_MAX];
	char			 who[96], exp[21];
	char			 detail[STORE_CN_MAX + 128 +
	    STORE_TOKEN_SANS_MAX * STORE_CN_MAX];
	char			 hex[2 * CA_HASH_LEN + 1];
	uint8_t			 h[CA_HASH_LEN];
	int64_t			 ttl = 86400, now = time_now();
	uint64_t		 uses = 1;
	int			 ret = 1;

	ca_error_clear(&err);
	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			usage();
			return 2;
		}
		if (strcmp(a, "--profile") == 0) {
			profile = v;
		} else if (strcmp(a, "--cn") == 0) {
			cn = v;
		} else if (strcmp(a, "--san") == 0) {
			if (n_sans == STORE_TOKEN_SANS_MAX) {
				fprintf(stderr, "mtlsca: token create: at most "
				    "%d --san\n", STORE_TOKEN_SANS_MAX);
				return 2;
			}
			if (ca_san_parse(v, sans[n_sans], sizeof(sans[0]),
			    &err) != CA_OK) {
				fprintf(stderr, "mtlsca: token create: --san "
				    "%s\n", err.msg);
				return 2;
			}
			n_sans++;
		} else if (strcmp(a, "--ttl") == 0) {
			if (parse_duration(v, &ttl) != CA_OK || ttl <= 0) {
				fprintf(stderr, "mtlsca: token create: --ttl "
				    "takes a duration like 30m, 24h or 7d\n");
				return 2;
			}
		} else if (strcmp(a, "--uses") == 0) {
			if (parse_u64(v, 1, UINT32_MAX, &uses) != CA_OK) {
				fprintf(stderr, "mtlsca: token create: --uses "
				    "takes a whole number from 1\n");
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}
	if (profile == NULL) {
		if (cfg->n_profiles == 0) {
			usage();
			return 2;
		}
		profile = cfg->profiles[0].name;
	}
	if (config_profile(cfg, profile) == NULL) {
		fprintf(stderr, "mtlsca: token create: no profile '%s' in the "
		    "configuration\n", profile);
		return 1;
	}
	if (strlen(cn) >= STORE_CN_MAX) {
		fprintf(stderr, "mtlsca: token create: --cn is longer than "
		    "%d bytes\n", STORE_CN_MAX - 1);
		return 1;
	}
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK)
		goto out;
	if (ca_token_generate(text, &err) != CA_OK)
		goto out;
	memset(&tok, 0, sizeof(tok));
	snprintf(tok.profile, sizeof(tok.profile), "%s", profile);
	snprintf(tok.cn, sizeof(tok.cn), "%s", cn);
	memcpy(tok.sans, sans, n_sans * sizeof(sans[0]));
	tok.n_sans = n_sans;
	tok.created_at = now;
	tok.expires_at = now + ttl;
	tok.uses_left = (uint32_t)uses;
	ca_token_hash(text, h);
	if (store_token_put(st, h, &tok, &err) != CA_OK)
		goto out;
	pw = getpwuid(getuid());
	snprintf(who, sizeof(who), "cli:%s", pw ? pw->pw_name : "?");
	hex_format(h, 4, hex);
	time_format(tok.expires_at, exp);
	{
		size_t l = (size_t)snprintf(detail, sizeof(detail), "token=%s "
		    "profile=%s cn=%s uses=%llu expires=%s", hex, profile,
		    cn[0] ? cn : "*", (unsigned long long)uses, exp);

		for (size_t i = 0; i < n_sans && l < sizeof(detail); i++)
			l += (size_t)snprintf(detail + l, sizeof(detail) - l,
			    " san=%s", sans[i]);
	}
	if (store_audit_append(st, now, who, "token-create", detail, &err) !=
	    CA_OK)
		goto out;
	printf("%s\n", text);
	fprintf(stderr, "mtlsca: token for profile %s%s%s", profile,
	    cn[0] ? ", CN " : "", cn);
	for (size_t i = 0; i < n_sans; i++)
		fprintf(stderr, "%s%s", i == 0 ? ", subjectAltNames " : " ",
		    sans[i]);
	if ((cn[0] != '\0' || n_sans > 0))
		fprintf(stderr, " (bound: %s)", n_sans > 0 ? "no other "
		    "subjectAltName" : "no subjectAltName");
	fprintf(stderr, ", %llu use%s, expires %s\n",
	    (unsigned long long)uses, uses == 1 ? "" : "s", exp);
	ret = 0;
out:
	if (ret != 0)
		fprintf(stderr, "mtlsca: token create: %s\n", err.msg);
	gnutls_memset(text, 0, sizeof(text));
	store_close(st);
	return ret;
}

int
cmd_token(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(token_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "hash") == 0)
		return token_hash(argc, argv);
	if (strcmp(argv[1], "generate") == 0 && argc == 2)
		return token_generate();
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc, argv, cfg);
	usage();
	return 2;
}
