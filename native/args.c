/* Validation of JavaScript arguments, kept apart so the syscall code reads as syscalls. A wrong
 * type or value never reaches the kernel: it becomes a TypeError naming the argument. */
#include "args.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "sys_error.h"

int args_get(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  napi_value undef;
  napi_get_undefined(env, &undef);
  for (size_t i = argc; i < want; i++) argv[i] = undef;
  return 1;
}

static int is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == want;
}

static int arg_integer(napi_env env, napi_value v, const char *name, double max, double *out) {
  double d;
  if (!is_type(env, v, napi_number) || napi_get_value_double(env, v, &d) != napi_ok) {
    throw_arg_error(env, "ERR_INVALID_ARG_TYPE", "The \"%s\" argument must be of type number", name);
    return 0;
  }
  if (!isfinite(d) || d != floor(d) || d < 0 || d > max) {
    throw_arg_error(env, "ERR_INVALID_ARG_VALUE",
                    "The \"%s\" argument must be an integer from 0 to %.0f", name, max);
    return 0;
  }
  *out = d;
  return 1;
}

int arg_fd(napi_env env, napi_value v, const char *name, int *out) {
  double d;
  if (!arg_integer(env, v, name, (double)INT_MAX, &d)) return 0;
  *out = (int)d;
  return 1;
}

int arg_uint(napi_env env, napi_value v, const char *name, double max, uint32_t *out) {
  double d;
  if (!arg_integer(env, v, name, max, &d)) return 0;
  *out = (uint32_t)d;
  return 1;
}

int arg_bool(napi_env env, napi_value v, const char *name, int *out) {
  bool b;
  if (!is_type(env, v, napi_boolean) || napi_get_value_bool(env, v, &b) != napi_ok) {
    throw_arg_error(env, "ERR_INVALID_ARG_TYPE", "The \"%s\" argument must be of type boolean", name);
    return 0;
  }
  *out = b ? 1 : 0;
  return 1;
}

int arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t size) {
  size_t len;
  if (!is_type(env, v, napi_string) || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_arg_error(env, "ERR_INVALID_ARG_TYPE", "The \"%s\" argument must be of type string", name);
    return 0;
  }
  if (len == 0 || len >= size) {
    throw_arg_error(env, "ERR_INVALID_ARG_VALUE",
                    "The \"%s\" argument must be a non-empty string shorter than %zu bytes", name, size);
    return 0;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  if (strlen(buf) != len) {
    throw_arg_error(env, "ERR_INVALID_ARG_VALUE", "The \"%s\" argument must not contain NUL bytes", name);
    return 0;
  }
  return 1;
}
