/*
 * ui_assets.c - lookup in the dashboard's embedded files. The bytes and the
 * table (UI_ASSETS) are generated from ui/ by scripts/embed-ui into the
 * build folder; see the Makefile.
 */
#include "scheduler/ui_assets.h"
#include "util/util.h"

#include <string.h>

#include "ui_assets.inc"

const struct ui_asset *ui_asset_find(const char *path)
{
	if (path == NULL)
		return NULL;
	if (strcmp(path, "/ui/") == 0)
		path = "/ui/index.html";
	for (size_t i = 0; i < ARRAY_LEN(UI_ASSETS); i++)
		if (strcmp(UI_ASSETS[i].path, path) == 0)
			return &UI_ASSETS[i];
	return NULL;
}
