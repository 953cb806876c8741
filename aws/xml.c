/*
 * The XML of AWS answers (S3 errors, the ELBv2 and STS Query APIs), read
 * with libxml2: no network, no DTD, no entity substitution.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "aws/aws_int.h"
#include "common/util.h"

static xmlDocPtr
xml_parse(const char *buf, size_t len)
{
	xmlDocPtr	doc;

	if (buf == NULL || len == 0 || len > INT32_MAX)
		return NULL;
	/* No network, no entity substitution, no DTD loading. */
	doc = xmlReadMemory(buf, (int)len, "aws.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
	/* AWS never sends a DTD. Without XML_PARSE_NOENT entities are not
	   substituted in the tree, but xmlNodeGetContent still expands
	   internal entity references: refuse any document with a DOCTYPE so
	   that no entity shapes what is read. */
	if (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	return doc;
}

static xmlNodePtr
xml_child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* First element called name anywhere below n (depth first), at most
   depth levels down (a hostile answer cannot recurse us away). */
static xmlNodePtr
xml_find_depth(xmlNodePtr n, const char *name, int depth)
{
	if (depth <= 0)
		return NULL;
	for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next) {
		xmlNodePtr f;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, name) == 0)
			return c;
		if ((f = xml_find_depth(c, name, depth - 1)) != NULL)
			return f;
	}
	return NULL;
}

static xmlNodePtr
xml_find(xmlNodePtr n, const char *name)
{
	return xml_find_depth(n, name, 16);
}

/* The text of n into out; false when it does not fit. */
static bool
xml_text(xmlNodePtr n, char *out, size_t size)
{
	xmlChar	*t;
	bool	 ok;

	out[0] = '\0';
	if (n == NULL || (t = xmlNodeGetContent(n)) == NULL)
		return true;
	ok = strlen((const char *)t) < size;
	if (ok)
		memcpy(out, t, strlen((const char *)t) + 1);
	xmlFree(t);
	return ok;
}

void
aws_xml_error(struct aws_response *r)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, e;

	r->error_code[0] = r->error_message[0] = '\0';
	if ((doc = xml_parse(r->body.data, r->body.len)) == NULL)
		return;
	root = xmlDocGetRootElement(doc);
	e = root != NULL && strcmp((const char *)root->name, "Error") == 0 ?
	    root : xml_find(root, "Error");
	if (e != NULL) {
		/* Cut to fit: these are for people to read. */
		char big[1024];

		if (xml_text(xml_child(e, "Code"), big, sizeof(big)))
			snprintf(r->error_code, sizeof(r->error_code), "%.*s",
			    (int)sizeof(r->error_code) - 1, big);
		if (xml_text(xml_child(e, "Message"), big, sizeof(big)))
			snprintf(r->error_message, sizeof(r->error_message),
			    "%.*s", (int)sizeof(r->error_message) - 1, big);
	}
	xmlFreeDoc(doc);
}

int
aws_xml_text(const char *xml, size_t len, const char *name, char *out,
    size_t size)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 n;
	int		 rc;

	out[0] = '\0';
	if ((doc = xml_parse(xml, len)) == NULL)
		return CA_EMALF;
	n = xml_find(xmlDocGetRootElement(doc), name);
	if (n == NULL)
		rc = CA_ENOENT;
	else
		rc = xml_text(n, out, size) ? CA_OK : CA_ETOOBIG;
	if (rc != CA_OK)
		out[0] = '\0';
	xmlFreeDoc(doc);
	return rc;
}

int
aws_elbv2_parse_revocations(const char *xml, size_t len,
    struct aws_revocation *out, size_t max, size_t *n, char *next_marker,
    size_t marker_size, struct ca_error *err)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, list;
	size_t		 k = 0;
	char		 t[64];
	int		 rc = CA_OK;

	if ((doc = xml_parse(xml, len)) == NULL)
		return ca_error_set(err, CA_EMALF,
		    "ELBv2 answer is not well-formed XML");
	root = xmlDocGetRootElement(doc);
	if (root == NULL || (list = xml_find(root, "TrustStoreRevocations")) ==
	    NULL) {
		rc = ca_error_set(err, CA_EMALF, "ELBv2 answer holds no "
		    "TrustStoreRevocations element");
		goto out;
	}
	for (xmlNodePtr m = list->children; m != NULL; m = m->next) {
		uint64_t id, entries;
		if (m->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)m->name, "member") != 0)
			continue;
		if (k == max) {
			rc = ca_error_set(err, CA_ETOOBIG, "ELBv2 answer lists "
			    "more than %zu revocations", max);
			goto out;
		}
		if (!xml_text(xml_child(m, "RevocationId"), t, sizeof(t)) ||
		    parse_u64(t, 0, UINT64_MAX, &id) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: "
			    "RevocationId '%.32s' is not a number", t);
			goto out;
		}
		if (!xml_text(xml_child(m, "NumberOfRevokedEntries"), t,
		    sizeof(t))) {
			rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: "
			    "NumberOfRevokedEntries is not a number");
			goto out;
		}
		if (t[0] == '\0')
			entries = 0;
		else if (parse_u64(t, 0, UINT64_MAX, &entries) != CA_OK) {
			rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: "
			    "NumberOfRevokedEntries '%.32s' is not a number",
			    t);
			goto out;
		}
		out[k].id = id;
		out[k++].entries = entries;
	}
	if (next_marker != NULL &&
	    !xml_text(xml_find(root, "NextMarker"), next_marker, marker_size)) {
		rc = ca_error_set(err, CA_EMALF, "ELBv2 answer: NextMarker is "
		    "over %zu characters", marker_size - 1);
		goto out;
	}
	*n = k;
out:
	xmlFreeDoc(doc);
	return rc;
}

int
aws_elbv2_parse_location(const char *xml, size_t len, char *out,
    size_t size, struct ca_error *err)
{
	switch (aws_xml_text(xml, len, "Location", out, size)) {
	case CA_OK:
		if (out[0] != '\0')
			return CA_OK;
		/* FALLTHROUGH */
	case CA_ENOENT:
		return ca_error_set(err, CA_EMALF, "ELBv2 answer holds no "
		    "Location");
	case CA_ETOOBIG:
		return ca_error_set(err, CA_ETOOBIG, "ELBv2 answer: Location "
		    "over %zu characters", size - 1);
	default:
		return ca_error_set(err, CA_EMALF, "ELBv2 answer is not "
		    "well-formed XML");
	}
}
