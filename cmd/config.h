/*
 * The configuration, loaded from a libconfig file (see ca.conf.example) or
 * the embedded defaults when no file is given. Only cmd/ sees libconfig; the
 * other modules get plain values from this struct.
 */
#ifndef MTLSCA_CMD_CONFIG_H
#define MTLSCA_CMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/err.h"
#include "common/log.h"

#define CONFIG_PATH_MAX		1024
#define CONFIG_PROFILES_MAX	16
#define CONFIG_LIST_MAX		32
#define CONFIG_PUBLISHERS_MAX	8
#define CONFIG_STR_MAX		512

enum publisher_type { PUBLISHER_DIR, PUBLISHER_S3, PUBLISHER_ALB,
	PUBLISHER_EXEC };
#define CONFIG_ARGV_MAX		16

struct config_publisher {
	enum publisher_type	type;
	char	name[64];
	/* dir */
	char	path[CONFIG_PATH_MAX];
	/* s3 */
	char	bucket[256];
	char	prefix[256];
	char	region[64];
	char	endpoint[CONFIG_STR_MAX];	/* "" = AWS */
	/* alb */
	char	trust_store_arn[CONFIG_STR_MAX];
	char	s3_publisher[64];		/* name of the s3 publisher */
	char	imds_endpoint[CONFIG_STR_MAX];	/* "" = http://169.254.169.254 */
	/* alb: more CA certificates for the trust store, and those to take
	   out of it (SHA-256, lower-case hex) */
	char	extra_ca_files[8][CONFIG_PATH_MAX];
	size_t	n_extra_ca_files;
	char	remove_ca_fingerprints[25][65];
	size_t	n_remove_ca_fingerprints;
	/* exec */
	char	command[CONFIG_ARGV_MAX][CONFIG_STR_MAX];
	size_t	n_command;
	int64_t	timeout;			/* seconds, 30 */
};

/* config.source without a file. */
#define CONFIG_SOURCE_DEFAULTS	"(defaults)"

struct config {
	char		source[CONFIG_PATH_MAX];	/* file, or "(defaults)" */
	char		data_dir[CONFIG_PATH_MAX];	/* default ./mtlsca-data */

	/* store */
	uint64_t	map_size;			/* limit; 0 = the disk */
	unsigned	max_readers;			/* default 512 */

	/* ca: paths default to <data_dir>/ca.pem and <data_dir>/private/ca.key */
	char		ca_cert[CONFIG_PATH_MAX];
	char		ca_key[CONFIG_PATH_MAX];	/* path or pkcs11: URL */
	unsigned	ca_paths_explicit;		/* 1: cert set, 2: key set
							   in the file (else they
							   follow data_dir) */
	char		ca_subject[CONFIG_STR_MAX];	/* for init */
	enum ca_key_type ca_key_type;			/* for init */
	unsigned	ca_days;			/* for init, 1024 */

	/* crl */
	int64_t		crl_validity;			/* 7 d */
	int64_t		crl_keep_expired;		/* -1 = one validity */
	int64_t		crl_refresh;			/* 1 h */
	int64_t		crl_debounce;			/* 2 s */
	uint64_t	crl_warn_entries;		/* 250000 */
	uint64_t	crl_max_entries;		/* 500000 */

	/* profiles; profiles[0] is the default ("client" unless configured) */
	struct ca_profile profiles[CONFIG_PROFILES_MAX];
	size_t		n_profiles;
	/* static enrollment tokens: SHA-256 hex of the token, per profile */
	char		profile_tokens[CONFIG_PROFILES_MAX][CONFIG_LIST_MAX][65];
	size_t		n_profile_tokens[CONFIG_PROFILES_MAX];

	/* http */
	char		listen[64];			/* 127.0.0.1 */
	unsigned	https_port;			/* 8443; 0 = off */
	unsigned	http_port;			/* 8080; 0 = off */
	char		server_names[CONFIG_LIST_MAX][256];	/* localhost, 127.0.0.1 */
	size_t		n_server_names;
	char		tls_cert[CONFIG_PATH_MAX];	/* "" = issue one from the CA */
	char		tls_key[CONFIG_PATH_MAX];
	size_t		body_max;			/* 65536 */
	unsigned	max_connections;		/* 256 */
	unsigned	per_ip_connections;		/* 64 */
	unsigned	timeout;			/* seconds, 30 */
	unsigned	request_timeout;		/* seconds, 10 */
	unsigned	request_timeout_busy;		/* seconds, 2 */
	unsigned	per_ip_pending;			/* 32 */
	bool		thread_pool;			/* threading = "pool" */
	unsigned	threads;			/* pool size; 0 = cores */

	/* verify: the verifier behind the load balancer (GET /v1/verify) */
	char		verify_listen[64];		/* 127.0.0.1 */
	unsigned	verify_port;			/* 0 = no listener */
	char		verify_path[256];		/* "" = none */
	unsigned	verify_source;			/* enum http_verify_source */
	char		verify_header[128];		/* "" = the source's */
	char		verify_serial_header[128];
	char		verify_issuer_header[128];
	char		verify_proxies[CONFIG_LIST_MAX][64];	/* CIDRs */
	size_t		n_verify_proxies;		/* 0 = loopback */
	uint64_t	verify_cache;			/* 16384 */
	unsigned	verify_threads;			/* 0 = two per core */

	/* admins */
	char		admin_fingerprints[CONFIG_LIST_MAX][65];	/* SHA-256 hex */
	size_t		n_admin_fingerprints;
	char		admin_subjects[CONFIG_LIST_MAX][CONFIG_STR_MAX];
	size_t		n_admin_subjects;
	char		admin_token_hashes[CONFIG_LIST_MAX][65];
	size_t		n_admin_token_hashes;

	/* publishers */
	struct config_publisher publishers[CONFIG_PUBLISHERS_MAX];
	size_t		n_publishers;
	int64_t		publish_retry_min;		/* 5 s */
	int64_t		publish_retry_max;		/* 5 min */
	int64_t		publish_max_lag;		/* 15 min */

	/* log: serve's lines (common/log.h); both change on SIGHUP */
	enum log_level	log_level;			/* info */
	enum log_format	log_format;			/* text (journal under
							   journald) */
	/* backup: serve writes one every backup_every (0: never) to
	   backup_dir and/or the s3 publisher backup_s3's bucket
	   (PREFIX/backup/<time>.mtlsca-backup), keeping backup_keep */
	int64_t		backup_every;
	char		backup_dir[CONFIG_PATH_MAX];
	char		backup_s3[64];
	unsigned	backup_keep;			/* 7 */
	bool		backup_include_key;		/* false */
};

/* Fill *cfg with the embedded defaults (no file). */
void config_defaults(struct config *cfg);

/*
 * Load path over the defaults and validate it. A bad file is refused with
 * "FILE:LINE: what was expected" in err (CA_EINVAL); unknown keys are
 * refused too (a typo must not silently fall back to a default).
 */
int config_load(const char *path, struct config *cfg, struct ca_error *err);

/*
 * Override data_dir (--data-dir); the CA paths the file did not set follow
 * it. CA_EINVAL on an empty or too long path.
 */
int config_set_data_dir(struct config *cfg, const char *dir,
    struct ca_error *err);

/* The profile called name, or NULL. */
const struct ca_profile *config_profile(const struct config *cfg,
    const char *name);

/* Derived paths inside data_dir: "db", "public", "private". */
int config_path(const struct config *cfg, const char *name, char *out,
    size_t size);

#endif
