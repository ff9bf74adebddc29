/* html.c - HTML to readable plain text.
 *
 * libxml2's HTML parser does the hard part (tag soup recovery, entity
 * decoding, implied elements); this file only walks the resulting tree and
 * lays the text out for a phone screen. No markup is ever stripped with
 * regular expressions.
 *
 * HTML_PARSE_NOBLANKS is deliberately not used: it drops whitespace-only
 * text nodes, which in HTML separate inline elements ("<b>a</b> <i>b</i>").
 */
#include "build-config.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "html.h"
#include "text.h"
#include "util.h"

/* ------------------------------------------------------------ output */

typedef struct out {
    m2s_buf buf;
    int pending_nl;         /* line breaks owed before the next text (max 2) */
    bool pending_space;     /* a collapsed space owed before the next text */
    const char *prefix;     /* "- " of a list item, written before its text */
    size_t visible;         /* bytes of text other than white space so far */
    size_t limit;           /* stop walking once visible reaches it; 0: never */
} out;

static void out_init(out *o)
{
    m2s_buf_init(&o->buf);
    o->pending_nl = 0;
    o->pending_space = false;
    o->prefix = NULL;
    o->visible = 0;
    o->limit = 0;
}

static bool at_line_start(const out *o)
{
    return o->buf.len == 0 || o->buf.data[o->buf.len - 1] == '\n';
}

/* Ask for a break of n newlines (1: new line, 2: blank line). */
static void out_break(out *o, int n)
{
    if (o->pending_nl < n)
        o->pending_nl = n;
    o->pending_space = false;
}

/* <br>: each one adds a line break. */
static void out_br(out *o)
{
    if (o->pending_nl < 2)
        o->pending_nl++;
    o->pending_space = false;
}

/* Write what is owed before a visible character. */
static void out_flush(out *o)
{
    if (o->buf.len) {
        if (o->pending_nl) {
            for (int i = 0; i < o->pending_nl; i++)
                m2s_buf_addc(&o->buf, '\n');
        } else if (o->pending_space && !at_line_start(o)) {
            m2s_buf_addc(&o->buf, ' ');
        }
    }
    o->pending_nl = 0;
    o->pending_space = false;
    if (o->prefix) {
        m2s_buf_adds(&o->buf, o->prefix);
        o->prefix = NULL;
    }
}

/* Length of the UTF-8 sequence at s if it is one of the invisible
 * characters to drop (soft hyphen, zero width space, word joiner, BOM,
 * combining grapheme joiner), else 0. */
static size_t invisible_len(const unsigned char *s)
{
    if (s[0] == 0xC2 && s[1] == 0xAD)
        return 2;                                   /* U+00AD */
    if (s[0] == 0xCD && s[1] == 0x8F)
        return 2;                                   /* U+034F */
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x8B)
        return 3;                                   /* U+200B */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0xA0)
        return 3;                                   /* U+2060 */
    if (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 3;                                   /* U+FEFF */
    return 0;
}

/* Text with HTML whitespace collapsing; NBSP counts as a space. In pre
 * mode line breaks and spaces are kept. */
static void out_text(out *o, const char *text, bool pre)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        size_t inv = invisible_len(s);
        if (inv) {
            s += inv;
            continue;
        }
        bool nbsp = s[0] == 0xC2 && s[1] == 0xA0;
        if (pre) {
            if (*s == '\n') {
                out_br(o);
                s++;
            } else if (*s == '\r') {
                s++;
            } else if (*s == ' ' || *s == '\t' || nbsp) {
                out_flush(o);
                m2s_buf_addc(&o->buf, ' ');
                s += nbsp ? 2 : 1;
            } else {
                out_flush(o);
                m2s_buf_add(&o->buf, s, 1);
                o->visible++;
                s++;
            }
            continue;
        }
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || nbsp) {
            o->pending_space = true;
            s += nbsp ? 2 : 1;
            continue;
        }
        out_flush(o);
        const unsigned char *e = s + 1;
        while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r' && *e != '\f' &&
               *e != 0xC2 && *e != 0xCD && *e != 0xE2 && *e != 0xEF)
            e++;
        m2s_buf_add(&o->buf, s, (size_t)(e - s));
        o->visible += (size_t)(e - s);
        s = e;
    }
}

/* ------------------------------------------------------------ element kinds */

enum {
    K_DROP = 1,         /* never shown, nor anything inside */
    K_PARA = 2,         /* a block separated by a blank line */
    K_BLOCK = 4,        /* a block separated by a line break */
    K_MULTI = 8,        /* makes a table cell more than one phrase */
};

/* Sorted by name, for bsearch: one lookup per element instead of a walk
 * through every list. */
static const struct kind { const char *name; int flags; } kinds[] = {
    { "address", K_BLOCK }, { "article", K_BLOCK }, { "aside", K_BLOCK },
    { "audio", K_DROP }, { "blockquote", K_PARA | K_MULTI }, { "body", K_BLOCK },
    { "br", K_MULTI }, { "canvas", K_DROP }, { "caption", K_BLOCK },
    { "center", K_BLOCK }, { "datalist", K_DROP }, { "dd", K_BLOCK },
    { "details", K_BLOCK }, { "div", K_BLOCK }, { "dl", K_PARA | K_MULTI },
    { "dt", K_BLOCK }, { "embed", K_DROP }, { "fieldset", K_BLOCK },
    { "figcaption", K_BLOCK }, { "figure", K_BLOCK }, { "footer", K_BLOCK },
    { "form", K_BLOCK }, { "h1", K_PARA }, { "h2", K_PARA }, { "h3", K_PARA },
    { "h4", K_PARA }, { "h5", K_PARA }, { "h6", K_PARA }, { "head", K_DROP },
    { "header", K_BLOCK }, { "hr", K_BLOCK | K_MULTI }, { "html", K_BLOCK },
    { "iframe", K_DROP }, { "input", K_DROP }, { "legend", K_BLOCK },
    { "li", K_BLOCK | K_MULTI }, { "link", K_DROP }, { "main", K_BLOCK },
    { "map", K_DROP }, { "math", K_DROP }, { "meta", K_DROP }, { "nav", K_BLOCK },
    { "noscript", K_DROP }, { "object", K_DROP }, { "ol", K_PARA | K_MULTI },
    { "option", K_BLOCK }, { "p", K_PARA }, { "pre", K_PARA | K_MULTI },
    { "script", K_DROP }, { "section", K_BLOCK }, { "select", K_DROP },
    { "style", K_DROP }, { "summary", K_BLOCK }, { "svg", K_DROP },
    { "table", K_PARA | K_MULTI }, { "tbody", K_BLOCK }, { "td", K_BLOCK },
    { "template", K_DROP }, { "textarea", K_DROP }, { "tfoot", K_BLOCK },
    { "th", K_BLOCK }, { "thead", K_BLOCK }, { "title", K_DROP }, { "tr", K_BLOCK },
    { "ul", K_PARA | K_MULTI }, { "video", K_DROP },
};

static int kind_cmp(const void *key, const void *elem)
{
    return strcasecmp(key, ((const struct kind *)elem)->name);
}

static int kind_of(const xmlChar *name)
{
    const struct kind *k = bsearch(name, kinds, sizeof kinds / sizeof kinds[0],
                                   sizeof kinds[0], kind_cmp);
    return k ? k->flags : 0;
}

static bool is_cell(const xmlNode *n)
{
    return n->type == XML_ELEMENT_NODE &&
           (strcasecmp((const char *)n->name, "td") == 0 ||
            strcasecmp((const char *)n->name, "th") == 0);
}

static bool is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, name) == 0;
}

/* True when n sits inside an <a>. */
static bool inside_link(const xmlNode *n)
{
    for (const xmlNode *p = n->parent; p; p = p->parent)
        if (p->type == XML_ELEMENT_NODE && is_elem(p, "a"))
            return true;
    return false;
}


/* Style value with spaces removed and lower-cased, for simple matching. */
static char *style_compact(const xmlNode *n)
{
    xmlChar *st = xmlGetProp(n, (const xmlChar *)"style");
    if (!st)
        return NULL;
    char *c = xmalloc(strlen((const char *)st) + 1);
    size_t k = 0;
    for (const char *p = (const char *)st; *p; p++)
        if (!isspace((unsigned char)*p))
            c[k++] = (char)tolower((unsigned char)*p);
    c[k] = '\0';
    xmlFree(st);
    return c;
}

static bool style_has(const char *style, const char *decl)
{
    /* decl like "display:none": must start a declaration */
    size_t n = strlen(decl);
    for (const char *p = style; (p = strstr(p, decl)) != NULL; p++) {
        if ((p == style || p[-1] == ';' || p[-1] == '{' || p[-1] == '"') &&
            (p[n] == '\0' || p[n] == ';' || p[n] == '!'))
            return true;
    }
    return false;
}

static bool is_hidden(const xmlNode *n)
{
    if (xmlHasProp(n, (const xmlChar *)"hidden"))
        return true;
    char *st = style_compact(n);
    bool hidden = st && (style_has(st, "display:none") || style_has(st, "visibility:hidden"));
    free(st);
    return hidden;
}

/* Pixel size from an attribute ("1", "1px") or -1. */
static long attr_px(const xmlNode *n, const char *attr)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
    if (!v)
        return -1;
    char *end;
    const char *p = (const char *)v;
    while (isspace((unsigned char)*p))
        p++;
    long px = strtol(p, &end, 10);
    if (end == p)
        px = -1;
    xmlFree(v);
    return px;
}

static long style_px(const char *style, const char *prop)
{
    size_t n = strlen(prop);
    for (const char *p = style; (p = strstr(p, prop)) != NULL; p++) {
        if ((p == style || p[-1] == ';') && p[n] == ':' && isdigit((unsigned char)p[n + 1]))
            return strtol(p + n + 1, NULL, 10);
    }
    return -1;
}

static bool is_tracking_pixel(const xmlNode *img)
{
    long w = attr_px(img, "width"), h = attr_px(img, "height");
    if ((w >= 0 && w <= 2) || (h >= 0 && h <= 2))
        return true;
    char *st = style_compact(img);
    bool pixel = false;
    if (st) {
        long sw = style_px(st, "width"), sh = style_px(st, "height");
        pixel = style_has(st, "display:none") || style_has(st, "visibility:hidden") ||
                (sw >= 0 && sw <= 2) || (sh >= 0 && sh <= 2);
    }
    free(st);
    return pixel;
}

static bool has_direct_text(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_TEXT_NODE || !c->content)
            continue;
        for (const xmlChar *p = c->content; *p; p++)
            if (!isspace(*p) && *p != 0xC2 && *p != 0xA0)
                return true;
    }
    return false;
}

/* Walk the visible descendants of n: true on content that needs lines of
 * its own (br, tables, lists, preformatted text); *blocks counts the block
 * elements holding text directly. */
static bool scan_cell(const xmlNode *n, int *blocks)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int kind = kind_of(c->name);
        if ((kind & K_DROP) || is_hidden(c))
            continue;
        if (kind & K_MULTI)
            return true;
        if ((kind & (K_PARA | K_BLOCK)) && has_direct_text(c))
            (*blocks)++;
        if (scan_cell(c, blocks))
            return true;
    }
    return false;
}

/* A cell whose content is laid out in lines rather than a phrase. A single
 * wrapping <p> or <div> (Outlook puts one in every cell) is still a phrase. */
static bool has_block_content(const xmlNode *n)
{
    int blocks = 0;
    return scan_cell(n, &blocks) || blocks > 1;
}

/* ------------------------------------------------------------ walking */

static void walk(out *o, const xmlNode *n, bool pre, int list_depth);

static void walk_children(out *o, const xmlNode *n, bool pre, int list_depth)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        walk(o, c, pre, list_depth);
}

/* Render the children of n into a single squashed line. */
static char *render_inline(const xmlNode *n, bool pre)
{
    out t;
    out_init(&t);
    walk_children(&t, n, pre, 0);
    char *text = m2s_text_squash(t.buf.data ? t.buf.data : "");
    m2s_buf_clear(&t.buf);
    return text;
}

/* Compare link text and URL ignoring scheme, "www.", trailing slash, case. */
static const char *url_core(const char *u, size_t *len)
{
    while (isspace((unsigned char)*u))
        u++;
    if (strncasecmp(u, "http://", 7) == 0)
        u += 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        u += 8;
    else if (strncasecmp(u, "ftp://", 6) == 0)
        u += 6;
    if (strncasecmp(u, "www.", 4) == 0)
        u += 4;
    size_t l = strlen(u);
    while (l && (u[l - 1] == '/' || isspace((unsigned char)u[l - 1])))
        l--;
    *len = l;
    return u;
}

static bool same_url(const char *text, const char *href)
{
    size_t la, lb;
    const char *a = url_core(text, &la), *b = url_core(href, &lb);
    return la == lb && strncasecmp(a, b, la) == 0;
}

static void walk_link(out *o, const xmlNode *n, bool pre)
{
    char *text = render_inline(n, pre);
    xmlChar *hrefx = xmlGetProp(n, (const xmlChar *)"href");
    char *href = m2s_text_squash(hrefx ? (const char *)hrefx : "");
    if (hrefx)
        xmlFree(hrefx);

    if (*text)
        out_text(o, text, false);
    if (*text && *href && href[0] != '#' &&
        strncasecmp(href, "mailto:", 7) != 0 && strncasecmp(href, "javascript:", 11) != 0 &&
        strncasecmp(href, "tel:", 4) != 0 && strncasecmp(href, "sms:", 4) != 0 &&
        !same_url(text, href)) {
        out_text(o, " (", false);
        out_text(o, href, false);
        out_text(o, ")", false);
    }
    free(text);
    free(href);
}

/* A table row: simple cells are joined into one line; a row holding block
 * content (layout tables) lays each cell out as a block instead. */
static void walk_row(out *o, const xmlNode *tr, bool pre, int list_depth)
{
    bool blocky = false;
    for (const xmlNode *c = tr->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !is_cell(c) && !is_hidden(c) &&
            !(kind_of(c->name) & K_DROP))
            blocky = true;      /* stray content in a row: be safe */
        else if (is_cell(c) && !is_hidden(c) && has_block_content(c))
            blocky = true;
    }
    out_break(o, 1);
    if (blocky) {
        for (const xmlNode *c = tr->children; c; c = c->next) {
            if (is_cell(c) && is_hidden(c))
                continue;
            out_break(o, 1);
            walk(o, c, pre, list_depth);
            out_break(o, 1);
        }
        return;
    }
    m2s_buf line;
    m2s_buf_init(&line);
    for (const xmlNode *c = tr->children; c; c = c->next) {
        if (!is_cell(c) || is_hidden(c))
            continue;
        char *cell = render_inline(c, pre);
        if (*cell) {
            if (line.len)
                m2s_buf_adds(&line, " | ");
            m2s_buf_adds(&line, cell);
        }
        free(cell);
    }
    if (line.len)
        out_text(o, line.data, false);
    m2s_buf_clear(&line);
    out_break(o, 1);
}

static void walk(out *o, const xmlNode *n, bool pre, int list_depth)
{
    if (o->limit && o->visible >= o->limit)
        return;
    switch (n->type) {
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        if (n->content)
            out_text(o, (const char *)n->content, pre);
        return;
    case XML_ELEMENT_NODE:
        break;
    case XML_DOCUMENT_NODE:
    case XML_HTML_DOCUMENT_NODE:
        walk_children(o, n, pre, list_depth);
        return;
    default:
        return;     /* comments, processing instructions, DTD */
    }

    int kind = kind_of(n->name);
    if ((kind & K_DROP) || is_hidden(n))
        return;

    if (is_elem(n, "br")) {
        out_br(o);
        return;
    }
    if (is_elem(n, "img")) {
        /* Images say nothing in an SMS: logos and graphs (which travel as
         * media) vanish. Only an image that is a link's whole text keeps
         * its alt text, so a "View alert" button still reads. */
        if (is_tracking_pixel(n) || !inside_link(n))
            return;
        xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
        if (alt) {
            char *a = m2s_text_squash((const char *)alt);
            if (*a)
                out_text(o, a, false);
            free(a);
            xmlFree(alt);
        }
        return;
    }
    if (is_elem(n, "a")) {
        walk_link(o, n, pre);
        return;
    }
    if (is_elem(n, "tr")) {
        walk_row(o, n, pre, list_depth);
        return;
    }
    if (is_elem(n, "li")) {
        out_break(o, 1);
        o->prefix = "- ";
        walk_children(o, n, pre, list_depth);
        o->prefix = NULL;
        out_break(o, 1);
        return;
    }
    if (is_elem(n, "ul") || is_elem(n, "ol")) {
        int gap = list_depth > 0 ? 1 : 2;
        out_break(o, gap);
        walk_children(o, n, pre, list_depth + 1);
        out_break(o, gap);
        return;
    }
    if (is_elem(n, "hr")) {
        out_break(o, 2);
        return;
    }
    int gap = (kind & K_PARA) ? 2 : (kind & K_BLOCK) ? 1 : 0;
    bool in_pre = pre || is_elem(n, "pre") || is_elem(n, "textarea") || is_elem(n, "xmp") ||
                  is_elem(n, "listing") || is_elem(n, "plaintext");
    if (gap)
        out_break(o, gap);
    walk_children(o, n, in_pre, list_depth);
    if (gap)
        out_break(o, gap);
}

/* Trim each line, keep at most one blank line in a row, trim the ends. */
static char *finish(const char *raw)
{
    m2s_tidy_opts opts = { .collapse_blank = true };
    return m2s_text_tidy(raw, &opts);
}

char *m2s_html_to_text(const char *html, size_t len, size_t max_text)
{
    char *res = NULL;
    htmlDocPtr doc = NULL;
    char *clean = NULL;
    out o;
    out_init(&o);

    if (!html || len == 0 || len > (size_t)0x7fffffff)
        goto out;
    /* libxml2 passes invalid bytes through to the text; clean them first */
    clean = m2s_utf8_sanitize(html, len);
    if (!*clean)
        goto out;
    doc = htmlReadMemory(clean, (int)strlen(clean), NULL, "UTF-8",
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                         HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    if (!doc)
        goto out;
    o.limit = max_text;
    walk(&o, (const xmlNode *)doc, false, 0);
    res = finish(o.buf.data ? o.buf.data : "");

out:
    if (doc)
        xmlFreeDoc(doc);
    free(clean);
    m2s_buf_clear(&o.buf);
    return res ? res : xstrdup("");
}

/* ------------------------------------------------------------ boilerplate */

/* Phrases a text/plain alternative says when it only points at the HTML
 * part. Matched on lower-cased, squashed text. */
static const char *const boiler_phrases[] = {
    "(view|read|see|open) (this|the|our|it|this e-?mail|the e-?mail|this message|the message|this newsletter)?"
        " ?(e-?mail|message|newsletter|mail)? ?(online|on (the|our) (web|website)|"
        "in (your|a|the) (web )?browser|as a web ?page|on the web)",
    "(this|the) (e-?mail|message|newsletter) (requires|needs|is best viewed with|must be viewed with)"
        " (an? )?(html[- ]?(capable|compatible|enabled)? )?(e-?mail |mail )?(client|reader|program|viewer|software)",
    "(this|the) (e-?mail|message) (is|was) (sent|written|formatted|composed) (in|as|using) html",
    "your (e-?mail |mail )?(client|program|reader|software|application) (does not|doesn't|cannot|can't|can not|is unable to|may not)"
        " (support|display|read|show|render|handle)( the)? html( (e-?mails?|messages?|content|format|version))?",
    "if you (cannot|can't|can not|are unable to|are not able to|have (trouble|problems|difficulty|difficulties)|"
        "are having (trouble|problems|difficulty|difficulties))( in)? (read|view|see|display)(ing)? (this|the|our)"
        " (e-?mail|message|newsletter)( (properly|correctly|clearly))?",
    "(having )?(trouble|problems) (viewing|reading) (this|the) (e-?mail|message)",
    "to view (this|the|our) (e-?mail|message|newsletter)( (as a web ?page|online|in (your|a) (web )?browser))?",
    "(click|tap|go) (here|this link|the link below|on the link below)",
    "(copy|paste|copy and paste|cut and paste) (this|the following|the) ?(link|url|address)? ?(below)? ?(into|in) (your|a) (web )?browser",
    "(html|web|online|browser|plain[- ]text) version",
    "this is a (multi-?part|mime)[- ]?(formatted|encoded)? message( in mime format)?",
    "html[- ]?(capable|compatible|enabled) (e-?mail )?(client|reader)",
    "(this|the) (e-?mail|message|newsletter) contains (graphics|images|pictures)",
    "if you (do not|don't|cannot|can't|can not) see (the )?(graphics|images|pictures)",
    "(to )?view (it|this)? ?(online|here)?",
    "unsubscribe( here)?|manage (your )?(e-?mail )?(preferences|subscriptions?)",
    "(an? )?(web )?(browser|client|program|reader|viewer)( that| which)? (supports|can (display|show|read)|is able to (display|show|read)) html( e-?mails?| messages?| content)?",
    NULL,
};

static const char *const filler_words[] = {
    "here", "please", "or", "and", "the", "a", "an", "to", "link", "below", "following",
    "this", "email", "e-mail", "message", "at", "in", "on", "your", "browser", "online",
    "version", "you", "can", "it", "view", "copy", "paste", "open", "web", "page", "click",
    "of", "for", "visit", "use", "instead", "html", "mail", "newsletter", "url", "address",
    "via", "go", "to:", "if", "is", "not", "displaying", "properly", "correctly", "that",
    "which", "supports", NULL,
};

/* The phrases compiled once per process (they are asked about line by
 * line), by whichever thread asks first; NULL for one that does not
 * compile. Kept until exit. */
#define N_BOILER (sizeof boiler_phrases / sizeof boiler_phrases[0])
static regex_t boiler_compiled[N_BOILER];
static signed char boiler_state[N_BOILER];
static pthread_once_t boiler_once = PTHREAD_ONCE_INIT;

static void boiler_compile(void)
{
    for (size_t i = 0; i < N_BOILER; i++)
        if (boiler_phrases[i])
            boiler_state[i] = regcomp(&boiler_compiled[i], boiler_phrases[i],
                                      REG_EXTENDED | REG_ICASE) == 0 ? 1 : -1;
}

static const regex_t *boiler_regex(size_t i)
{
    pthread_once(&boiler_once, boiler_compile);
    return boiler_state[i] > 0 ? &boiler_compiled[i] : NULL;
}

static void blank_span(char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        s[i] = ' ';
}

int m2s_text_is_boilerplate(const char *text)
{
    int result = 0;
    char *s = m2s_text_squash(text ? text : "");
    size_t len = strlen(s);
    if (len == 0) {
        result = 1;
        goto out;
    }
    if (len > 300)
        goto out;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    bool names_html = strstr(s, "html") != NULL;

    size_t letters_before = 0;
    for (size_t i = 0; i < len; i++)
        if (isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            letters_before++;

    /* URLs and addresses say nothing by themselves */
    for (size_t i = 0; i < len;) {
        if (strncmp(s + i, "http://", 7) == 0 || strncmp(s + i, "https://", 8) == 0 ||
            strncmp(s + i, "www.", 4) == 0 || strncmp(s + i, "mailto:", 7) == 0 ||
            s[i] == '<') {
            size_t j = i;
            while (j < len && s[j] != ' ' && (s[i] != '<' || s[j] != '>'))
                j++;
            if (j < len && s[j] == '>')
                j++;
            blank_span(s, i, j);
            i = j;
        } else {
            i++;
        }
    }

    bool matched = false;
    for (size_t p = 0; boiler_phrases[p]; p++) {
        const regex_t *re = boiler_regex(p);
        if (!re)
            continue;
        regmatch_t m;
        size_t off = 0;
        while (off < len && regexec(re, s + off, 1, &m, 0) == 0) {
            if (m.rm_eo == m.rm_so) {
                off += (size_t)m.rm_so + 1;
                continue;
            }
            blank_span(s, off + (size_t)m.rm_so, off + (size_t)m.rm_eo);
            off += (size_t)m.rm_eo;
            matched = true;
        }
    }

    /* What is left: words that are not filler */
    size_t letters_left = 0;
    char *save = NULL;
    for (char *w = strtok_r(s, " \t\r\n.,;:!?()[]\"'*-|>", &save); w;
         w = strtok_r(NULL, " \t\r\n.,;:!?()[]\"'*-|>", &save)) {
        bool filler = false;
        for (size_t f = 0; filler_words[f]; f++)
            if (strcmp(w, filler_words[f]) == 0)
                filler = true;
        if (filler)
            continue;
        for (char *c = w; *c; c++)
            if (isalnum((unsigned char)*c) || (unsigned char)*c >= 0x80)
                letters_left++;
    }
    if (letters_left == 0 && !matched) {
        /* only filler and links: nothing to read either */
        result = 1;
        goto out;
    }
    result = matched && letters_left <= 12 && letters_left * 10 <= letters_before;
    /* A short text that names HTML and says nothing but such phrases
     * points at the HTML part, however it is worded. */
    if (matched && !result && len <= 200 && names_html && letters_left <= 20)
        result = 1;

out:
    free(s);
    return result;
}

void m2s_html_init(void)
{
    xmlInitParser();
    pthread_once(&boiler_once, boiler_compile);
}
