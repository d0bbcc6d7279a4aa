/* socketInNetns: a socket that belongs to another network namespace. Node cannot do this: a
 * socket belongs to the namespace its creating thread is in at socket() time, and the only way to
 * pick that namespace is setns(2), which Node does not expose. setns changes the calling thread
 * only, so the switch, the socket() and the switch back happen inside this one synchronous call,
 * and no JavaScript ever runs while the main thread is in the pod's namespace. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "ops.h"
#include "sys_error.h"

#define SELF_NETNS "/proc/thread-self/ns/net"

/* Moves the thread back to its own namespace. If that fails the thread would keep running the
 * event loop inside the pod's namespace: every later socket, bind and DNS lookup of this process
 * would silently happen in the wrong network, which is a security hole (traffic meant for the
 * node leaves from inside a workload). No recovery is safe, so the process dies loudly. */
static void return_home_or_abort(int home_fd, const char *ns_path) {
  if (setns(home_fd, CLONE_NEWNET) == 0) return;
  int err = errno;
  fprintf(stderr, "ambit_sys: FATAL: setns back to the original network namespace after entering %s failed: %s (%s)\n",
          ns_path, strerrorname_np(err) ? strerrorname_np(err) : "UNKNOWN", strerror(err));
  abort();
}

static int parse_type(napi_env env, napi_value v, int *out) {
  char type[16];
  if (!arg_string(env, v, "type", type, sizeof type)) return 0;
  if (strcmp(type, "tcp") == 0) *out = SOCK_STREAM;
  else if (strcmp(type, "udp") == 0) *out = SOCK_DGRAM;
  else {
    throw_arg_error(env, "ERR_INVALID_ARG_VALUE", "The \"type\" argument must be 'tcp' or 'udp'");
    return 0;
  }
  return 1;
}

napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_get(env, info, 3, argv)) return NULL;
  char ns_path[PATH_MAX];
  uint32_t family;
  int type;
  if (!arg_string(env, argv[0], "nsPath", ns_path, sizeof ns_path)) return NULL;
  if (!arg_uint(env, argv[1], "family", 6, &family)) return NULL;
  if (family != 4 && family != 6)
    return throw_arg_error(env, "ERR_INVALID_ARG_VALUE", "The \"family\" argument must be 4 or 6");
  if (!parse_type(env, argv[2], &type)) return NULL;

  int target_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (target_fd < 0) return throw_sys_error(env, errno, "open", ns_path, ns_path);
  int home_fd = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
  if (home_fd < 0) {
    int err = errno;
    close(target_fd);
    return throw_sys_error(env, err, "open", SELF_NETNS, SELF_NETNS);
  }
  if (setns(target_fd, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target_fd);
    close(home_fd);
    return throw_sys_error(env, err, "setns", ns_path, ns_path);
  }

  int fd = socket(family == 4 ? AF_INET : AF_INET6, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int socket_err = errno;
  return_home_or_abort(home_fd, ns_path);
  close(target_fd);
  close(home_fd);
  if (fd < 0) return throw_sys_error(env, socket_err, "socket", ns_path, ns_path);

  /* Listeners must rebind at once after a restart even with connections in TIME_WAIT; libuv sets
   * this itself when it binds, but here the bind is ours. Harmless on client sockets. */
  if (type == SOCK_STREAM) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
      int err = errno;
      close(fd);
      return throw_sys_error(env, err, "setsockopt", "SO_REUSEADDR", NULL);
    }
  }

  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}
