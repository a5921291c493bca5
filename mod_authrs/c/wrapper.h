/* What bindgen sees of httpd and APR (allowlisted in build.rs). */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <mod_auth.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <util_script.h>
#include "shim.h"
