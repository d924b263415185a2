/*
 * ui_assets.h - the operator dashboard's files (ui/ in the sources),
 * compiled into the binary at build time (scripts/embed-ui), for the API
 * to serve under /ui/ without reading anything from disk.
 */
#ifndef TENANTDEL_UI_ASSETS_H
#define TENANTDEL_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *path;          /* the URL path: "/ui/app.js" */
	const char *content_type;  /* for the Content-Type header */
	const unsigned char *data; /* len bytes, then a NUL */
	size_t len;
};

/*
 * The file served at the URL path (without query): "/ui/" is index.html,
 * "/ui/NAME" the file NAME of ui/. NULL for any other path (there is no
 * file system behind it: "/ui/../x" is simply not in the table). The
 * result is static data, never freed.
 */
const struct ui_asset *ui_asset_find(const char *path);

#endif
