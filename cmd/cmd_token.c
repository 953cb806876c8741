/* Placeholder until the issue that builds `mtlsca token` lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_token(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: 'token' is not available in this build yet\n");
	return 1;
}
