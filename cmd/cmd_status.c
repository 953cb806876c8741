/* Placeholder until the issue that builds `mtlsca status` lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_status(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: 'status' is not available in this build yet\n");
	return 1;
}
