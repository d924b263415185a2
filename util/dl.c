/*
 * dl.c - libraries loaded when first needed; see dl.h.
 */
#include "util/dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;

static void clear(struct dl_lib *lib)
{
	for (size_t i = 0; i < lib->n_syms; i++)
		*lib->syms[i].addr = NULL;
}

int dl_load(struct dl_lib *lib, char *err, size_t errlen)
{
	const char *why = NULL, *missing = NULL;
	int rc = 0, init_failed = 0;

	pthread_mutex_lock(&dl_mu);
	if (lib->loaded)
		goto out;
	dlerror();
	lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (lib->handle == NULL) {
		why = dlerror();
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < lib->n_syms; i++) {
		*lib->syms[i].addr = dlsym(lib->handle, lib->syms[i].name);
		if (*lib->syms[i].addr == NULL) {
			missing = lib->syms[i].name;
			break;
		}
	}
	init_failed = missing == NULL && lib->init != NULL && lib->init() < 0;
	if (missing != NULL || init_failed) {
		clear(lib);
		dlclose(lib->handle);
		lib->handle = NULL;
		rc = -1;
		goto out;
	}
	lib->loaded = 1;
out:
	if (rc < 0 && missing != NULL) /* dlerror's text is only good until the next dl call */
		snprintf(err, errlen, "%s: %s has no %s: a newer one is needed (Debian package "
			 "%s)", lib->what, lib->soname, missing, lib->package);
	else if (init_failed)
		snprintf(err, errlen, "%s: %s cannot be initialised", lib->what, lib->soname);
	else if (rc < 0)
		snprintf(err, errlen, "%s: %s is needed (Debian package %s): %s", lib->what,
			 lib->soname, lib->package, why != NULL ? why : "it cannot be loaded");
	pthread_mutex_unlock(&dl_mu);
	return rc;
}

static void *preload_main(void *arg)
{
	struct dl_preload *p = arg;
	char err[256];

	(void)dl_load(p->lib, err, sizeof err);
	return NULL;
}

void dl_process_setup(void)
{
	(void)setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
}

void dl_preload_start(struct dl_preload *p, struct dl_lib *lib)
{
	sigset_t all, old;

	p->lib = lib;
	/* signals stay the loop's thread's: the thread starts with all blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* no thread: the first dl_load loads it, as without a preload */
	p->started = pthread_create(&p->thread, NULL, preload_main, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void dl_preload_join(struct dl_preload *p)
{
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = 0;
}
