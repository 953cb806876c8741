/*
 * The HTTP status of an error code: only http/ knows them (DESIGN.md).
 */
#include "http/http.h"

unsigned
http_status_for(int code)
{
	switch (code) {
	case CA_OK:		return 200;
	case CA_EMALF:		return 400;
	case CA_EINVAL:		return 400;
	case CA_EAUTH:		return 401;
	case CA_EFORBIDDEN:	return 403;
	case CA_ENOENT:		return 404;
	case CA_EEXIST:		return 409;
	case CA_ETOOBIG:	return 413;
	case CA_EPOLICY:	return 422;
	case CA_ESPACE:		return 507;
	default:		return 500;
	}
}
