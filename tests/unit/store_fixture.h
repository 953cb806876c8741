/*
 * What the store's unit tests share (test_store.c, test_store_snapshot.c):
 * serials in a known order, a stand-in for the CRL entry encoder, and the
 * end of a fixture's store and directory.
 */
#ifndef MTLSCA_TESTS_STORE_FIXTURE_H
#define MTLSCA_TESTS_STORE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* 16-byte serial whose byte order follows n. */
static inline void
mk_serial(uint32_t n, uint8_t *out, size_t *len)
{
	memset(out, 0x5a, 16);
	out[0] = 0x41;
	out[12] = (uint8_t)(n >> 24);
	out[13] = (uint8_t)(n >> 16);
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
	*len = 16;
}

/* A stand-in for the CRL entry encoder: serial, reason, revoked_at. */
static inline int
test_enc(const struct cert_record *rec, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 1 + rec->serial_len + 1 + 8;

	if (n > cap)
		return CA_ETOOBIG;
	buf[0] = (uint8_t)rec->serial_len;
	memcpy(buf + 1, rec->serial, rec->serial_len);
	buf[1 + rec->serial_len] = rec->reason;
	for (int i = 0; i < 8; i++)
		buf[2 + rec->serial_len + i] =
		    (uint8_t)((uint64_t)rec->revoked_at >> (56 - 8 * i));
	*len = n;
	return 0;
}

/* Close st and remove dir with all in it: 0, or -1 if rm failed. */
static inline int
fixture_remove(struct store *st, const char *dir)
{
	char	cmd[128];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
