/*
 * `mtlsca completion bash`: a bash completion script made from the usage
 * texts (cmd_common.c), so that a command or an option added there is
 * completed without a second list to keep in step. Options followed by
 * FILE, F or PATH complete file names, by DIR directories; a few take a
 * fixed set of words.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/cmd_int.h"

#define OPT_MAX		48
#define OPTS_MAX	64

/* Words after "mtlsca CMD" that are not options: subcommands. */
static const struct {
	const char	*cmd;
	const char	*words;
} subcommands[] = {
	{ "token", "hash generate create list revoke" },
	{ "admin", "token rotate" },
	{ "ca", "rotate list" },
	{ "completion", "bash" },
};

/* Options with a fixed set of values. */
static const struct {
	const char	*opt;
	const char	*words;
} values[] = {
	{ "--key-type", "rsa2048 rsa3072 rsa4096 ecdsa-p256 ecdsa-p384 "
	    "ecdsa-p521" },
	{ "--reason", "unspecified keyCompromise cACompromise "
	    "affiliationChanged superseded cessationOfOperation "
	    "certificateHold privilegeWithdrawn aACompromise" },
	{ "--status", "valid revoked expired" },
};

struct optset {
	char	name[OPTS_MAX][OPT_MAX];
	char	arg[OPTS_MAX];		/* 'f' file, 'd' directory, 0 none */
	size_t	n;
};

static void
optset_add(struct optset *s, const char *name, size_t len, char arg)
{
	if (len >= OPT_MAX)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->name[i]) == len &&
		    memcmp(s->name[i], name, len) == 0) {
			if (arg != 0)
				s->arg[i] = arg;
			return;
		}
	if (s->n == OPTS_MAX)
		return;
	memcpy(s->name[s->n], name, len);
	s->name[s->n][len] = '\0';
	s->arg[s->n++] = arg;
}

/* Every "--word" in text, and what kind of argument follows it. */
static void
options_of(const char *text, struct optset *s)
{
	for (const char *p = text; (p = strstr(p, "--")) != NULL; ) {
		const char	*q = p + 2;
		char		 arg = 0;

		if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-')) {
			p = q;
			continue;
		}
		while (islower((unsigned char)*q) || isdigit((unsigned char)*q)
		    || *q == '-')
			q++;
		if (q - p > 2 && q[-1] != '-') {
			if (strncmp(q, " FILE", 5) == 0 ||
			    strncmp(q, " PATH", 5) == 0 ||
			    (strncmp(q, " F", 2) == 0 && !isalpha((unsigned char)
			    q[2])))
				arg = 'f';
			else if (strncmp(q, " DIR", 4) == 0)
				arg = 'd';
			optset_add(s, p, (size_t)(q - p), arg);
		}
		p = q;
	}
}

static void
print_bash(void)
{
	struct optset	 all, one;	/* about 3 KB each */
	const char	*name, *text;

	memset(&all, 0, sizeof(all));
	printf("# bash completion for mtlsca; made by `mtlsca completion "
	    "bash`.\n# source <(mtlsca completion bash), or install as\n"
	    "# /usr/share/bash-completion/completions/mtlsca\n\n"
	    "_mtlsca()\n{\n"
	    "\tlocal cur prev cmd i opts\n"
	    "\tcur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
	    "\tprev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	    "\tcmd=\"\"\n"
	    "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tcase \"${COMP_WORDS[i]}\" in\n"
	    "\t\t--config|--data-dir) ((i++)) ;;\n"
	    "\t\t-*) ;;\n"
	    "\t\t*) cmd=\"${COMP_WORDS[i]}\"; break ;;\n"
	    "\t\tesac\n"
	    "\tdone\n");
	for (size_t i = 0; (text = cmd_usage_at(i, &name)) != NULL; i++)
		options_of(text, &all);
	optset_add(&all, "--config", 8, 'f');
	optset_add(&all, "--data-dir", 10, 'd');
	/* Arguments: files, directories, fixed words. */
	printf("\tcase \"$prev\" in\n");
	for (char kind = 'd'; kind != 0; kind = kind == 'd' ? 'f' : 0) {
		bool first = true;

		for (size_t i = 0; i < all.n; i++)
			if (all.arg[i] == kind) {
				printf("%s%s", first ? "\t" : "|", all.name[i]);
				first = false;
			}
		if (!first)
			printf(")\n\t\tCOMPREPLY=($(compgen -%s -- \"$cur\"))\n"
			    "\t\treturn ;;\n", kind == 'd' ? "d" : "f");
	}
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		printf("\t%s)\n\t\tCOMPREPLY=($(compgen -W \"%s\" -- "
		    "\"$cur\"))\n\t\treturn ;;\n", values[i].opt,
		    values[i].words);
	printf("\tesac\n");
	/* No command yet: the commands and the global options. */
	printf("\tif [[ -z $cmd ]]; then\n\t\tCOMPREPLY=($(compgen -W \"");
	for (size_t i = 0; (text = cmd_usage_at(i, &name)) != NULL; i++)
		printf("%s ", name);
	printf("help --config --data-dir --help --version\" -- \"$cur\"))\n"
	    "\t\treturn\n\tfi\n");
	/* A command's options (and subcommands). */
	printf("\tcase \"$cmd\" in\n");
	for (size_t i = 0; (text = cmd_usage_at(i, &name)) != NULL; i++) {
		memset(&one, 0, sizeof(one));
		options_of(text, &one);
		printf("\t%s)\n\t\topts=\"", name);
		for (size_t k = 0; k < sizeof(subcommands) /
		    sizeof(subcommands[0]); k++)
			if (strcmp(subcommands[k].cmd, name) == 0)
				printf("%s ", subcommands[k].words);
		for (size_t k = 0; k < one.n; k++)
			printf("%s ", one.name[k]);
		printf("--help\" ;;\n");
	}
	printf("\thelp)\n\t\topts=\"");
	for (size_t i = 0; (text = cmd_usage_at(i, &name)) != NULL; i++)
		printf("%s ", name);
	printf("\" ;;\n\t*)\n\t\topts=\"--help\" ;;\n\tesac\n"
	    "\tCOMPREPLY=($(compgen -W \"$opts --config --data-dir\" -- "
	    "\"$cur\"))\n}\n\ncomplete -o default -F _mtlsca mtlsca\n");
}

int
cmd_completion(int argc, char **argv, struct config *cfg)
{
	(void)cfg;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return cmd_usage_print("completion", false);
	if (argc != 2 || strcmp(argv[1], "bash") != 0) {
		cmd_fail("completion: expected `completion bash` (the only "
		    "shell supported)");
		return cmd_usage_print("completion", true);
	}
	print_bash();
	return CMD_OK;
}
