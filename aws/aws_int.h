/*
 * aws/ private: the client, its one libcurl handle, and what client.c,
 * creds.c, s3.c, elbv2.c and xml.c share. Nothing outside aws/ includes
 * this header (its unit tests and fuzz targets do).
 */
#ifndef MTLSCA_AWS_AWS_INT_H
#define MTLSCA_AWS_AWS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

/* Answers bigger than this are not ours to read (an S3 GET of a CRL is at
 * most ALB's 50 MB). */
#define AWS_BODY_MAX	(64u * 1024 * 1024)
#define AWS_IMDS_DEFAULT	"http://169.254.169.254"

struct aws_client {
	struct aws_client_options opt;
	char			 imds[512];
	/*
	 * One libcurl easy handle for every request of this client, reset
	 * (curl_easy_reset keeps live connections, the DNS and TLS session
	 * caches) before each: a publisher's requests to one endpoint reuse
	 * one connection instead of a TCP and TLS handshake each.
	 */
	void			*curl;
	pthread_mutex_t		 io;		/* the handle */
	pthread_mutex_t		 lock;		/* the credentials cache */
	struct aws_credentials	 cached;	/* temporary credentials */
	bool			 have_cached;
	unsigned		 fetches;
};

/* One HTTP exchange through the client's handle. */
struct aws_http_req {
	const char	*method;
	const char	*url;
	const char	*const *headers;	/* "Name: value" */
	size_t		 n_headers;
	const void	*body;
	size_t		 body_len;
	long		 timeout_s;		/* 0 = the client's */
	long		 connect_timeout_s;	/* 0 = the client's */
	size_t		 body_max;		/* 0 = AWS_BODY_MAX */
};

/*
 * CA_OK when an answer came (any status, in r->status); CA_EIO for a
 * transport failure or timeout (err says which, without the request's
 * headers); CA_ENOMEM.
 */
int aws_http_once(struct aws_client *c, const struct aws_http_req *hr,
    struct aws_response *r, struct ca_error *err);

/* A signed request (client.c). */
struct aws_signed_call {
	const char		*method;
	const char		*endpoint;	/* scheme://host[:port][/base] */
	const char		*path;		/* raw, after the base */
	const char		*region;
	const char		*service;
	bool			 s3;
	const struct sigv4_kv	*extra;		/* more headers to sign */
	size_t			 n_extra;
	const void		*body;
	size_t			 body_len;
	/* The call changes something each time it runs (ELBv2's
	   AddTrustStoreRevocations): a transport failure or a 5xx may come
	   after it ran, so only answers that say it did not run (throttling)
	   are retried here; the caller settles the rest. */
	bool			 not_idempotent;
};

/*
 * Sign and send, retrying throttling, 5xx answers and transport failures
 * with backoff (only throttling for a call that is not idempotent); each
 * attempt is signed afresh (new date, maybe renewed credentials).
 * CA_OK when an answer came (any status); the caller reads the status.
 */
int aws_signed_send(struct aws_client *c, const struct aws_signed_call *sc,
    struct aws_response *resp, struct ca_error *err);

/* Turn a non-2xx answer into a code (CA_EAUTH, CA_ENOENT, CA_EPOLICY,
   CA_EIO) and "what: HTTP n Code (Message)". */
int aws_answer_error(struct aws_response *r, const char *what,
    struct ca_error *err);

/* endpoint, or https://SERVICE.REGION.amazonaws.com when it is empty. */
void aws_default_endpoint(char *out, size_t size, const char *endpoint,
    const char *service, const char *region);

/* ---- creds.c, sts.c ---- */

/* Web identity: CA_ENOENT when AWS_WEB_IDENTITY_TOKEN_FILE is not set. */
int aws_creds_web_identity(struct aws_client *c, struct aws_credentials *out,
    struct ca_error *err);

/* "2030-01-02T03:04:05Z", with optional fractional seconds, or +00:00. */
int aws_expiration_parse(const char *text, int64_t *out);

/* ---- xml.c: libxml2, no DTD, no network ---- */

/* The Code and Message of an S3 <Error> or a Query API <ErrorResponse>
   into r->error_code and r->error_message ("" when none). */
void aws_xml_error(struct aws_response *r);

/*
 * The text of the first element called name anywhere in the document, into
 * out[size]. CA_EMALF when the document is not well-formed XML or has a
 * DOCTYPE; CA_ENOENT when there is no such element; CA_ETOOBIG when the
 * text does not fit.
 */
int aws_xml_text(const char *xml, size_t len, const char *name, char *out,
    size_t size);

#endif
