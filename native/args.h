/* Readers for JavaScript arguments. Each returns 1 on success; on failure it has already thrown a
 * TypeError that names the argument, and returns 0. */
#ifndef AMBIT_ARGS_H
#define AMBIT_ARGS_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Fetches exactly `want` arguments (missing ones read as undefined). */
int args_get(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

int arg_fd(napi_env env, napi_value v, const char *name, int *out);
int arg_uint(napi_env env, napi_value v, const char *name, double max, uint32_t *out);
int arg_bool(napi_env env, napi_value v, const char *name, int *out);
/* Copies a string argument into buf (NUL-terminated); rejects empty strings, strings that do not
 * fit and strings with embedded NUL bytes. */
int arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t size);

#endif
