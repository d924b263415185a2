/*
 * timefmt.c - durations, RFC 3339 times and HTTP Retry-After values.
 * Calendar arithmetic is done here (proleptic Gregorian, UTC), not with
 * timegm/strptime, so that results depend on neither TZ nor locale.
 */
#include "jobs/timefmt.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_S 1000LL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
#define MS_PER_D (24 * MS_PER_H)

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads one unit name at *p; returns its length in ms and advances, or 0. */
static int64_t read_unit(const char **p)
{
	const char *s = *p;

	if (s[0] == 'm' && s[1] == 's') {
		*p += 2;
		return 1;
	}
	*p += 1;
	switch (s[0]) {
	case 's': return MS_PER_S;
	case 'm': return MS_PER_M;
	case 'h': return MS_PER_H;
	case 'd': return MS_PER_D;
	}
	*p -= 1;
	return 0;
}

/*
 * Parses "<digits><unit>..." into ms; units may come in any order ("30m1h"
 * is 90 minutes). Returns 0, or -1 on empty input, signs, spaces, unknown
 * units, a number without a unit, or a total that overflows int64.
 */
int timefmt_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*s != '\0') {
		int64_t n = 0, unit;

		if (!is_digit(*s))
			return -1;
		for (; is_digit(*s); s++) {
			if (n > (INT64_MAX - (*s - '0')) / 10)
				return -1;
			n = n * 10 + (*s - '0');
		}
		unit = read_unit(&s);
		if (unit == 0 || n > INT64_MAX / unit || total > INT64_MAX - n * unit)
			return -1;
		total += n * unit;
	}
	*ms = total;
	return 0;
}

/*
 * Writes ms as d/h/m/s/ms parts, largest first, zero parts left out
 * ("1d12h", "1m30s", "1s500ms"); "0s" for zero, a leading '-' when
 * negative. Always NUL-terminates when outlen > 0 (truncating if short).
 */
void timefmt_format_duration(int64_t ms, char *out, size_t outlen)
{
	static const struct { int64_t ms; const char *name; } units[] = {
		{ MS_PER_D, "d" }, { MS_PER_H, "h" }, { MS_PER_M, "m" },
		{ MS_PER_S, "s" }, { 1, "ms" },
	};
	char tmp[64];
	size_t len = 0;
	uint64_t v;

	if (outlen == 0)
		return;
	if (ms == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	if (ms < 0)
		tmp[len++] = '-';
	v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = v / (uint64_t)units[i].ms;
		if (n == 0)
			continue;
		v -= n * (uint64_t)units[i].ms;
		len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%llu%s",
					(unsigned long long)n, units[i].name);
	}
	snprintf(out, outlen, "%s", tmp);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : mdays[m - 1];
}

/* Reads exactly n digits at *p into *v and advances; -1 if not digits. */
static int read_digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

/* Reads the expected character c at *p and advances; -1 otherwise. */
static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* A broken-down UTC time, validated by to_epoch_ms. */
struct civil {
	int year, mon, day, hour, min, sec, ms;
};

/* -1 when a field is out of range (Feb 29 only in leap years); second 60
 * (a leap second) is accepted and falls on the next minute's first second. */
static int to_epoch_ms(const struct civil *c, int64_t *out)
{
	if (c->mon < 1 || c->mon > 12 || c->day < 1 || c->day > days_in_month(c->year, c->mon))
		return -1;
	if (c->hour > 23 || c->min > 59 || c->sec > 60 || c->ms < 0 || c->ms > 999)
		return -1;
	int64_t days = days_from_civil(c->year, c->mon, c->day);
	int64_t secs = days * 86400 + c->hour * 3600 + c->min * 60 + c->sec;
	*out = secs * 1000 + c->ms;
	return 0;
}

/* Reads ".ddd..." (1 or more digits; beyond milliseconds truncated). */
static int read_fraction(const char **p, int *ms)
{
	int scale = 100;

	*ms = 0;
	if (**p != '.')
		return 0;
	(*p)++;
	if (!is_digit(**p))
		return -1;
	for (; is_digit(**p); (*p)++) {
		*ms += (**p - '0') * scale;
		scale /= 10;
	}
	return 0;
}

/* Reads "Z" or "+hh:mm"/"-hh:mm" into an offset east of UTC in ms. */
static int read_offset(const char **p, int64_t *off_ms)
{
	int sign, h, m;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*off_ms = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -1;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (read_digits(p, 2, &h) < 0 || expect(p, ':') < 0 || read_digits(p, 2, &m) < 0)
		return -1;
	if (h > 23 || m > 59)
		return -1;
	*off_ms = sign * ((int64_t)h * MS_PER_H + m * MS_PER_M);
	return 0;
}

#define TIMEFMT_YEAR0_MS (-62167219200000LL)      /* 0000-01-01T00:00:00Z */
#define TIMEFMT_YEAR9999_END_MS 253402300799999LL  /* 9999-12-31T23:59:59.999Z */

/* See timefmt.h. Nothing may follow the offset. */
int timefmt_parse_time(const char *s, int64_t *ms)
{
	struct civil c;
	int64_t t, off;
	const char *p = s;

	if (s == NULL)
		return -1;
	if (read_digits(&p, 4, &c.year) < 0 || expect(&p, '-') < 0 ||
	    read_digits(&p, 2, &c.mon) < 0 || expect(&p, '-') < 0 ||
	    read_digits(&p, 2, &c.day) < 0)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (read_digits(&p, 2, &c.hour) < 0 || expect(&p, ':') < 0 ||
	    read_digits(&p, 2, &c.min) < 0 || expect(&p, ':') < 0 ||
	    read_digits(&p, 2, &c.sec) < 0 || read_fraction(&p, &c.ms) < 0 ||
	    read_offset(&p, &off) < 0 || *p != '\0')
		return -1;
	if (to_epoch_ms(&c, &t) < 0)
		return -1;
	/* A leap second or an offset can move the time out of the four-digit
	 * years; it could not be written back (timefmt_format_time). */
	if (t - off < TIMEFMT_YEAR0_MS || t - off > TIMEFMT_YEAR9999_END_MS)
		return -1;
	*ms = t - off;
	return 0;
}

/* See timefmt.h. Works for any int64 (negative: before 1970). */
void timefmt_format_time(int64_t ms, char out[TIMEFMT_TIME_LEN])
{
	int64_t secs = ms / 1000, frac = ms % 1000, days, sod, year;
	int mon, day;

	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	civil_from_days(days, &year, &mon, &day);
	if (frac != 0)
		snprintf(out, TIMEFMT_TIME_LEN, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 (long long)year, mon, day, (int)(sod / 3600), (int)(sod / 60 % 60),
			 (int)(sod % 60), (int)frac);
	else
		snprintf(out, TIMEFMT_TIME_LEN, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
			 (long long)year, mon, day, (int)(sod / 3600), (int)(sod / 60 % 60),
			 (int)(sod % 60));
}

/* Index 1-12 of a 3-letter English month name at p (case-sensitive), or 0. */
static int month_index(const char *p)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (strncmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* Skips a weekday name ("Sun" or "Sunday"), -1 when it is not one. */
static int skip_weekday(const char **p, int long_form)
{
	static const char *const days[7] = {
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
	};

	for (int i = 0; i < 7; i++) {
		size_t n = long_form ? strlen(days[i]) : 3;
		if (strncmp(*p, days[i], n) == 0) {
			*p += n;
			return 0;
		}
	}
	return -1;
}

/* Reads "hh:mm:ss". */
static int read_hms(const char **p, struct civil *c)
{
	return read_digits(p, 2, &c->hour) < 0 || expect(p, ':') < 0 ||
	       read_digits(p, 2, &c->min) < 0 || expect(p, ':') < 0 ||
	       read_digits(p, 2, &c->sec) < 0 ? -1 : 0;
}

/* Reads a month name at *p into c->mon and advances. */
static int read_month(const char **p, struct civil *c)
{
	c->mon = month_index(*p);
	if (c->mon == 0)
		return -1;
	*p += 3;
	return 0;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static int parse_imf(const char *p, struct civil *c)
{
	if (skip_weekday(&p, 0) < 0 || expect(&p, ',') < 0 || expect(&p, ' ') < 0 ||
	    read_digits(&p, 2, &c->day) < 0 || expect(&p, ' ') < 0 ||
	    read_month(&p, c) < 0 || expect(&p, ' ') < 0 ||
	    read_digits(&p, 4, &c->year) < 0 || expect(&p, ' ') < 0 ||
	    read_hms(&p, c) < 0 || strcmp(p, " GMT") != 0)
		return -1;
	return 0;
}

/*
 * RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". The two-digit year is put in
 * the century that makes it at most 50 years ahead of now (RFC 9110 5.6.7).
 */
static int parse_rfc850(const char *p, struct civil *c, int now_year)
{
	int yy, year;

	if (skip_weekday(&p, 1) < 0 || expect(&p, ',') < 0 || expect(&p, ' ') < 0 ||
	    read_digits(&p, 2, &c->day) < 0 || expect(&p, '-') < 0 ||
	    read_month(&p, c) < 0 || expect(&p, '-') < 0 ||
	    read_digits(&p, 2, &yy) < 0 || expect(&p, ' ') < 0 ||
	    read_hms(&p, c) < 0 || strcmp(p, " GMT") != 0)
		return -1;
	year = now_year - now_year % 100 + yy;
	if (year > now_year + 50)
		year -= 100;
	c->year = year;
	return 0;
}

/* asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space or a zero). */
static int parse_asctime(const char *p, struct civil *c)
{
	if (skip_weekday(&p, 0) < 0 || expect(&p, ' ') < 0 ||
	    read_month(&p, c) < 0 || expect(&p, ' ') < 0)
		return -1;
	if (*p == ' ') {
		p++;
		if (read_digits(&p, 1, &c->day) < 0)
			return -1;
	} else if (read_digits(&p, 2, &c->day) < 0) {
		return -1;
	}
	if (expect(&p, ' ') < 0 || read_hms(&p, c) < 0 || expect(&p, ' ') < 0 ||
	    read_digits(&p, 4, &c->year) < 0 || *p != '\0')
		return -1;
	return 0;
}

/* Parses any of the three HTTP-date forms into epoch ms. */
static int parse_http_date(const char *s, int64_t now_ms, int64_t *t)
{
	struct civil c = { 0 };
	int64_t y;
	int m, d;

	civil_from_days((now_ms >= 0 ? now_ms : 0) / MS_PER_D, &y, &m, &d);
	if (parse_imf(s, &c) < 0 && parse_rfc850(s, &c, (int)y) < 0 &&
	    parse_asctime(s, &c) < 0)
		return -1;
	return to_epoch_ms(&c, t);
}

/*
 * See timefmt.h. Surrounding spaces and tabs are ignored. A delta too large
 * for int64 milliseconds saturates (the caller caps it at max_delay anyway).
 */
int timefmt_parse_retry_after(const char *value, int64_t now_ms, int64_t *wait_ms)
{
	char buf[64];
	size_t n;
	int64_t t;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, value, n);
	buf[n] = '\0';
	if (is_digit(buf[0])) {
		int64_t secs = 0;
		for (const char *p = buf; *p; p++) {
			if (!is_digit(*p))
				return -1;
			int dig = *p - '0';
			secs = secs > (INT64_MAX - dig) / 10 ? INT64_MAX : secs * 10 + dig;
		}
		*wait_ms = secs > INT64_MAX / 1000 ? INT64_MAX : secs * 1000;
		return 0;
	}
	if (parse_http_date(buf, now_ms, &t) < 0)
		return -1;
	*wait_ms = t > now_ms ? t - now_ms : 0;
	return 0;
}
