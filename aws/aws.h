/*
 * aws/ — a small AWS client: HTTP through libcurl (GnuTLS build) with one
 * connection-reusing handle per client, requests signed with SigV4
 * (aws/sigv4.h), the credentials chain, retries with exponential backoff
 * and jitter on throttling, 5xx and transport errors (never on other 4xx),
 * S3 object PUT/GET (path-style) and ELBv2 Query API calls with their XML
 * answers parsed by libxml2.
 *
 * It knows nothing of CRLs or publishers: publish/ is its user. It depends
 * only on common/, GnuTLS, libcurl, libxml2 and jansson; it is the only
 * module that includes <libxml/...>, and shares <curl/curl.h> with client/
 * alone (design note 7).
 *
 * No secret reaches an error message: errors name the credential source
 * ("environment", "web identity", "container"...) only.
 *
 * An aws_client is used by one thread at a time (each publisher owns one);
 * every function returns CA_OK or a negative enum ca_err and fills *err.
 */
#ifndef MTLSCA_AWS_AWS_H
#define MTLSCA_AWS_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "common/err.h"

struct aws_client;

struct aws_client_options {
	const char	*imds_endpoint;	/* NULL/"" = http://169.254.169.254 */
	/* For STS (web identity) when AWS_REGION is not set: the regional
	   endpoint https://sts.REGION.amazonaws.com; NULL/"" = global. */
	const char	*region;
	unsigned	 max_attempts;	/* 0 = 4 */
	unsigned	 base_delay_ms;	/* 0 = 200 */
	unsigned	 max_delay_ms;	/* 0 = 5000 */
	long		 timeout_s;	/* per attempt; 0 = 30 */
	long		 connect_timeout_s;	/* 0 = 5 */
	int64_t		 refresh_margin;	/* temporary credentials are
					   renewed this long before they
					   expire; 0 = 300 s */
};

int aws_client_new(const struct aws_client_options *opt,
    struct aws_client **out, struct ca_error *err);
void aws_client_free(struct aws_client *c);

#define AWS_KEY_MAX	128
#define AWS_SECRET_MAX	128
#define AWS_TOKEN_MAX	4096

struct aws_credentials {
	char	 access_key[AWS_KEY_MAX];
	char	 secret_key[AWS_SECRET_MAX];
	char	 session_token[AWS_TOKEN_MAX];	/* "" when none */
	int64_t	 expires;			/* 0 = does not expire */
	char	 source[32];	/* "environment", "web identity", "shared
				   file", "container", "instance role" */
};

/*
 * The credentials chain, in the order the AWS SDKs document:
 *   1. environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 *      AWS_SESSION_TOKEN;
 *   2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *      (+ AWS_ROLE_SESSION_NAME) exchanged with STS
 *      AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS, else the regional
 *      endpoint of AWS_REGION or the client's region);
 *   3. shared file: AWS_SHARED_CREDENTIALS_FILE, default
 *      ~/.aws/credentials, profile AWS_PROFILE, default "default";
 *   4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS) or
 *      _FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN
 *      (EKS Pod Identity);
 *   5. instance role: IMDSv2 (token PUT, role GET, credentials GET),
 *      unless AWS_EC2_METADATA_DISABLED=true.
 * A source that is not configured is skipped; the first that is decides:
 * its credentials, or its error (no fall back to another identity). When
 * none is configured, CA_EAUTH lists every source and why it was skipped.
 * Temporary credentials (2, 4, 5) are cached in the client and renewed
 * refresh_margin before they expire. The copy in *out must be wiped by the
 * caller (aws_credentials_wipe).
 */
int aws_credentials_get(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err);
void aws_credentials_wipe(struct aws_credentials *cr);

/* How many times the client fetched temporary credentials from a remote
   source (tests). */
unsigned aws_client_credential_fetches(const struct aws_client *c);

struct aws_response {
	long		 status;	/* HTTP status of the last attempt; 0 if
					   none got an answer */
	unsigned	 attempts;	/* 0: nothing sent (no credentials) */
	struct awsbuf	 body;
	char		 error_code[128];	/* AWS error code, if any */
	char		 error_message[512];
	char		 version_id[256];	/* S3 x-amz-version-id */
	char		 etag[128];
};
void aws_response_clear(struct aws_response *r);

/*
 * PUT s3://bucket/key through endpoint ("" = https://s3.REGION.amazonaws.com),
 * path-style, with x-amz-content-sha256 = SHA-256 of the body. CA_OK on 2xx;
 * CA_EAUTH on 403 (wrong key, signature mismatch), CA_EIO otherwise, with the
 * S3 error code and message in err.
 */
int aws_s3_put(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, const void *body, size_t len,
    const char *content_type, struct aws_response *resp, struct ca_error *err);
/* DELETE (S3 answers 204, also for a key that is not there). */
int aws_s3_delete(struct aws_client *c, const char *endpoint,
    const char *region, const char *bucket, const char *key,
    struct aws_response *resp, struct ca_error *err);
/* GET; CA_ENOENT on 404. The object is in resp->body. */
int aws_s3_get(struct aws_client *c, const char *endpoint, const char *region,
    const char *bucket, const char *key, struct aws_response *resp,
    struct ca_error *err);

/*
 * An ELBv2 Query API call: POST / with a form body Action=...&Version=
 * 2015-12-01&params, SigV4 service "elasticloadbalancing". endpoint "" =
 * https://elasticloadbalancing.REGION.amazonaws.com. On an AWS error the
 * code and message are in resp and err (CA_EAUTH for 403, CA_EPOLICY for a
 * 4xx refusal, CA_EIO for the rest). Throttling, 5xx answers and transport
 * failures are retried up to max_attempts, except that
 * AddTrustStoreRevocations, which adds a list each time it runs, is retried
 * only when throttled: after a 5xx or a transport failure (resp->status 0
 * or >= 500) the caller cannot know whether it ran, and must look.
 */
int aws_elbv2_call(struct aws_client *c, const char *endpoint,
    const char *region, const char *action, const struct sigv4_kv *params,
    size_t n_params, struct aws_response *resp, struct ca_error *err);

/*
 * GET url, not signed (a presigned URL, such as the Location that
 * GetTrustStoreCaCertificatesBundle answers), retried on 5xx and transport
 * failures; the answer in resp->body, at most max bytes (0 = 64 MiB,
 * CA_ETOOBIG over it). The URL, which holds a signature, is not put in
 * err.
 */
int aws_http_get(struct aws_client *c, const char *url, size_t max,
    struct aws_response *resp, struct ca_error *err);

/* The Location of a GetTrustStoreCaCertificatesBundle answer into
   out[size]. CA_EMALF, CA_ETOOBIG. */
int aws_elbv2_parse_location(const char *xml, size_t len, char *out,
    size_t size, struct ca_error *err);

/* A TrustStoreRevocations member of an ELBv2 answer. */
struct aws_revocation {
	uint64_t	id;
	uint64_t	entries;
};
/*
 * Parse the TrustStoreRevocations members of an Add or Describe answer into
 * out[max]; *n gets the count; next_marker (may be NULL) the NextMarker or
 * "". CA_EMALF on XML that is not an answer; CA_ETOOBIG over max.
 */
int aws_elbv2_parse_revocations(const char *xml, size_t len,
    struct aws_revocation *out, size_t max, size_t *n, char *next_marker,
    size_t marker_size, struct ca_error *err);

/* Parse an IMDS, a container endpoint's or an STS
   AssumeRoleWithWebIdentity credentials document (exposed for tests and
   fuzzing). */
int aws_imds_parse(const char *json, size_t len, struct aws_credentials *out,
    struct ca_error *err);
int aws_container_parse(const char *json, size_t len,
    struct aws_credentials *out, struct ca_error *err);
int aws_sts_parse_credentials(const char *xml, size_t len,
    struct aws_credentials *out, struct ca_error *err);

#endif
