/* original_dst: the destination a connection had before iptables REDIRECT (SO_ORIGINAL_DST /
 * IP6T_SO_ORIGINAL_DST), for a socket fd. Plain N-API (node_api.h), no dependencies.
 * originalDst(fd) -> { address, port, family: 'IPv4' | 'IPv6' }; throws Error with code/errno on failure. */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv4.h> */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv6/ip6_tables.h> */
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif

static const char *errno_code(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENOTCONN: return "ENOTCONN";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s failed: %s", call, strerror(err));
  napi_value msg, code, error, errno_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static napi_value make_result(napi_env env, const char *address, int port, const char *family) {
  napi_value result, value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "address", value);
  napi_create_int32(env, port, &value);
  napi_set_named_property(env, result, "port", value);
  napi_create_string_utf8(env, family, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "family", value);
  return result;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type = napi_undefined;
  double number = -1;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_number) napi_get_value_double(env, argv[0], &number);
  if (type != napi_number || number < 0 || number > 2147483647.0 || number != (double)(int)number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fd must be a non-negative integer");
    return NULL;
  }
  int fd = (int)number;

  /* The local address decides the level: an AF_INET6 socket with a v4-mapped local address (an IPv4
   * connection accepted on a dual-stack "::" listener) was NATed by iptables, not ip6tables. */
  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0) return throw_errno(env, "getsockname", errno);
  int v6 = local.ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr);

  char text[INET6_ADDRSTRLEN];
  if (!v6) {
    struct sockaddr_in dst;
    socklen_t len = sizeof dst;
    memset(&dst, 0, sizeof dst);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) return throw_errno(env, "getsockopt(SOL_IP, SO_ORIGINAL_DST)", errno);
    if (inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text) == NULL) return throw_errno(env, "inet_ntop", errno);
    return make_result(env, text, ntohs(dst.sin_port), "IPv4");
  }
  struct sockaddr_in6 dst;
  socklen_t len = sizeof dst;
  memset(&dst, 0, sizeof dst);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) != 0) return throw_errno(env, "getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)", errno);
  if (inet_ntop(AF_INET6, &dst.sin6_addr, text, sizeof text) == NULL) return throw_errno(env, "inet_ntop", errno);
  return make_result(env, text, ntohs(dst.sin6_port), "IPv6");
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "originalDst", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
