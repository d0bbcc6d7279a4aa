/* ambit_sys: the few Linux socket syscalls a sidecarless proxy needs and Node does not offer
 * (setns for per-pod sockets, SO_ORIGINAL_DST, IP_TRANSPARENT, SO_MARK, bind on a foreign fd).
 * Only src/sys/ loads this module; see docs/native.md. */
#include <node_api.h>

#include "ops.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socketInNetns", NULL, socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindSocket", NULL, bind_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getOriginalDst", NULL, get_original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTransparent", NULL, set_transparent, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, get_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSendBuffer", NULL, set_send_buffer, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
