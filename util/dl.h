/*
 * dl.h - the libraries a command may not need, loaded when first needed
 * instead of before main: libcurl (run's requests, webhooks), libpq (the
 * PostgreSQL backend), libmicrohttpd (the HTTP API) and libcrypto (keys and
 * certificates a config names, Ed25519 signatures).
 *
 * Linked, those three bring ~30 more libraries (Kerberos, LDAP, GnuTLS,
 * SSH, RTMP...), and the dynamic loader maps and relocates all of them for
 * every command: ~330 of the ~560 page faults of `tenantdel --version`, 12
 * of its 19 ms on a virtual machine where a page fault is dear. A
 * `schedule`, `list` or `show` on SQLite needs none of them.
 *
 * Each library has a header of its own (scheduler/curl_lib.h,
 * scheduler/mhd_lib.h, store/pg/libpq.h, util/crypto_lib.h) that declares a pointer sym_NAME of
 * the library's own type for each function the code calls, and a load
 * function: call sites say sym_curl_easy_init(...), so a reader sees which
 * calls go through a loaded library. The sonames are the ABI the code is
 * built against (libcurl.so.4 since 2006, libpq.so.5 since 2006,
 * libmicrohttpd.so.12 since 2014, libcrypto.so.3 since 2021).
 */
#ifndef TENANTDEL_UTIL_DL_H
#define TENANTDEL_UTIL_DL_H

#include <pthread.h>
#include <stddef.h>

/* One function to resolve: its name and the pointer to fill. */
struct dl_sym {
	const char *name;
	void **addr;
};

/* A library loaded on demand: what to open, what to tell a user who lacks
 * it, the functions to resolve, and what to run once they are (NULL:
 * nothing; 0 or -1). loaded is set once it is; dl_load is called from any
 * thread. */
struct dl_lib {
	const char *soname;  /* "libcurl.so.4" */
	const char *package; /* Debian's package with it, "libcurl4" */
	const char *what;    /* what needs it, "HTTP requests" */
	const struct dl_sym *syms;
	size_t n_syms;
	int (*init)(void);   /* curl_global_init, say */
	void *handle;
	int loaded;
};

/*
 * Opens lib, resolves each of its functions and runs its init, once (later
 * calls return at once). 0, or -1 with err set to a sentence a user can act on
 * ("HTTP requests: libcurl.so.4 is needed (Debian package libcurl4): ..."), and
 * nothing left loaded.
 */
int dl_load(struct dl_lib *lib, char *err, size_t errlen);

/*
 * A load of lib begun on a thread of its own, for a command that needs the
 * library only after work of its own: `run` opens the store and starts its
 * first jobs while libcurl is mapped and initialised (~8 ms here), and its
 * first requests wait for neither. Errors are the later dl_load's to report
 * (it tries again). dl_preload_join before the command returns: a process
 * must not exit while a library is still being initialised.
 */
struct dl_preload {
	struct dl_lib *lib;
	pthread_t thread;
	int started;
};
void dl_preload_start(struct dl_preload *p, struct dl_lib *lib);
void dl_preload_join(struct dl_preload *p);

/*
 * What the process's environment must say before any of those libraries
 * loads; called first thing in main, while the process has one thread
 * (setenv is not safe beside another thread's getenv). GnuTLS, which
 * libcurl brings for its RTMP and LDAP support and libmicrohttpd for an
 * HTTPS it is never asked for, initialises itself as it loads, for every
 * `run`, unless GNUTLS_NO_IMPLICIT_INIT is set: ~0.9 MB and ~1 ms of a
 * run's start for a library no call of tenantdel's uses (a library that
 * does use it calls gnutls_global_init itself, as GnuTLS asks). A value
 * the user set stays.
 */
void dl_process_setup(void);

/* For a library's list of functions, X(f) each: FUNCS(DL_DECLARE) in its
 * header declares the pointers; DL_LIBRARY in its .c defines them and
 * `static struct dl_lib var` to load them with. */
#define DL_DECLARE(f) extern __typeof__(f) *sym_##f;
#define DL_DEFINE(f) __typeof__(f) *sym_##f;
#define DL_ENTRY(f) { #f, (void **)&sym_##f },
#define DL_LIBRARY(var, FUNCS, soname_, package_, what_, init_)                           \
	FUNCS(DL_DEFINE)                                                                  \
	static const struct dl_sym var##_syms[] = { FUNCS(DL_ENTRY) };                    \
	static struct dl_lib var = { .soname = soname_, .package = package_, .what = what_, \
				     .syms = var##_syms,                                  \
				     .n_syms = sizeof var##_syms / sizeof var##_syms[0],  \
				     .init = init_ }

#endif
