/* tz.h - local civil time to UTC for one zone, read from a TZif file
 * (/usr/share/zoneinfo). StUF times carry no zone; LZ reads them in
 * StufLZTimeZone. Threads may share a loaded zone: it is read-only. We do
 * not use setenv("TZ") + mktime because that is process-global state and
 * httpd runs many threads. */
#ifndef STUFLZ_TZ_H
#define STUFLZ_TZ_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct sz_tz sz_tz_t;

/* Loads a zone by name ("Europe/Amsterdam") from dir (NULL means
 * /usr/share/zoneinfo) or "UTC". On failure returns NULL and sets *error. */
sz_tz_t *sz_tz_load(const char *name, const char *dir, apr_pool_t *pool,
                    const char **error);

/* Every function here accepts zone NULL and then means UTC. */
const char *sz_tz_name(const sz_tz_t *zone);

/* Seconds since the epoch for a local wall-clock time. In a gap (spring
 * forward) the time is read with the offset before the gap; in an overlap
 * (fall back) the earlier instant is used. */
apr_int64_t sz_tz_local_to_utc(const sz_tz_t *zone, int year, int month,
                               int day, int hour, int minute, int second);

/* UTC offset in seconds in force at a UTC instant (epoch seconds). */
long sz_tz_offset_at(const sz_tz_t *zone, apr_int64_t utc_seconds);

#endif
