/* Failures of the addon as JavaScript values: system errors shaped like Node's own
 * (errno, code, syscall, path) and TypeErrors for bad arguments. */
#ifndef AMBIT_SYS_ERROR_H
#define AMBIT_SYS_ERROR_H

#include <node_api.h>

/* Throws `<syscall>(<subject>): <CODE> (<strerror>)`. `subject` may be NULL; when `path` is not
 * NULL it is also set as the error's `path` property. Returns NULL for convenient tail calls. */
napi_value throw_sys_error(napi_env env, int err, const char *syscall, const char *subject,
                           const char *path);

/* Throws a TypeError with a Node-style `code` (ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE). */
napi_value throw_arg_error(napi_env env, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
