// poold's one native helper: maps the scoreboard file into memory, shared, so
// that a worker's slot write is a memory copy instead of a pwrite() system
// call (two per request). Node has no mmap. Built at install by node-gyp;
// when it cannot be built, poold uses pread()/pwrite() on the same file
// (src/scoreboard/region.ts). Node-API only: one build serves every Node
// version from 20 on.
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <node_api.h>

static void unmap(napi_env env, void *data, void *length) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)length);
}

// map(fd, length) -> ArrayBuffer over the file's first `length` bytes,
// MAP_SHARED and read-write; unmapped when the ArrayBuffer is collected.
static napi_value map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  int64_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &length) != napi_ok ||
      fd < 0 || length <= 0 || (uint64_t)length > SIZE_MAX) {
    napi_throw_type_error(env, NULL, "map(fd, length): an open file descriptor and a positive length");
    return NULL;
  }
  void *region = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (region == MAP_FAILED) {
    char message[128];
    snprintf(message, sizeof message, "mmap of the scoreboard failed: %s", strerror(errno));
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, region, (size_t)length, unmap, (void *)(uintptr_t)length, &buffer) != napi_ok) {
    munmap(region, (size_t)length);
    napi_throw_error(env, NULL, "this runtime does not allow external ArrayBuffers");
    return NULL;
  }
  return buffer;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "map", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}
