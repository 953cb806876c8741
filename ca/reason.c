/*
 * RFC 5280 §5.3.1 CRLReason names. Value 7 is unused in the ASN.1 and is
 * not a reason.
 */
#include <stddef.h>
#include <strings.h>

#include "ca/ca.h"

static const char *const reason_names[] = {
	[0] = "unspecified",
	[1] = "keyCompromise",
	[2] = "cACompromise",
	[3] = "affiliationChanged",
	[4] = "superseded",
	[5] = "cessationOfOperation",
	[6] = "certificateHold",
	[7] = NULL,
	[8] = "removeFromCRL",
	[9] = "privilegeWithdrawn",
	[10] = "aACompromise",
};

int
ca_reason_parse(const char *name, int *code)
{
	if (name == NULL)
		return CA_EINVAL;
	for (int i = 0; i < (int)(sizeof(reason_names) /
	    sizeof(reason_names[0])); i++)
		if (reason_names[i] != NULL &&
		    strcasecmp(name, reason_names[i]) == 0) {
			*code = i;
			return CA_OK;
		}
	return CA_EINVAL;
}

const char *
ca_reason_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(reason_names) /
	    sizeof(reason_names[0])))
		return NULL;
	return reason_names[code];
}
