// Shared memory: the scoreboard file and each worker's connection table are
// mapped MAP_SHARED, so that a state change is a memory copy instead of a
// system call. Node has no mmap.
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "poold.h"

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
    poold_throw_errno(env, "mmap", errno);
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

// anonymousMemory(length) -> fd of a new anonymous shared-memory file of
// `length` bytes (memfd_create): reachable only by whoever is given the fd.
static napi_value anonymous_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int64(env, argv[0], &length) != napi_ok || length <= 0) {
    napi_throw_type_error(env, NULL, "anonymousMemory(length): a positive length");
    return NULL;
  }
  int fd = (int)syscall(SYS_memfd_create, "poold", 1u /* MFD_CLOEXEC */);
  if (fd < 0) {
    poold_throw_errno(env, "memfd_create", errno);
    return NULL;
  }
  if (ftruncate(fd, (off_t)length) != 0) {
    int err = errno;
    close(fd);
    poold_throw_errno(env, "ftruncate", err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

int poold_register_map(napi_env env, napi_value exports) {
  return poold_export(env, exports, "map", map) && poold_export(env, exports, "anonymousMemory", anonymous_memory);
}
