/* Placeholder until the issue that builds `mtlsca audit` lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_audit(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: 'audit' is not available in this build yet\n");
	return 1;
}
