/* mod_authrs C shim: what is a macro in httpd. Every function called here is
 * Rust (#[no_mangle], prefixed authrs_) and wraps its body in catch_unwind. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <mod_auth.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>
#include "shim.h"

APLOG_USE_MODULE(authrs);

/* Rust entry points. */
int authrs_check_authn(request_rec *r);
int authrs_header_parser(request_rec *r);
int authrs_fixups(request_rec *r);
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

void authrs_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(authrs_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(authrs_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(authrs_cache_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Strip spoofed proxy headers before any auth hook, handler or CGI sees them. */
    ap_hook_header_parser(authrs_header_parser, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_check_authn(authrs_check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(authrs_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(authrs_handler, NULL, NULL, APR_HOOK_MIDDLE);
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

/* ---- Revocation cache: an httpd socache shared by all workers (and, with memcache or
 * redis providers, by all servers). One per configuration generation. ---- */

#define AUTHRS_MUTEX "authrs-cache"

static const ap_socache_provider_t *cache_provider;
static ap_socache_instance_t *cache_instance;
static apr_global_mutex_t *cache_mutex;

static apr_status_t cache_cleanup(void *data)
{
    if (cache_provider && cache_instance) {
        cache_provider->destroy(cache_instance, (server_rec *)data);
    }
    cache_provider = NULL;
    cache_instance = NULL;
    cache_mutex = NULL;
    return APR_SUCCESS;
}

/* Registered in pre_config so `Mutex` directives may configure it. */
apr_status_t authrs_cache_register_mutex(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, AUTHRS_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

const char *authrs_cache_setup(server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp, const char *spec)
{
    static const struct ap_socache_hints hints = { 32, 1, 30 * APR_USEC_PER_SEC };
    const char *sep = ap_strchr_c(spec, ':');
    const char *name = sep ? apr_pstrmemdup(ptemp, spec, sep - spec) : spec;
    const char *arg = sep ? sep + 1 : NULL;
    const char *err;
    apr_status_t rv;

    cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!cache_provider) {
        return apr_psprintf(ptemp, "AuthRsCache: no socache provider \"%s\" (LoadModule socache_%s_module)", name, name);
    }
    err = cache_provider->create(&cache_instance, arg, ptemp, pconf);
    if (err) {
        cache_provider = NULL;
        return apr_psprintf(ptemp, "AuthRsCache %s: %s", spec, err);
    }
    if (cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&cache_mutex, NULL, AUTHRS_MUTEX, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            return "AuthRsCache: cannot create the cache mutex";
        }
    }
    rv = cache_provider->init(cache_instance, "authrs", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(ptemp, "AuthRsCache %s: cannot initialise the cache", spec);
    }
    apr_pool_cleanup_register(pconf, s, cache_cleanup, apr_pool_cleanup_null);
    return NULL;
}

void authrs_cache_child_init(apr_pool_t *p, server_rec *s)
{
    if (cache_mutex) {
        apr_global_mutex_child_init(&cache_mutex, apr_global_mutex_lockfile(cache_mutex), p);
    }
}

int authrs_cache_enabled(void)
{
    return cache_provider != NULL && cache_instance != NULL;
}

/* Takes the cache's global mutex, when the provider needs one: APR_SUCCESS or the error. */
static apr_status_t cache_lock(void)
{
    return cache_mutex ? apr_global_mutex_lock(cache_mutex) : APR_SUCCESS;
}

static void cache_unlock(void)
{
    if (cache_mutex) {
        apr_global_mutex_unlock(cache_mutex);
    }
}

apr_status_t authrs_cache_store(server_rec *s, const unsigned char *id, unsigned int idlen,
                                apr_time_t expiry, apr_pool_t *p)
{
    const unsigned char mark = 1;
    return authrs_cache_put(s, id, idlen, expiry, &mark, 1, p);
}

int authrs_cache_lookup(server_rec *s, const unsigned char *id, unsigned int idlen, apr_pool_t *p)
{
    unsigned char mark[8];
    unsigned int len = sizeof(mark);
    return authrs_cache_get(s, id, idlen, mark, &len, p);
}

int authrs_cache_add(server_rec *s, const unsigned char *id, unsigned int idlen, apr_time_t expiry,
                     apr_pool_t *p)
{
    unsigned char mark[8];
    unsigned int len = sizeof(mark);
    unsigned char one = 1;
    apr_status_t rv;
    int result;
    if (!authrs_cache_enabled()) {
        return -1;
    }
    if (cache_lock() != APR_SUCCESS) {
        return -1;
    }
    rv = cache_provider->retrieve(cache_instance, s, id, idlen, mark, &len, p);
    if (rv == APR_SUCCESS) {
        result = 0;
    } else if (rv != APR_NOTFOUND) {
        result = -1;
    } else {
        rv = cache_provider->store(cache_instance, s, id, idlen, expiry, &one, 1, p);
        result = rv == APR_SUCCESS ? 1 : -1;
    }
    cache_unlock();
    return result;
}

/* ---- Values in the same cache (OpenID associations, shared by all workers). ---- */

apr_status_t authrs_cache_put(server_rec *s, const unsigned char *id, unsigned int idlen,
                              apr_time_t expiry, const unsigned char *data, unsigned int datalen,
                              apr_pool_t *p)
{
    apr_status_t rv;
    if (!authrs_cache_enabled()) {
        return APR_EINIT;
    }
    if (cache_lock() != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* The provider's store takes a non-const pointer but only copies from it. */
    rv = cache_provider->store(cache_instance, s, id, idlen, expiry, (unsigned char *)data,
                               datalen, p);
    cache_unlock();
    return rv;
}

int authrs_cache_get(server_rec *s, const unsigned char *id, unsigned int idlen,
                     unsigned char *buf, unsigned int *len, apr_pool_t *p)
{
    apr_status_t rv;
    if (!authrs_cache_enabled() || !buf || !len) {
        return -1;
    }
    if (cache_lock() != APR_SUCCESS) {
        return -1;
    }
    rv = cache_provider->retrieve(cache_instance, s, id, idlen, buf, len, p);
    cache_unlock();
    if (rv == APR_SUCCESS) {
        return 1;
    }
    return rv == APR_NOTFOUND ? 0 : -1;
}

apr_status_t authrs_cache_remove(server_rec *s, const unsigned char *id, unsigned int idlen,
                                 apr_pool_t *p)
{
    apr_status_t rv;
    if (!authrs_cache_enabled()) {
        return APR_EINIT;
    }
    if (cache_lock() != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cache_provider->remove(cache_instance, s, id, idlen, p);
    cache_unlock();
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}
