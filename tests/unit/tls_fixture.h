/*
 * tls_fixture.h - PEM files for the config's TLS checks: a self-signed
 * certificate (it is its own CA) with its key, and another key that does
 * not match it. Test data only: generated once with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes`.
 */
#ifndef TENANTDEL_TLS_FIXTURE_H
#define TENANTDEL_TLS_FIXTURE_H

static const char TLS_CERT_PEM[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBijCCAS+gAwIBAgIUJzWM9rIcz24VWQJIdrBzXUN2Nz8wCgYIKoZIzj0EAwIw\n"
	"GTEXMBUGA1UEAwwOdGVuYW50ZGVsLXRlc3QwIBcNMjYxMjAxMTUxMzUyWhgPMjEy\n"
	"NjExMDcxNTEzNTJaMBkxFzAVBgNVBAMMDnRlbmFudGRlbC10ZXN0MFkwEwYHKoZI\n"
	"zj0CAQYIKoZIzj0DAQcDQgAE6U5wK+8Sh3Cugqd6cRsZLeWJeQ5/MZVxBIzoQU5M\n"
	"oi8yPrEcSUk3FFlvpHZIg1z2vqMic/hXUKMJ49I9XjnpQaNTMFEwHQYDVR0OBBYE\n"
	"FATVN3seTyNgBPsxeBgD1ba0LaiOMB8GA1UdIwQYMBaAFATVN3seTyNgBPsxeBgD\n"
	"1ba0LaiOMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAKo/TsaA\n"
	"yPqk2DEaohIiX7Fy36FBZSGZ/8S3YOkmReGrAiEAwMDG4EPsEekkOS4SmD6d8Ftl\n"
	"BGZIVJTjrLqIUxGFCxw=\n"
	"-----END CERTIFICATE-----\n";

static const char TLS_KEY_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzcKz2qseKwkFJKG0\n"
	"JGVr1Uh7xyaR+0lYwhK+kTQQEFahRANCAATpTnAr7xKHcK6Cp3pxGxkt5Yl5Dn8x\n"
	"lXEEjOhBTkyiLzI+sRxJSTcUWW+kdkiDXPa+oyJz+FdQownj0j1eOelB\n"
	"-----END PRIVATE KEY-----\n";

static const char TLS_OTHER_KEY_PEM[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdRRDMSRN3XNiiChu\n"
	"pIo0Hoqreh5ijP2kp9j7ytusG52hRANCAAT4aRqQke5PP7y0P+st3pRbjX0ptny4\n"
	"ym1svjt4dscLqvdOIo+rz0xa3aPr8pgxMobuVVBdAKjHZQFKnlB3Agkv\n"
	"-----END PRIVATE KEY-----\n";

#endif
