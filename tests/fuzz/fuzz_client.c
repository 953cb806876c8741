/*
 * libFuzzer target for what client/ reads from outside: the server's answer
 * (client_answer_parse) and the certificates in it (client_cert_info,
 * client_cert_verify), a fetched CA bundle (client_bundle_pick), a
 * certificate being renewed (client_csr_renewal), and what people type
 * (client_san_parse, client_fingerprint_parse). The first byte picks the
 * parser, the rest is its input. Seed with tests/data/client/.
 * corpus: data/client
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "client/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal must explain itself. */
static void
refused(int rc, const struct ca_error *e)
{
	if (rc == CA_OK || e->msg[0] == '\0')
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One key for the whole run: generating one per input would only
	   measure key generation. */
	static char		*key;
	static size_t		 klen;
	struct client_issued	 iss;
	struct client_cert_info	 info;
	struct client_san	 san;
	struct ca_error		 e;
	char			*text, *out = NULL;
	uint8_t			 fp[32] = { 0 };
	int			 rc;

	if (size < 1 || size > 256 * 1024)
		return 0;
	if (key == NULL && ca_key_generate(CA_KEY_ECDSA_P256, &key, &klen,
	    NULL) != CA_OK)
		__builtin_trap();
	/* Every parser takes text: NUL-terminate a copy. */
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	ca_error_clear(&e);
	memset(&iss, 0, sizeof(iss));
	switch (data[0] % 5) {
	case 0:
		rc = client_answer_parse(data[0] & 0x80 ? 403 : 201, text,
		    size - 1, &iss, &e);
		if (rc != CA_OK) {
			refused(rc, &e);
			if (iss.cert_pem != NULL || iss.ca_pem != NULL)
				__builtin_trap();
			break;
		}
		if (client_cert_info(iss.cert_pem, strlen(iss.cert_pem), &info,
		    &e) == CA_OK && info.n_certs == 0)
			__builtin_trap();
		(void)client_cert_verify(iss.cert_pem, strlen(iss.cert_pem),
		    iss.ca_pem, strlen(iss.ca_pem), &e);
		break;
	case 1:
		if ((rc = client_san_parse(text, &san, &e)) != CA_OK)
			refused(rc, &e);
		else if (san.type == CLIENT_SAN_IP && san.ip_len != 4 &&
		    san.ip_len != 16)
			__builtin_trap();
		if ((rc = client_fingerprint_parse(text, fp, &e)) != CA_OK)
			refused(rc, &e);
		break;
	case 2:
		if ((rc = client_cert_info(text, size - 1, &info, &e)) != CA_OK)
			refused(rc, &e);
		else if (info.not_after <= info.not_before)
			__builtin_trap();
		break;
	case 3:
		if ((rc = client_bundle_pick(text, size - 1, fp, &out, &e)) !=
		    CA_OK)
			refused(rc, &e);
		break;
	case 4:
		if ((rc = client_csr_renewal(key, klen, text, size - 1, &out,
		    &e)) != CA_OK)
			refused(rc, &e);
		break;
	}
	client_issued_clear(&iss);
	free(out);
	free(text);
	return 0;
}
