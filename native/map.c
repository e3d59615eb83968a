// Shared memory: each pool's scoreboard and each worker's connection table are
// memfds mapped MAP_SHARED, so that a state change is a memory copy instead of a
// system call. Node has no mmap.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

// anonymousMemory(length, name?) -> fd of a new anonymous shared-memory file
// of `length` bytes (memfd_create), reachable only by whoever is given the fd.
// Its size is sealed: nobody, not even a holder of the fd, can shrink it (a
// process that has it mapped would get SIGBUS on touching the lost pages) or
// grow it, and no seal can be added or removed later. Its pages are allocated
// now, so a lack of memory is an error here rather than a fault later.
static napi_value anonymous_memory(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t length = 0;
  // memfd_create() takes names of up to 249 bytes; longer ones are cut.
  char name[250] = "poold";
  napi_valuetype name_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &length) != napi_ok || length <= 0 ||
      (argc > 1 && (napi_typeof(env, argv[1], &name_type) != napi_ok ||
                    (name_type != napi_undefined &&
                     (name_type != napi_string ||
                      napi_get_value_string_utf8(env, argv[1], name, sizeof name, NULL) != napi_ok))))) {
    napi_throw_type_error(env, NULL, "anonymousMemory(length, name?): a positive length and a string");
    return NULL;
  }
  int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    poold_throw_errno(env, "memfd_create", errno);
    return NULL;
  }
  const char *call = NULL;
  int err = 0;
  if (ftruncate(fd, (off_t)length) != 0) call = "ftruncate";
  else if ((err = posix_fallocate(fd, 0, (off_t)length)) != 0) call = "fallocate";
  else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) call = "fcntl(F_ADD_SEALS)";
  if (call) {
    if (err == 0) err = errno;
    close(fd);
    poold_throw_errno(env, call, err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

int poold_register_map(napi_env env, napi_value exports) {
  return poold_export(env, exports, "map", map) && poold_export(env, exports, "anonymousMemory", anonymous_memory);
}
