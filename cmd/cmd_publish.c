/* Placeholder until the issue that builds `mtlsca publish` lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_publish(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: 'publish' is not available in this build yet\n");
	return 1;
}
