/*
 * certificate_int.h - what the two halves of the certificate share inside
 * jobs/: certificate.c renders every job's, certificate_subject.c the part
 * that only a subject job's (DESIGN 9) has. Not an interface for others.
 */
#ifndef TENANTDEL_CERTIFICATE_INT_H
#define TENANTDEL_CERTIFICATE_INT_H

#include "jobs/certificate.h"

/* One delete task as a certificate entry: service, phase, state, counts
 * before, deleted and after, verification, attempts, HTTP status, when it
 * completed. Caller deletes. */
cJSON *certificate_render_service(const struct task_record *t);

/* A subject job's part of its certificate, added to cert: "tenants" (each
 * with its child purge's reference), "discovery", "memberships",
 * "user_data" and "totals". */
void certificate_render_subject(cJSON *cert, const struct proof_record *p);

#endif
