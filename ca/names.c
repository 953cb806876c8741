/*
 * Names in one canonical form, so that a rule written for one spelling of
 * a name holds for every spelling a TLS client would accept.
 */
#include <string.h>

#include "ca/ca_int.h"

bool
ca_ip6_embeds_ip4(const uint8_t ip[16])
{
	static const uint8_t zero[10];

	if (memcmp(ip, zero, 10) != 0)
		return false;
	/* ::ffff:a.b.c.d, IPv4-mapped */
	if (ip[10] == 0xff && ip[11] == 0xff)
		return true;
	/* ::a.b.c.d, IPv4-compatible (deprecated), but not :: or ::1 */
	if (ip[10] == 0 && ip[11] == 0)
		return ip[12] != 0 || ip[13] != 0 || ip[14] != 0 || ip[15] > 1;
	return false;
}

size_t
ca_ip_canon(const uint8_t *ip, size_t len, uint8_t out[16])
{
	if (len == 16 && ca_ip6_embeds_ip4(ip)) {
		memcpy(out, ip + 12, 4);
		return 4;
	}
	memcpy(out, ip, len);
	return len;
}
