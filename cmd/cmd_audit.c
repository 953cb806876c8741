/*
 * `mtlsca audit [--from N] [--json]`: print the store's audit log (who did
 * what, when), one entry per line, oldest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"
#include "cmd/config.h"
#include "common/util.h"
#include "store/store.h"

struct audit_ctx {
	bool		json;
	unsigned long	n;
};

static int
print_entry(const struct store_audit *a, void *arg)
{
	struct audit_ctx	*ac = arg;
	char			 t[21];

	time_format(a->at, t);
	ac->n++;
	if (ac->json) {
		json_t	*o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq",
		    (json_int_t)a->seq, "at", t, "who", a->who ? a->who : "",
		    "action", a->action ? a->action : "", "detail",
		    a->detail ? a->detail : "");
		char	*s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		json_decref(o);
		if (s == NULL)
			return CA_ENOMEM;
		printf("%s\n", s);
		free(s);
		return 0;
	}
	printf("%llu\t%s\t%s\t%s\t%s\n", (unsigned long long)a->seq, t,
	    a->who ? a->who : "", a->action ? a->action : "",
	    a->detail ? a->detail : "");
	return 0;
}

int
cmd_audit(int argc, char **argv, struct config *cfg)
{
	struct store		*st = NULL;
	struct ca_error		 err;
	struct audit_ctx	 ac = { false, 0 };
	uint64_t		 from = 0;
	int			 ret = 1;

	ca_error_clear(&err);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			return cmd_usage_print("audit", false);
		} else if (strcmp(argv[i], "--json") == 0) {
			ac.json = true;
		} else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc &&
		    parse_u64(argv[i + 1], 0, UINT64_MAX, &from) == CA_OK) {
			i++;
		} else {
			return cmd_usage_print("audit", true);
		}
	}
	if (cmd_store_open(cfg, true, &st, &err) != CA_OK ||
	    store_audit_foreach(st, from, print_entry, &ac, &err) < 0) {
		fprintf(stderr, "mtlsca: audit: %s\n", err.msg);
		goto out;
	}
	if (!ac.json && ac.n == 0)
		fprintf(stderr, "mtlsca: the audit log is empty\n");
	ret = 0;
out:
	store_close(st);
	return ret;
}
