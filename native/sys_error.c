/* Builds the JavaScript errors the addon throws. System errors follow Node's convention
 * (negative `errno`, symbolic `code`, `syscall`, optional `path`) so that callers can treat them
 * exactly like errors from node:fs or node:net. */
#include "sys_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

napi_value throw_sys_error(napi_env env, int err, const char *syscall, const char *subject,
                           const char *path) {
  const char *name = strerrorname_np(err);
  if (name == NULL) name = "UNKNOWN";
  char message[4352];
  if (subject != NULL)
    snprintf(message, sizeof message, "%s(%s): %s (%s)", syscall, subject, name, strerror(err));
  else
    snprintf(message, sizeof message, "%s: %s (%s)", syscall, name, strerror(err));

  napi_value msg, code, error, errno_value;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return NULL;
  /* Node reports errno negated (libuv style), so util.getSystemErrorName(err.errno) works. */
  if (napi_create_int32(env, -err, &errno_value) == napi_ok)
    napi_set_named_property(env, error, "errno", errno_value);
  set_string(env, error, "syscall", syscall);
  if (path != NULL) set_string(env, error, "path", path);
  napi_throw(env, error);
  return NULL;
}

napi_value throw_arg_error(napi_env env, const char *code, const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, code, message);
  return NULL;
}
