/* mod_authrs C shim: what is a macro in httpd. Every function called here is
 * Rust (#[no_mangle], prefixed authrs_) and wraps its body in catch_unwind. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <mod_auth.h>
#include "shim.h"

APLOG_USE_MODULE(authrs);

/* Rust entry points. */
int authrs_check_authn(request_rec *r);
int authrs_header_parser(request_rec *r);
int authrs_fixups(request_rec *r);
int authrs_handler(request_rec *r);
int authrs_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
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

void authrs_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(authrs_post_config, NULL, NULL, APR_HOOK_MIDDLE);
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
