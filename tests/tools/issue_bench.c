/*
 * In-process issuance rate: what the HTTPS service is measured against.
 * Each iteration does what a request does minus HTTP and the store: parse
 * the CSR and verify its self-signature (ca_csr_parse), build and sign the
 * certificate (ca_issue). One thread per core by default.
 *
 *   issue_bench CA_CERT CA_KEY CSR_FILE [SECONDS] [THREADS]
 *
 * Prints "threads N seconds S issued K rate R/s", then the thread CPU time
 * per certificate of each part: "parse_us P issue_us I" (CSR parse and
 * verify, certificate build and sign; the CPU split of issue 15).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "common/util.h"

static struct ca		*ca;
static struct ca_profile	 prof;
static uint8_t			*csr_buf;
static size_t			 csr_len;
static atomic_ullong		 issued;
static atomic_bool		 stop;
static atomic_int		 failed;
static atomic_ullong		 parse_ns, issue_ns;

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
worker(void *arg)
{
	struct ca_error	err;

	(void)arg;
	while (!atomic_load(&stop)) {
		struct ca_csr		*csr = NULL;
		struct ca_issued	 iss;
		uint64_t		 t0 = cpu_ns(), t1 = 0;
		int			 rc;

		memset(&iss, 0, sizeof(iss));
		rc = ca_csr_parse(csr_buf, csr_len, &csr, &err);
		if (rc == CA_OK) {
			t1 = cpu_ns();
			rc = ca_issue(ca, csr, &prof, 0, time_now(), &iss, &err);
			ca_issued_clear(&iss);
			ca_csr_free(csr);
			csr = NULL;
			atomic_fetch_add(&parse_ns, t1 - t0);
			atomic_fetch_add(&issue_ns, cpu_ns() - t1);
		}
		if (rc != CA_OK) {
			fprintf(stderr, "issue_bench: %s\n", err.msg);
			atomic_store(&failed, 1);
			atomic_store(&stop, true);
		} else {
			atomic_fetch_add(&issued, 1);
		}
		ca_csr_free(csr);
	}
	return NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct ca_paths	 paths;
	struct ca_error	 err;
	pthread_t	*th;
	double		 secs = 5, t0, t1;
	long		 n = sysconf(_SC_NPROCESSORS_ONLN);

	if (argc < 4) {
		fprintf(stderr, "usage: issue_bench CA_CERT CA_KEY CSR "
		    "[SECONDS] [THREADS]\n");
		return 2;
	}
	if (argc > 4)
		secs = atof(argv[4]);
	if (argc > 5)
		n = atol(argv[5]);
	if (n < 1)
		n = 1;
	paths.cert = argv[1];
	paths.key = argv[2];
	if (ca_open(&paths, &ca, &err) != CA_OK ||
	    file_read(argv[3], CA_CSR_MAX, &csr_buf, &csr_len, &err) != CA_OK) {
		fprintf(stderr, "issue_bench: %s\n", err.msg);
		return 1;
	}
	ca_profile_default(&prof);
	th = calloc((size_t)n, sizeof(*th));
	t0 = now_s();
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	while (now_s() - t0 < secs && !atomic_load(&stop))
		usleep(50000);
	atomic_store(&stop, true);
	for (long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	t1 = now_s();
	printf("threads %ld seconds %.2f issued %llu rate %.0f/s\n", n,
	    t1 - t0, (unsigned long long)atomic_load(&issued),
	    atomic_load(&issued) / (t1 - t0));
	if (atomic_load(&issued) > 0)
		printf("parse_us %.1f issue_us %.1f\n",
		    atomic_load(&parse_ns) / 1e3 / atomic_load(&issued),
		    atomic_load(&issue_ns) / 1e3 / atomic_load(&issued));
	free(th);
	free(csr_buf);
	ca_free(ca);
	return atomic_load(&failed) ? 1 : 0;
}
