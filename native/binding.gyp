{
  "targets": [
    {
      "target_name": "ambit_sys",
      "sources": ["ambit_sys.c", "netns_socket.c", "sockopt.c", "args.c", "sys_error.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
