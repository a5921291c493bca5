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
/* The module's index, for ap_get_module_config from Rust. */
int authrs_module_index(void);
#endif
