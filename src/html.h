/* html.h - HTML to readable plain text with libxml2's HTML parser.
 *
 * <head>, <style>, <script> and comments are dropped; block elements and
 * <br> become line breaks; <li> becomes a "- " line; table rows become
 * lines with non-empty cells joined by " | "; links become "text (url)"
 * unless the text is the URL (mailto: and javascript: targets are
 * dropped); tracking-pixel images vanish, other images give their alt
 * text; entities are decoded; whitespace is collapsed.
 */
#ifndef M2S_HTML_H
#define M2S_HTML_H

#include <stddef.h>

/* Convert len bytes of UTF-8 HTML. Returns new UTF-8 text (caller frees),
 * never NULL ("" for nothing readable). With max_text > 0 the conversion
 * stops once about max_text bytes of text other than white space are out
 * (it may end mid-line); the text up to there is the same as without it. */
char *m2s_html_to_text(const char *html, size_t len, size_t max_text);

/* Set libxml2 up before several threads convert HTML at once (once per
 * process, from the main thread). */
void m2s_html_init(void);

/* True when a text/plain alternative is only "view this in a browser"
 * boilerplate: short and says nothing beyond such phrases. */
int m2s_text_is_boilerplate(const char *text);

#endif
