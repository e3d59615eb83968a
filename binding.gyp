{
  "targets": [
    {
      "target_name": "poold",
      "sources": ["native/poold.c", "native/map.c", "native/channel.c", "native/listener.c", "native/limits.c", "native/parking.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
