#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static const struct {
	int		 code;
	const char	*name;
	const char	*text;
} errors[] = {
	{ CA_OK, "ok", "success" },
	{ CA_ENOMEM, "no_memory", "out of memory" },
	{ CA_EINVAL, "invalid", "invalid argument" },
	{ CA_ENOENT, "not_found", "not found" },
	{ CA_EEXIST, "exists", "already exists" },
	{ CA_EIO, "io", "input/output error" },
	{ CA_EMALF, "malformed", "malformed input" },
	{ CA_EPOLICY, "policy", "refused by policy" },
	{ CA_ETOOBIG, "too_big", "over a configured limit" },
	{ CA_ESPACE, "store_full", "store full" },
	{ CA_ECRYPTO, "crypto", "cryptographic failure" },
	{ CA_EAUTH, "unauthorized", "missing or wrong credentials" },
	{ CA_EFORBIDDEN, "forbidden", "not allowed" },
};

const char *
ca_strerror(int code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].text;
	return "unknown error";
}

const char *
ca_errname(int code)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == code)
			return errors[i].name;
	return "internal";
}

int
ca_error_set(struct ca_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->reason = NULL;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int
ca_refuse(struct ca_error *e, int code, const char *reason, const char *fmt,
    ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->reason = reason;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
ca_error_clear(struct ca_error *e)
{
	if (e == NULL)
		return;
	e->code = CA_OK;
	e->msg[0] = '\0';
	e->reason = NULL;
}
