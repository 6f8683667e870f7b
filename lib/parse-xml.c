/*
 * The parser's XML event layer, libxml2's side of it: the SAX2 handler,
 * entities (declared plain text, HTML's named ones, nothing external),
 * errors as bozo, and what SAX2 leaves in attribute values.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "gazette/utf8.h"
#include "parse-html.h"
#include "parse-internal.h"

/* Free an entity we made for the getEntity hook. */
void
parse_xml_entity_free(void *payload, const xmlChar *name)
{
	xmlEntityPtr ent = payload;

	(void)name;
	if (ent == NULL)
		return;
	xmlFree((xmlChar *)ent->name);
	xmlFree(ent->content);
	xmlFree(ent->orig);
	free(ent);
}

/* A predefined-type entity whose replacement text is text. */
static xmlEntityPtr
entity_make(const xmlChar *name, const char *text)
{
	xmlEntityPtr ent = calloc(1, sizeof(*ent));

	if (ent == NULL)
		return NULL;
	ent->type = XML_ENTITY_DECL;
	ent->etype = XML_INTERNAL_PREDEFINED_ENTITY;
	ent->name = xmlStrdup(name);
	ent->content = xmlStrdup((const xmlChar *)text);
	if (ent->name == NULL || ent->content == NULL) {
		parse_xml_entity_free(ent, NULL);
		return NULL;
	}
	ent->length = xmlStrlen(ent->content);
	return ent;
}

/* Make an entity of name with text and keep it in the parser's table. */
static xmlEntityPtr
entity_cache(struct gz_parser *p, const xmlChar *name, const char *text)
{
	xmlEntityPtr ent = entity_make(name, text);

	if (ent == NULL)
		return NULL;
	if (xmlHashAddEntry(p->entities, name, ent) != 0) {
		parse_xml_entity_free(ent, NULL);
		return NULL;
	}
	return ent;
}

/* The text an undeclared (HTML) or declared entity stands for, or NULL. */
static xmlEntityPtr
entity_find(struct gz_parser *p, const xmlChar *name)
{
	xmlEntityPtr ent;
	const htmlEntityDesc *h;
	char u[8];

	ent = xmlHashLookup(p->entities, name);
	if (ent)
		return ent;
	h = htmlEntityLookup(name);
	if (h == NULL)
		return NULL;
	u[utf8_encode(h->value, u)] = '\0';
	return entity_cache(p, name, u);
}

/* An unknown entity kept as written ("&name;"), cached like the rest. */
static xmlEntityPtr
entity_literal(struct gz_parser *p, const xmlChar *name)
{
	char text[64];

	if (xmlStrlen(name) > 40 || xmlHashSize(p->entities) > 4096)
		return NULL;
	snprintf(text, sizeof(text), "&%s;", (const char *)name);
	return entity_cache(p, name, text);
}

/*
 * In an attribute value libxml2 copies only the first byte of a
 * predefined entity; a general one it leaves as "&name;", which
 * parse_xml_attr_dup() then decodes. So attributes get a general twin.
 */
static xmlEntityPtr
attr_entity(struct gz_parser *p, xmlEntityPtr ent)
{
	xmlEntityPtr twin = xmlHashLookup(p->attr_entities, ent->name);

	if (twin)
		return twin;
	twin = entity_make(ent->name, (const char *)ent->content);
	if (twin == NULL)
		return NULL;
	twin->etype = XML_INTERNAL_GENERAL_ENTITY;
	twin->_private = ent->_private;
	if (xmlHashAddEntry(p->attr_entities, ent->name, twin) != 0) {
		parse_xml_entity_free(twin, NULL);
		return NULL;
	}
	return twin;
}

/* SAX getEntity: declared plain-text entities and HTML's named ones. */
static xmlEntityPtr
on_get_entity(void *ctx, const xmlChar *name)
{
	struct gz_parser *p = ctx;
	xmlEntityPtr ent;

	ent = xmlGetPredefinedEntity(name);
	if (ent)
		return ent;
	ent = entity_find(p, name);
	if (ent == NULL && p->ctxt && p->ctxt->instate == XML_PARSER_CONTENT &&
	    !xmlHashLookup(p->refused, name))
		ent = entity_literal(p, name);
	if (ent == NULL)
		return NULL;
	if (ent->_private == NULL /* HTML, not declared */)
		parse_bozo(p, BZ_XML,
		           "undeclared entity '&%s;' decoded as HTML",
		           (const char *)name);
	if (p->ctxt && p->ctxt->instate == XML_PARSER_ATTRIBUTE_VALUE)
		return attr_entity(p, ent);
	return ent;
}

/* SAX getParameterEntity: none are ever loaded or expanded. */
static xmlEntityPtr
on_get_pentity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

/* Remember why a declared entity will not be expanded. */
static void
refuse(struct gz_parser *p, const xmlChar *name, const char *why)
{
	if (p->n_declared >= MAX_DECLARED)
		return;
	if (xmlHashAddEntry(p->refused, name, (void *)why) == 0)
		p->n_declared++;
}

/* SAX entityDecl: keep internal entities whose text is plain. */
static void
on_entity_decl(void *ctx, const xmlChar *name, int type,
               const xmlChar *public_id, const xmlChar *system_id,
               xmlChar *content)
{
	struct gz_parser *p = ctx;
	xmlEntityPtr ent;

	(void)public_id;
	if (type == XML_EXTERNAL_GENERAL_PARSED_ENTITY ||
	    type == XML_EXTERNAL_GENERAL_UNPARSED_ENTITY) {
		refuse(p, name, "is external: not loaded");
		return;
	}
	if (type == XML_EXTERNAL_PARAMETER_ENTITY) {
		/* a non-validating parser may leave it unread */
		if (p->n_declared < MAX_DECLARED &&
		    xmlHashAddEntry(p->external_pe, name, p) == 0)
			p->n_declared++;
		return;
	}
	if (type != XML_INTERNAL_GENERAL_ENTITY)
		return;
	if (content == NULL || xmlStrchr(content, '&') ||
	    xmlStrchr(content, '<') || xmlStrlen(content) > MAX_ENTITY_TEXT) {
		refuse(p, name, "holds markup or references: not expanded");
		return;
	}
	if (p->n_declared >= MAX_DECLARED || xmlHashLookup(p->entities, name))
		return;
	ent = entity_make(name, (const char *)content);
	if (ent == NULL)
		return;
	/* mark it declared (HTML entities found by name have NULL) */
	ent->_private = p;
	if (xmlHashAddEntry(p->entities, name, ent) != 0) {
		parse_xml_entity_free(ent, NULL);
		return;
	}
	p->n_declared++;
}

/* The deny-all external entity loader: nothing is ever fetched. */
static xmlParserInputPtr
deny_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* SAX structured errors: any error makes the document bozo. */
static void
on_error(void *ctx, xmlErrorPtr err)
{
	struct gz_parser *p = ctx;
	size_t n;
	char *m;

	if (err == NULL || err->level < XML_ERR_ERROR)
		return;
	/* a parameter entity of the DTD that we never load */
	if ((err->code == XML_WAR_UNDECLARED_ENTITY ||
	     (err->code == XML_ERR_UNDECLARED_ENTITY && err->str1 &&
	      xmlHashLookup(p->external_pe, (const xmlChar *)err->str1))) &&
	    err->message && !strncmp(err->message, "PEReference", 11)) {
		p->wf_ignored = true;
		return;
	}
	if (err->code == XML_ERR_UNDECLARED_ENTITY ||
	    err->code == XML_WAR_UNDECLARED_ENTITY) {
		/* the hook decoded it if HTML knows it */
		const char *why;
		if (err->str1 && entity_find(p, (const xmlChar *)err->str1))
			return;
		why = err->str1 ? xmlHashLookup(p->refused,
		                                (const xmlChar *)err->str1)
		                : NULL;
		if (why) {
			parse_bozo(p, BZ_XML, "entity '%s' %s", err->str1, why);
			return;
		}
	}
	if (p->bozo_msg[BZ_XML]) {
		p->feed->bozo = true;
		return;
	}
	m = strdup(err->message ? err->message : "not well-formed");
	if (m == NULL) {
		p->feed->bozo = true;
		return;
	}
	n = strlen(m);
	while (n > 0 && isspace((unsigned char)m[n - 1]))
		m[--n] = '\0';
	parse_bozo(p, BZ_XML, "line %d: %s", err->line, m);
	free(m);
}

/*
 * libxml2 drops every entity reference once a document is found not
 * well-formed; the error made it bozo already (unless it was one we
 * forgive), so let the parse go on as if it were well-formed.
 */
void
parse_xml_wf_reset(struct gz_parser *p)
{
	if (!p->wf_ignored)
		p->feed->bozo = true;
	p->wf_ignored = false;
	p->ctxt->wellFormed = 1;
}

/* Decode what libxml2 leaves in SAX2 attribute values: &#38; and &name;. */
char *
parse_xml_attr_dup(struct gz_parser *p, const xmlChar *v, const xmlChar *end)
{
	size_t n = (size_t)(end - v);
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (const xmlChar *s = v; s < end;) {
		if (*s == '&') {
			const xmlChar *q = s + 1;
			while (q < end && q - s < 40 &&
			       (isalnum(*q) || *q == '#' || *q == '_'))
				q++;
			if (q < end && *q == ';' && q > s + 1) {
				char name[48];
				size_t nl = (size_t)(q - s - 1);
				memcpy(name, s + 1, nl);
				name[nl] = '\0';
				if (strcmp(name, "#38") == 0) {
					*o++ = '&';
					s = q + 1;
					continue;
				}
				xmlEntityPtr ent =
				        name[0] == '#'
				                ? NULL
				                : entity_find(p,
				                              (xmlChar *)name);
				/* replacement never longer than "&name;" */
				if (ent && (size_t)ent->length <= nl + 2) {
					memcpy(o, ent->content,
					       (size_t)ent->length);
					o += ent->length;
					s = q + 1;
					continue;
				}
			}
		}
		*o++ = (char)*s++;
	}
	*o = '\0';
	out = parse_html_fix_text(out);
	return out;
}

/* Find attribute local (in no namespace, or any when any_ns) in SAX2 form. */
const xmlChar **
parse_xml_attr_find(int n, const xmlChar **attrs, const char *local,
                    bool any_ns)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + i * 5;
		if (strcmp((const char *)a[0], local) == 0 &&
		    (any_ns || a[2] == NULL))
			return a;
	}
	return NULL;
}

/* A decoded copy of an attribute's value, or NULL when absent. */
char *
parse_xml_attr_get(struct gz_parser *p, int n, const xmlChar **attrs,
                   const char *local)
{
	const xmlChar **a = parse_xml_attr_find(n, attrs, local, false);

	if (a == NULL)
		return NULL;
	return parse_xml_attr_dup(p, a[3], a[4]);
}

/* Free libxml2's context of a parser. */
void
parse_xml_release(struct gz_parser *p)
{
	if (p->ctxt) {
		/* libxml2 keeps a DTD's entities in a document of its own */
		if (p->ctxt->myDoc)
			xmlFreeDoc(p->ctxt->myDoc);
		p->ctxt->myDoc = NULL;
		xmlFreeParserCtxt(p->ctxt);
		p->ctxt = NULL;
	}
}

/* Where libxml2's context-free messages go: nowhere; lib/ never prints. */
static void
silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Fill in the SAX2 handler of a parser: gz_parser * is its context. */
void
parse_xml_sax(xmlSAXHandler *sax)
{
	memset(sax, 0, sizeof(*sax));
	sax->initialized = XML_SAX2_MAGIC;
	sax->startElementNs = parse_map_start;
	sax->endElementNs = parse_map_end;
	sax->characters = parse_map_chars;
	sax->cdataBlock = parse_map_chars;
	sax->ignorableWhitespace = parse_map_chars;
	sax->getEntity = on_get_entity;
	sax->getParameterEntity = on_get_pentity;
	sax->entityDecl = on_entity_decl;
	sax->serror = on_error;
}

/* What libxml2 is told once per parser: never load, never print. */
void
parse_xml_setup(void)
{
	xmlSetExternalEntityLoader(deny_loader);
	/* errors without a parser context (encoders) would go to stderr */
	xmlSetGenericErrorFunc(NULL, silent);
}
