/* The C side of mod_authrs: what is a macro in httpd (command table, provider
 * structs, hook registration) lives in shim.c; everything else is Rust. */
#ifndef AUTHRS_SHIM_H
#define AUTHRS_SHIM_H
#include <httpd.h>
#include <http_config.h>

/* The generated command table (build.rs writes it from the core's option table). */
extern const command_rec authrs_cmds[];
/* Registers hooks and providers; called by httpd through the module struct. */
void authrs_register_hooks(apr_pool_t *p);
/* Logs one message for a request with "%s" (never data as a format). */
void authrs_log_r(const request_rec *r, int level, const char *msg);
/* Logs one message for a server with "%s". */
void authrs_log_s(const server_rec *s, int level, const char *msg);
/* Adds the AUTHRS_PRIVATE output filter (see authrs_make_private) to a request. */
void authrs_add_private_filter(request_rec *r);
/* The module's index, for ap_get_module_config from Rust. */
int authrs_module_index(void);

/* The module's two socache instances (httpd socache; one AuthRsCache provider, kept apart so
 * OpenID traffic can never evict a revocation). `which` in the calls below names one. */
/* Logout revocations (AuthRsRevokeOnLogout); namespace "authrs", mutex type "authrs-cache". */
#define AUTHRS_CACHE_REVOCATIONS 0
/* OpenID nonces, login states and associations; namespace "authrs-openid", mutex type
 * "authrs-openid-cache". */
#define AUTHRS_CACHE_OPENID 1
/* Creates and initialises instance `which` from spec ("provider[:arg]") for this configuration
 * generation; NULL or an error. */
const char *authrs_cache_setup(server_rec *s, apr_pool_t *pconf, apr_pool_t *ptemp, int which,
                               const char *spec);
/* Registers both instances' mutex types (pre_config). */
apr_status_t authrs_cache_register_mutex(apr_pool_t *pconf);
/* Re-attaches the instances' mutexes in a new child process. */
void authrs_cache_child_init(apr_pool_t *p, server_rec *s);
/* 1 when instance `which` exists in this process. */
int authrs_cache_enabled(int which);
/* Length of an instance's id secret. */
#define AUTHRS_CACHE_SALT_LEN 16
/* Copies instance `which`'s id secret into out (AUTHRS_CACHE_SALT_LEN bytes) and returns 1 when
 * it has one (shmcb), else 0: ids then are plain digests (shared caches other servers read). */
int authrs_cache_salt(int which, unsigned char *out);

/* Whether the server is serving requests (so a directive being read comes from .htaccess). */
int authrs_serving(void);
/* The configured path (or pattern) of the innermost section applying to r, or NULL. */
const char *authrs_section_path(const request_rec *r);
/* Stores id until expiry (apr_time_t). APR status. */
apr_status_t authrs_cache_store(int which, server_rec *s, const unsigned char *id,
                                unsigned int idlen, apr_time_t expiry, apr_pool_t *p);
/* 1 when id is stored (and unexpired), 0 when not, -1 on error. */
int authrs_cache_lookup(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                        apr_pool_t *p);
/* Records id until expiry unless present: 1 added, 0 already present (a replay), -1 cache error.
 * Atomic under the instance's mutex (shmcb); with memcache/redis, lookup and store are two calls. */
int authrs_cache_add(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                     apr_time_t expiry, apr_pool_t *p);
/* Stores data under id until expiry (apr_time_t), replacing any entry. APR status. */
apr_status_t authrs_cache_put(int which, server_rec *s, const unsigned char *id,
                              unsigned int idlen, apr_time_t expiry, const unsigned char *data,
                              unsigned int datalen, apr_pool_t *p);
/* Copies id's data into buf (capacity *len; *len becomes its length): 1 found, 0 not found,
 * -1 error (including data larger than the buffer). */
int authrs_cache_get(int which, server_rec *s, const unsigned char *id, unsigned int idlen,
                     unsigned char *buf, unsigned int *len, apr_pool_t *p);
/* Removes id (absent is not an error). APR status. */
apr_status_t authrs_cache_remove(int which, server_rec *s, const unsigned char *id,
                                 unsigned int idlen, apr_pool_t *p);
/* Threads per httpd process (ThreadsPerChild; 0 under prefork or when unknown). */
int authrs_threads_per_child(void);

#endif
