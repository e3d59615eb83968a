// Module entry of poold's native helper (Node-API only: one build serves every
// Node version from 20 on). Each file registers its own functions.
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include "poold.h"

void poold_throw_errno(napi_env env, const char *call, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", call, strerror(err));
  napi_value code, text, error, number;
  if (napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok || napi_create_int32(env, -err, &number) != napi_ok ||
      napi_set_named_property(env, error, "errno", number) != napi_ok) {
    napi_throw_error(env, NULL, message);
    return;
  }
  napi_throw(env, error);
}

int poold_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value value;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok &&
         napi_set_named_property(env, exports, name, value) == napi_ok;
}

napi_value poold_tagged_external(napi_env env, void *data, napi_finalize finalize, const napi_type_tag *tag) {
  napi_value external;
  if (napi_create_external(env, data, finalize, NULL, &external) != napi_ok) return NULL;
  // Tagging a new object cannot fail but for bad arguments; if it did, the
  // untagged external would be refused at its first use (poold_external_arg).
  napi_type_tag_object(env, external, tag);
  return external;
}

void *poold_external_arg(napi_env env, napi_value value, const napi_type_tag *tag) {
  void *data = NULL;
  napi_valuetype type;
  bool tagged = false;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    return NULL;
  }
  return data;
}

NAPI_MODULE_INIT() {
  if (!poold_register_map(env, exports) || !poold_register_channel(env, exports) ||
      !poold_register_listener(env, exports) ||
      !poold_register_limits(env, exports) || !poold_register_parking(env, exports)) {
    return NULL;
  }
  return exports;
}
