// Resource limits: Node has no getrlimit()/setrlimit(). The master reads its
// open-file limit to report it, and sets its own limits from [global]
// rlimit_files and rlimit_core.
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include "poold.h"

// The resources poold sets, by the name the JS side uses (FPM's rlimit_ suffixes).
static int resource_arg(napi_env env, napi_value value, int *out) {
  char name[16];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, name, sizeof name, &length) != napi_ok) return 0;
  if (strcmp(name, "files") == 0) *out = RLIMIT_NOFILE;
  else if (strcmp(name, "core") == 0) *out = RLIMIT_CORE;
  else return 0;
  return 1;
}

// A limit as JS sees it: a number, Infinity for RLIM_INFINITY.
static napi_value limit_value(napi_env env, rlim_t limit) {
  napi_value value;
  napi_create_double(env, limit == RLIM_INFINITY ? INFINITY : (double)limit, &value);
  return value;
}

static int limit_arg(napi_env env, napi_value value, rlim_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= 0)) return 0;
  *out = isinf(number) ? RLIM_INFINITY : (rlim_t)number;
  return 1;
}

// getrlimit(resource) -> { soft, hard }
static napi_value get_limit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int resource;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      !resource_arg(env, argv[0], &resource)) {
    napi_throw_type_error(env, NULL, "getrlimit(resource): 'files' or 'core'");
    return NULL;
  }
  struct rlimit limit;
  if (getrlimit(resource, &limit) != 0) {
    poold_throw_errno(env, "getrlimit", errno);
    return NULL;
  }
  napi_value result;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "soft", limit_value(env, limit.rlim_cur)) != napi_ok ||
      napi_set_named_property(env, result, "hard", limit_value(env, limit.rlim_max)) != napi_ok) {
    return NULL;
  }
  return result;
}

// setrlimit(resource, soft, hard): Infinity is RLIM_INFINITY.
static napi_value set_limit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int resource;
  struct rlimit limit;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      !resource_arg(env, argv[0], &resource) || !limit_arg(env, argv[1], &limit.rlim_cur) ||
      !limit_arg(env, argv[2], &limit.rlim_max)) {
    napi_throw_type_error(env, NULL, "setrlimit(resource, soft, hard): 'files' or 'core', and limits >= 0");
    return NULL;
  }
  if (setrlimit(resource, &limit) != 0) {
    poold_throw_errno(env, "setrlimit", errno);
    return NULL;
  }
  return NULL;
}

int poold_register_limits(napi_env env, napi_value exports) {
  return poold_export(env, exports, "getrlimit", get_limit) && poold_export(env, exports, "setrlimit", set_limit);
}
