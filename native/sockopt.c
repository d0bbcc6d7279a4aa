/* Socket options and calls Node has no API for, applied to a raw fd:
 *  - getOriginalDst: where a connection was going before an nftables redirect rewrote it
 *    (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST, read from conntrack);
 *  - setTransparent: IP_TRANSPARENT / IPV6_TRANSPARENT, to bind or connect from a non-local address;
 *  - setMark / getMark: SO_MARK, so capture rules can exempt the proxy's own traffic;
 *  - setSendBuffer: SO_SNDBUF (SO_SNDBUFFORCE where the process may exceed net.core.wmem_max),
 *    so an HBONE connection can always queue a whole flow-control window (docs/hbone.md);
 *  - bindSocket: bind(2) on a socket Node did not create (Node only binds sockets it makes itself,
 *    and listen({fd}) needs the fd already bound). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "ops.h"
#include "sys_error.h"

/* From linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h, whose headers clash with
 * glibc's netinet/in.h. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static int local_family(int fd, struct sockaddr_storage *local) {
  socklen_t len = sizeof *local;
  if (getsockname(fd, (struct sockaddr *)local, &len) != 0) return -1;
  return local->ss_family;
}

static napi_value address_object(napi_env env, int family, const void *addr, uint16_t port) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, addr, text, sizeof text);
  napi_value obj, v_addr, v_port, v_family;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v_addr);
  napi_create_uint32(env, ntohs(port), &v_port);
  napi_create_uint32(env, family == AF_INET ? 4 : 6, &v_family);
  napi_set_named_property(env, obj, "address", v_addr);
  napi_set_named_property(env, obj, "port", v_port);
  napi_set_named_property(env, obj, "family", v_family);
  return obj;
}

napi_value get_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!args_get(env, info, 1, argv) || !arg_fd(env, argv[0], "fd", &fd)) return NULL;
  struct sockaddr_storage local;
  int family = local_family(fd, &local);
  if (family < 0) return throw_sys_error(env, errno, "getsockname", NULL, NULL);

  /* A dual-stack IPv6 socket carrying an IPv4 flow (::ffff:a.b.c.d) is tracked by IPv4 conntrack. */
  int v4 = family == AF_INET ||
           (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr));
  if (v4) {
    struct sockaddr_in dst;
    socklen_t len = sizeof dst;
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0)
      return throw_sys_error(env, errno, "getsockopt", "SO_ORIGINAL_DST", NULL);
    return address_object(env, AF_INET, &dst.sin_addr, dst.sin_port);
  }
  if (family == AF_INET6) {
    struct sockaddr_in6 dst;
    socklen_t len = sizeof dst;
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) != 0)
      return throw_sys_error(env, errno, "getsockopt", "IP6T_SO_ORIGINAL_DST", NULL);
    return address_object(env, AF_INET6, &dst.sin6_addr, dst.sin6_port);
  }
  return throw_sys_error(env, EAFNOSUPPORT, "getsockopt", "SO_ORIGINAL_DST", NULL);
}

napi_value set_transparent(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd, on;
  if (!args_get(env, info, 2, argv) || !arg_fd(env, argv[0], "fd", &fd) ||
      !arg_bool(env, argv[1], "on", &on))
    return NULL;
  struct sockaddr_storage local;
  int family = local_family(fd, &local);
  if (family < 0) return throw_sys_error(env, errno, "getsockname", NULL, NULL);
  int rc = family == AF_INET6
               ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof on)
               : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof on);
  if (rc != 0)
    return throw_sys_error(env, errno, "setsockopt",
                           family == AF_INET6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT", NULL);
  return NULL;
}

napi_value set_mark(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t mark;
  if (!args_get(env, info, 2, argv) || !arg_fd(env, argv[0], "fd", &fd) ||
      !arg_uint(env, argv[1], "mark", 4294967295.0, &mark))
    return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
    return throw_sys_error(env, errno, "setsockopt", "SO_MARK", NULL);
  return NULL;
}

napi_value get_mark(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!args_get(env, info, 1, argv) || !arg_fd(env, argv[0], "fd", &fd)) return NULL;
  uint32_t mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) != 0)
    return throw_sys_error(env, errno, "getsockopt", "SO_MARK", NULL);
  napi_value result;
  napi_create_uint32(env, mark, &result);
  return result;
}

/* Asks for a send buffer of `bytes`: first with SO_SNDBUFFORCE (CAP_NET_ADMIN may exceed
 * net.core.wmem_max), then with SO_SNDBUF (capped by it). Returns what the kernel granted, as
 * getsockopt reports it (the kernel doubles the request to cover its own bookkeeping). */
napi_value set_send_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint32_t bytes;
  if (!args_get(env, info, 2, argv) || !arg_fd(env, argv[0], "fd", &fd) ||
      !arg_uint(env, argv[1], "bytes", 1073741823.0, &bytes))
    return NULL;
  int want = (int)bytes;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0) {
    if (errno != EPERM) return throw_sys_error(env, errno, "setsockopt", "SO_SNDBUFFORCE", NULL);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) != 0)
      return throw_sys_error(env, errno, "setsockopt", "SO_SNDBUF", NULL);
  }
  int got = 0;
  socklen_t len = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) != 0)
    return throw_sys_error(env, errno, "getsockopt", "SO_SNDBUF", NULL);
  napi_value result;
  napi_create_uint32(env, (uint32_t)got, &result);
  return result;
}

napi_value bind_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  char address[INET6_ADDRSTRLEN];
  uint32_t port;
  if (!args_get(env, info, 3, argv) || !arg_fd(env, argv[0], "fd", &fd) ||
      !arg_string(env, argv[1], "address", address, sizeof address) ||
      !arg_uint(env, argv[2], "port", 65535, &port))
    return NULL;

  struct sockaddr_storage sa;
  socklen_t len;
  memset(&sa, 0, sizeof sa);
  struct sockaddr_in *sin = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa;
  if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    len = sizeof *sin;
  } else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    len = sizeof *sin6;
  } else {
    return throw_arg_error(env, "ERR_INVALID_ARG_VALUE",
                           "The \"address\" argument must be an IPv4 or IPv6 address literal");
  }
  if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
    char subject[INET6_ADDRSTRLEN + 10];
    snprintf(subject, sizeof subject, sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", address, port);
    return throw_sys_error(env, errno, "bind", subject, NULL);
  }
  return NULL;
}
