/* Placeholder until the issue that builds `mtlsca serve` lands. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_serve(int argc, char **argv, struct config *cfg)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	fprintf(stderr, "mtlsca: 'serve' is not available in this build yet\n");
	return 1;
}
