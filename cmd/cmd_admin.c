/*
 * `mtlsca admin token rotate`: a new admin token in place of the store's
 * (the one serve's first start printed). The old one stops working when
 * the store commits, in a running serve too (ca/ reads the hash on every
 * admin check). Printed once on stdout; only its SHA-256 is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <jansson.h>

#include "ca/ca.h"
#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "common/util.h"
#include "store/store.h"

static int
rotate(struct config *cfg, bool json)
{
	struct store	*st = NULL;
	struct ca_error	 err;
	char		 tok[CA_TOKEN_TEXT_MAX], id[9], detail[64];
	char		*text = NULL;
	uint8_t		 h[CA_HASH_LEN];
	json_t		*o = NULL;
	int		 status = CMD_FAIL;

	memset(tok, 0, sizeof(tok));
	ca_error_clear(&err);
	if (cmd_store_open(cfg, false, &st, &err) != CA_OK ||
	    ca_admin_token_rotate(st, tok, &err) != CA_OK) {
		status = cmd_fail("admin token rotate: %s", err.msg);
		goto out;
	}
	ca_token_hash(tok, h);
	hex_format(h, 4, id);
	snprintf(detail, sizeof(detail), "admin token=%s", id);
	cmd_audit_note(st, "admin-token-rotate", detail);
	if (json) {
		if ((o = json_pack("{s:s, s:s}", "token", tok, "id", id)) ==
		    NULL || (text = json_dumps(o, JSON_INDENT(2))) == NULL) {
			status = cmd_fail("admin token rotate: the new token is "
			    "in place but could not be printed (out of memory): "
			    "rotate again");
			goto out;
		}
		printf("%s\n", text);
	} else {
		printf("%s\n", tok);
		fprintf(stderr, "mtlsca: new admin token (ID %s) in place; the "
		    "previous one no longer works. It is shown once.\n", id);
	}
	status = CMD_OK;
out:
	if (text != NULL)
		gnutls_memset(text, 0, strlen(text));
	free(text);
	json_decref(o);
	gnutls_memset(tok, 0, sizeof(tok));
	store_close(st);
	return status;
}

int
cmd_admin(int argc, char **argv, struct config *cfg)
{
	bool	json = false;
	int	n = 0;
	char	*words[3];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cmd_usage_print("admin", false);
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (n < 3)
			words[n++] = argv[i];
		else
			n = 4;
	}
	if (n == 2 && strcmp(words[0], "token") == 0 &&
	    strcmp(words[1], "rotate") == 0)
		return rotate(cfg, json);
	cmd_fail("admin: expected `admin token rotate`");
	return cmd_usage_print("admin", true);
}
