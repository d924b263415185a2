/*
 * shared.h - the store's rules that do not depend on a database, written
 * once above the backends (store/tasks.c, store/actions.c, ...): each
 * takes what a backend reads as plain records, or a small table of the
 * backend's row primitives, the way store/events.c checks the chain over
 * the rows a backend walks. For the backends and the shared files of
 * store/ only: callers include store.h, never this.
 */
#ifndef TENANTDEL_STORE_SHARED_H
#define TENANTDEL_STORE_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "store/backend.h"

/* The last error of a task whose service the config lacks: it waits. */
#define STORE_ABSENT_ERROR "service not in config"

/* A service set read back: its members by phase, then name. */
struct store_set {
	struct store_set_member {
		char *name;
		int phase;
	} *v;
	size_t n, cap;
};

/* Frees the members' names and the array, and zeroes the set (it can be
 * filled again). Accepts an empty set. Can't fail. */
void store_set_free(struct store_set *set);

/* 1 when the set has a member called name (NULL: ""), else 0. */
int store_set_has(const struct store_set *set, const char *name);

/* 1 when name is one of a subject job's steps: no config service ([subject]
 * names their URLs), so never absent from the config. */
int store_is_step(const char *name);

/* 1 when a task of service name has its service in svcs (n of them), or is
 * a subject job's step. */
int store_is_configured(const struct store_service *svcs, size_t n, const char *name);

#endif
