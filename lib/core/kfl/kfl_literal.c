// SPDX-License-Identifier: Apache-2.0
/* Numbers, units and times as a query writes them (kfl_ast.h, kfl.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kfl/kfl.h"
#include "kfl/kfl_ast.h"

#define NS_PER_SEC 1000000000LL
#define NS_PER_DAY (86400LL * NS_PER_SEC)

/* The length of the decimal number at the start of s (0: none). */
static size_t number_len(const char *s)
{
	size_t i = 0, digits = 0;

	if (s[i] == '-' || s[i] == '+')
		i++;
	while (isdigit((unsigned char)s[i])) {
		i++;
		digits++;
	}
	if (s[i] == '.') {
		i++;
		while (isdigit((unsigned char)s[i])) {
			i++;
			digits++;
		}
	}
	if (!digits)
		return 0;
	/* An exponent only when digits follow it: "1e" is not a number, and "5min" keeps
	 * its unit. */
	if (s[i] == 'e' || s[i] == 'E') {
		size_t j = i + 1;

		if (s[j] == '-' || s[j] == '+')
			j++;
		if (isdigit((unsigned char)s[j])) {
			while (isdigit((unsigned char)s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

bool kfl_lit_number(const char *text, double *out)
{
	size_t n = number_len(text);

	if (!n || text[n])
		return false;
	*out = strtod(text, NULL);
	return true;
}

static const struct {
	const char *name;
	enum kfl_unit unit;
	double scale; /* to ms, or to bytes */
} units[] = {
    /* Durations compare with duration_ms fields, in milliseconds. */
    {"ns", UNIT_DURATION, 1e-6},
    {"us", UNIT_DURATION, 1e-3},
    {"\xc2\xb5s", UNIT_DURATION, 1e-3}, /* µs */
    {"ms", UNIT_DURATION, 1},
    {"s", UNIT_DURATION, 1e3},
    {"m", UNIT_DURATION, 60e3},
    {"min", UNIT_DURATION, 60e3},
    {"h", UNIT_DURATION, 3600e3},
    {"d", UNIT_DURATION, 86400e3},
    /* Sizes compare with bytes fields: SI prefixes are powers of 1000, IEC ones of 1024. */
    {"B", UNIT_SIZE, 1},
    {"kB", UNIT_SIZE, 1e3},
    {"KB", UNIT_SIZE, 1e3},
    {"MB", UNIT_SIZE, 1e6},
    {"GB", UNIT_SIZE, 1e9},
    {"TB", UNIT_SIZE, 1e12},
    {"KiB", UNIT_SIZE, 1024.0},
    {"MiB", UNIT_SIZE, 1024.0 * 1024},
    {"GiB", UNIT_SIZE, 1024.0 * 1024 * 1024},
    {"TiB", UNIT_SIZE, 1024.0 * 1024 * 1024 * 1024},
};

bool kfl_lit_unit(const char *text, double *out, enum kfl_unit *unit)
{
	size_t n = number_len(text);

	if (!n)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(text + n, units[i].name))
			continue;
		*out = strtod(text, NULL) * units[i].scale;
		*unit = units[i].unit;
		return true;
	}
	return false;
}

bool kfl_lit_duration_ns(const char *text, int64_t *ns)
{
	enum kfl_unit unit;
	double ms;

	if (text[0] == '-' || text[0] == '+' || !kfl_lit_unit(text, &ms, &unit) ||
	    unit != UNIT_DURATION || !(ms * 1e6 < 9e18))
		return false;
	*ns = (int64_t)(ms * 1e6);
	return true;
}

/* n decimal digits at s, as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

bool kfl_lit_rfc3339(const char *s, size_t len, int64_t *ns)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	int64_t frac = 0, t;
	size_t i = 10;

	if (len < 10 || s[4] != '-' || s[7] != '-')
		return false;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	/* int64 nanoseconds reach from 1677-09-21 to 2262-04-11. */
	if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		if (len < i + 6 || s[i + 3] != ':')
			return false;
		h = digits(s + i + 1, 2);
		mi = digits(s + i + 4, 2);
		i += 6;
		if (i < len && s[i] == ':') {
			if (len < i + 3)
				return false;
			sec = digits(s + i + 1, 2);
			i += 3;
			if (i < len && s[i] == '.') {
				int nd = 0;

				for (i++; i < len && isdigit((unsigned char)s[i]); i++, nd++)
					if (nd < 9)
						frac = frac * 10 + (s[i] - '0');
				if (!nd)
					return false;
				for (; nd < 9; nd++)
					frac *= 10;
			}
		}
		/* 60: a leap second, which Unix time folds into the next. */
		if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
			return false;
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int oh, om;

			if (len < i + 6 || s[i + 3] != ':')
				return false;
			oh = digits(s + i + 1, 2);
			om = digits(s + i + 4, 2);
			if (oh < 0 || oh > 23 || om < 0 || om > 59)
				return false;
			off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
			i += 6;
		}
	}
	if (i != len)
		return false;
	t = days_from_civil(y, mo, d) * NS_PER_DAY +
	    ((int64_t)h * 3600 + mi * 60 + sec - off) * NS_PER_SEC + frac;
	*ns = t;
	return true;
}

int kfl_parse_time(const char *text, int64_t *ns)
{
	size_t len = strlen(text);

	if (kfl_lit_rfc3339(text, len, ns))
		return 0;
	if (len && len <= 19 && strspn(text, "0123456789") == len) {
		unsigned long long v = strtoull(text, NULL, 10);

		if (v <= INT64_MAX) {
			*ns = (int64_t)v;
			return 0;
		}
	}
	return -EINVAL;
}

void kfl_format_time(int64_t ns, char *out, size_t size)
{
	int64_t sec = ns / NS_PER_SEC, rem = ns % NS_PER_SEC;
	struct tm tm;
	time_t t;

	if (rem < 0) {
		rem += NS_PER_SEC;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, size, "%lld", (long long)ns);
		return;
	}
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)rem);
}
