/*
 * A hostile TLS client for the tests: it connects N times to HOST:PORT and
 * answers the server's CertificateRequest with the certificate in CERT
 * (DER; see hostile_cert.py) and a CertificateVerify of random bytes, as
 * an attacker with no key at all would. Prints how many handshakes the
 * server refused and how many completed; exit 0 unless it cannot run.
 *
 *   tls_hostile HOST PORT CERT.der N [tls12|tls13]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "common/util.h"

static gnutls_pcert_st	 g_pcert;
static gnutls_privkey_t	 g_key;
static size_t		 g_sig_len;

/* Random bytes as long as the modulus: a signature no key made. */
static int
random_sig(gnutls_datum_t *sig)
{
	if ((sig->data = gnutls_malloc(g_sig_len)) == NULL)
		return GNUTLS_E_MEMORY_ERROR;
	sig->size = (unsigned)g_sig_len;
	return gnutls_rnd(GNUTLS_RND_NONCE, sig->data, g_sig_len);
}

static int
sign_data(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *userdata,
    unsigned flags, const gnutls_datum_t *data, gnutls_datum_t *sig)
{
	(void)key; (void)algo; (void)userdata; (void)flags; (void)data;
	return random_sig(sig);
}

static int
sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *userdata,
    unsigned flags, const gnutls_datum_t *hash, gnutls_datum_t *sig)
{
	(void)key; (void)algo; (void)userdata; (void)flags; (void)hash;
	return random_sig(sig);
}

static int
info(gnutls_privkey_t key, unsigned flags, void *userdata)
{
	(void)key; (void)userdata;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return GNUTLS_PK_RSA;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
		gnutls_sign_algorithm_t s = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);

		return s == GNUTLS_SIGN_RSA_SHA256 ||
		    s == GNUTLS_SIGN_RSA_PSS_RSAE_SHA256;
	}
	return GNUTLS_E_UNKNOWN_ALGORITHM;
}

static int
retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca, int nreqs,
    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
    unsigned *n, gnutls_privkey_t *key)
{
	(void)s; (void)req_ca; (void)nreqs; (void)algos; (void)nalgos;
	*pcert = &g_pcert;
	*n = 1;
	*key = g_key;
	return 0;
}

static int
dial(const char *host, unsigned port)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t	 der = { NULL, 0 };
	uint8_t		*buf = NULL;
	size_t		 len;
	uint64_t	 n, port;
	unsigned	 bits = 0, refused = 0, done = 0;
	const char	*prio, *last = "none";
	struct ca_error	 e;

	if (argc < 5 || parse_u64(argv[2], 1, 65535, &port) != CA_OK ||
	    parse_u64(argv[4], 1, 1000, &n) != CA_OK) {
		fprintf(stderr, "usage: tls_hostile HOST PORT CERT.der N "
		    "[tls12|tls13]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);	/* the server may close first */
	prio = argc > 5 && strcmp(argv[5], "tls13") == 0 ?
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3" : "NORMAL:-VERS-ALL:+VERS-TLS1.2";
	if (file_read(argv[3], 1 << 20, &buf, &len, &e) != CA_OK) {
		fprintf(stderr, "tls_hostile: %s\n", e.msg);
		return 1;
	}
	der.data = buf;
	der.size = (unsigned)len;
	/*
	 * TLS 1.2: random bytes as long as the modulus (the costly check).
	 * TLS 1.3's RSA-PSS needs a key GnuTLS can size, so there a throw-away
	 * 2048-bit key signs: the server must refuse the Certificate message
	 * before it looks at any signature either way.
	 */
	if (gnutls_pcert_import_x509_raw(&g_pcert, &der, GNUTLS_X509_FMT_DER,
	    0) < 0 || gnutls_privkey_init(&g_key) < 0 ||
	    (strcmp(prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3") == 0 ?
	    gnutls_privkey_generate2(g_key, GNUTLS_PK_RSA, 2048, 0, NULL, 0) :
	    gnutls_privkey_import_ext4(g_key, NULL, sign_data, sign_hash, NULL,
	    NULL, info, 0)) < 0 ||
	    gnutls_certificate_allocate_credentials(&cred) < 0) {
		fprintf(stderr, "tls_hostile: cannot load %s\n", argv[3]);
		return 1;
	}
	gnutls_pubkey_get_pk_algorithm(g_pcert.pubkey, &bits);
	g_sig_len = (bits + 7) / 8;
	gnutls_certificate_set_retrieve_function2(cred, retrieve);
	for (uint64_t i = 0; i < n; i++) {
		gnutls_session_t	sess;
		int			fd = dial(argv[1], (unsigned)port), rc;

		if (fd < 0) {
			fprintf(stderr, "tls_hostile: cannot connect\n");
			return 1;
		}
		gnutls_init(&sess, GNUTLS_CLIENT);
		gnutls_priority_set_direct(sess, prio, NULL);
		gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred);
		gnutls_transport_set_int(sess, fd);
		gnutls_handshake_set_timeout(sess, 120 * 1000);
		do
			rc = gnutls_handshake(sess);
		while (rc < 0 && !gnutls_error_is_fatal(rc));
		/* TLS 1.3: the client's Certificate goes after the server's
		   Finished; the refusal arrives with the first read. */
		if (rc == 0) {
			char b[1];

			gnutls_record_send(sess, "GET /healthz HTTP/1.1\r\n"
			    "Host: x\r\n\r\n", 32);
			rc = (int)gnutls_record_recv(sess, b, 1);
		}
		if (rc < 0) {
			refused++;
			last = gnutls_strerror(rc);
		}
		else
			done++;
		gnutls_deinit(sess);
		close(fd);
	}
	printf("refused %u completed %u\n", refused, done);
	fprintf(stderr, "tls_hostile: last refusal: %s\n", last);
	gnutls_certificate_free_credentials(cred);
	gnutls_pcert_deinit(&g_pcert);
	gnutls_privkey_deinit(g_key);
	free(buf);
	return 0;
}
