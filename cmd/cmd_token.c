/*
 * `mtlsca token`: enrollment tokens.
 *   token hash [TOKEN]      SHA-256 hex of TOKEN (or of stdin's first line),
 *                           for the configuration's static tokens and
 *                           admin token hashes
 *   token generate          a new random token and its hash (static tokens)
 *   token create --profile P [--cn CN] [--san dns:NAME]... [--ttl 24h]
 *       [--uses 1]
 *                           a one-time token, kept in the store by its hash
 *   token list [--all]      the store's tokens, by ID (4 bytes of the hash)
 *   token revoke ID         delete one from the store
 * A token is printed once and never stored or logged in clear.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "cmd/config.h"
#include "common/util.h"
#include "store/store.h"

static void
usage(void)
{
	(void)cmd_usage_print("token", true);
}

/* Print o (pretty) on stdout and free it. */
static int
json_print(json_t *o)
{
	char	*text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	int	 ret = 0;

	if (text == NULL) {
		fprintf(stderr, "mtlsca: token: out of memory\n");
		ret = 1;
	} else
		printf("%s\n", text);
	if (text != NULL)
		gnutls_memset(text, 0, strlen(text));
	free(text);
	json_decref(o);
	return ret;
}

/* A token's ID: the first TOKEN_ID_BYTES of its hash in hex, as the audit
   log names it ("token=ab12cd34"). */
#define TOKEN_ID_BYTES	4

/* Is --json among argv[from..]? Removes it (argc shrinks). */
static bool
take_json(int *argc, char **argv, int from)
{
	bool found = false;
	int  o = from;

	for (int i = from; i < *argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			found = true;
			continue;
		}
		argv[o++] = argv[i];
	}
	*argc = o;
	return found;
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
token_generate(bool json)
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
	if (json) {
		int ret = json_print(json_pack("{s:s, s:s}", "token", tok,
		    "sha256", hex));

		gnutls_memset(tok, 0, sizeof(tok));
		return ret;
	}
	printf("token:  %s\nsha256: %s\n", tok, hex);
	gnutls_memset(tok, 0, sizeof(tok));
	return 0;
}

static int
token_create(int argc, char **argv, struct config *cfg, bool json)
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
	if (json) {
		json_t	*a = json_array(), *o;

		hex_format(h, TOKEN_ID_BYTES, hex);
		for (size_t i = 0; a != NULL && i < n_sans; i++)
			json_array_append_new(a, json_string(sans[i]));
		o = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b, s:I, s:s}",
		    "token", text, "id", hex, "profile", profile, "cn",
		    cn[0] ? cn : NULL, "sans", a != NULL ? a : json_array(),
		    "bound", cn[0] != '\0' || n_sans > 0, "uses",
		    (json_int_t)uses, "expires_at", exp);
		if (json_print(o) != 0)
			goto out;
		ret = 0;
		goto out;
	}
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

/* ---- token list, token revoke ---- */

struct token_walk {
	int64_t		 now;
	bool		 all, json;
	json_t		*array;		/* list: the tokens shown */
	/* revoke: the ID's digits and what matched */
	const char	*prefix;
	size_t		 matches;
	uint8_t		 hash[CA_HASH_LEN];
	struct store_token tok;
};

static const char *
token_state(const struct store_token *tok, int64_t now)
{
	if (now >= tok->expires_at)
		return "expired";
	if (tok->uses_left == 0)
		return "used";
	return "usable";
}

/*
 * Each token as a JSON object in w->array (printed, as JSON or as a
 * table, once the read transaction is over). Never the token, never its
 * whole hash: the ID is 4 bytes of it.
 */
static int
list_cb(const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, void *arg)
{
	struct token_walk	*w = arg;
	const char		*state = token_state(tok, w->now);
	char			 id[2 * TOKEN_ID_BYTES + 1], exp[21], cr[21];
	json_t			*sans = json_array(), *o;

	if (sans == NULL)
		return CA_ENOMEM;
	if (!w->all && strcmp(state, "usable") != 0) {
		json_decref(sans);
		return CA_OK;
	}
	hex_format(hash, TOKEN_ID_BYTES, id);
	time_format(tok->expires_at, exp);
	time_format(tok->created_at, cr);
	for (size_t i = 0; i < tok->n_sans; i++)
		json_array_append_new(sans, json_string(tok->sans[i]));
	o = json_pack("{s:s, s:s, s:s?, s:o, s:b, s:I, s:s, s:s, s:s}",
	    "id", id, "profile", tok->profile, "cn", tok->cn[0] ? tok->cn :
	    NULL, "sans", sans, "bound", tok->cn[0] != '\0' || tok->n_sans > 0,
	    "uses_left", (json_int_t)tok->uses_left, "created_at", cr,
	    "expires_at", exp, "state", state);
	if (o == NULL || json_array_append_new(w->array, o) != 0)
		return CA_ENOMEM;
	return CA_OK;
}

/* One line of `token list`: ID, profile, state, uses, expiry, binding. */
static void
list_line(json_t *t)
{
	json_t	*cn = json_object_get(t, "cn"), *sans = json_object_get(t,
	    "sans"), *v;
	size_t	 i;

	printf("%-8s  %-16s  %-7s  %9lld  %-20s  ",
	    json_string_value(json_object_get(t, "id")),
	    json_string_value(json_object_get(t, "profile")),
	    json_string_value(json_object_get(t, "state")),
	    (long long)json_integer_value(json_object_get(t, "uses_left")),
	    json_string_value(json_object_get(t, "expires_at")));
	if (json_is_null(cn) && json_array_size(sans) == 0)
		printf("-");
	if (json_is_string(cn))
		printf("CN=%s", json_string_value(cn));
	json_array_foreach(sans, i, v)
		printf("%s%s", i > 0 || json_is_string(cn) ? " " : "",
		    json_string_value(v));
	printf("\n");
}

static int
token_list(int argc, char **argv, struct config *cfg, bool json)
{
	struct token_walk	 w;
	struct store		*st = NULL;
	struct ca_error		 err;
	int			 ret = 1;

	memset(&w, 0, sizeof(w));
	w.now = time_now();
	w.json = json;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			w.all = true;
		else {
			fprintf(stderr, "mtlsca: token list: unexpected "
			    "argument '%s'\n", argv[i]);
			usage();
			return 2;
		}
	}
	ca_error_clear(&err);
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK)
		goto out;
	if ((w.array = json_array()) == NULL) {
		ca_error_set(&err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if (store_token_foreach(st, list_cb, &w, &err) != CA_OK)
		goto out;
	if (json) {
		ret = json_print(w.array);
		w.array = NULL;
		goto out;
	}
	printf("%-8s  %-16s  %-7s  %9s  %-20s  %s\n", "ID", "PROFILE",
	    "STATE", "USES_LEFT", "EXPIRES", "BOUND_TO");
	for (size_t i = 0; i < json_array_size(w.array); i++)
		list_line(json_array_get(w.array, i));
	if (json_array_size(w.array) == 0)
		fprintf(stderr, "mtlsca: no %stokens in the store%s\n",
		    w.all ? "" : "usable ", w.all ? "" : " (--all shows "
		    "expired and used ones)");
	ret = 0;
out:
	if (ret != 0 && err.msg[0] != '\0')
		fprintf(stderr, "mtlsca: token list: %s\n", err.msg);
	json_decref(w.array);
	store_close(st);
	return ret;
}

static int
match_cb(const uint8_t hash[STORE_TOKEN_HASH_LEN],
    const struct store_token *tok, void *arg)
{
	struct token_walk	*w = arg;
	char			 hex[2 * CA_HASH_LEN + 1];

	hex_format(hash, CA_HASH_LEN, hex);
	if (strncasecmp(hex, w->prefix, strlen(w->prefix)) != 0)
		return CA_OK;
	if (w->matches++ == 0) {
		memcpy(w->hash, hash, CA_HASH_LEN);
		w->tok = *tok;
	}
	return CA_OK;
}

/*
 * Delete the token whose hash starts with ID (8 to 64 hex digits), with
 * its audit entry in the same transaction. An ID that two tokens share is
 * refused: say more digits. The service looks tokens up in the store on
 * every request, so the next use is refused (403, token_unknown).
 */
static int
token_revoke(int argc, char **argv, struct config *cfg, bool json)
{
	struct token_walk	 w;
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct ca_error		 err;
	char			 id[2 * TOKEN_ID_BYTES + 1], who[96];
	char			 detail[STORE_PROFILE_MAX + 64];
	size_t			 n;
	int			 ret = 1;

	if (argc != 3) {
		usage();
		return 2;
	}
	n = strlen(argv[2]);
	if (n < 2 * TOKEN_ID_BYTES || n > 2 * CA_HASH_LEN ||
	    strspn(argv[2], "0123456789abcdefABCDEF") != n) {
		fprintf(stderr, "mtlsca: token revoke: ID is 8 to 64 hex "
		    "digits (the ID column of `mtlsca token list`)\n");
		return 2;
	}
	memset(&w, 0, sizeof(w));
	w.prefix = argv[2];
	ca_error_clear(&err);
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    store_token_foreach(st, match_cb, &w, &err) != CA_OK)
		goto out;
	if (w.matches == 0) {
		ca_error_set(&err, CA_ENOENT, "no token with ID %s in the "
		    "store (tokens in the configuration are removed from it)",
		    argv[2]);
		goto out;
	}
	if (w.matches > 1) {
		ca_error_set(&err, CA_EEXIST, "%zu tokens have an ID starting "
		    "with %s: give more digits of its hash", w.matches,
		    argv[2]);
		goto out;
	}
	hex_format(w.hash, TOKEN_ID_BYTES, id);
	cmd_who(who, sizeof(who));
	snprintf(detail, sizeof(detail), "token=%s profile=%s", id,
	    w.tok.profile);
	if (store_txn_begin(st, &txn, &err) != CA_OK)
		goto out;
	if (store_txn_token_delete(txn, w.hash, &err) != CA_OK ||
	    store_txn_audit_append(txn, time_now(), who, "token-revoke",
	    detail, &err) != CA_OK)
		goto out;
	ret = store_txn_commit(txn, &err) == CA_OK ? 0 : 1;
	txn = NULL;
	if (ret != 0)
		goto out;
	if (json)
		ret = json_print(json_pack("{s:s, s:s, s:b}", "id", id,
		    "profile", w.tok.profile, "revoked", 1));
	else
		printf("token %s (profile %s) revoked\n", id, w.tok.profile);
out:
	store_txn_abort(txn);
	if (ret != 0 && err.msg[0] != '\0')
		fprintf(stderr, "mtlsca: token revoke: %s\n", err.msg);
	store_close(st);
	return ret;
}

int
cmd_token(int argc, char **argv, struct config *cfg)
{
	bool json;

	if (argc < 2) {
		usage();
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cmd_usage_print("token", false);
	if (strcmp(argv[1], "hash") == 0)
		return token_hash(argc, argv);
	json = take_json(&argc, argv, 2);
	if (strcmp(argv[1], "generate") == 0 && argc == 2)
		return token_generate(json);
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc, argv, cfg, json);
	if (strcmp(argv[1], "list") == 0)
		return token_list(argc, argv, cfg, json);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(argc, argv, cfg, json);
	usage();
	return 2;
}
