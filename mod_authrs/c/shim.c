/* mod_authrs C shim: what is a macro in httpd. Every function called here is
 * Rust (#[no_mangle], prefixed authrs_) and wraps its body in catch_unwind. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <ap_mpm.h>
#include <http_log.h>
#include <http_request.h>
#include <http_protocol.h>
#include <mod_auth.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <string.h>
#include "shim.h"

APLOG_USE_MODULE(authrs);

/* Rust entry points. */
int authrs_check_authn(request_rec *r);
int authrs_force_authn(request_rec *r);
int authrs_strip_spoofed(request_rec *r);
int authrs_fixups(request_rec *r);
int authrs_authorized(request_rec *r);
int authrs_restore_user(request_rec *r);
int authrs_recheck_fast_redirect(request_rec *r);
void authrs_make_private(request_rec *r);
void authrs_insert_error_filter(request_rec *r);
int authrs_handler(request_rec *r);
int authrs_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
int authrs_pre_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp);
authz_status authrs_authz_check(request_rec *r, const char *word, const char *line, const void *parsed);
const char *authrs_authz_parse(cmd_parms *cmd, const char *word, const char *line, const void **parsed);

/* One provider per Require word; the word is passed on so Rust knows which. */
#define AUTHRS_PROVIDER(ident, word)                                                         \
    static authz_status ident##_check(request_rec *r, const char *l, const void *p)         \
    { return authrs_authz_check(r, word, l, p); }                                           \
    static const char *ident##_parse(cmd_parms *c, const char *l, const void **p)           \
    { return authrs_authz_parse(c, word, l, p); }                                           \
    static const authz_provider ident##_provider = { &ident##_check, &ident##_parse };

AUTHRS_PROVIDER(role, "role")
AUTHRS_PROVIDER(cert_dn, "cert-dn")
AUTHRS_PROVIDER(authn_method, "authn-method")
AUTHRS_PROVIDER(openid_id, "openid-id")

/* AUTHRS_PRIVATE: on a response that carries a refreshed ticket, the application's caching
 * headers are final when its first brigade comes; they are made private there, once. */
static apr_status_t authrs_private_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    authrs_make_private(f->r);
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void authrs_add_private_filter(request_rec *r)
{
    ap_add_output_filter("AUTHRS_PRIVATE", NULL, r, r->connection);
}

void authrs_register_hooks(apr_pool_t *p)
{
    /* After every content filter (mod_headers' `Header set Cache-Control public` runs as one),
     * just before HTTP_HEADER (a protocol filter) sends the headers. */
    ap_register_output_filter("AUTHRS_PRIVATE", authrs_private_filter, NULL,
                              (ap_filter_type)(AP_FTYPE_PROTOCOL - 1));
    ap_hook_pre_config(authrs_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(authrs_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(authrs_cache_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Strip spoofed proxy headers before anything reads them: post_read_request, really
     * first, runs before server-context SetEnvIf, `RequestHeader … early` and mod_rewrite's
     * translate_name. The settings it reads (AuthRsTrustedProxies/…Headers) are server-wide,
     * so the server's defaults that per_dir_config holds at that point are the whole truth. */
    ap_hook_post_read_request(authrs_strip_spoofed, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_check_authn(authrs_check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    /* A user set before authentication (mod_ssl's SSLUserName, in its access hook) must not
     * let `Require valid-user` pass in the access phase without authrs ever running. */
    ap_hook_force_authn(authrs_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    /* Authorization has passed (every later 401/403 is not Require's): type_checker runs right
     * after it and before every fixup (ModSecurity's phase 2 is a REALLY_FIRST fixup); DECLINED
     * lets mod_mime decide the type. */
    ap_hook_type_checker(authrs_authorized, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(authrs_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_dir's fast redirect (a LAST fixup): the identified subrequest's user. */
    ap_hook_fixups(authrs_restore_user, NULL, NULL, APR_HOOK_REALLY_LAST);
    /* After mod_dir's fast redirect too, but before mod_headers' fixup (also LAST), whose
     * `RequestHeader … %{AUTHRS_USER}e` must not copy a user the index page refuses. */
    static const char *const after_dir[] = {"mod_dir.c", NULL};
    static const char *const before_headers[] = {"mod_headers.c", NULL};
    ap_hook_fixups(authrs_recheck_fast_redirect, after_dir, before_headers, APR_HOOK_LAST);
    ap_hook_handler(authrs_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* httpd's own Require refused an authenticated user: say `forbidden`, as Envoy does. */
    ap_hook_insert_error_filter(authrs_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "role", AUTHZ_PROVIDER_VERSION,
                              &role_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "cert-dn", AUTHZ_PROVIDER_VERSION,
                              &cert_dn_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "authn-method", AUTHZ_PROVIDER_VERSION,
                              &authn_method_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "openid-id", AUTHZ_PROVIDER_VERSION,
                              &openid_id_provider, AP_AUTH_INTERNAL_PER_CONF);
}

void authrs_log_r(const request_rec *r, int level, const char *msg)
{
    ap_log_rerror(APLOG_MARK, level, 0, r, "%s", msg);
}

void authrs_log_s(const server_rec *s, int level, const char *msg)
{
    ap_log_error(APLOG_MARK, level, 0, s, "%s", msg);
}

int authrs_module_index(void)
{
    return authrs_module.module_index;
}

/* ---- The module's socaches: httpd socache instances shared by all workers (and, with memcache
 * or redis providers, by all servers), kept across restarts of the parent (see
 * authrs_retained_cache_t). Two instances of
 * the same AuthRsCache provider, kept apart so that OpenID traffic — which anyone can cause
 * without logging in (associations with a provider they name) — can never evict a revocation:
 *   AUTHRS_CACHE_REVOCATIONS  logout revocations (AuthRsRevokeOnLogout), namespace "authrs";
 *   AUTHRS_CACHE_OPENID       OpenID nonces, login states and associations, "authrs-openid".
 * Each has its own global mutex. Every operation takes it when the provider is not MP-safe
 * (shmcb, dbm); with an MP-safe one (memcache, redis) only the check-and-insert does, so that
 * it stays atomic on this server (the socache API has no atomic add: across servers sharing
 * a memcache/redis, two returns arriving within one round trip could both pass). ---- */

typedef struct {
    const char *mutex_type;  /* registered in pre_config; `Mutex <type> …` configures it */
    const char *name_space;  /* the provider's namespace (shmcb/dbm default file, memcache/redis key prefix) */
    struct ap_socache_hints hints;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;
    int lock_all;            /* the provider is not MP-safe: every operation takes the mutex */
    server_rec *s;
    /* shmcb only: a secret hashed into every id, so that nobody can aim entries at the one
     * sub-cache (picked by an id's first byte) that holds an entry they want evicted. Lives
     * as long as the instance: the same for every child and across graceful restarts. */
    int salted;
    unsigned char salt[AUTHRS_CACHE_SALT_LEN];
} authrs_cache_t;

static authrs_cache_t caches[2] = {
    /* Revocation records: 32-byte ids (a SHA-256 digest), a one-byte mark. */
    { "authrs-cache", "authrs", { 32, 1, 30 * APR_USEC_PER_SEC }, NULL, NULL, NULL, 0, NULL, 0, { 0 } },
    /* OpenID: 45-53-byte ids (a SHA-256 digest, then a label); nonces and states are one
     * byte, associations a few hundred. */
    { "authrs-openid-cache", "authrs-openid", { 48, 32, 30 * APR_USEC_PER_SEC }, NULL, NULL, NULL, 0, NULL, 0, { 0 } },
};

/* The instance `which` names, or NULL for a value out of range. */
static authrs_cache_t *cache_of(int which)
{
    return which == AUTHRS_CACHE_REVOCATIONS || which == AUTHRS_CACHE_OPENID ? &caches[which] : NULL;
}

static void cache_forget(authrs_cache_t *c)
{
    c->provider = NULL;
    c->instance = NULL;
    c->mutex = NULL;
    c->lock_all = 0;
    c->s = NULL;
    c->salted = 0;
    memset(c->salt, 0, sizeof(c->salt));
}

/* A cache made in the startup pass that only checks the configuration: destroyed with it. */
static apr_status_t cache_cleanup(void *data)
{
    authrs_cache_t *c = data;
    if (c->provider && c->instance) {
        c->provider->destroy(c->instance, c->s);
    }
    cache_forget(c);
    return APR_SUCCESS;
}

/* A retained cache outlives the generation: the generation only lets go of it. */
static apr_status_t cache_release(void *data)
{
    cache_forget(data);
    return APR_SUCCESS;
}

/* What survives a restart (graceful or not) of the same parent process, in its process pool:
 * the socache instance and its global mutex, and the AuthRsCache value they were made for.
 * A revocation must outlive the reload that logrotate or certbot trigger every night: a new,
 * empty shmcb segment per generation would let every ticket revoked before it work again, and
 * old and new children would use different segments while the old ones drain. The mutex is
 * kept too: children of both generations then share one lock for the one segment. */
typedef struct {
    const char *spec;
    const char *provider_name;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;
} authrs_retained_cache_t;

/* The id secret of a retained instance, kept beside it under a key of its own (an older build's
 * retained record, still in the parent after a graceful restart into this one, is smaller: it
 * must not be read past its end). An instance an older build made has none: its ids stay
 * plain, so the records it holds are still found. */
typedef struct {
    ap_socache_instance_t *instance;
    int salted;
    unsigned char salt[AUTHRS_CACHE_SALT_LEN];
} authrs_retained_salt_t;

static authrs_retained_salt_t *retained_salt(int which)
{
    /* The layout is in the name: a later build with another one must use another name. */
    const char *key = which == AUTHRS_CACHE_REVOCATIONS ? "mod_authrs-retained-revocations-salt16"
                                                        : "mod_authrs-retained-openid-salt16";
    authrs_retained_salt_t *kept = ap_retained_data_get(key);
    return kept ? kept : ap_retained_data_create(key, sizeof(*kept));
}

static authrs_retained_cache_t *retained_cache(int which)
{
    const char *key = which == AUTHRS_CACHE_REVOCATIONS ? "mod_authrs-retained-revocations"
                                                        : "mod_authrs-retained-openid";
    authrs_retained_cache_t *kept = ap_retained_data_get(key);
    /* Zeroed by ap_retained_data_create. */
    return kept ? kept : ap_retained_data_create(key, sizeof(*kept));
}

/* Registered in pre_config so `Mutex` directives may configure them. */
apr_status_t authrs_cache_register_mutex(apr_pool_t *pconf)
{
    apr_status_t rv = ap_mutex_register(pconf, caches[AUTHRS_CACHE_REVOCATIONS].mutex_type, NULL,
                                        APR_LOCK_DEFAULT, 0);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ap_mutex_register(pconf, caches[AUTHRS_CACHE_OPENID].mutex_type, NULL, APR_LOCK_DEFAULT, 0);
}

const char *authrs_cache_setup(server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp, int which,
                               const char *spec)
{
    authrs_cache_t *c = cache_of(which);
    const char *sep = spec ? ap_strchr_c(spec, ':') : NULL;
    const char *name = sep ? apr_pstrmemdup(ptemp, spec, sep - spec) : spec;
    const char *arg = sep ? sep + 1 : NULL;
    /* The first startup pass only checks the configuration (httpd reads it twice, and may
     * daemonize in between): what it makes dies with it. Later passes keep the cache. */
    int retain = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    authrs_retained_cache_t *kept = retain ? retained_cache(which) : NULL;
    apr_pool_t *pool = retain ? s->process->pool : pconf;
    const char *err;
    apr_status_t rv;

    if (!c || !spec) {
        return "AuthRsCache: no such cache";
    }
    cache_forget(c);
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider) {
        return apr_psprintf(ptemp, "AuthRsCache: no socache provider \"%s\" (LoadModule socache_%s_module)", name, name);
    }
    c->lock_all = (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) != 0;
    if (kept && kept->instance && strcmp(kept->spec, spec) == 0) {
        /* The same AuthRsCache as before the restart: the same records, the same lock. */
        c->instance = kept->instance;
        c->mutex = kept->mutex;
        c->s = s;
        {
            authrs_retained_salt_t *rs = retained_salt(which);
            if (rs->instance == kept->instance && rs->salted) {
                c->salted = 1;
                memcpy(c->salt, rs->salt, sizeof(c->salt));
            } else if (strcmp(name, "shmcb") == 0) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             "AUTHRS0006: AuthRsCache %s was made by an earlier mod_authrs build: "
                             "its ids stay plain digests (entries can be aimed at one sub-cache) "
                             "until httpd is stopped and started", spec);
            }
        }
        apr_pool_cleanup_register(pconf, c, cache_release, apr_pool_cleanup_null);
        return NULL;
    }
    if (kept && kept->instance) {
        /* AuthRsCache changed: the old records go (the old provider may be gone with its
         * LoadModule; then its memory stays with the process). */
        const ap_socache_provider_t *old = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
                                                              kept->provider_name,
                                                              AP_SOCACHE_PROVIDER_VERSION);
        if (old) {
            old->destroy(kept->instance, s);
        }
        /* The lock stays: a new one of the same type would get the same lock file name
         * (flock opens it O_EXCL and would fail), and one lock serves any cache. */
        kept->instance = NULL;
        kept->spec = NULL;
        kept->provider_name = NULL;
    }
    /* shmcb keeps every entry of one sub-cache together and evicts within it: its ids get a
     * secret. Shared providers (memcache, redis) evict by their own global policy and are read
     * by other servers, which must find the same ids: no secret there. */
    if (strcmp(name, "shmcb") == 0) {
        if (apr_generate_random_bytes(c->salt, sizeof(c->salt)) != APR_SUCCESS) {
            cache_forget(c);
            return "AuthRsCache: no random bytes for the shmcb id secret";
        }
        c->salted = 1;
    }
    err = c->provider->create(&c->instance, arg, ptemp, pool);
    if (err) {
        cache_forget(c);
        return apr_psprintf(ptemp, "AuthRsCache %s: %s", spec, err);
    }
    if (kept && kept->mutex) {
        c->mutex = kept->mutex;
    } else {
        rv = ap_global_mutex_create(&c->mutex, NULL, c->mutex_type, NULL, s, pool, 0);
        if (rv != APR_SUCCESS) {
            cache_forget(c);
            return apr_psprintf(ptemp, "AuthRsCache: cannot create the %s mutex", c->mutex_type);
        }
        if (kept) {
            kept->mutex = c->mutex;
        }
    }
    rv = c->provider->init(c->instance, c->name_space, &c->hints, s, pool);
    if (rv != APR_SUCCESS) {
        cache_forget(c);
        return apr_psprintf(ptemp, "AuthRsCache %s: cannot initialise the %s cache", spec, c->name_space);
    }
    c->s = s;
    if (kept) {
        kept->spec = apr_pstrdup(pool, spec);
        kept->provider_name = apr_pstrdup(pool, name);
        kept->instance = c->instance;
        {
            authrs_retained_salt_t *rs = retained_salt(which);
            rs->instance = c->instance;
            rs->salted = c->salted;
            memcpy(rs->salt, c->salt, sizeof(rs->salt));
        }
        apr_pool_cleanup_register(pconf, c, cache_release, apr_pool_cleanup_null);
    } else {
        apr_pool_cleanup_register(pconf, c, cache_cleanup, apr_pool_cleanup_null);
    }
    return NULL;
}

void authrs_cache_child_init(apr_pool_t *p, server_rec *s)
{
    int i;
    for (i = 0; i < 2; i++) {
        if (caches[i].mutex) {
            apr_global_mutex_child_init(&caches[i].mutex, apr_global_mutex_lockfile(caches[i].mutex), p);
        }
    }
}

int authrs_cache_salt(int which, unsigned char *out)
{
    authrs_cache_t *c = cache_of(which);
    if (c == NULL || !c->salted) {
        return 0;
    }
    memcpy(out, c->salt, sizeof(c->salt));
    return 1;
}

int authrs_cache_enabled(int which)
{
    authrs_cache_t *c = cache_of(which);
    return c != NULL && c->provider != NULL && c->instance != NULL;
}

/* Takes the instance's global mutex when the provider needs one for every operation, or
 * `always` (check-and-insert): APR_SUCCESS or the error. */
static apr_status_t cache_lock(authrs_cache_t *c, int always)
{
    return c->mutex && (always || c->lock_all) ? apr_global_mutex_lock(c->mutex) : APR_SUCCESS;
}

static void cache_unlock(authrs_cache_t *c, int always)
{
    if (c->mutex && (always || c->lock_all)) {
        apr_global_mutex_unlock(c->mutex);
    }
}

apr_status_t authrs_cache_store(int which, server_rec *s, const unsigned char *id,
                                unsigned int idlen, apr_time_t expiry, apr_pool_t *p)
{
    const unsigned char mark = 1;
    return authrs_cache_put(which, s, id, idlen, expiry, &mark, 1, p);
}

int authrs_cache_lookup(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                        apr_pool_t *p)
{
    unsigned char mark[8];
    unsigned int len = sizeof(mark);
    return authrs_cache_get(which, s, id, idlen, mark, &len, p);
}

int authrs_cache_add(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                     apr_time_t expiry, apr_pool_t *p)
{
    authrs_cache_t *c = cache_of(which);
    unsigned char mark[8];
    unsigned int len = sizeof(mark);
    unsigned char one = 1;
    apr_status_t rv;
    int result;
    if (!authrs_cache_enabled(which)) {
        return -1;
    }
    if (cache_lock(c, 1) != APR_SUCCESS) {
        return -1;
    }
    rv = c->provider->retrieve(c->instance, s, id, idlen, mark, &len, p);
    if (rv == APR_SUCCESS) {
        result = 0;
    } else if (rv != APR_NOTFOUND) {
        result = -1;
    } else {
        rv = c->provider->store(c->instance, s, id, idlen, expiry, &one, 1, p);
        result = rv == APR_SUCCESS ? 1 : -1;
    }
    cache_unlock(c, 1);
    return result;
}

apr_status_t authrs_cache_put(int which, server_rec *s, const unsigned char *id,
                              unsigned int idlen, apr_time_t expiry, const unsigned char *data,
                              unsigned int datalen, apr_pool_t *p)
{
    authrs_cache_t *c = cache_of(which);
    apr_status_t rv;
    if (!authrs_cache_enabled(which)) {
        return APR_EINIT;
    }
    if (cache_lock(c, 0) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* The provider's store takes a non-const pointer but only copies from it. */
    rv = c->provider->store(c->instance, s, id, idlen, expiry, (unsigned char *)data, datalen, p);
    cache_unlock(c, 0);
    return rv;
}

int authrs_cache_get(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                     unsigned char *buf, unsigned int *len, apr_pool_t *p)
{
    authrs_cache_t *c = cache_of(which);
    apr_status_t rv;
    if (!authrs_cache_enabled(which) || !buf || !len) {
        return -1;
    }
    if (cache_lock(c, 0) != APR_SUCCESS) {
        return -1;
    }
    rv = c->provider->retrieve(c->instance, s, id, idlen, buf, len, p);
    cache_unlock(c, 0);
    if (rv == APR_SUCCESS) {
        return 1;
    }
    return rv == APR_NOTFOUND ? 0 : -1;
}

apr_status_t authrs_cache_remove(int which, server_rec *s, const unsigned char *id,
                                 unsigned int idlen, apr_pool_t *p)
{
    authrs_cache_t *c = cache_of(which);
    apr_status_t rv;
    if (!authrs_cache_enabled(which)) {
        return APR_EINIT;
    }
    if (cache_lock(c, 0) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = c->provider->remove(c->instance, s, id, idlen, p);
    cache_unlock(c, 0);
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

int authrs_serving(void)
{
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM;
}

const char *authrs_section_path(const request_rec *r)
{
    /* core_dir_config's d: merges keep the innermost section's, so requests under one
     * <Location>/<Directory> (whatever their URL) name the same section. A macro in httpd. */
    core_dir_config *conf = ap_get_core_module_config(r->per_dir_config);
    return conf != NULL ? conf->d : NULL;
}

int authrs_threads_per_child(void)
{
    int threads = 0;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        return 0;
    }
    return threads;
}
