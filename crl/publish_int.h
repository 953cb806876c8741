/* Internal to crl/publish*.c: the publisher set and its helpers. */
#ifndef MTLSCA_CRL_PUBLISH_INT_H
#define MTLSCA_CRL_PUBLISH_INT_H

#include "crl/aws.h"
#include "crl/crl.h"

struct publisher {
	struct crl_publisher_conf	 conf;
	struct crl_publishers		*set;
	struct aws_client		*aws;		/* s3, alb */
	struct publisher		*s3;		/* alb: its s3 publisher */
	char				 prefix[260];	/* s3: "" or "p/" */
	bool				 reconciled;	/* alb */
	/* s3: the CRL number whose objects this process last put, so that
	 * alb knows the key it may hand to AddTrustStoreRevocations. */
	uint64_t			 put_number;
	char				 put_key[512];
};

struct crl_publishers {
	struct ca			*ca;
	struct store			*st;
	struct crl_publish_options	 opt;
	struct publisher		*pub;
	size_t				 n;
	char				*bundle;	/* the CA bundle PEM */
	size_t				 bundle_len;
	char				 bundle_sha256[65];
};

/* Facts the gate learnt about a CRL, handed to the publishers. */
struct gate_facts {
	int64_t		newest_revocation;	/* 0 when no entry */
};

void pub_log(struct crl_publishers *set, enum crl_publish_log level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int pub_state_put(struct store *st, const struct crl_publisher_state *s,
    struct ca_error *err);

/* publish_aws.c */
int pub_s3_run(struct publisher *p, const struct crl_result *crl,
    struct crl_publisher_state *s, struct ca_error *err);
int pub_alb_run(struct publisher *p, const struct crl_result *crl,
    struct crl_publisher_state *s, struct ca_error *err);
int pub_alb_reconcile(struct publisher *p, struct crl_publisher_state *s,
    struct ca_error *err);

#endif
