{
  "targets": [
    {
      "target_name": "scoreboard_map",
      "sources": ["native/scoreboard_map.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
