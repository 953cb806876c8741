/*
 * A CA's own expiry: what to say when it draws near (serve's start, its
 * keeper, `mtlsca status`, /metrics), and the note an issuance carries
 * when the CA's notAfter cut the validity asked for (RFC 5280 section
 * 6.1.3: a certificate is no use past its issuer's validity, so it is
 * never issued longer, but never silently shorter either).
 */
#include <stdio.h>
#include <string.h>

#include "ca/ca_int.h"
#include "common/util.h"

#define DAY	86400

void
ca_truncation_note(const struct ca *ca, unsigned days, int64_t now,
    struct ca_issued *iss)
{
	char	when[21];
	int64_t	left = ca->not_after - now;

	time_format(ca->not_after, when);
	iss->truncated = true;
	snprintf(iss->truncated_reason, sizeof(iss->truncated_reason),
	    "the CA certificate expires on %s: this certificate is "
	    "valid until then, %lld day(s), not the %u day(s) asked (renew or "
	    "replace the CA)", when,
	    (long long)(left > 0 ? left / DAY : 0), days);
}

const char *
ca_expiry_level_name(enum ca_expiry_level level)
{
	switch (level) {
	case CA_EXPIRY_OK:		return "ok";
	case CA_EXPIRY_SHORTENS:	return "shortens";
	case CA_EXPIRY_90:		return "90d";
	case CA_EXPIRY_30:		return "30d";
	case CA_EXPIRY_7:		return "7d";
	case CA_EXPIRY_EXPIRED:		return "expired";
	}
	return "?";
}

void
ca_expiry_check(const struct ca *ca, unsigned longest_days, int64_t now,
    struct ca_expiry *out)
{
	ca_expiry_assess(ca->not_after, longest_days, now, out);
}

void
ca_expiry_assess(int64_t not_after, unsigned longest_days, int64_t now,
    struct ca_expiry *out)
{
	char	when[21];
	int64_t	left = not_after - now;
	long long days = (long long)(left > 0 ? left / DAY : 0);

	memset(out, 0, sizeof(*out));
	out->not_after = not_after;
	out->left = left;
	time_format(not_after, when);
	if (left <= 0)
		out->level = CA_EXPIRY_EXPIRED;
	else if (left <= 7 * DAY)
		out->level = CA_EXPIRY_7;
	else if (left <= 30 * DAY)
		out->level = CA_EXPIRY_30;
	else if (left <= 90 * DAY)
		out->level = CA_EXPIRY_90;
	else if (left < (int64_t)longest_days * DAY)
		out->level = CA_EXPIRY_SHORTENS;
	else
		out->level = CA_EXPIRY_OK;
	switch (out->level) {
	case CA_EXPIRY_OK:
		snprintf(out->msg, sizeof(out->msg), "the CA expires on %s, in "
		    "%lld day(s)", when, days);
		break;
	case CA_EXPIRY_EXPIRED:
		snprintf(out->msg, sizeof(out->msg), "the CA expired on %s: it "
		    "issues nothing and clients chained to it fail; replace it "
		    "now", when);
		break;
	default:
		snprintf(out->msg, sizeof(out->msg), "the CA expires on %s, in "
		    "%lld day(s)%s: replace it before "
		    "clients lose their chain", when, days,
		    (int64_t)longest_days * DAY > left ? ", sooner than the "
		    "longest profile validity, so new certificates are cut "
		    "to it" : "");
		break;
	}
}

unsigned
ca_profiles_longest_days(const struct ca_profile *profiles, size_t n)
{
	unsigned longest = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned d = profiles[i].max_days > profiles[i].days ?
		    profiles[i].max_days : profiles[i].days;

		if (d > longest)
			longest = d;
	}
	return longest;
}
