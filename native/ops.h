/* The addon's exported functions, one N-API callback each. */
#ifndef AMBIT_OPS_H
#define AMBIT_OPS_H

#include <node_api.h>

napi_value socket_in_netns(napi_env env, napi_callback_info info);
napi_value bind_socket(napi_env env, napi_callback_info info);
napi_value get_original_dst(napi_env env, napi_callback_info info);
napi_value set_transparent(napi_env env, napi_callback_info info);
napi_value set_mark(napi_env env, napi_callback_info info);
napi_value get_mark(napi_env env, napi_callback_info info);
napi_value set_send_buffer(napi_env env, napi_callback_info info);

#endif
