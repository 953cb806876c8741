/*
 * Replay a fuzz target's corpus once, without libFuzzer (as Knot DNS does):
 * every file named on the command line, and every file in every directory
 * named, is handed to LLVMFuzzerTestOneInput. CTest runs one such program
 * per target (fuzz.<target>), in the plain build and under ASan+UBSan, so
 * that every corpus — the seeds and each input that once found a bug — is
 * exercised on every CI run. A crash, a sanitizer report or an assert
 * fails the test; so does a corpus with no input at all.
 *
 *   replay_fuzz_csr tests/data/csr/accept tests/data/csr/reject
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path, unsigned long *n)
{
	uint8_t		*buf = NULL;
	size_t		 len;
	struct ca_error	 e;

	if (file_read(path, 16u << 20, &buf, &len, &e) != CA_OK) {
		fprintf(stderr, "replay: %s\n", e.msg);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	(*n)++;
	return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
main(int argc, char **argv)
{
	unsigned long	n = 0;
	int		rc = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent	**ents;
		struct stat	  sb;
		int		  k;

		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "replay: %s: no such file\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			rc |= replay_file(argv[i], &n);
			continue;
		}
		if ((k = scandir(argv[i], &ents, NULL, by_name)) < 0) {
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 1;
		}
		for (int j = 0; j < k; j++) {
			char path[4096];

			if (ents[j]->d_name[0] != '.' &&
			    snprintf(path, sizeof(path), "%s/%s", argv[i],
			    ents[j]->d_name) < (int)sizeof(path) &&
			    stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
				rc |= replay_file(path, &n);
			free(ents[j]);
		}
		free(ents);
	}
	printf("replayed %lu inputs\n", n);
	return rc != 0 || n == 0;
}
